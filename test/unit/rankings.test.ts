import { describe, expect, it } from 'vitest';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { MemoryCounterStore } from '../../lib/adapters/memory/index.js';
import type { IndexedEvent } from '../../lib/counters/event-index.js';
import { hex, publishVideo } from '../support/videos.js';
import { eventScope } from '../../lib/counters/contributions.js';
import { computeRankings, precomputeRankings, RANKING_SIZE, type RankedCreator, type RankedHashtag, type RankedVideo } from '../../lib/query/rankings.js';
import { retentionFromEnv } from '../../lib/counters/retention.js';
import { createApiHandler } from '../../functions/api/handler.js';
import { lambdaContext } from '../../lib/local/stack/queue-consumer.js';
import { fixedClock } from '../support/local.js';
import type { CounterStore } from '../../lib/ports.js';

const NOW_MS = Date.parse('2026-03-10T12:00:00Z');
const NOW = NOW_MS / 1000;
const DAY = 86400;
const retention = retentionFromEnv({});
const deps = (counters: CounterStore, nowMs = NOW_MS) => ({ counters, clock: fixedClock(nowMs), retention });

/** A video as ingest indexes it, with `likes` counted live on it. */
async function publish(counters: CounterStore, video: Partial<IndexedEvent> & { id: string; created_at: number }, likes = 0): Promise<IndexedEvent> {
  const v = await publishVideo(counters, { title: null, media_url: null, duration_s: null, ...video });
  if (likes) await counters.add([{ scope: eventScope(v.id), granularity: 'h', bucket: Math.floor(v.created_at / 3600) * 3600, add: { likes } }]);
  return v;
}

async function get(api: ReturnType<typeof createApiHandler>, path: string) {
  const url = new URL(path, 'http://x');
  const response = await api({ rawPath: url.pathname, queryStringParameters: Object.fromEntries(url.searchParams), requestContext: { http: { method: 'GET' } } } as unknown as APIGatewayProxyEventV2, lambdaContext('test'));
  return { status: response.statusCode, body: JSON.parse(response.body ?? 'null') };
}

describe('leaderboards and trending hashtags', () => {
  it('rank the videos published in each period by engagement, their creators and their hashtags', async () => {
    const counters = new MemoryCounterStore();
    const alice = hex(1, 'a');
    const bob = hex(2, 'a');
    await publish(counters, { id: hex(1), author: alice, created_at: NOW - 3600, hashtags: ['surf'] }, 5); // today
    await publish(counters, { id: hex(2), author: bob, created_at: NOW - 3 * DAY, hashtags: ['surf', 'ocean'] }, 50); // this week
    await publish(counters, { id: hex(3), author: alice, created_at: NOW - 20 * DAY, hashtags: ['ocean'] }, 500); // this month
    const { rankings } = await computeRankings(deps(counters));
    const entries = (list: string, period: string) => rankings.find((r) => r.list === list && r.period === period)!.entries;
    expect((entries('videos', 'day') as RankedVideo[]).map((v) => v.id)).toEqual([hex(1)]);
    expect((entries('videos', 'week') as RankedVideo[]).map((v) => [v.id, v.engagement])).toEqual([[hex(2), 50], [hex(1), 5]]);
    expect((entries('videos', 'month') as RankedVideo[]).map((v) => v.id)).toEqual([hex(3), hex(2), hex(1)]);
    expect(entries('creators', 'month') as RankedCreator[]).toEqual([
      { pubkey: alice, engagement: 505, videos: 2, zapSats: 0 },
      { pubkey: bob, engagement: 50, videos: 1, zapSats: 0 },
    ]);
    expect(entries('hashtags', 'week') as RankedHashtag[]).toEqual([
      { tag: 'surf', engagement: 55, videos: 2 },
      { tag: 'ocean', engagement: 50, videos: 1 },
    ]);
  });

  it('all time keeps a video that ranked once it is older than a month, with its current engagement', async () => {
    const counters = new MemoryCounterStore();
    const star = await publish(counters, { id: hex(9), created_at: NOW - 2 * DAY }, 900);
    await precomputeRankings(deps(counters));
    // Forty days later: the video is out of every period but all, and gained likes meanwhile.
    const later = NOW_MS + 40 * DAY * 1000;
    await counters.add([{ scope: eventScope(star.id), granularity: 'h', bucket: Math.floor(later / 3_600_000) * 3600, add: { likes: 100 } }]);
    await publish(counters, { id: hex(10), created_at: later / 1000 - 3600 }, 1);
    const { rankings } = await computeRankings(deps(counters, later));
    const all = rankings.find((r) => r.list === 'videos' && r.period === 'all')!.entries as RankedVideo[];
    expect(all.map((v) => [v.id, v.engagement])).toEqual([[hex(9), 1000], [hex(10), 1]]);
    expect(rankings.find((r) => r.list === 'videos' && r.period === 'month')!.entries.map((v) => (v as RankedVideo).id)).toEqual([hex(10)]);
  });

  it('are served one stored answer at a time, paged by cursor within one computation', async () => {
    const counters = new MemoryCounterStore();
    for (let i = 0; i < RANKING_SIZE + 20; i++) await publish(counters, { id: hex(100 + i), author: hex(100 + (i % 30), 'a'), created_at: NOW - 60 * (i + 1), hashtags: [`t${i % 40}`] }, i);
    await precomputeRankings(deps(counters));
    const api = createApiHandler(deps(counters));
    const walk = async (first: string) => {
      const seen: unknown[] = [];
      let path: string | null = first;
      while (path) {
        const page = await get(api, path);
        expect(page.status).toBe(200);
        expect(page.body.meta.source).toBe('precomputed');
        seen.push(...page.body.data);
        const next = page.body.meta.pagination.nextCursor;
        path = next ? `${first}&cursor=${encodeURIComponent(next)}` : null;
      }
      return seen as { rank: number }[];
    };
    const videos = await walk('/api/leaderboard/videos?period=day&limit=30');
    expect(videos).toHaveLength(RANKING_SIZE);
    expect(videos.map((v) => v.rank)).toEqual(Array.from({ length: RANKING_SIZE }, (_, i) => i + 1));
    expect(await walk('/api/leaderboard/creators?period=week&limit=7')).toHaveLength(30);
    expect(await walk('/api/hashtags/trending?limit=100')).toHaveLength(40);
    // A cursor from an earlier computation is refused, not misread.
    const first = await get(api, '/api/leaderboard/videos?limit=10');
    await precomputeRankings(deps(counters, NOW_MS + 60_000));
    const stale = await get(createApiHandler(deps(counters, NOW_MS + 60_000)), `/api/leaderboard/videos?limit=10&cursor=${first.body.meta.pagination.nextCursor}`);
    expect([stale.status, stale.body.error.code]).toEqual([400, 'bad_cursor']);
    expect((await get(api, '/api/leaderboard/videos?period=year')).status).toBe(400);
  });
});
