import { lastIngestAt, readWatermark } from '../counters/state.js';
import type { IndexedEvent } from '../counters/event-index.js';
import { forEachMapped } from '../util/concurrency.js';
import { currentVideoStats, type EngagementStats } from './event-stats.js';
import { FEED_DAYS, recentDays, toCard, videosByRecentDay, type VideoCard } from './video-feeds.js';
import { FEED_MAX_CANDIDATES, FEED_NAMESPACE_PREFIX, FEED_READ_CONCURRENCY, readOnce, storedFreshness } from './feeds.js';
import type { QueryDeps } from './window-read.js';

/**
 * The leaderboards and trending hashtags (GET /api/leaderboard/{videos,creators}, /api/hashtags/trending),
 * computed ahead with the feeds (the same run, every minute in AWS) into one stored answer each, so a
 * read is one GetItem. They rank the videos Funnel indexes (NIP-71), by engagement: reactions + replies
 * + reposts + zaps, all time, of the videos published in the period (docs/metrics.md, "Leaderboards").
 *
 * - `day`, `week`, `month`: videos published in the last 1, 7 or 30 UTC days (today included), at most
 *   FEED_MAX_CANDIDATES of them considered, newest first;
 * - `all`: the previous all-time list merged with this month's videos, each with its current stats:
 *   a video enters while it is at most a month old and stays while it ranks; an old video whose
 *   engagement grows late, having never ranked, is not found (documented, bounded by RANKING_SIZE reads).
 * Creators are ranked by the engagement of their videos in the same set; hashtags by the engagement of
 * the videos that carry them.
 */
export const RANKING_PERIODS = ['day', 'week', 'month', 'all'] as const;
export type RankingPeriod = (typeof RANKING_PERIODS)[number];
export const RANKING_LISTS = ['videos', 'creators', 'hashtags'] as const;
export type RankingList = (typeof RANKING_LISTS)[number];
/** Entries per stored ranking (the routes' largest page is 100). */
export const RANKING_SIZE = 100;
const PERIOD_DAYS: Record<Exclude<RankingPeriod, 'all'>, number> = { day: 1, week: 7, month: FEED_DAYS };
/** Shape version of a stored ranking: a reader treats any other as none. */
export const RANKING_VERSION = 1;

export const rankingNamespace = (list: RankingList, period: RankingPeriod) => `${FEED_NAMESPACE_PREFIX}rank:${list}:${period}`;

export type RankedVideo = VideoCard & { stats: EngagementStats; engagement: number };
export interface RankedCreator {
  pubkey: string;
  engagement: number;
  videos: number;
  zapSats: number;
}
export interface RankedHashtag {
  tag: string;
  engagement: number;
  videos: number;
}
export type RankingEntry = RankedVideo | RankedCreator | RankedHashtag;

export interface StoredRanking {
  v: typeof RANKING_VERSION;
  list: RankingList;
  period: RankingPeriod;
  generatedAt: number;
  snapshotAsOf: string | null;
  deltaAsOf: string | null;
  entries: RankingEntry[];
}

export const engagementOf = (s: EngagementStats) => s.reactions.total + s.replies + s.reposts + s.zaps;

const byEngagement = <T extends { engagement: number }>(key: (x: T) => string) => (a: T, b: T) => b.engagement - a.engagement || (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);

/** This month's videos (newest revision each, not deleted), newest first, with their all-time stats. */
async function monthVideos(deps: QueryDeps, nowSeconds: number): Promise<RankedVideo[]> {
  const candidates: IndexedEvent[] = [];
  for await (const fresh of videosByRecentDay(deps.counters, nowSeconds, FEED_DAYS)) {
    candidates.push(...fresh.slice(0, FEED_MAX_CANDIDATES - candidates.length));
    if (candidates.length >= FEED_MAX_CANDIDATES) break;
  }
  return statsOf(deps, candidates);
}

/** The videos with their current stats, in order, without those their author deleted. */
async function statsOf(deps: QueryDeps, videos: IndexedEvent[]): Promise<RankedVideo[]> {
  const stats = await forEachMapped(videos, FEED_READ_CONCURRENCY, (v) => currentVideoStats(v.address ?? v.id, deps));
  return videos.flatMap((v, i) => (stats[i] ? [{ ...toCard(v), stats: stats[i]!, engagement: engagementOf(stats[i]!) }] : []));
}

function creatorsOf(videos: RankedVideo[]): RankedCreator[] {
  const creators = new Map<string, RankedCreator>();
  for (const v of videos) {
    const c = creators.get(v.author) ?? creators.set(v.author, { pubkey: v.author, engagement: 0, videos: 0, zapSats: 0 }).get(v.author)!;
    c.engagement += v.engagement;
    c.videos++;
    c.zapSats += v.stats.zapSats;
  }
  return [...creators.values()].sort(byEngagement((c) => c.pubkey)).slice(0, RANKING_SIZE);
}

function hashtagsOf(videos: RankedVideo[]): RankedHashtag[] {
  const tags = new Map<string, RankedHashtag>();
  for (const v of videos) {
    for (const tag of v.hashtags) {
      const t = tags.get(tag) ?? tags.set(tag, { tag, engagement: 0, videos: 0 }).get(tag)!;
      t.engagement += v.engagement;
      t.videos++;
    }
  }
  return [...tags.values()].sort((a, b) => b.engagement - a.engagement || b.videos - a.videos || (a.tag < b.tag ? -1 : 1)).slice(0, RANKING_SIZE);
}

const rankVideos = (videos: RankedVideo[]) => [...videos].sort(byEngagement((v) => v.id)).slice(0, RANKING_SIZE);

/** Every ranking, computed from the video index and the last stored all-time list. */
export async function computeRankings(live: QueryDeps): Promise<{ rankings: StoredRanking[]; statsRead: number }> {
  // Every stats read asks for the watermark and heartbeat, a video's deletion check and stats read its index records: once each.
  const deps = { ...live, counters: readOnce(live.counters) };
  const generatedAt = deps.clock.now();
  const now = Math.floor(generatedAt / 1000);
  const [watermark, ingestAt, month] = await Promise.all([readWatermark(deps.counters), lastIngestAt(deps.counters), monthVideos(deps, now)]);
  const head = { v: RANKING_VERSION, generatedAt, snapshotAsOf: watermark ? new Date(watermark * 1000).toISOString() : null, deltaAsOf: ingestAt === null ? null : new Date(ingestAt).toISOString() } as const;
  // All time: last run's list, refreshed, with this month's videos.
  const stored = await readRanking(deps, 'videos', 'all');
  const inMonth = new Set(month.map((v) => v.address ?? v.id));
  const older = ((stored?.entries ?? []) as RankedVideo[]).filter((v) => !inMonth.has(v.address ?? v.id));
  const refreshed = await statsOf(deps, older.map(indexedOf));
  const sets: Record<RankingPeriod, RankedVideo[]> = {
    day: month.filter((v) => v.createdAt >= recentDays(now, PERIOD_DAYS.day).at(-1)!),
    week: month.filter((v) => v.createdAt >= recentDays(now, PERIOD_DAYS.week).at(-1)!),
    month,
    all: [...month, ...refreshed],
  };
  const rankings: StoredRanking[] = [];
  for (const period of RANKING_PERIODS) {
    rankings.push({ ...head, list: 'videos', period, entries: rankVideos(sets[period]) });
    rankings.push({ ...head, list: 'creators', period, entries: creatorsOf(sets[period]) });
    rankings.push({ ...head, list: 'hashtags', period, entries: hashtagsOf(sets[period]) });
  }
  return { rankings, statsRead: month.length + older.length };
}

/** A card back as the index record the stats and deletion checks take. */
const indexedOf = (v: RankedVideo): IndexedEvent => ({
  id: v.id,
  author: v.author,
  kind: v.kind,
  type: 'video',
  created_at: v.createdAt,
  address: v.address,
  title: v.title,
  media_url: v.mediaUrl,
  image_url: v.imageUrl,
  duration_s: v.durationSeconds,
  published_at: v.publishedAt,
  hashtags: v.hashtags,
});

async function readRanking(deps: QueryDeps, list: RankingList, period: RankingPeriod): Promise<StoredRanking | null> {
  const value = await deps.counters.getState(rankingNamespace(list, period), 0);
  return value && value.v === RANKING_VERSION && value.list === list && value.period === period && Array.isArray(value.entries) ? (value as unknown as StoredRanking) : null;
}

/** The scheduled run's part: every ranking, each published with one PutItem (a reader sees one answer or the next, never a mix). */
export async function precomputeRankings(deps: QueryDeps): Promise<{ rankings: number; statsRead: number }> {
  const { rankings, statsRead } = await computeRankings(deps);
  await Promise.all(rankings.map((r) => deps.counters.putState(rankingNamespace(r.list, r.period), 0, r as unknown as Record<string, unknown>)));
  return { rankings: rankings.length, statsRead };
}

/**
 * A ranking as the routes serve it: the stored answer, or, before the first run has stored one, the
 * same computation live (`source: 'live'`).
 */
export async function readRankingOrCompute(deps: QueryDeps, list: RankingList, period: RankingPeriod): Promise<{ ranking: StoredRanking; source: 'precomputed' | 'live' }> {
  const stored = await readRanking(deps, list, period);
  if (stored) return { ranking: stored, source: 'precomputed' };
  const { rankings } = await computeRankings(deps);
  return { ranking: rankings.find((r) => r.list === list && r.period === period)!, source: 'live' };
}

/** One page of a ranking: offset paging within one computation (`g`), whose entries do not move. */
export function rankingPage(read: { ranking: StoredRanking; source: 'precomputed' | 'live' }, limit: number, offset: number, nowMs: number) {
  const { ranking, source } = read;
  const entries = ranking.entries.slice(offset, offset + limit).map((entry, i) => ({ rank: offset + i + 1, ...entry }));
  const freshness = storedFreshness(ranking, nowMs, false);
  return { entries, next: offset + limit < ranking.entries.length ? offset + limit : null, freshness, source };
}
