import type { CounterStore } from '../ports.js';
import { lastIngestAt, readWatermark } from '../counters/state.js';
import type { IndexedEvent } from '../counters/event-index.js';
import { forEachLimited } from '../util/concurrency.js';
import { currentVideoStats, type EngagementStats } from './event-stats.js';
import { FEED_DAYS, isDeleted, recentDays, toCard, videosByRecentDay, type VideoCard } from './video-feeds.js';
import { afterRanked, afterRecent, encodeCursor, type Cursor, type RankedCursor, type RecentCursor } from './cursor.js';
import type { Freshness, QueryDeps } from './window-read.js';

/**
 * The feeds of GET /api/videos (sort=recent|trending, all NIP-71 kinds or one), computed ahead into one
 * stored answer each: a state record of at most FEED_SIZE cards with their stats, under FEED_MAX_BYTES.
 * Computing a feed fans out (day lists, a deletion check per video, a stats read per video); reading it
 * is one GetItem, whatever the number of videos. functions/feeds runs precomputeFeeds every minute in AWS
 * and the local stack every FEEDS_LOCAL_EVERY_MS.
 *
 * Per-author feeds and search stay live reads: their variants (every author, tag and query) cannot all be
 * computed ahead, and they read one index list plus a deletion check per card shown.
 */

export type FeedSort = 'recent' | 'trending';
export const FEED_SORTS: readonly FeedSort[] = ['recent', 'trending'];
/** NIP-71 video kinds; a feed covers all of them or one. */
export const FEED_KINDS = [21, 22, 34235, 34236] as const;
export type FeedKind = (typeof FEED_KINDS)[number];
export interface FeedVariant {
  sort: FeedSort;
  kind: FeedKind | null;
}
/** Every feed the route serves: 2 sorts × (all kinds + each kind). */
export const ALL_FEEDS: readonly FeedVariant[] = FEED_SORTS.flatMap((sort) => [null, ...FEED_KINDS].map((kind) => ({ sort, kind })));

/** Cards per stored feed: the route's largest `limit`. */
export const FEED_SIZE = 100;
/** trending ranks the newest FEED_SIZE videos of the last TRENDING_DAYS UTC days (today included). */
export const TRENDING_DAYS = 3;
/** Video-index entries one computation considers at most (each costs a deletion check). */
export const FEED_MAX_CANDIDATES = 2_000;
/**
 * A stored feed's JSON at most: well under DynamoDB's 400 KB item limit, so a strongly consistent read
 * of it costs at most 64 read units (100 typical cards are about 80 KB, 20 read units). Cards past it are left out,
 * lowest ranked first, and counted in `truncated`.
 */
export const FEED_MAX_BYTES = 256 * 1024;
/** Requests one computation keeps in flight. */
export const FEED_READ_CONCURRENCY = 8;
/** How often the local stack recomputes the feeds (AWS: every minute, infra/lib/feeds.ts). */
export const FEEDS_LOCAL_EVERY_MS = 5_000;
/** Shape version of the stored record: a reader treats any other as no record (so an upgrade never misreads; 2: camelCase cards). */
export const FEED_VERSION = 2;

/** Where the stored feeds live among the state records (infra grants the feeds function writes here only). */
export const FEED_NAMESPACE_PREFIX = 'feed:';
export const feedNamespace = (variant: FeedVariant) => `${FEED_NAMESPACE_PREFIX}${variant.sort}:${variant.kind ?? 'all'}`;

export type FeedCard = VideoCard & { stats: EngagementStats; score?: number };

export interface StoredFeed {
  v: typeof FEED_VERSION;
  sort: FeedSort;
  kind: FeedKind | null;
  /** unix ms the feed was computed */
  generatedAt: number;
  /** the watermark and last ingest the stats include, as in every route's freshness */
  snapshotAsOf: string | null;
  deltaAsOf: string | null;
  cards: FeedCard[];
  /** cards left out to stay under FEED_MAX_BYTES */
  truncated: number;
}

/** Deletion checks are issued in runs of this many, so a list that fills early stops the checks early. */
const CHECK_RUN = FEED_READ_CONCURRENCY * 4;
type ListKey = FeedKind | 'all';

/**
 * The newest live (not deleted) videos for each list, up to FEED_SIZE each, over the last `days` UTC
 * days. Days are read newest first, so an address's newest revision is met before its older ones.
 */
async function liveVideos(deps: QueryDeps, keys: Set<ListKey>, nowSeconds: number, days: number) {
  const lists = new Map<ListKey, IndexedEvent[]>([...keys].map((key) => [key, []]));
  const wanting = (v: IndexedEvent) => [lists.get('all'), lists.get(v.kind as FeedKind)].filter((l): l is IndexedEvent[] => !!l && l.length < FEED_SIZE);
  const full = () => [...lists.values()].every((l) => l.length >= FEED_SIZE);
  let considered = 0;
  for await (const fresh of videosByRecentDay(deps.counters, nowSeconds, days)) {
    if (full() || considered >= FEED_MAX_CANDIDATES) break;
    for (let i = 0; i < fresh.length && !full() && considered < FEED_MAX_CANDIDATES; i += CHECK_RUN) {
      const run = fresh.slice(i, i + CHECK_RUN).filter((v) => wanting(v).length).slice(0, FEED_MAX_CANDIDATES - considered);
      considered += run.length;
      const deleted = new Set<IndexedEvent>();
      await forEachLimited(run, FEED_READ_CONCURRENCY, async (v) => {
        if (await isDeleted(deps.counters, v)) deleted.add(v);
      });
      for (const v of run) if (!deleted.has(v)) for (const list of wanting(v)) list.push(v);
    }
  }
  return lists;
}

/**
 * The counter store as one computation sees it: each state record is read once. Every stats read asks
 * for the watermark and ingest heartbeat, and a video's deletion check and its stats read the same index
 * records; this also gives the whole run one watermark. Holds only what the (bounded) run reads.
 */
export function readOnce(counters: CounterStore): CounterStore {
  const gets = new Map<string, Promise<Record<string, unknown> | null>>();
  const lists = new Map<string, Promise<{ id: number; value: Record<string, unknown> }[]>>();
  const once = <T>(memo: Map<string, Promise<T>>, key: string, read: () => Promise<T>): Promise<T> => {
    let pending = memo.get(key);
    if (!pending) memo.set(key, (pending = read()));
    return pending;
  };
  return {
    add: (deltas) => counters.add(deltas),
    put: (items) => counters.put(items),
    range: (scope, granularity, from, to) => counters.range(scope, granularity, from, to),
    getState: (namespace, id) => once(gets, `${namespace}\u0000${id}`, () => counters.getState(namespace, id)),
    putState: (namespace, id, value) => counters.putState(namespace, id, value),
    putStateIfAbsent: (namespace, id, value) => counters.putStateIfAbsent(namespace, id, value),
    putStates: (records) => counters.putStates(records),
    listState: (namespace) => once(lists, namespace, () => counters.listState(namespace)),
    deleteStateIf: (namespace, id, field, expected) => counters.deleteStateIf(namespace, id, field, expected),
    addEngagers: (rows) => counters.addEngagers(rows),
    engagerPage: (list, options) => counters.engagerPage(list, options),
  };
}

/** The freshness of an answer computed ahead (a feed, a ranking): its age is the time since it was computed, from everything ingested by then. */
export function storedFreshness(stored: { generatedAt: number; snapshotAsOf: string | null; deltaAsOf: string | null }, nowMs: number, isPartial: boolean): Freshness & { generatedAt: string } {
  return {
    generatedAt: new Date(stored.generatedAt).toISOString(),
    snapshotAsOf: stored.snapshotAsOf,
    deltaAsOf: stored.deltaAsOf,
    stalenessMs: Math.max(0, nowMs - stored.generatedAt),
    isPartial,
  };
}

/** engagement ÷ (age in hours + 2)^1.5, the usual gravity ranking, to 4 decimals */
export function trendingScore(stats: EngagementStats, createdAt: number, nowSeconds: number): number {
  const engagement = stats.reactions.total + stats.replies + stats.reposts + stats.zaps + stats.views;
  const hours = Math.max(0, nowSeconds - createdAt) / 3600;
  return Math.round((engagement / (hours + 2) ** 1.5) * 1e4) / 1e4;
}

/** Drops the lowest-ranked cards until the record's JSON fits FEED_MAX_BYTES. */
function bounded(head: Omit<StoredFeed, 'cards' | 'truncated'>, cards: FeedCard[]): StoredFeed {
  let bytes = Buffer.byteLength(JSON.stringify({ ...head, cards: [], truncated: cards.length }));
  let kept = 0;
  for (const card of cards) {
    const size = Buffer.byteLength(JSON.stringify(card)) + 1; // and its comma
    if (bytes + size > FEED_MAX_BYTES) break;
    bytes += size;
    kept++;
  }
  return { ...head, cards: cards.slice(0, kept), truncated: cards.length - kept };
}

/**
 * Computes the given feeds (all of them by default) in one pass: the lists share their deletion checks,
 * and a video in several feeds has its stats read once. Bounded: at most FEED_DAYS list reads,
 * FEED_MAX_CANDIDATES deletion checks and one stats read per video shown (≤ 4 × FEED_SIZE for all feeds).
 */
export async function computeFeeds(live: QueryDeps, variants: readonly FeedVariant[] = ALL_FEEDS): Promise<{ feeds: StoredFeed[]; statsRead: number }> {
  const deps = { ...live, counters: readOnce(live.counters) };
  const generatedAt = deps.clock.now();
  const now = Math.floor(generatedAt / 1000);
  const [watermark, ingestAt] = await Promise.all([readWatermark(deps.counters), lastIngestAt(deps.counters)]);
  const days = variants.some((v) => v.sort === 'recent') ? FEED_DAYS : TRENDING_DAYS;
  const lists = await liveVideos(deps, new Set(variants.map((v) => v.kind ?? 'all')), now, days);
  const trendingSince = recentDays(now, TRENDING_DAYS).at(-1)!;
  const shown = (variant: FeedVariant) => {
    const list = lists.get(variant.kind ?? 'all')!;
    return variant.sort === 'recent' ? list : list.filter((v) => v.created_at >= trendingSince);
  };

  const videos = new Map<string, IndexedEvent>();
  for (const variant of variants) for (const v of shown(variant)) videos.set(v.address ?? v.id, v);
  // null: deleted after all (every revision of an address, or the newest one's own event)
  const stats = new Map<string, EngagementStats | null>();
  await forEachLimited([...videos.keys()], FEED_READ_CONCURRENCY, async (key) => void stats.set(key, await currentVideoStats(key, deps)));

  const head: Omit<StoredFeed, 'sort' | 'kind' | 'cards' | 'truncated'> = {
    v: FEED_VERSION,
    generatedAt,
    snapshotAsOf: watermark ? new Date(watermark * 1000).toISOString() : null,
    deltaAsOf: ingestAt === null ? null : new Date(ingestAt).toISOString(),
  };
  const feeds = variants.map((variant) => {
    const cards: FeedCard[] = [];
    for (const v of shown(variant)) {
      const s = stats.get(v.address ?? v.id);
      if (!s) continue;
      cards.push(variant.sort === 'trending' ? { ...toCard(v), stats: s, score: trendingScore(s, v.created_at, now) } : { ...toCard(v), stats: s });
    }
    if (variant.sort === 'trending') cards.sort((a, b) => b.score! - a.score! || b.createdAt - a.createdAt || (a.id < b.id ? -1 : 1));
    return bounded({ ...head, sort: variant.sort, kind: variant.kind }, cards);
  });
  return { feeds, statsRead: videos.size };
}

/**
 * The scheduled run: computes every feed, then publishes each with one PutItem, which replaces the
 * record whole, so a reader sees the previous answer or the new one, never a mix.
 */
export async function precomputeFeeds(deps: QueryDeps): Promise<{ feeds: { feed: string; cards: number; bytes: number; truncated: number }[]; statsRead: number }> {
  const { feeds, statsRead } = await computeFeeds(deps);
  await Promise.all(feeds.map((feed) => deps.counters.putState(feedNamespace(feed), 0, feed as unknown as Record<string, unknown>)));
  return {
    feeds: feeds.map((feed) => ({ feed: feedNamespace(feed), cards: feed.cards.length, bytes: Buffer.byteLength(JSON.stringify(feed)), truncated: feed.truncated })),
    statsRead,
  };
}

function isStoredFeed(value: Record<string, unknown> | null, variant: FeedVariant): value is Record<string, unknown> & StoredFeed {
  return (
    !!value &&
    value.v === FEED_VERSION &&
    value.sort === variant.sort &&
    (value.kind ?? null) === variant.kind &&
    typeof value.generatedAt === 'number' &&
    Array.isArray(value.cards) &&
    typeof value.truncated === 'number'
  );
}

/**
 * A feed as the route serves it: the stored record (one read), or, while none exists yet (a fresh
 * install before the first scheduled run, or a record of another shape version), the same bounded
 * computation done live for this one feed, flagged `source: 'live'`.
 */
export async function readFeed(deps: QueryDeps, variant: FeedVariant): Promise<{ feed: StoredFeed; source: 'precomputed' | 'live' }> {
  const stored = await deps.counters.getState(feedNamespace(variant), 0);
  if (isStoredFeed(stored, variant)) return { feed: stored, source: 'precomputed' };
  const { feeds } = await computeFeeds(deps, [variant]);
  return { feed: feeds[0]!, source: 'live' };
}

/** A ranked cursor from another computation of the ranking than the stored one: the walk must start again. */
export class StaleCursorError extends Error {}

/**
 * One page of a feed after the cursor (keyset, docs: lib/query/cursor.ts). `recent` walks the stored
 * cards, then, past the stored FEED_SIZE, the video index itself (newest first, the same deletion checks
 * and stats as the precompute, at most `limit` stats reads and FEED_MAX_CANDIDATES checks a page), so a
 * walk reaches every video of the last FEED_DAYS days once. `trending` is a ranking of the stored cards:
 * its cursor names the computation it came from, and a cursor from an earlier one is refused.
 */
export async function feedPage(deps: QueryDeps, read: { feed: StoredFeed; source: 'precomputed' | 'live' }, limit: number, cursor: Cursor | null): Promise<{ cards: FeedCard[]; nextCursor: Cursor | null }> {
  const { feed } = read;
  if (feed.sort === 'trending') {
    if (cursor && (cursor.o !== 'ranked' || cursor.g !== feed.generatedAt)) throw new StaleCursorError('the trending ranking was computed again since this cursor: start from the first page');
    const after = cursor ? feed.cards.filter((c) => afterRanked(c, cursor as RankedCursor)) : feed.cards;
    const cards = after.slice(0, limit);
    const last = cards.at(-1);
    return { cards, nextCursor: after.length > limit && last ? { o: 'ranked', s: last.score ?? 0, t: last.createdAt, id: last.id, g: feed.generatedAt } : null };
  }
  if (cursor && cursor.o !== 'recent') throw new StaleCursorError('this cursor belongs to another list');
  const stored = cursor ? feed.cards.filter((c) => afterRecent(c, cursor)) : feed.cards;
  const next = (cards: FeedCard[]): Cursor => ({ o: 'recent', t: cards.at(-1)!.createdAt, id: cards.at(-1)!.id });
  if (stored.length > limit) return { cards: stored.slice(0, limit), nextCursor: next(stored.slice(0, limit)) };
  // The stored feed ends here; if it was cut at FEED_SIZE (or its byte bound), older videos follow in the index.
  const complete = feed.cards.length < FEED_SIZE && feed.truncated === 0;
  if (complete) return { cards: stored, nextCursor: null };
  const from = stored.at(-1) ?? (cursor ? { createdAt: cursor.t, id: cursor.id } : feed.cards.at(-1));
  if (!from) return { cards: stored, nextCursor: null };
  const older = await recentAfter(deps, feed.kind, { o: 'recent', t: from.createdAt, id: from.id }, limit - stored.length);
  const cards = [...stored, ...older.cards];
  return { cards, nextCursor: older.more && cards.length ? next(cards) : null };
}

/** Videos of the recent feed strictly after `after` (newest first), read from the day lists: at most `limit`, and whether more follow. */
async function recentAfter(deps: QueryDeps, kind: FeedKind | null, after: RecentCursor, limit: number): Promise<{ cards: FeedCard[]; more: boolean }> {
  const now = Math.floor(deps.clock.now() / 1000);
  const cards: FeedCard[] = [];
  let considered = 0;
  // Newer days are read too: an address's newest revision may be there, and it alone stands for the video.
  for await (const fresh of videosByRecentDay(deps.counters, now, FEED_DAYS)) {
    for (const v of fresh) {
      const card = toCard(v);
      if ((kind !== null && v.kind !== kind) || !afterRecent(card, after)) continue;
      if (++considered > FEED_MAX_CANDIDATES) return { cards, more: true };
      const stats = await currentVideoStats(v.address ?? v.id, deps);
      if (!stats) continue;
      if (cards.length === limit) return { cards, more: true };
      cards.push({ ...card, stats });
    }
  }
  return { cards, more: false };
}

/** The response of GET /api/videos: one page of cards, how fresh they are, and where the next page starts. */
export function feedResponse(read: { feed: StoredFeed; source: 'precomputed' | 'live' }, page: { cards: FeedCard[]; nextCursor: Cursor | null }, limit: number, cursor: string | null, nowMs: number) {
  const { feed, source } = read;
  const cut = feed.truncated > 0 && feed.sort === 'trending' && page.nextCursor === null && page.cards.length < limit;
  const freshness = storedFreshness(feed, nowMs, cut);
  return {
    data: page.cards,
    meta: {
      sort: feed.sort,
      kind: feed.kind,
      source,
      freshness,
      partialReason: cut ? `${feed.truncated} lower-ranked cards were left out to keep the stored feed under ${FEED_MAX_BYTES} bytes` : null,
      pagination: { cursor, nextCursor: page.nextCursor ? encodeCursor(page.nextCursor) : null, limit },
    },
  };
}
