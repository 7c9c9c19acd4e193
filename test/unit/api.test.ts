import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeTopList } from '../../lib/counters/topn.js';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { nip19 } from 'nostr-tools';
import { createApiHandler } from '../../functions/api/handler.js';
import { lambdaContext } from '../../lib/local/stack/queue-consumer.js';
import { fixedClock, memoryStores } from '../support/local.js';
import { retentionFromEnv } from '../../lib/counters/retention.js';
import { ResponseCache } from '../../lib/api/cache.js';
import { WATERMARK } from '../../lib/counters/state.js';

const NOW = Date.parse('2026-11-22T12:00:30Z');
const PUBKEY = 'a'.repeat(64);

let stores: Awaited<ReturnType<typeof memoryStores>>;
let api: ReturnType<typeof createApiHandler>;

beforeAll(async () => {
  stores = await memoryStores();
  api = createApiHandler({ counters: stores.counters, clock: fixedClock(NOW), retention: retentionFromEnv({}), cache: new ResponseCache({ maxEntries: 100 }) });
  const at = (iso: string) => Date.parse(iso) / 1000;
  const scope = `u:${PUBKEY}`;
  const lists = (entries: Record<string, [string, number][]>) => Object.fromEntries(Object.entries(entries).map(([name, list]) => [name, encodeTopList(list)]));
  // Settled through 12:00: two hours inside a 24h window, their days, and a minute outside it.
  await stores.counters.putState(WATERMARK, 0, { settledThrough: at('2026-11-22T12:00:00Z') });
  const lastHour = { posts: 2, likes_rcv: 3, zap_msats_rcv: 21_500 };
  const lastHourLists = lists({ top_posts: [['post-a', 3]], top_tags: [['nostr', 2]], top_zappers: [['b'.repeat(64), 21_500]] });
  const earlierHour = { posts: 1, emoji_rcv: 1, zaps_rcv: 1, zap_msats_rcv: 1_000 };
  const earlierHourLists = lists({ top_posts: [['post-b', 2]], top_tags: [['nostr', 1], ['zaps', 1]] });
  await stores.counters.put([
    { scope, granularity: 'h', bucket: at('2026-11-22T11:00:00Z'), values: lastHour, sets: { engagers: [65, 130, 200] }, tops: lastHourLists },
    { scope, granularity: 'h', bucket: at('2026-11-21T13:00:00Z'), values: earlierHour, tops: earlierHourLists },
    { scope, granularity: 'd', bucket: at('2026-11-21T00:00:00Z'), values: { ...earlierHour, eng_h13: 2 }, tops: earlierHourLists },
    // Outside a 24h window, inside 7d.
    { scope, granularity: 'd', bucket: at('2026-11-20T00:00:00Z'), values: { posts: 5 } },
    { scope, granularity: 'm', bucket: at('2026-11-20T08:00:00Z'), values: { posts: 5 } },
  ]);
});
afterAll(() => stores.close());

async function get(path: string) {
  const url = new URL(path, 'http://x');
  const event = {
    rawPath: url.pathname,
    queryStringParameters: Object.fromEntries(url.searchParams),
    requestContext: { http: { method: 'GET' } },
  } as unknown as APIGatewayProxyEventV2;
  const response = await api(event, lambdaContext('test'));
  return { status: response.statusCode, headers: response.headers ?? {}, body: JSON.parse(response.body ?? 'null') };
}

describe('GET /api/v2/analytics/user/:pubkey/summary', () => {
  it('sums the window from the counters with freshness metadata and a cache header', async () => {
    const { status, body, headers } = await get(`/api/v2/analytics/user/${PUBKEY}/summary?interval=24h`);
    expect(status).toBe(200);
    expect(body.data.totals).toMatchObject({ posts: 3, reactionsReceived: { total: 4, likes: 3, emoji: 1, dislikes: 0 }, zapsReceived: 1, zapSatsReceived: 22, uniqueEngagers: 3 });
    expect(body.drilldowns.topPosts).toEqual([{ id: 'post-a', engagement: 3 }, { id: 'post-b', engagement: 2 }]);
    expect(body.meta.source).toBe('canonical+delta');
    expect(body.meta.plan.itemsRead).toBe(2);
    expect(body.meta.window).toEqual({ type: 'rolling', interval: '24h', startTs: Date.parse('2026-11-21T12:01:00Z') / 1000, endTs: Date.parse('2026-11-22T12:01:00Z') / 1000 });
    expect(body.meta.freshness).toHaveProperty('stalenessMs');
    expect(body.data.timeline).toHaveLength(25);
    expect(body.data.timeline.reduce((n: number, p: { posts: number }) => n + p.posts, 0)).toBe(3);
    expect(headers['cache-control']).toBe('public, max-age=2');
  });

  it('with compare=previous adds the window before, its totals and each total\'s change', async () => {
    const { status, body } = await get(`/api/v2/analytics/user/${PUBKEY}/summary?interval=24h&compare=previous`);
    expect(status).toBe(200);
    const start = Date.parse('2026-11-21T12:01:00Z') / 1000;
    expect(body.data.previous.window).toEqual({ startTs: start - 86400, endTs: start });
    // The previous window holds none of the settled hours above (the day of the 20th is not whole in it).
    expect(body.data.previous.totals.posts).toBe(0);
    expect(body.data.previous.change.posts).toEqual({ previous: 0, delta: 3, percent: null });
    expect(body.data.previous.change.likesReceived).toEqual({ previous: 0, delta: 3, percent: null });
    // Over a week, against the week before it (nothing there either).
    const week = await get(`/api/v2/analytics/user/${PUBKEY}/summary?interval=7d&compare=previous`);
    expect(week.body.data.previous.change.posts.delta).toBe(week.body.data.totals.posts);
    // Without compare, no previous block.
    expect((await get(`/api/v2/analytics/user/${PUBKEY}/summary?interval=24h`)).body.data.previous).toBeUndefined();
    expect((await get(`/api/v2/analytics/user/${PUBKEY}/summary?interval=24h&compare=next`)).status).toBe(400);
  });

  it('widens with the interval and accepts an npub', async () => {
    const npub = nip19.npubEncode(PUBKEY);
    const { status, body, headers } = await get(`/api/v2/analytics/user/${npub}/summary?interval=7d`);
    expect(status).toBe(200);
    expect(body.data.pubkey).toBe(PUBKEY);
    expect(body.data.totals.posts).toBe(8);
    expect(headers['cache-control']).toBe('public, max-age=30');
  });

  it('answers custom windows aligned to the minute', async () => {
    const start = Date.parse('2026-11-20T07:59:30Z') / 1000;
    const end = Date.parse('2026-11-20T08:00:10Z') / 1000;
    const { status, body } = await get(`/api/v2/analytics/user/${PUBKEY}/summary?startTs=${start}&endTs=${end}`);
    expect(status).toBe(200);
    expect(body.meta.window).toEqual({ type: 'custom', startTs: start - 30, endTs: end + 50 });
    expect(body.data.totals.posts).toBe(5);
  });

  it.each([
    ['/api/v2/analytics/user/nothex/summary', 'bad_pubkey', 'pubkey'],
    [`/api/v2/analytics/user/${PUBKEY}/summary?interval=forever`, 'bad_window', 'interval'],
    [`/api/v2/analytics/user/${PUBKEY}/summary?startTs=200&endTs=100`, 'bad_window', 'endTs (100) is before startTs (200)'],
    [`/api/v2/analytics/user/${PUBKEY}/summary?startTs=abc&endTs=100`, 'bad_request', 'startTs must be unix seconds'],
    [`/api/v2/analytics/user/${PUBKEY}/summary?startTs=100`, 'bad_request', 'go together'],
    [`/api/v2/analytics/user/${PUBKEY}/summary?interval=24h&startTs=1&endTs=2`, 'bad_request', 'not both'],
  ])('rejects %s with a 400 that says what is wrong', async (path, code, message) => {
    const { status, body } = await get(path);
    expect(status).toBe(400);
    expect(body.error.code).toBe(code);
    expect(body.error.message).toContain(message);
  });
});

describe('other routes', () => {
  it('GET /health answers', async () => {
    const { status, body } = await get('/health');
    expect(status).toBe(200);
    expect(body.status).toBe('ok');
  });

  it('unknown routes are 404 with the error envelope', async () => {
    const { status, body } = await get('/nope');
    expect(status).toBe(404);
    expect(body.error.code).toBe('not_found');
  });

  it('GET /api/stats adds the live global minutes to the settled totals, with rejections from the all-time item', async () => {
    await stores.counters.add([
      { scope: 'g', granularity: 'm', bucket: Date.parse('2026-11-22T12:00:00Z') / 1000, add: { events: 7, 'kind:1': 5, 'kind:7': 2 } },
      { scope: 'g', granularity: 'all', bucket: 0, add: { 'rejected:bad_sig': 1 } },
    ]);
    const { status, body } = await get('/api/stats');
    expect(status).toBe(200);
    expect(body.data).toEqual({ totalEvents: 7, eventsByKind: { '1': 5, '7': 2 }, rejectedByReason: { bad_sig: 1 } });
  });
});

describe('GET /api/v2/analytics/user/:pubkey/drilldown/:metric', () => {
  it('top-posts, top-hashtags and zappers come from the bounded lists', async () => {
    const posts = await get(`/api/v2/analytics/user/${PUBKEY}/drilldown/top-posts?interval=24h`);
    expect(posts.body.data).toEqual([{ id: 'post-a', engagement: 3 }, { id: 'post-b', engagement: 2 }]);
    const tags = await get(`/api/v2/analytics/user/${PUBKEY}/drilldown/top-hashtags?interval=24h&limit=1`);
    expect(tags.body.data).toEqual([{ tag: 'nostr', count: 3 }]);
    const zappers = await get(`/api/v2/analytics/user/${PUBKEY}/drilldown/zappers?interval=24h`);
    expect(zappers.body.data).toEqual([{ pubkey: 'b'.repeat(64), sats: 21 }]);
  });

  it('best-hours and best-days rank engagement received in the tz asked for', async () => {
    const utc = await get(`/api/v2/analytics/user/${PUBKEY}/drilldown/best-hours?interval=24h`);
    expect(utc.body.data.best).toEqual([11, 13]);
    const shifted = await get(`/api/v2/analytics/user/${PUBKEY}/drilldown/best-hours?interval=24h&tz=%2B02:00`);
    expect(shifted.body.data.best).toEqual([13, 15]);
    expect(shifted.body.meta.tzOffsetMinutes).toBe(120);
    const days = await get(`/api/v2/analytics/user/${PUBKEY}/drilldown/best-days?interval=7d&tz=-720`);
    // 2026-11-22 11:59Z is Saturday 23:59 at UTC-12; 2026-11-21 13:00Z is Saturday 01:00.
    expect(days.body.data.best).toEqual(['Saturday']);
  });

  it('timeline gives the same dense points as the summary', async () => {
    const timeline = await get(`/api/v2/analytics/user/${PUBKEY}/drilldown/timeline?interval=24h`);
    expect(timeline.body.data).toHaveLength(25);
  });

  it.each([
    [`/api/v2/analytics/user/${PUBKEY}/drilldown/nope`, 404, 'unknown_drilldown'],
    [`/api/v2/analytics/user/${PUBKEY}/drilldown/best-hours?tz=moon`, 400, 'bad_request'],
    [`/api/v2/analytics/user/${PUBKEY}/drilldown/best-hours?tz=%2B15:00`, 400, 'bad_request'],
  ])('%s answers %i %s', async (path, status, code) => {
    const response = await get(path);
    expect(response.status).toBe(status);
    expect(response.body.error.code).toBe(code);
  });
});

describe('GET /api/analytics/summary (seed contract)', () => {
  it('answers {data:{totalEvents, uniqueUsers, eventsByType}, cached}, cached the second time', async () => {
    const hour = Date.parse('2026-11-22T11:00:00Z') / 1000;
    await stores.counters.put([{ scope: 'g', granularity: 'h', bucket: hour, values: { events: 4, 'type:note': 3, 'type:reaction': 1, 'kind:1': 3, 'kind:7': 1 }, sets: { authors: [65, 130] } }]);
    const first = await get('/api/analytics/summary?from=2026-11-22T00:00:00Z&to=2026-11-22T12:00:00Z');
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ data: { totalEvents: 4, uniqueUsers: 2, eventsByType: { note: 3, reaction: 1 } }, cached: false });
    expect(first.body.meta.partialReason).toBeNull();
    // Past the watermark the live minutes count, but not towards uniqueUsers.
    const live = await get('/api/analytics/summary?from=2026-11-22T11:00:00Z&to=2026-11-22T12:01:00Z');
    expect(live.body.meta.partialReason).toContain('uniqueUsers counts settled hours only');
    const second = await get('/api/analytics/summary?from=2026-11-22T00:00:00Z&to=2026-11-22T12:00:00Z');
    expect(second.body.cached).toBe(true);
    const bad = await get('/api/analytics/summary?from=yesterday');
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('from must be unix seconds or an ISO date');
  });
});
