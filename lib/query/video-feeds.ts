import type { CounterStore } from '../ports.js';
import {
  addressDeletedUpTo,
  lookupEvent,
  videosByAuthorNamespace,
  videosByDayNamespace,
  videosByTagNamespace,
  type IndexedEvent,
} from '../counters/event-index.js';
import { videoStats, DeletedError, type EngagementStats } from './event-stats.js';
import type { QueryDeps } from './window-read.js';

export interface VideoCard {
  id: string;
  address: string | null;
  kind: number;
  author: string;
  title: string | null;
  media_url: string | null;
  image_url: string | null;
  duration_s: number | null;
  hashtags: string[];
  created_at: number;
  published_at: number | null;
}

const DAY = 86400;
/** How far back the recent feed and title search look. */
export const FEED_DAYS = 30;

const toCard = (v: IndexedEvent): VideoCard => ({
  id: v.id,
  address: v.address,
  kind: v.kind,
  author: v.author,
  title: v.title,
  media_url: v.media_url,
  image_url: v.image_url,
  duration_s: v.duration_s,
  hashtags: v.hashtags,
  created_at: v.created_at,
  published_at: v.published_at,
});

/**
 * One card per video, newest first: an addressable video's newest revision stands for it (NIP-01:
 * newest created_at, ties to the lowest id), and videos their author deleted (NIP-09) are left out.
 */
async function current(counters: CounterStore, candidates: IndexedEvent[], limit: number, kind?: number): Promise<VideoCard[]> {
  const newest = new Map<string, IndexedEvent>();
  for (const v of candidates) {
    if (kind !== undefined && v.kind !== kind) continue;
    const key = v.address ?? v.id;
    const seen = newest.get(key);
    if (!seen || v.created_at > seen.created_at || (v.created_at === seen.created_at && v.id < seen.id)) newest.set(key, v);
  }
  const ordered = [...newest.values()].sort((a, b) => b.created_at - a.created_at || (a.id < b.id ? -1 : 1));
  const cards: VideoCard[] = [];
  for (const v of ordered) {
    if (cards.length >= limit) break;
    if (v.address) {
      const upTo = await addressDeletedUpTo(counters, v.address);
      if (upTo !== null && v.created_at <= upTo) continue;
    } else if ((await lookupEvent(counters, v.id)).deleted) continue;
    cards.push(toCard(v));
  }
  return cards;
}

async function listVideos(counters: CounterStore, namespace: string): Promise<IndexedEvent[]> {
  return (await counters.listState(namespace)).map((r) => r.value as unknown as IndexedEvent);
}

async function recentCandidates(counters: CounterStore, nowSeconds: number, days: number, enough: number): Promise<IndexedEvent[]> {
  const out: IndexedEvent[] = [];
  for (let day = Math.floor(nowSeconds / DAY) * DAY, n = 0; n < days && out.length < enough; day -= DAY, n++) {
    out.push(...(await listVideos(counters, videosByDayNamespace(day))));
  }
  return out;
}

/** GET /api/videos?sort=recent: the newest videos of the last FEED_DAYS days. */
export async function recentVideos(deps: QueryDeps, options: { limit: number; kind?: number }): Promise<VideoCard[]> {
  const now = Math.floor(deps.clock.now() / 1000);
  // Revisions and deletions thin the list: gather a few times the limit before choosing.
  return current(deps.counters, await recentCandidates(deps.counters, now, FEED_DAYS, options.limit * 3), options.limit, options.kind);
}

/**
 * GET /api/videos?sort=trending: videos of the last 3 days ranked by engagement (reactions, replies,
 * reposts, zaps, views) decayed by age, score = engagement / (hours + 2)^1.5, the usual gravity ranking.
 */
export async function trendingVideos(deps: QueryDeps, options: { limit: number; kind?: number }): Promise<(VideoCard & { score: number; stats: EngagementStats })[]> {
  const now = Math.floor(deps.clock.now() / 1000);
  const candidates = await current(deps.counters, await recentCandidates(deps.counters, now, 3, 500), 100, options.kind);
  const scored = [];
  for (const card of candidates) {
    let stats: EngagementStats;
    try {
      stats = (await videoStats(card.address ?? card.id, deps))!.data.stats;
    } catch (error) {
      if (error instanceof DeletedError) continue;
      throw error;
    }
    const engagement = stats.reactions.total + stats.replies + stats.reposts + stats.zaps + stats.views;
    const hours = Math.max(0, now - card.created_at) / 3600;
    scored.push({ ...card, stats, score: Math.round((engagement / (hours + 2) ** 1.5) * 1e4) / 1e4 });
  }
  return scored.sort((a, b) => b.score - a.score || b.created_at - a.created_at).slice(0, options.limit);
}

/** GET /api/users/:pubkey/videos */
export async function videosByAuthor(deps: QueryDeps, pubkey: string, limit: number): Promise<VideoCard[]> {
  return current(deps.counters, await listVideos(deps.counters, videosByAuthorNamespace(pubkey)), limit);
}

/** GET /api/search?tag=&q=: videos with a hashtag, and/or whose title contains q (recent videos). */
export async function searchVideos(deps: QueryDeps, options: { tag?: string; q?: string; limit: number }): Promise<VideoCard[]> {
  const now = Math.floor(deps.clock.now() / 1000);
  const candidates = options.tag
    ? await listVideos(deps.counters, videosByTagNamespace(options.tag))
    : await recentCandidates(deps.counters, now, FEED_DAYS, Number.POSITIVE_INFINITY);
  const q = options.q?.toLowerCase();
  return current(deps.counters, q ? candidates.filter((v) => v.title?.toLowerCase().includes(q)) : candidates, options.limit);
}
