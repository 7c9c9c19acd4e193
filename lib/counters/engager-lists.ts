import { ENGAGER_ROW_MAX_TOKENS, type CounterStore, type EngagerWrite } from '../ports.js';
import { forEachLimited } from '../util/concurrency.js';
import { eventNamespace, PARENT_LOOKUPS_IN_PARALLEL } from './event-index.js';
import type { Fact } from '../facts/schema.js';
import type { NostrEvent } from '../nostr/event.js';
import { reactionClass, VIDEO_KINDS } from '../nostr/normalise.js';
import { addressKind, firstTagValue } from '../nostr/tags.js';
import { engagementTargetScope } from './contributions.js';

/**
 * Who engaged with a target, one row per pubkey (docs/metrics.md, "Likers and zappers"): a video's
 * likers and an event's zappers with their sats. Written by ingest beside the event index, one
 * UpdateItem per like of a video and per zap (not per reaction to anything: the lists are the routes'
 * own, and a row for every reaction in the network would be a write per reaction), each idempotent so a
 * redelivered batch changes nothing. Keyed by the same target scope as the per-event counts
 * (`engagementTargetScope`): an address for likes and zaps that name one, else the event id.
 */
export const likersList = (targetScope: string) => `lk:${targetScope}`;
export const zappersList = (targetScope: string) => `zp:${targetScope}`;

/**
 * A row's sort key: the pubkey's first 52 bits (13 hex digits), a safe integer. Two pubkeys sharing
 * them share a row (≈ n² / 2⁵³ for a list of n: 1 in 9,000 for a million engagers of one target).
 */
export const engagerRowId = (pubkey: string) => parseInt(pubkey.slice(0, 13), 16);

/** The low bits of a zap token hold its sats: 2³⁴ − 1 sats (≈ 172 BTC) at most, more is clamped. */
const SATS_BITS = 2 ** 34;
/**
 * One zap as a member of its zapper's token set: the receipt id's first 19 bits above its sats, so two
 * zaps of the same amount stay two members, and a set union makes a redelivered zap a no-op. Two
 * zaps from one sender to one target of the same amount whose receipt ids share 19 bits count once
 * (1 in 524,288 per such pair).
 */
export function zapToken(receiptId: string, msats: number): number {
  const receipt = parseInt(receiptId.slice(0, 5), 16) >>> 1; // 20 bits → 19: the token stays below 2⁵³
  return receipt * SATS_BITS + Math.min(SATS_BITS - 1, Math.floor(msats / 1000));
}

export const tokenSats = (token: number) => token % SATS_BITS;

/** NIP-25: "The reaction SHOULD include a `k` tag with the stringified kind number of the reacted event." */
function reactedKind(fact: Fact, event: NostrEvent | undefined): number | null {
  const fromAddress = fact.target_address ? addressKind(fact.target_address) : NaN;
  if (Number.isInteger(fromAddress)) return fromAddress;
  const k = event && firstTagValue(event.tags, 'k');
  return k !== undefined && /^\d{1,5}$/.test(k) ? Number(k) : null;
}

/**
 * The engager-list rows of a batch's facts: a like (NIP-25 `+` or empty) of a video (NIP-71: its
 * address's kind, else the reaction's `k` tag, names a video kind), and every zap with a sender and an
 * amount. `events` are the batch's events by id (for the `k` tag).
 */
export function engagerWrites(facts: Iterable<Fact>, events: ReadonlyMap<string, NostrEvent>): EngagerWrite[] {
  const rows: EngagerWrite[] = [];
  for (const fact of facts) {
    if (fact.source !== 'nostr') continue;
    const target = engagementTargetScope(fact);
    if (!target) continue;
    if (fact.type === 'reaction' && reactionClass(fact.reaction ?? '') === 'like') {
      const kind = reactedKind(fact, events.get(fact.event_id));
      if (kind !== null && VIDEO_KINDS.has(kind)) rows.push({ list: likersList(target), pubkey: fact.author, ref: fact.event_id });
    } else if (fact.type === 'zap' && fact.zap_sender && fact.zap_msats) {
      rows.push({ list: zappersList(target), pubkey: fact.zap_sender, tokens: [zapToken(fact.event_id, fact.zap_msats)] });
    }
  }
  return rows;
}

/**
 * The engager-list rows of facts alone (`funnel rebuild`): facts keep no `k` tag, so a like naming only
 * an event id is a video's when the event index says that event is a video (its hour was restored
 * before: engagement comes after what it engages with).
 */
export async function engagerWritesFromFacts(facts: readonly Fact[], counters: Pick<CounterStore, 'getState'>): Promise<EngagerWrite[]> {
  const byId = facts.filter((f) => f.type === 'reaction' && !f.target_address && f.target_event_id && reactionClass(f.reaction ?? '') === 'like');
  const ids = [...new Set(byId.map((f) => f.target_event_id!))];
  const kinds = new Map<string, number>();
  await forEachLimited(ids, PARENT_LOOKUPS_IN_PARALLEL, async (id) => {
    const record = await counters.getState(eventNamespace(id), 0);
    if (typeof record?.kind === 'number') kinds.set(id, record.kind);
  });
  // The kind the index knows stands in for the `k` tag the facts do not keep.
  const tagged = new Map<string, NostrEvent>();
  for (const fact of byId) {
    const kind = kinds.get(fact.target_event_id!);
    if (kind !== undefined) tagged.set(fact.event_id, { id: fact.event_id, pubkey: fact.author, created_at: fact.created_at, kind: 7, tags: [['k', String(kind)]], content: '+', sig: '' });
  }
  return engagerWrites(facts, tagged);
}

/** One write per (list, pubkey): tokens unioned (at most ENGAGER_ROW_MAX_TOKENS), the last ref. */
export function mergeEngagerWrites(rows: readonly EngagerWrite[]): EngagerWrite[] {
  const merged = new Map<string, EngagerWrite & { set: Set<number> }>();
  for (const row of rows) {
    const key = `${row.list}\u0000${row.pubkey}`;
    const into = merged.get(key) ?? { list: row.list, pubkey: row.pubkey, set: new Set<number>() };
    if (row.ref !== undefined) into.ref = row.ref;
    for (const token of row.tokens ?? []) if (into.set.size < ENGAGER_ROW_MAX_TOKENS) into.set.add(token);
    merged.set(key, into);
  }
  return [...merged.values()].map(({ set, ...row }) => (set.size ? { ...row, tokens: [...set] } : row));
}
