import { newFact, type Fact } from '../facts/schema.js';
import { bolt11AmountMsats } from './bolt11.js';
import type { NostrEvent } from './event.js';
import { addressPubkey, allDigits, dTagOf, firstTag, firstTagValue, formatAddress, hashtagsOf, hex64, imetaValue, lastTag, MAX_D_TAG_CHARS, parseAddress, pubkeyHint, truncate, type Tag } from './tags.js';

/** The address and kind rules live in tags.ts; re-exported for normalise's callers. */
export { addressOf, isAddressable, isReplaceable, MAX_D_TAG_CHARS } from './tags.js';

/**
 * Turns one verified Nostr event into its canonical fact (DESIGN §4). Every rule, with the NIP it comes
 * from, is written down in docs/metrics.md; keep the two in step.
 *
 * This runs on every ingested event, so it is a handful of linear passes over the tags: no regular
 * expressions, and JSON.parse only for a zap receipt's embedded zap request. It never throws on odd
 * tags or unknown kinds; it refuses an event only with an EventRejectedError naming the reason.
 */

export interface NormaliseContext {
  /** relay URL the event was received from, when known */
  relay: string | null;
  /** unix milliseconds when ingest accepted the event */
  ingestedAt: number;
}

const MAX_REACTION_CHARS = 64;
const MAX_TITLE_CHARS = 256;
/** A longer URL is almost certainly not a media link; keep the fact small rather than store it. */
const MAX_URL_CHARS = 2048;
/** Event ids a deletion request's fact keeps (`deleted_event_ids`); NIP-09 sets no limit, a counter scope does. */
export const MAX_DELETION_TARGETS = 100;

/**
 * Why a verified event cannot become a fact: each is a rejection reason of its own (docs/metrics.md).
 * A NIP-57 receipt that cannot be credited (Appendix E/F) is refused rather than counted with a guess.
 */
export type NormaliseRejectReason = 'oversized' | 'zap_missing_bolt11' | 'zap_without_amount' | 'zap_amount_mismatch';
export class EventRejectedError extends Error {
  constructor(
    readonly reason: NormaliseRejectReason,
    detail: string,
  ) {
    super(`${reason}: ${detail}`);
    this.name = 'EventRejectedError';
  }
}

export const VIDEO_KINDS: ReadonlySet<number> = new Set([21, 22, 34235, 34236]);

/** NIP-25: '+' and '' are likes, '-' is a dislike, anything else (emoji, :shortcode:) is an emoji reaction. */
export function reactionClass(content: string): 'like' | 'dislike' | 'emoji' {
  if (content === '+' || content === '') return 'like';
  if (content === '-') return 'dislike';
  return 'emoji';
}

export function normalise(event: NostrEvent, ctx: NormaliseContext): Fact {
  const { kind, tags } = event;
  const dTag = dTagOf(event);
  if (dTag !== null && dTag.length > MAX_D_TAG_CHARS) throw new EventRejectedError('oversized', `d tag of ${dTag.length} characters`);
  const fact: Fact = newFact({
    event_id: event.id,
    source: 'nostr',
    kind,
    type: 'other',
    created_at: event.created_at,
    author: event.pubkey,
    target_address: dTag === null ? null : formatAddress(kind, event.pubkey, dTag),
    hashtags: hashtagsOf(tags),
    d_tag: dTag,
    relay: ctx.relay,
    ingested_at: ctx.ingestedAt,
  });

  switch (kind) {
    case 0:
      fact.type = 'profile';
      break;
    case 1:
      applyTextNote(fact, tags);
      break;
    case 3:
      fact.type = 'contacts';
      break;
    case 5:
      applyDeletion(fact, tags);
      break;
    case 6:
    case 16:
      applyEngagement(fact, tags, 'repost');
      break;
    case 7:
      applyEngagement(fact, tags, 'reaction');
      fact.reaction = truncate(event.content, MAX_REACTION_CHARS);
      break;
    case 17:
      // NIP-25 "External Content Reactions": aimed at NIP-73 content (`k` + `i`; `r` before 2025-08),
      // which has no Nostr event or author to credit: a reaction for the network's counts only.
      fact.type = 'reaction';
      fact.reaction = truncate(event.content, MAX_REACTION_CHARS);
      break;
    case 1111:
      applyComment(fact, tags);
      break;
    case 9735:
      applyZapReceipt(fact, tags);
      break;
    default:
      if (VIDEO_KINDS.has(kind)) applyVideo(fact, tags);
  }
  return fact;
}

// ---------------------------------------------------------------------------------------------------------
// Per-kind rules

/**
 * NIP-10. Marked `e` tags (`root`/`reply` in the 4th element) win; without them the deprecated positional
 * form applies (one `e`: root and parent; several: first is root, last is parent). `mention`-marked `e`
 * tags and `q` tags (NIP-18 quotes) never make a reply. `e` tags whose id is not hex are skipped.
 */
function applyTextNote(fact: Fact, tags: readonly Tag[]): void {
  let rootTag: Tag | undefined;
  let replyTag: Tag | undefined;
  let firstPositional: Tag | undefined;
  let lastPositional: Tag | undefined;
  for (const tag of tags) {
    if (tag[0] !== 'e' || hex64(tag[1]) === null) continue;
    const marker = tag[3];
    if (marker === 'root') rootTag ??= tag;
    else if (marker === 'reply') replyTag ??= tag;
    else if (marker !== 'mention') {
      firstPositional ??= tag;
      lastPositional = tag;
    }
  }

  let root: Tag | undefined;
  let parent: Tag | undefined;
  if (rootTag !== undefined || replyTag !== undefined) {
    // A top-level reply carries only `root`; a `reply` without `root` (seen in the wild) has no better root.
    root = rootTag ?? replyTag;
    parent = replyTag ?? rootTag;
  } else {
    root = firstPositional;
    parent = lastPositional;
  }
  if (root === undefined || parent === undefined) {
    fact.type = 'note';
    return;
  }

  fact.type = 'reply';
  fact.root_event_id = hex64(root[1]);
  fact.parent_event_id = hex64(parent[1]);
  fact.target_event_id = fact.parent_event_id;
  // Null here is resolved later from the parent itself, when Funnel has seen it (resolveReplyTargets).
  fact.target_pubkey = pubkeyHint(parent) ?? onlyPTag(tags);
}

/**
 * The replied-to author when the parent tag carries no pubkey hint. NIP-10 only says a reply's `p`
 * tags hold the parent's `p` tags plus the parent's author, "in no particular order" (NIP-22 comments
 * repeat the thread's people in lowercase `p` as clients write them): so one distinct `p` is exactly
 * the parent's author, and several are ambiguous (clients differ: older ones put the parent author
 * first, newer ones last), so the answer is null rather than a guess.
 */
function onlyPTag(tags: readonly Tag[]): string | null {
  let only: string | null = null;
  for (const tag of tags) {
    if (tag[0] !== 'p') continue;
    const pubkey = hex64(tag[1]);
    if (pubkey === null || pubkey === only) continue;
    if (only !== null) return null;
    only = pubkey;
  }
  return only;
}

/**
 * NIP-25 reactions and NIP-18 reposts (kinds 6, 16): the target is the LAST `e` tag (and the last `a`
 * tag, for addressable targets), its author the LAST `p` tag. A last tag with a malformed value yields
 * null rather than falling back to an earlier tag, which would name a different event or person.
 */
function applyEngagement(fact: Fact, tags: readonly Tag[], type: 'reaction' | 'repost'): void {
  const lastE = lastTag(tags, 'e');
  const lastA = lastTag(tags, 'a');
  const lastP = lastTag(tags, 'p');
  fact.type = type;
  fact.target_event_id = lastE === undefined ? null : hex64(lastE[1]);
  fact.target_address = lastA === undefined ? null : parseAddress(lastA[1]);
  fact.target_pubkey = targetPubkey(lastP, lastE, fact.target_address);
}

/**
 * NIP-22 comments: uppercase `E`/`A`/`I` give the root scope, lowercase `e`/`a`/`i` the parent. The
 * fact's target is the parent. `target_address` is the parent's `a`, else the root's `A`: it is the only
 * address column, so a nested comment under an addressable root (a video, an article) stays attached to
 * that root. The parent's author is the pubkey on the parent's `e` tag ("`<parent event's pubkey, if an
 * e tag>`"), else the parent address's author, else the one lowercase `p` — never `P` (the root's author)
 * and never the first of several `p` (a comment on a comment often names the root's author first).
 */
function applyComment(fact: Fact, tags: readonly Tag[]): void {
  const rootE = firstTag(tags, 'E');
  const parentE = firstTag(tags, 'e');
  const parentA = firstTag(tags, 'a');
  const rootA = firstTag(tags, 'A');
  fact.type = 'comment';
  fact.root_event_id = rootE === undefined ? null : hex64(rootE[1]);
  fact.parent_event_id = parentE === undefined ? null : hex64(parentE[1]);
  fact.target_event_id = fact.parent_event_id;
  const parentAddress = parentA === undefined ? null : parseAddress(parentA[1]);
  fact.target_address = parentAddress ?? (rootA === undefined ? null : parseAddress(rootA[1]));
  fact.target_pubkey = (parentE === undefined ? null : hex64(parentE[3])) ?? (parentAddress === null ? null : addressPubkey(parentAddress)) ?? onlyPTag(tags);
}

/**
 * NIP-57 zap receipts. `author` stays the receipt's signer (the recipient's LNURL server). Recipient =
 * `p`, target = `e` / `a`; sender from `P`, else the zap request's pubkey; `zap_request_id` is the
 * embedded request's id (what its author's NIP-09 deletion names). The amount is the `bolt11`
 * invoice's, and nothing else: Appendix E says the receipt "MUST have a `bolt11` tag", Appendix F that
 * its amount "MUST equal the `amount` tag of the `zap request` (if present)". A receipt that breaks
 * either cannot be credited and is refused under its own reason.
 */
function applyZapReceipt(fact: Fact, tags: readonly Tag[]): void {
  const bolt11 = firstTagValue(tags, 'bolt11');
  if (bolt11 === undefined) throw new EventRejectedError('zap_missing_bolt11', 'zap receipt without a bolt11 tag');
  const msats = bolt11AmountMsats(bolt11);
  const request = parseZapRequest(firstTagValue(tags, 'description'));
  if (request.amountMsats !== null && request.amountMsats !== msats) {
    throw new EventRejectedError('zap_amount_mismatch', `invoice ${msats ?? 'without an amount'}, zap request ${request.amountMsats} msat`);
  }
  if (msats === null) throw new EventRejectedError('zap_without_amount', 'bolt11 invoice without a readable amount');
  const e = firstTag(tags, 'e');
  const a = firstTag(tags, 'a');
  const p = firstTag(tags, 'p');
  const sender = firstTag(tags, 'P');
  fact.type = 'zap';
  fact.target_pubkey = p === undefined ? null : hex64(p[1]);
  fact.target_event_id = e === undefined ? null : hex64(e[1]);
  fact.target_address = a === undefined ? null : parseAddress(a[1]);
  fact.zap_msats = msats;
  fact.zap_sender = (sender === undefined ? null : hex64(sender[1])) ?? request.pubkey;
  fact.zap_request_id = request.id;
}

/**
 * NIP-09: the fact keeps the first `e` and first `a`, and every `e` it names (unique, at most
 * MAX_DELETION_TARGETS) in `deleted_event_ids`: settling applies them to the author's own reactions,
 * reposts and zap requests (docs/metrics.md, "Retractions").
 */
function applyDeletion(fact: Fact, tags: readonly Tag[]): void {
  const e = firstTag(tags, 'e');
  const a = firstTag(tags, 'a');
  fact.type = 'deletion';
  fact.target_event_id = e === undefined ? null : hex64(e[1]);
  fact.target_address = a === undefined ? null : parseAddress(a[1]);
  const ids: string[] = [];
  for (const tag of tags) {
    if (tag[0] !== 'e') continue;
    const id = hex64(tag[1]);
    if (id === null || ids.includes(id)) continue;
    ids.push(id);
    if (ids.length === MAX_DELETION_TARGETS) break;
  }
  fact.deleted_event_ids = ids;
}

/**
 * NIP-71 videos (21, 22 and addressable 34235, 34236). "Each `imeta` tag can be used to specify a
 * variant of the video by the `dim` & `m` properties, as well as multiple audio tracks": the media is
 * the first `imeta` with a `url` whose `m` is a video (`video/*` or an HLS playlist) or absent — never
 * an `audio/*` track or an image — with its `image` and `duration`, else another variant's (NIP-71: the
 * previews are the same picture). Top-level `url`, `image`/`thumb` and `duration` tags (the format
 * before imeta) are fallbacks. An addressable video keeps its own address in `target_address`.
 */
function applyVideo(fact: Fact, tags: readonly Tag[]): void {
  let url: string | undefined;
  let image: string | undefined;
  let duration: string | undefined;
  let anyImage: string | undefined;
  let anyDuration: string | undefined;
  for (const tag of tags) {
    if (tag[0] !== 'imeta') continue;
    const entryUrl = imetaValue(tag, 'url');
    if (entryUrl === undefined || !isVideoVariant(imetaValue(tag, 'm'))) continue;
    anyImage ??= imetaValue(tag, 'image');
    anyDuration ??= imetaValue(tag, 'duration');
    if (url !== undefined) continue;
    url = entryUrl;
    image = imetaValue(tag, 'image');
    duration = imetaValue(tag, 'duration');
  }
  url ??= firstTagValue(tags, 'url');
  image ??= anyImage ?? firstTagValue(tags, 'image') ?? firstTagValue(tags, 'thumb');
  duration ??= anyDuration ?? firstTagValue(tags, 'duration');

  fact.type = 'video';
  fact.title = textOrNull(firstTagValue(tags, 'title'), MAX_TITLE_CHARS);
  fact.media_url = urlOrNull(url);
  fact.image_url = urlOrNull(image);
  fact.duration_s = parseDuration(duration);
  fact.published_at = parseUnixSeconds(firstTagValue(tags, 'published_at'));
}

/** HLS playlists as clients label them (NIP-71's example and Amethyst's builder differ). */
const HLS_TYPES: ReadonlySet<string> = new Set(['application/x-mpegurl', 'application/vnd.apple.mpegurl']);

/** An imeta entry is a video variant when its MIME type says so, or says nothing (older publishers). */
function isVideoVariant(mime: string | undefined): boolean {
  if (mime === undefined) return true;
  const type = mime.trim().toLowerCase();
  return type.startsWith('video/') || HLS_TYPES.has(type);
}

// ---------------------------------------------------------------------------------------------------------
// Zap request (NIP-57 kind 9734, embedded as JSON in the receipt's `description` tag)

interface ZapRequestFields {
  id: string | null;
  pubkey: string | null;
  amountMsats: number | null;
}

/** What a receipt needs from its zap request; a missing or malformed one only leaves these null. */
function parseZapRequest(description: string | undefined): ZapRequestFields {
  const none: ZapRequestFields = { id: null, pubkey: null, amountMsats: null };
  if (description === undefined) return none;
  let request: unknown;
  try {
    request = JSON.parse(description);
  } catch {
    return none;
  }
  if (typeof request !== 'object' || request === null) return none;
  const { id, pubkey, tags } = request as { id?: unknown; pubkey?: unknown; tags?: unknown };
  let amountMsats: number | null = null;
  if (Array.isArray(tags)) {
    for (const tag of tags) {
      if (Array.isArray(tag) && tag[0] === 'amount') {
        amountMsats = parseMsats(tag[1]);
        break;
      }
    }
  }
  return { id: typeof id === 'string' ? hex64(id) : null, pubkey: typeof pubkey === 'string' ? hex64(pubkey) : null, amountMsats };
}

/** A positive integer amount in msats, written as decimal digits. */
function parseMsats(value: unknown): number | null {
  if (typeof value !== 'string' || value === '' || !allDigits(value)) return null;
  const msats = Number(value);
  return msats > 0 && Number.isSafeInteger(msats) ? msats : null;
}

// ---------------------------------------------------------------------------------------------------------
// Tag rules (the tag and address helpers themselves are in tags.ts)

/**
 * The target's author: the explicit `p` tag if it is valid, else the pubkey hint on the target `e` tag,
 * else the pubkey inside the target address (which names the addressable event's author exactly).
 */
function targetPubkey(p: Tag | undefined, e: Tag | undefined, address: string | null): string | null {
  const explicit = p === undefined ? null : hex64(p[1]);
  if (explicit !== null) return explicit;
  const hinted = e === undefined ? null : pubkeyHint(e);
  if (hinted !== null) return hinted;
  return address === null ? null : addressPubkey(address);
}

// ---------------------------------------------------------------------------------------------------------
// Value helpers

function textOrNull(value: string | undefined, max: number): string | null {
  if (value === undefined) return null;
  const text = value.trim();
  return text === '' ? null : truncate(text, max);
}

function urlOrNull(value: string | undefined): string | null {
  if (value === undefined) return null;
  const url = value.trim();
  return url === '' || url.length > MAX_URL_CHARS ? null : url;
}

/** Seconds as a non-negative decimal (`6`, `29.223`), else null. */
function parseDuration(value: string | undefined): number | null {
  if (value === undefined) return null;
  const text = value.trim();
  let dots = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) dots++;
    else if (c < 48 || c > 57) return null;
  }
  if (text === '' || text === '.' || dots > 1) return null;
  const seconds = Number(text);
  return Number.isFinite(seconds) ? seconds : null;
}

/** Unix seconds written as decimal digits, else null. */
function parseUnixSeconds(value: string | undefined): number | null {
  if (value === undefined) return null;
  const text = value.trim();
  if (text === '' || !allDigits(text)) return null;
  const seconds = Number(text);
  return Number.isSafeInteger(seconds) ? seconds : null;
}
