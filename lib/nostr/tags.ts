/**
 * NIP-01 tags and addresses: the one home of how Funnel reads an event's tags and parses or builds an
 * address (`<kind>:<pubkey>:<d>`, the coordinate of a replaceable or addressable event). Ingest
 * (normalise.ts, deletion.ts), the counters, the app events, the API's id parameters and the local
 * relay and simulator all call these; none splits an address or walks tags by hand.
 *
 * Everything here runs on every ingested event: linear passes, no regular expressions.
 */

export type Tag = readonly string[];

/** What the address and tag helpers need of an event (a NostrEvent, a nostr-tools or relay event). */
export interface TaggedEvent {
  kind: number;
  pubkey: string;
  tags: readonly Tag[];
}

/**
 * An address names a counter scope and a top-list key, which have bounded sizes: an event whose own
 * `d` tag is longer is refused (`oversized`), a reference to a longer one is malformed.
 */
export const MAX_D_TAG_CHARS = 1024;
/** NIP-01: "kind: integer between 0 and 65535". */
export const MAX_KIND = 65535;

// ---------------------------------------------------------------------------------------------------------
// Tags

/** The first tag named `name`. */
export function firstTag(tags: readonly Tag[], name: string): Tag | undefined {
  for (const tag of tags) if (tag[0] === name) return tag;
  return undefined;
}

/** The last tag named `name` (NIP-25 and NIP-18 take the last `e`, `a` and `p`). */
export function lastTag(tags: readonly Tag[], name: string): Tag | undefined {
  for (let i = tags.length - 1; i >= 0; i--) if (tags[i]![0] === name) return tags[i];
  return undefined;
}

/** The value of the first tag named `name` (undefined when there is none, or it has no value). */
export function firstTagValue(tags: readonly Tag[], name: string): string | undefined {
  const value = firstTag(tags, name)?.[1];
  return typeof value === 'string' ? value : undefined;
}

/** The values of every tag named `name`, in order (tags without a value left out). */
export function tagValues(tags: readonly Tag[], name: string): string[] {
  const values: string[] = [];
  for (const tag of tags) if (tag[0] === name && typeof tag[1] === 'string') values.push(tag[1]);
  return values;
}

/** The value of the first `<key> <value>` entry of an `imeta` tag (NIP-92). */
export function imetaValue(tag: Tag, key: string): string | undefined {
  for (let i = 1; i < tag.length; i++) {
    const entry = tag[i];
    if (typeof entry === 'string' && entry.length > key.length && entry.startsWith(key) && entry[key.length] === ' ') {
      return entry.slice(key.length + 1);
    }
  }
  return undefined;
}

/**
 * The author hint on an `e` tag: 5th element in NIP-10 marked tags (`e, id, relay, marker, pubkey`), 4th in
 * NIP-22 / NIP-25 / NIP-18 tags (`e, id, relay, pubkey`). A marker is never 64 hex, so both are unambiguous.
 */
export function pubkeyHint(tag: Tag): string | null {
  return hex64(tag[4]) ?? hex64(tag[3]);
}

const MAX_HASHTAGS = 20;
const MAX_HASHTAG_CHARS = 64;

/** NIP-24 `t` tags: lower-cased, trimmed, capped, unique in first-seen order, empties dropped, at most 20. */
export function hashtagsOf(tags: readonly Tag[]): string[] {
  const hashtags: string[] = [];
  for (const tag of tags) {
    if (tag[0] !== 't' || typeof tag[1] !== 'string') continue;
    const hashtag = truncate(tag[1].trim().toLowerCase(), MAX_HASHTAG_CHARS).trimEnd();
    if (hashtag === '' || hashtags.includes(hashtag)) continue;
    hashtags.push(hashtag);
    if (hashtags.length === MAX_HASHTAGS) break;
  }
  return hashtags;
}

// ---------------------------------------------------------------------------------------------------------
// Kinds and addresses

/** NIP-01: kinds 0, 3 and 10000–19999 are replaceable (one current version per kind:pubkey). */
export function isReplaceable(kind: number): boolean {
  return kind === 0 || kind === 3 || (kind >= 10000 && kind < 20000);
}

/** NIP-01: kinds 30000–39999 are addressable (one current version per kind:pubkey:d). */
export function isAddressable(kind: number): boolean {
  return kind >= 30000 && kind < 40000;
}

/** An addressable event's `d`: the first `d` tag's value, '' when absent; null for other kinds. */
export function dTagOf(event: TaggedEvent): string | null {
  return isAddressable(event.kind) ? (firstTagValue(event.tags, 'd') ?? '') : null;
}

/** The address of the event of `kind` by `pubkey` with `d` (no checks: the parts are an event's own). */
export const formatAddress = (kind: number, pubkey: string, d: string): string => `${kind}:${pubkey}:${d}`;

/** `kind:pubkey:d` of an addressable event (d = first `d` tag value, '' when absent), else null. */
export function addressOf(event: TaggedEvent): string | null {
  const d = dTagOf(event);
  return d === null ? null : formatAddress(event.kind, event.pubkey, d);
}

/**
 * NIP-01 coordinates `<kind>:<pubkey>:<d>`, normalised (the kind without leading zeros, the pubkey
 * lower-cased), else null: the kind 0–65535 in decimal digits, the pubkey 64 hex characters, then ':'
 * and a `d` of at most MAX_D_TAG_CHARS (it may be empty, and may contain ':').
 */
export function parseAddress(value: string | undefined): string | null {
  if (typeof value !== 'string') return null;
  const first = value.indexOf(':');
  if (first < 1 || first > 5 || value.length < first + 66 || value[first + 65] !== ':') return null;
  const kindText = value.slice(0, first);
  if (!allDigits(kindText)) return null;
  const kind = Number(kindText);
  if (kind > MAX_KIND) return null;
  const pubkey = hex64(value.slice(first + 1, first + 65));
  if (pubkey === null || value.length - (first + 66) > MAX_D_TAG_CHARS) return null;
  return formatAddress(kind, pubkey, value.slice(first + 66));
}

/** Whether `value` is an address exactly as `parseAddress` writes it (what ids in requests and keys must be). */
export const isAddress = (value: string): boolean => parseAddress(value) === value;

/** The kind of an address already normalised by `parseAddress`. */
export function addressKind(address: string): number {
  return Number(address.slice(0, address.indexOf(':')));
}

/** The pubkey of an address already normalised by `parseAddress`. */
export function addressPubkey(address: string): string {
  const start = address.indexOf(':') + 1;
  return address.slice(start, start + 64);
}

/**
 * The shape of an event id or an address, as a pattern for documents (OpenAPI): coarser than the rule,
 * which `isEventIdOrAddress` applies (the kind's range, the d tag's length).
 */
export const EVENT_ID_OR_ADDRESS_PATTERN = /^([0-9a-f]{64}|\d+:[0-9a-f]{64}:.*)$/;

/** An event id (64 lower-case hex) or an address as `parseAddress` writes it: what a request may name. */
export function isEventIdOrAddress(value: string): boolean {
  return hex64(value) === value || isAddress(value);
}

// ---------------------------------------------------------------------------------------------------------
// Values

/** A 64-character hex id or pubkey, lower-cased; anything else is null. */
export function hex64(value: string | undefined): string | null {
  if (typeof value !== 'string' || value.length !== 64) return null;
  let lower = true;
  for (let i = 0; i < 64; i++) {
    const c = value.charCodeAt(i);
    if ((c >= 48 && c <= 57) || (c >= 97 && c <= 102)) continue;
    if (c >= 65 && c <= 70) lower = false;
    else return null;
  }
  return lower ? value : value.toLowerCase();
}

/** Whether every character is a decimal digit ('' is). */
export function allDigits(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** At most `max` code points (never splits a surrogate pair, so emoji survive intact). */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  let out = '';
  let count = 0;
  for (const char of text) {
    if (count === max) break;
    out += char;
    count++;
  }
  return out;
}
