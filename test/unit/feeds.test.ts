import { describe, expect, it } from 'vitest';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { MemoryCounterStore } from '../../lib/adapters/memory/index.js';
import { addressDeletedNamespace, deletedNamespace } from '../../lib/counters/event-index.js';
import { addressScope, eventScope } from '../../lib/counters/contributions.js';
import { retentionFromEnv } from '../../lib/counters/retention.js';
import type { CounterStore } from '../../lib/ports.js';
import {
  ALL_FEEDS,
  computeFeeds,
  FEED_MAX_BYTES,
  FEED_SIZE,
  feedNamespace,
  precomputeFeeds,
  readFeed,
  FEED_VERSION,
  type FeedCard,
  type StoredFeed,
} from '../../lib/query/feeds.js';
import { createApiHandler } from '../../functions/api/handler.js';
import { createFeedsHandler } from '../../functions/feeds/handler.js';
import { ResponseCache } from '../../lib/api/cache.js';
import { lambdaContext } from '../../lib/local/stack/queue-consumer.js';
import { fixedClock } from '../support/local.js';
import { hex, publishVideo } from '../support/videos.js';

const NOW_MS = Date.parse('2026-03-10T12:00:00Z');
const NOW = NOW_MS / 1000;
const HOUR = 3600;
const DAY = 86400;
const retention = retentionFromEnv({});

const publish = publishVideo;

/** Live engagement aimed at a scope (`e:<id>` or `a:<address>`), as ingest adds it: per hour. */
const engage = (counters: CounterStore, scope: string, add: Record<string, number>) =>
  counters.add([{ scope, granularity: 'h', bucket: Math.floor((NOW - HOUR) / HOUR) * HOUR, add }]);

const deps = (counters: CounterStore, nowMs = NOW_MS) => ({ counters, clock: fixedClock(nowMs), retention });
const feedOf = (feeds: StoredFeed[], sort: 'recent' | 'trending', kind: number | null = null) => feeds.find((f) => f.sort === sort && f.kind === kind)!;
const ids = (cards: FeedCard[]) => cards.map((c) => c.id);

describe('the feed precompute', () => {
  it('ranks trending by engagement ÷ (hours + 2)^1.5 over the last 3 days, and recent newest first, each card with its stats', async () => {
    const counters = new MemoryCounterStore();
    const fresh = await publish(counters, { id: hex(1), created_at: NOW - HOUR });
    const popular = await publish(counters, { id: hex(2), created_at: NOW - 10 * HOUR });
    const quiet = await publish(counters, { id: hex(3), created_at: NOW - 2 * HOUR });
    const old = await publish(counters, { id: hex(4), created_at: NOW - 4 * DAY });
    await engage(counters, eventScope(fresh.id), { likes: 2 });
    await engage(counters, eventScope(popular.id), { likes: 30, replies: 5, zaps: 1, zap_msats: 21_000 });
    await engage(counters, eventScope(old.id), { likes: 500 });

    const { feeds } = await computeFeeds(deps(counters));
    expect(feeds).toHaveLength(ALL_FEEDS.length);
    const trending = feedOf(feeds, 'trending');
    // 36 / 12^1.5 = 0.866 beats 2 / 3^1.5 = 0.385; the 4-day-old video is outside the window whatever its likes
    expect(ids(trending.cards)).toEqual([popular.id, fresh.id, quiet.id]);
    expect(trending.cards.map((c) => c.score)).toEqual([0.866, 0.3849, 0]);
    expect(trending.cards[0]!.stats).toMatchObject({ reactions: { total: 30, likes: 30 }, replies: 5, zaps: 1, zapSats: 21 });
    const recent = feedOf(feeds, 'recent');
    expect(ids(recent.cards)).toEqual([fresh.id, quiet.id, popular.id, old.id]);
    expect(recent.cards[3]!.stats.reactions.likes).toBe(500);
    expect(recent.cards[0]).not.toHaveProperty('score');
    expect(recent).toMatchObject({ v: FEED_VERSION, generatedAt: NOW_MS, truncated: 0, deltaAsOf: null });
  });

  it('leaves out what authors deleted (NIP-09), honouring only their own deletions', async () => {
    const counters = new MemoryCounterStore();
    const author = hex(7, 'a');
    const gone = await publish(counters, { id: hex(1), author, created_at: NOW - HOUR });
    const kept = await publish(counters, { id: hex(2), author, created_at: NOW - 2 * HOUR });
    await counters.putState(deletedNamespace(gone.id), 0, { by: author, at: NOW - 30, deletion: hex(90) });
    // someone else's deletion of `kept` does not count
    await counters.putState(deletedNamespace(kept.id), 0, { by: hex(8, 'a'), at: NOW - 30, deletion: hex(91) });
    const address = `34235:${author}:clip`;
    await publish(counters, { id: hex(3), author, kind: 34235, address, created_at: NOW - 3 * HOUR });
    const revised = `34235:${author}:revised`;
    await publish(counters, { id: hex(4), author, kind: 34235, address: revised, created_at: NOW - 5 * HOUR });
    const newer = await publish(counters, { id: hex(5), author, kind: 34235, address: revised, created_at: NOW - 4 * HOUR, title: 'second cut' });
    await counters.putState(addressDeletedNamespace(address), NOW - 60, { by: author, upTo: NOW - 60, deletion: hex(92) });
    // deletes the revised address's first revision only: the newer one stands
    await counters.putState(addressDeletedNamespace(revised), NOW - 5 * HOUR, { by: author, upTo: NOW - 5 * HOUR, deletion: hex(93) });

    const { feeds } = await computeFeeds(deps(counters));
    // no engagement: trending ties at 0 and falls back to newest first
    for (const sort of ['recent', 'trending'] as const) expect(ids(feedOf(feeds, sort).cards), sort).toEqual([kept.id, newer.id]);
    expect(feedOf(feeds, 'recent', 34235).cards.map((c) => [c.id, c.title])).toEqual([[newer.id, 'second cut']]);
    expect(feedOf(feeds, 'recent', 21).cards.map((c) => c.id)).toEqual([kept.id]);
  });

  it('fills a feed past deleted videos: they take no place in it', async () => {
    const counters = new MemoryCounterStore();
    const author = hex(7, 'a');
    for (let i = 0; i < FEED_SIZE + 5; i++) {
      const v = await publish(counters, { id: hex(100 + i), author, created_at: NOW - 60 * (i + 1) });
      if (i < 5) await counters.putState(deletedNamespace(v.id), 0, { by: author, at: NOW - 30, deletion: hex(900 + i) });
    }
    const { feeds } = await computeFeeds(deps(counters));
    const recent = feedOf(feeds, 'recent').cards;
    expect(recent).toHaveLength(FEED_SIZE);
    expect(recent[0]!.id).toBe(hex(105));
    expect(recent.at(-1)!.id).toBe(hex(100 + FEED_SIZE + 4));
  });

  it('shows one card per addressable video, its newest revision, with the engagement of every revision', async () => {
    const counters = new MemoryCounterStore();
    const address = `34236:${hex(1, 'a')}:surf`;
    const first = await publish(counters, { id: hex(1), kind: 34236, address, created_at: NOW - 2 * DAY });
    const second = await publish(counters, { id: hex(2), kind: 34236, address, created_at: NOW - HOUR, title: 'Surf v2' });
    await engage(counters, addressScope(address), { likes: 3 });
    await engage(counters, eventScope(first.id), { reposts: 2 });
    const { feeds } = await computeFeeds(deps(counters));
    expect(feedOf(feeds, 'recent').cards).toEqual([expect.objectContaining({ id: second.id, address, title: 'Surf v2', stats: expect.objectContaining({ reactions: expect.objectContaining({ likes: 3 }), reposts: 2 }) })]);
  });

  it('fills each kind’s feed from that kind, deeper than the newest videos of all kinds', async () => {
    const counters = new MemoryCounterStore();
    for (let i = 0; i < FEED_SIZE + 10; i++) await publish(counters, { id: hex(1000 + i), kind: 21, created_at: NOW - 60 - i });
    const rare = await publish(counters, { id: hex(5), kind: 22, created_at: NOW - DAY });
    const { feeds } = await computeFeeds(deps(counters));
    expect(feedOf(feeds, 'recent').cards).toHaveLength(FEED_SIZE);
    expect(ids(feedOf(feeds, 'recent').cards)).not.toContain(rare.id);
    expect(ids(feedOf(feeds, 'recent', 22).cards)).toEqual([rare.id]);
    expect(ids(feedOf(feeds, 'trending', 22).cards)).toEqual([rare.id]);
    expect(feedOf(feeds, 'recent', 34235).cards).toEqual([]);
  });

  it('keeps every stored feed within FEED_SIZE cards and FEED_MAX_BYTES, dropping the lowest-ranked cards', async () => {
    const counters = new MemoryCounterStore();
    const url = `https://v.example/${'x'.repeat(2000)}`;
    // each card is over 4 KB (two 2 KB urls, a long title): 100 of them would not fit
    for (let i = 0; i < FEED_SIZE + 20; i++) {
      await publish(counters, { id: hex(100 + i), created_at: NOW - 60 * (i + 1), title: 'ü'.repeat(256), media_url: url, image_url: url });
    }
    const run = await precomputeFeeds(deps(counters));
    const recent = run.feeds.find((f) => f.feed === feedNamespace({ sort: 'recent', kind: null }))!;
    expect(recent.truncated).toBeGreaterThan(0);
    expect(recent.cards + recent.truncated).toBe(FEED_SIZE);
    for (const f of run.feeds) expect(f.bytes, f.feed).toBeLessThanOrEqual(FEED_MAX_BYTES);
    const stored = (await counters.getState(feedNamespace({ sort: 'recent', kind: null }), 0)) as unknown as StoredFeed;
    // the newest cards are the ones kept
    expect(stored.cards[0]!.id).toBe(hex(100));
    expect(stored.cards.at(-1)!.id).toBe(hex(100 + recent.cards - 1));
  });
});

describe('reading a feed', () => {
  it('reads the stored record; without one (fresh install, or another shape version) computes it live and says so', async () => {
    const counters = new MemoryCounterStore();
    const video = await publish(counters, { id: hex(1), created_at: NOW - HOUR });
    const variant = { sort: 'trending' as const, kind: null };
    const live = await readFeed(deps(counters), variant);
    expect(live.source).toBe('live');
    expect(ids(live.feed.cards)).toEqual([video.id]);

    await precomputeFeeds(deps(counters, NOW_MS - 30_000));
    const stored = await readFeed(deps(counters), variant);
    expect(stored).toMatchObject({ source: 'precomputed', feed: { generatedAt: NOW_MS - 30_000 } });

    await counters.putState(feedNamespace(variant), 0, { ...stored.feed, v: 99 });
    expect((await readFeed(deps(counters), variant)).source).toBe('live');
  });
});

/** Counts the counter store's reads and the items they return. */
function counting(inner: CounterStore) {
  const reads = { requests: 0, items: 0 };
  const store: CounterStore = {
    add: (d) => inner.add(d),
    put: (i) => inner.put(i),
    putState: (n, id, v) => inner.putState(n, id, v),
    putStates: (r) => inner.putStates(r),
    putStateIfAbsent: (n, id, v) => inner.putStateIfAbsent(n, id, v),
    deleteStateIf: (n, id, f, e) => inner.deleteStateIf(n, id, f, e),
    addEngagers: (rows) => inner.addEngagers(rows),
    engagerPage: (list, options) => inner.engagerPage(list, options),
    async getState(n, id) {
      const value = await inner.getState(n, id);
      reads.requests++;
      reads.items += value ? 1 : 0;
      return value;
    },
    async listState(n) {
      const records = await inner.listState(n);
      reads.requests++;
      reads.items += records.length;
      return records;
    },
    async range(s, g, from, to) {
      const items = await inner.range(s, g, from, to);
      reads.requests++;
      reads.items += items.length;
      return items;
    },
  };
  return { store, reads };
}

async function get(api: ReturnType<typeof createApiHandler>, path: string) {
  const url = new URL(path, 'http://x');
  const event = { rawPath: url.pathname, queryStringParameters: Object.fromEntries(url.searchParams), requestContext: { http: { method: 'GET' } } } as unknown as APIGatewayProxyEventV2;
  const response = await api(event, lambdaContext('test'));
  return { status: response.statusCode, headers: response.headers ?? {}, body: JSON.parse(response.body ?? 'null') };
}

describe('GET /api/videos', () => {
  it('answers a cache miss with one read of one item, whatever the number of videos', async () => {
    const readsFor = async (videos: number) => {
      const memory = new MemoryCounterStore();
      for (let i = 0; i < videos; i++) {
        const v = await publish(memory, { id: hex(10_000 + i), created_at: NOW - 60 * (i + 1) });
        if (i % 3 === 0) await engage(memory, eventScope(v.id), { likes: i });
      }
      await precomputeFeeds(deps(memory));
      const { store, reads } = counting(memory);
      const api = createApiHandler({ ...deps(store), cache: new ResponseCache({ maxEntries: 100 }) });
      const trending = await get(api, '/api/videos?sort=trending&limit=50');
      expect(trending.status).toBe(200);
      expect(trending.body.data).toHaveLength(Math.min(videos, 50));
      expect(trending.body.meta).toMatchObject({ sort: 'trending', kind: null, source: 'precomputed', freshness: { generatedAt: new Date(NOW_MS).toISOString(), stalenessMs: 0, isPartial: false } });
      const miss = { ...reads };
      // another limit is served from the same cached record
      expect((await get(api, '/api/videos?sort=trending&limit=5')).body.data).toHaveLength(Math.min(videos, 5));
      expect(reads).toEqual(miss);
      return miss;
    };
    const few = await readsFor(3);
    const many = await readsFor(FEED_SIZE + 50);
    expect(few).toEqual({ requests: 1, items: 1 });
    expect(many).toEqual(few);
  });

  it('serves recent and each kind, says how old the answer is, and computes live before the first run', async () => {
    const counters = new MemoryCounterStore();
    const clip = await publish(counters, { id: hex(1), kind: 22, created_at: NOW - HOUR });
    let nowMs = NOW_MS;
    const api = createApiHandler({ counters, clock: { now: () => nowMs }, retention });
    const before = await get(api, '/api/videos?sort=recent');
    expect(before.body.meta).toMatchObject({ source: 'live', freshness: { generatedAt: new Date(NOW_MS).toISOString(), stalenessMs: 0 } });
    expect(ids(before.body.data)).toEqual([clip.id]);
    expect(before.headers['cache-control']).toBe('public, max-age=5');

    await createFeedsHandler({ ...deps(counters), log: () => {} })({}, lambdaContext('funnel-feeds'));
    nowMs += 20_000;
    const after = await get(api, '/api/videos?kind=22');
    expect(after.body.meta).toMatchObject({ sort: 'recent', kind: 22, source: 'precomputed', freshness: { stalenessMs: 20_000 } });
    expect(ids(after.body.data)).toEqual([clip.id]);
    expect((await get(api, '/api/videos?kind=21')).body.data).toEqual([]);
    expect((await get(api, '/api/videos?sort=trending')).headers['cache-control']).toBe('public, max-age=60');
    for (const bad of ['/api/videos?kind=1', '/api/videos?sort=hot', '/api/videos?limit=0', '/api/videos?limit=101']) expect((await get(api, bad)).status, bad).toBe(400);
  });

  it('says when a stored feed holds fewer cards than asked because of its size bound', async () => {
    const counters = new MemoryCounterStore();
    const url = `https://v.example/${'x'.repeat(2000)}`;
    for (let i = 0; i < FEED_SIZE; i++) await publish(counters, { id: hex(100 + i), created_at: NOW - 60 * (i + 1), title: 'ü'.repeat(256), media_url: url, image_url: url });
    await precomputeFeeds(deps(counters));
    const api = createApiHandler(deps(counters));
    // trending is the stored ranking: what the bound left out is missing, and said so
    const all = await get(api, '/api/videos?sort=trending&limit=100');
    expect(all.body.meta.freshness.isPartial).toBe(true);
    expect(all.body.meta.partialReason).toMatch(/left out/);
    expect((await get(api, '/api/videos?sort=trending&limit=5')).body.meta).toMatchObject({ freshness: { isPartial: false }, partialReason: null });
    // recent continues from the index where the stored cards end: nothing is missing
    const recent = await get(api, '/api/videos?sort=recent&limit=100');
    expect(recent.body.data).toHaveLength(FEED_SIZE);
    expect(recent.body.meta).toMatchObject({ freshness: { isPartial: false }, partialReason: null, pagination: { nextCursor: null } });
  });
});

describe('paging the lists by cursor', () => {
  it('a walk through a recent feed of 1,000 videos sees each once, past the stored 100, and a trending walk sees its ranking once', async () => {
    const memory = new MemoryCounterStore();
    const published: string[] = [];
    // 1,000 videos over the last 20 days, some engaged
    for (let i = 0; i < 1000; i++) {
      const v = await publish(memory, { id: hex(20_000 + i), created_at: NOW - 1700 * (i + 1) });
      if (i % 7 === 0) await engage(memory, eventScope(v.id), { likes: i % 50 });
      published.push(v.id);
    }
    await precomputeFeeds(deps(memory));
    const api = createApiHandler({ ...deps(memory), cache: new ResponseCache({ maxEntries: 100 }) });
    const walk = async (first: string) => {
      const seen: string[] = [];
      let path: string | null = first;
      for (let pages = 0; path && pages < 50; pages++) {
        const page = await get(api, path);
        expect(page.status).toBe(200);
        seen.push(...page.body.data.map((c: { id: string }) => c.id));
        const next = page.body.meta.pagination.nextCursor as string | null;
        path = next ? `${first}&cursor=${encodeURIComponent(next)}` : null;
      }
      return seen;
    };
    const recent = await walk('/api/videos?sort=recent&limit=100');
    expect(recent).toHaveLength(1000);
    expect(new Set(recent).size).toBe(1000);
    expect(recent).toEqual(published); // newest first
    const trending = await walk('/api/videos?sort=trending&limit=30');
    expect(new Set(trending).size).toBe(trending.length);
    expect(trending.length).toBe(feedOf((await computeFeeds(deps(memory))).feeds, 'trending').cards.length);
    // A user's videos page the same way.
    const mine = await walk(`/api/users/${hex(1, 'a')}/videos?limit=100`);
    expect(new Set(mine).size).toBe(1000);
  }, 30_000);

  it('refuses a cursor it did not give out, or one from an earlier trending ranking', async () => {
    const memory = new MemoryCounterStore();
    for (let i = 0; i < 10; i++) await publish(memory, { id: hex(30_000 + i), created_at: NOW - 600 * (i + 1) });
    await precomputeFeeds(deps(memory));
    const api = createApiHandler(deps(memory));
    expect((await get(api, '/api/videos?cursor=nonsense')).body.error.code).toBe('bad_cursor');
    const first = await get(api, '/api/videos?sort=trending&limit=3');
    const next = first.body.meta.pagination.nextCursor as string;
    expect((await get(api, `/api/videos?sort=recent&cursor=${next}`)).body.error.code).toBe('bad_cursor');
    await precomputeFeeds(deps(memory, NOW_MS + 60_000));
    const later = createApiHandler(deps(memory, NOW_MS + 60_000));
    const stale = await get(later, `/api/videos?sort=trending&limit=3&cursor=${next}`);
    expect([stale.status, stale.body.error.code]).toEqual([400, 'bad_cursor']);
  });
});
