import type { CounterStore } from '../ports.js';
import { afterRecent, type RecentCursor } from './cursor.js';
import {
  addressDeletedUpTo,
  lookupEvent,
  videosByAuthorNamespace,
  videosByDayNamespace,
  videosByTagNamespace,
  type IndexedEvent,
} from '../counters/event-index.js';
import type { QueryDeps } from './window-read.js';

/** A video as the API shows it (camelCase; the index records keep the facts' column names). */
export interface VideoCard {
  id: string;
  address: string | null;
  kind: number;
  author: string;
  title: string | null;
  mediaUrl: string | null;
  imageUrl: string | null;
  durationSeconds: number | null;
  hashtags: string[];
  createdAt: number;
  publishedAt: number | null;
}

const DAY = 86400;
/** How far back the recent feed (lib/query/feeds.ts) and title search look. */
export const FEED_DAYS = 30;

export const toCard = (v: IndexedEvent): VideoCard => ({
  id: v.id,
  address: v.address,
  kind: v.kind,
  author: v.author,
  title: v.title,
  mediaUrl: v.media_url,
  imageUrl: v.image_url,
  durationSeconds: v.duration_s,
  hashtags: v.hashtags,
  createdAt: v.created_at,
  publishedAt: v.published_at,
});

/**
 * One entry per video, newest first: an addressable video's newest revision stands for it (NIP-01:
 * newest created_at, ties to the lowest id).
 */
export function newestRevisions(candidates: IndexedEvent[]): IndexedEvent[] {
  const newest = new Map<string, IndexedEvent>();
  for (const v of candidates) {
    const key = v.address ?? v.id;
    const seen = newest.get(key);
    if (!seen || v.created_at > seen.created_at || (v.created_at === seen.created_at && v.id < seen.id)) newest.set(key, v);
  }
  return [...newest.values()].sort((a, b) => b.created_at - a.created_at || (a.id < b.id ? -1 : 1));
}

/** Whether the video's author deleted it (NIP-09): the address up to this revision, or the event itself. */
export async function isDeleted(counters: CounterStore, v: IndexedEvent): Promise<boolean> {
  if (v.address) {
    const upTo = await addressDeletedUpTo(counters, v.address);
    return upTo !== null && v.created_at <= upTo;
  }
  return (await lookupEvent(counters, v.id)).deleted;
}

/** One card per video, newest first, without the videos their author deleted; after the cursor, at most `limit`, and whether more follow. */
async function current(counters: CounterStore, candidates: IndexedEvent[], limit: number, after?: RecentCursor): Promise<{ cards: VideoCard[]; more: boolean }> {
  const cards: VideoCard[] = [];
  for (const v of newestRevisions(candidates)) {
    const card = toCard(v);
    if (after && !afterRecent(card, after)) continue;
    if (await isDeleted(counters, v)) continue;
    if (cards.length === limit) return { cards, more: true };
    cards.push(card);
  }
  return { cards, more: false };
}

/** A page of a "recent" list and the cursor of the next one (null on the last page). */
export interface VideoPage {
  cards: VideoCard[];
  nextCursor: RecentCursor | null;
}
const pageOf = ({ cards, more }: { cards: VideoCard[]; more: boolean }): VideoPage => ({ cards, nextCursor: more ? { o: 'recent', t: cards.at(-1)!.createdAt, id: cards.at(-1)!.id } : null });

export async function listVideos(counters: CounterStore, namespace: string): Promise<IndexedEvent[]> {
  return (await counters.listState(namespace)).map((r) => r.value as unknown as IndexedEvent);
}

/** UTC day starts from today's back, `days` of them (the keys of the by-day video lists). */
export function recentDays(nowSeconds: number, days: number): number[] {
  const today = Math.floor(nowSeconds / DAY) * DAY;
  return Array.from({ length: days }, (_, n) => today - n * DAY);
}

/**
 * The videos listed by day, today's first: each day's newest revisions (newest first) that an earlier,
 * newer day has not already stood for (an address's newest revision alone stands for the video).
 */
export async function* videosByRecentDay(counters: CounterStore, nowSeconds: number, days: number): AsyncGenerator<IndexedEvent[]> {
  const seen = new Set<string>();
  for (const day of recentDays(nowSeconds, days)) {
    const fresh = newestRevisions(await listVideos(counters, videosByDayNamespace(day))).filter((v) => !seen.has(v.address ?? v.id));
    for (const v of fresh) seen.add(v.address ?? v.id);
    yield fresh;
  }
}

/** GET /api/users/:pubkey/videos */
export async function videosByAuthor(deps: QueryDeps, pubkey: string, limit: number, after?: RecentCursor): Promise<VideoPage> {
  return pageOf(await current(deps.counters, await listVideos(deps.counters, videosByAuthorNamespace(pubkey)), limit, after));
}

/** GET /api/search?tag=&q=: videos with a hashtag, and/or whose title contains q (recent videos). */
export async function searchVideos(deps: QueryDeps, options: { tag?: string; q?: string; limit: number; after?: RecentCursor }): Promise<VideoPage> {
  const now = Math.floor(deps.clock.now() / 1000);
  const candidates: IndexedEvent[] = [];
  if (options.tag) candidates.push(...(await listVideos(deps.counters, videosByTagNamespace(options.tag))));
  else for (const day of recentDays(now, FEED_DAYS)) candidates.push(...(await listVideos(deps.counters, videosByDayNamespace(day))));
  const q = options.q?.toLowerCase();
  return pageOf(await current(deps.counters, q ? candidates.filter((v) => v.title?.toLowerCase().includes(q)) : candidates, options.limit, options.after));
}
