import { toCard } from './video-feeds.js';
import { addressScope, eventScope, TARGET_METRICS } from '../counters/contributions.js';
import { mergeItems, type BucketState } from '../counters/aggregate.js';
import { addressDeletedUpTo, lookupEvent, revisionsNamespace, type IndexedEvent } from '../counters/event-index.js';
import type { CounterItem } from '../ports.js';
import { readWindow, type Meta, type QueryDeps } from './window-read.js';

export interface EngagementStats {
  reactions: { total: number; likes: number; dislikes: number; emoji: number };
  replies: number;
  reposts: number;
  zaps: number;
  zapSats: number;
  /** first-party app views (POST /v1/events); 0 until app events are ingested */
  views: number;
}

export function toEngagement(state: BucketState): EngagementStats {
  const v = (name: (typeof TARGET_METRICS)[number] | 'views') => state.values[name] ?? 0;
  return {
    reactions: { total: v('likes') + v('dislikes') + v('emoji'), likes: v('likes'), dislikes: v('dislikes'), emoji: v('emoji') },
    replies: v('replies'),
    reposts: v('reposts'),
    zaps: v('zaps'),
    zapSats: Math.floor(v('zap_msats') / 1000),
    views: v('views'),
  };
}

export class DeletedError extends Error {}

/** Who published an event Funnel has seen, as the API shows it (a video's card has the rest). */
export interface EventRecord {
  id: string;
  author: string;
  kind: number;
  type: string;
  createdAt: number;
}
const recordOf = (e: IndexedEvent): EventRecord => ({ id: e.id, author: e.author, kind: e.kind, type: e.type, createdAt: e.created_at });

/** All-time window for a per-event or per-address scope: day items (kept forever) + hour items since the last settled day, the live ones included. */
async function allTime(scope: string, deps: QueryDeps): Promise<{ items: CounterItem[]; meta: Meta }> {
  const now = Math.floor(deps.clock.now() / 1000);
  const end = Math.ceil((now + 1) / 60) * 60;
  const retention = { ...deps.retention, daySeconds: Number.POSITIVE_INFINITY };
  const read = await readWindow(scope, { type: 'custom', startTs: 0, endTs: end }, { ...deps, retention }, { hourly: false });
  return { items: read.items, meta: read.meta };
}

/**
 * An event's engagement, all time (NIP-25 reactions by class, NIP-10/22 replies, NIP-18 reposts,
 * NIP-57 zaps). 404-worthy only when the author deleted it (NIP-09); an event Funnel never saw can
 * still have engagement that references it.
 */
export async function eventStats(id: string, deps: QueryDeps): Promise<{ data: { id: string; event: EventRecord | null; stats: EngagementStats }; meta: Meta }> {
  const [{ event, deleted }, read] = await Promise.all([lookupEvent(deps.counters, id), allTime(eventScope(id), deps)]);
  if (deleted) throw new DeletedError(`event ${id} was deleted by its author`);
  return { data: { id, event: event && recordOf(event), stats: toEngagement(mergeItems(read.items)) }, meta: read.meta };
}

/**
 * A video's engagement as a whole: for an addressable video (NIP-71 kinds 34235/34236) the engagement
 * aimed at its address plus at any of its revisions' ids; its metadata from the newest revision that
 * its author has not deleted (newest created_at wins, ties to the lowest id).
 */
export async function videoStats(idOrAddress: string, deps: QueryDeps) {
  const video = await videoVersions(idOrAddress, deps);
  if (!video) return null;
  const { address, single, revisions, newest } = video;
  if (!address) {
    const read = await allTime(eventScope(idOrAddress), deps);
    return { data: { id: idOrAddress, address: null, video: single && toCard(single), revisions: single ? 1 : 0, stats: toEngagement(mergeItems(read.items)) }, meta: read.meta };
  }
  const reads = await Promise.all([allTime(addressScope(address), deps), ...revisions.map((r) => allTime(eventScope(r.id), deps))]);
  const state = mergeItems(reads.flatMap((r) => r.items));
  return { data: { id: newest?.id ?? idOrAddress, address, video: newest && toCard(newest), revisions: revisions.length, stats: toEngagement(state) }, meta: reads[0]!.meta };
}

/**
 * A video as its id or address names it (NIP-71): its address (null for a regular video), the indexed
 * event when named by id, every revision of an addressable one (newest first) and the newest its author
 * has not deleted (newest created_at wins, ties to the lowest id). Null when the id names an event that
 * is not a video; DeletedError when its author deleted it (NIP-09: the event, or every revision).
 */
export async function videoVersions(idOrAddress: string, deps: Pick<QueryDeps, 'counters'>): Promise<{ address: string | null; single: IndexedEvent | null; revisions: IndexedEvent[]; newest: IndexedEvent | null } | null> {
  let address: string | null = idOrAddress.includes(':') ? idOrAddress : null;
  let single: IndexedEvent | null = null;
  if (!address) {
    const { event, deleted } = await lookupEvent(deps.counters, idOrAddress);
    if (deleted) throw new DeletedError(`video ${idOrAddress} was deleted by its author`);
    if (event && event.type !== 'video') return null;
    address = event?.address ?? null;
    single = event;
  }
  if (!address) return { address: null, single, revisions: [], newest: single };
  const [records, deletedUpTo] = await Promise.all([deps.counters.listState(revisionsNamespace(address)), addressDeletedUpTo(deps.counters, address)]);
  const revisions = records.sort((a, b) => b.id - a.id).map((r) => r.value as unknown as IndexedEvent);
  const live = revisions.filter((r) => deletedUpTo === null || r.created_at > deletedUpTo);
  if (revisions.length && !live.length) throw new DeletedError(`video ${address} was deleted by its author`);
  const newest = [...live].sort((a, b) => b.created_at - a.created_at || (a.id < b.id ? -1 : 1))[0] ?? null;
  return { address, single, revisions, newest };
}

/** Ids one bulk request may name (DESIGN §6): each is one all-time read, like its single route. */
export const BULK_STATS_MAX_IDS = 100;
/** All-time reads one bulk request keeps in flight. */
export const BULK_STATS_CONCURRENCY = 8;

/** A video's stats, or null when its author deleted it or it is not a video: what feeds and rankings show. */
export async function currentVideoStats(idOrAddress: string, deps: QueryDeps): Promise<EngagementStats | null> {
  try {
    return (await videoStats(idOrAddress, deps))?.data.stats ?? null;
  } catch (error) {
    if (error instanceof DeletedError) return null;
    throw error;
  }
}
