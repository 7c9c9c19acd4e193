import type { CounterStore, StateRecord } from '../ports.js';
import { forEachLimited } from '../util/concurrency.js';
import type { Fact } from '../facts/schema.js';
import type { NostrEvent } from '../nostr/event.js';
import { deletionTargets } from '../nostr/deletion.js';
import { addressPubkey } from '../nostr/tags.js';

/**
 * Small records kept beside the counters so per-event reads can answer who published an event, which
 * revisions an addressable video has, and whether its author deleted it (NIP-09), without scanning
 * facts. Only content events (notes, replies, comments, videos) are indexed: engagement events are
 * the bulk of traffic and need no page of their own.
 */
export const eventNamespace = (id: string) => `ev:${id}`;
export const revisionsNamespace = (address: string) => `rev:${address}`;
export const deletedNamespace = (id: string) => `del:${id}`;
export const addressDeletedNamespace = (address: string) => `dela:${address}`;
/** Video lists for the feeds: by UTC day published, by author, by hashtag (ids sort by time). */
export const videosByDayNamespace = (dayStart: number) => `vday:${dayStart}`;
export const videosByAuthorNamespace = (pubkey: string) => `vuser:${pubkey}`;
export const videosByTagNamespace = (tag: string) => `vtag:${tag}`;

export interface IndexedEvent {
  id: string;
  author: string;
  kind: number;
  type: string;
  created_at: number;
  address: string | null;
  title: string | null;
  media_url: string | null;
  image_url: string | null;
  duration_s: number | null;
  published_at: number | null;
  hashtags: string[];
}

const INDEXED_TYPES = new Set(['note', 'reply', 'comment', 'video']);

/**
 * What a note, reply or comment's record keeps: who wrote it, its kind, type and time (what per-event
 * reads, deletions and reply parents need). The card fields are a video's; leaving their nulls out
 * halves the record, the bulk of the table's bytes (docs/deploy.md).
 */
const NOTE_FIELDS = ['author', 'kind', 'type', 'created_at'] as const;

/** An index record's value as readers see it: a note's short record completed with the card fields' empty values. */
export function indexedEventOf(id: string, value: Record<string, unknown>): IndexedEvent {
  return { id, address: null, title: null, media_url: null, image_url: null, duration_s: null, published_at: null, hashtags: [], ...value } as unknown as IndexedEvent;
}

/** Revisions of one address sort by created_at; the low bits keep same-second revisions apart. */
export const revisionId = (createdAt: number, eventId: string) => createdAt * 4096 + parseInt(eventId.slice(0, 3), 16);

/**
 * The index records of a batch of facts. A note, reply or comment's record expires `noteIndexSeconds`
 * after its created_at (retention.ts); a video's records and lists, and deletions, are kept.
 */
export function indexRecords(facts: Iterable<Fact>, events: Map<string, NostrEvent>, noteIndexSeconds: number): StateRecord[] {
  const records: StateRecord[] = [];
  for (const fact of facts) {
    if (INDEXED_TYPES.has(fact.type) && fact.type !== 'video') {
      const value = Object.fromEntries(NOTE_FIELDS.map((field) => [field, fact[field]]));
      records.push({ namespace: eventNamespace(fact.event_id), id: 0, value, expiresAt: fact.created_at + noteIndexSeconds });
    } else if (fact.type === 'video') {
      const address = fact.d_tag !== null ? fact.target_address : null;
      const value: IndexedEvent = {
        id: fact.event_id,
        author: fact.author,
        kind: fact.kind,
        type: fact.type,
        created_at: fact.created_at,
        address,
        title: fact.title,
        media_url: fact.media_url,
        image_url: fact.image_url,
        duration_s: fact.duration_s,
        published_at: fact.published_at,
        hashtags: fact.hashtags,
      };
      const entry = value as unknown as Record<string, unknown>;
      const id = revisionId(fact.created_at, fact.event_id);
      records.push({ namespace: eventNamespace(fact.event_id), id: 0, value: entry });
      if (address) records.push({ namespace: revisionsNamespace(address), id, value: entry });
      records.push({ namespace: videosByDayNamespace(Math.floor(fact.created_at / 86400) * 86400), id, value: entry });
      records.push({ namespace: videosByAuthorNamespace(fact.author), id, value: entry });
      for (const tag of fact.hashtags) records.push({ namespace: videosByTagNamespace(tag), id, value: entry });
    }
    if (fact.type === 'deletion') {
      const event = events.get(fact.event_id);
      if (!event) continue;
      const targets = deletionTargets(event);
      for (const id of targets.eventIds) records.push({ namespace: deletedNamespace(id), id: 0, value: { by: fact.author, at: fact.created_at, deletion: fact.event_id } });
      for (const address of targets.addresses) {
        // One record per deletion request; readers take the latest `upTo`.
        records.push({ namespace: addressDeletedNamespace(address), id: fact.created_at, value: { by: fact.author, upTo: fact.created_at, deletion: fact.event_id } });
      }
    }
  }
  return records;
}

/** The indexed event, or null; `deleted` when a deletion by the event's own author exists. */
export async function lookupEvent(counters: CounterStore, id: string): Promise<{ event: IndexedEvent | null; deleted: boolean }> {
  const [event, deletion] = await Promise.all([counters.getState(eventNamespace(id), 0), counters.getState(deletedNamespace(id), 0)]);
  const indexed = event ? indexedEventOf(id, event) : null;
  let deleted = !!indexed && !!deletion && deletion.by === indexed.author;
  if (indexed?.address && !deleted) {
    const upTo = await addressDeletedUpTo(counters, indexed.address);
    deleted = upTo !== null && indexed.created_at <= upTo;
  }
  return { event: indexed, deleted };
}

export async function addressDeletedUpTo(counters: CounterStore, address: string): Promise<number | null> {
  const requests = await counters.listState(addressDeletedNamespace(address));
  const author = addressPubkey(address);
  const upTo = requests.filter((r) => r.value.by === author).map((r) => Number(r.value.upTo));
  return upTo.length ? Math.max(...upTo) : null;
}

/** Index lookups in flight at once when resolving reply targets (each a GetItem of ≈ 100 B). */
export const PARENT_LOOKUPS_IN_PARALLEL = 16;

/** A reply or comment whose tags do not say whom it answers, but which names its parent event. */
export const isUnresolvedReply = (fact: Fact) => (fact.type === 'reply' || fact.type === 'comment') && fact.target_pubkey === null && fact.parent_event_id !== null;

/**
 * The replied-to author from the parent itself, for replies and comments whose tags leave it open
 * (docs/metrics.md, "Replied-to author"): the parent among `facts`, else its event-index record (notes,
 * replies, comments and videos are indexed). Sets `target_pubkey` in place and returns how many it
 * resolved. A parent Funnel has not seen leaves null; settling the reply's hour asks again. An index
 * that cannot be read leaves null too: resolving is an improvement, never a reason to fail a batch.
 */
export async function resolveReplyTargets(facts: readonly Fact[], counters: Pick<CounterStore, 'getState'>, onError?: (error: unknown) => void): Promise<number> {
  const unresolved = facts.filter(isUnresolvedReply);
  if (!unresolved.length) return 0;
  const authors = new Map<string, string>();
  for (const fact of facts) if (INDEXED_TYPES.has(fact.type)) authors.set(fact.event_id, fact.author);
  const missing = [...new Set(unresolved.map((f) => f.parent_event_id!).filter((id) => !authors.has(id)))];
  let failed = false;
  await forEachLimited(missing, PARENT_LOOKUPS_IN_PARALLEL, async (id) => {
    if (failed) return;
    try {
      const record = await counters.getState(eventNamespace(id), 0);
      if (typeof record?.author === 'string') authors.set(id, record.author);
    } catch (error) {
      failed = true;
      onError?.(error);
    }
  });
  let resolved = 0;
  for (const fact of unresolved) {
    const author = authors.get(fact.parent_event_id!);
    if (author === undefined) continue;
    fact.target_pubkey = author;
    resolved++;
  }
  return resolved;
}
