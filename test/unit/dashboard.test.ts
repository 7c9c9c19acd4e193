import { readdir, readFile } from 'node:fs/promises';
import { encodeTopList } from '../../lib/counters/topn.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { nip19 } from 'nostr-tools';
import { createApiHandler } from '../../functions/api/handler.js';
import { DASHBOARD_CSP, DASHBOARD_MODULES, DASHBOARD_STYLESHEET } from '../../functions/api/dashboard-routes.js';
import { drilldownSchema, topAuthorsSchema } from '../../functions/api/contract.js';
import { lambdaContext } from '../../lib/local/stack/queue-consumer.js';
import { startHttpApi } from '../../lib/local/stack/http-server.js';
import { fixedClock, memoryStores } from '../support/local.js';
import { retentionFromEnv } from '../../lib/counters/retention.js';
import { WATERMARK } from '../../lib/counters/state.js';
import { LiveNotices, NOTICE_MIN_INTERVAL_MS } from '../../lib/api/live-notices.js';
import { JobMerge, partData, partsOf } from '../../lib/jobs/parts.js';
import { heatmapOf } from '../../lib/query/drilldown.js';
import type { Meta } from '../../lib/query/window-read.js';

const NOW = Date.parse('2026-11-22T12:00:30Z');
const PUBKEY = 'a'.repeat(64);
const AUTHORS = ['b'.repeat(64), 'c'.repeat(64), 'd'.repeat(64)];
const at = (iso: string) => Date.parse(iso) / 1000;
const ASSETS = new URL('../../functions/api/dashboard/', import.meta.url);

let stores: Awaited<ReturnType<typeof memoryStores>>;
let api: ReturnType<typeof createApiHandler>;

beforeAll(async () => {
  stores = await memoryStores();
  api = createApiHandler({ counters: stores.counters, clock: fixedClock(NOW), retention: retentionFromEnv({}) });
  await stores.counters.putState(WATERMARK, 0, { settledThrough: at('2026-11-22T12:00:00Z') });
  const user = `u:${PUBKEY}`;
  // Engagement received: 3 likes at Sunday 11:00Z, 2 at Saturday 13:00Z (a day item's hour histogram, its hour item too).
  await stores.counters.put([
    { scope: user, granularity: 'h', bucket: at('2026-11-22T11:00:00Z'), values: { likes_rcv: 3 } },
    { scope: user, granularity: 'h', bucket: at('2026-11-21T13:00:00Z'), values: { reposts_rcv: 2 } },
    { scope: user, granularity: 'd', bucket: at('2026-11-21T00:00:00Z'), values: { reposts_rcv: 2, eng_h13: 2 } },
    // the network: two settled hours of top authors, and a live minute (which carries none)
    { scope: 'g', granularity: 'h', bucket: at('2026-11-22T10:00:00Z'), values: { events: 9 }, tops: { top_authors: encodeTopList([[AUTHORS[0], 5], [AUTHORS[1], 4]]) } },
    { scope: 'g', granularity: 'h', bucket: at('2026-11-22T11:00:00Z'), values: { events: 6 }, tops: { top_authors: encodeTopList([[AUTHORS[1], 3], [AUTHORS[2], 3]]) } },
    { scope: 'g', granularity: 'm', bucket: at('2026-11-22T12:00:00Z'), values: { events: 1 } },
  ]);
});
afterAll(() => stores.close());

async function get(path: string, headers: Record<string, string> = {}, handler = api) {
  const url = new URL(path, 'http://x');
  const event = { rawPath: url.pathname, queryStringParameters: Object.fromEntries(url.searchParams), headers, requestContext: { http: { method: 'GET' } } } as unknown as APIGatewayProxyEventV2;
  const response = await handler(event, lambdaContext('test'));
  const type = String(response.headers?.['content-type'] ?? '');
  return { status: response.statusCode!, headers: (response.headers ?? {}) as Record<string, string>, text: response.body ?? '', body: type.startsWith('application/json') ? JSON.parse(response.body ?? 'null') : null };
}

describe('the heatmap drill-down', () => {
  it('puts engagement received in its weekday × hour cell, in the tz asked for, with the busiest cells', async () => {
    const utc = await get(`/api/v2/analytics/user/${PUBKEY}/drilldown/heatmap?interval=7d`);
    expect(utc.status).toBe(200);
    expect(drilldownSchema.safeParse(utc.body).success).toBe(true);
    const days = utc.body.data.days as { day: string; index: number; hours: number[]; engagement: number }[];
    expect(days.map((d) => d.engagement)).toEqual([3, 0, 0, 0, 0, 0, 2]);
    expect(days[0]!.hours[11]).toBe(3);
    expect(days[6]!.hours[13]).toBe(2);
    expect(utc.body.data.best).toEqual([
      { day: 'Sunday', index: 0, hour: 11, engagement: 3 },
      { day: 'Saturday', index: 6, hour: 13, engagement: 2 },
    ]);
    // At UTC-12, Sunday 11:00Z is Saturday 23:00 and Saturday 13:00Z is Saturday 01:00.
    const west = await get(`/api/v2/analytics/user/${PUBKEY}/drilldown/heatmap?interval=7d&tz=-12:00`);
    expect(west.body.meta.tzOffsetMinutes).toBe(-720);
    expect(west.body.data.days[6].hours[23]).toBe(3);
    expect(west.body.data.days[6].hours[1]).toBe(2);
    expect(west.body.data.days.map((d: { engagement: number }) => d.engagement)).toEqual([0, 0, 0, 0, 0, 0, 5]);
  });

  it('agrees with best-hours (its columns) and best-days (its rows)', async () => {
    const query = 'interval=7d&tz=%2B05:30';
    const [heat, hours, days] = await Promise.all(['heatmap', 'best-hours', 'best-days'].map((m) => get(`/api/v2/analytics/user/${PUBKEY}/drilldown/${m}?${query}`)));
    const matrix = heat!.body.data.days as { hours: number[]; engagement: number }[];
    expect(hours!.body.data.hours.map((h: { engagement: number }) => h.engagement)).toEqual(Array.from({ length: 24 }, (_, hour) => matrix.reduce((sum, d) => sum + d.hours[hour]!, 0)));
    expect(days!.body.data.days.map((d: { engagement: number }) => d.engagement)).toEqual(matrix.map((d) => d.engagement));
  });

  it('has at most three best cells, ties broken by weekday then hour, none when nothing was received', () => {
    const flat = heatmapOf(() => 1);
    expect(flat.best).toEqual([
      { day: 'Sunday', index: 0, hour: 0, engagement: 1 },
      { day: 'Sunday', index: 0, hour: 1, engagement: 1 },
      { day: 'Sunday', index: 0, hour: 2, engagement: 1 },
    ]);
    expect(heatmapOf(() => 0).best).toEqual([]);
  });

  it('as a job (a long window) runs the by-hour query and answers the same shape', () => {
    const window = { type: 'custom' as const, startTs: at('2026-01-01T00:00:00Z'), endTs: at('2026-11-01T00:00:00Z') };
    const request = { kind: 'drilldown' as const, drilldown: 'heatmap' as const, pubkey: PUBKEY, window, tzOffsetMinutes: 60 };
    expect(partsOf(request)).toEqual(['by_hour']);
    const meta = { window, freshness: { snapshotAsOf: null, deltaAsOf: null, stalenessMs: null, isPartial: false }, source: 'fallback', partialReason: null, plan: { maxItems: 0, itemsRead: 0, segments: [] } } as Meta;
    const rows = [
      { hour_of_day: 9, weekday: 2, engagement: 4 },
      { hour_of_day: 23, weekday: 0, engagement: 1 },
    ];
    const merged = (drilldown: 'heatmap' | 'best-hours' | 'best-days') => {
      const merge = new JobMerge({ ...request, drilldown });
      merge.add(partData('by_hour', rows.slice(0, 1)));
      merge.add(partData('by_hour', rows.slice(1)));
      return merge.result(meta) as { data: any; meta: Record<string, unknown> };
    };
    const heat = merged('heatmap');
    expect(drilldownSchema.safeParse({ data: heat.data, meta: heat.meta }).success).toBe(true);
    expect(heat.data.days[2].hours[9]).toBe(4);
    expect(heat.data.days[0].hours[23]).toBe(1);
    expect(heat.data.best.map((b: { day: string; hour: number }) => `${b.day} ${b.hour}`)).toEqual(['Tuesday 9', 'Sunday 23']);
    expect(heat.meta.tzOffsetMinutes).toBe(60);
    expect(merged('best-days').data.days.map((d: { engagement: number }) => d.engagement)).toEqual(heat.data.days.map((d: { engagement: number }) => d.engagement));
  });
});

describe('GET /api/analytics/top-authors', () => {
  it('ranks the authors of the settled hours and says the live tail is not ranked', async () => {
    const { status, body, headers } = await get('/api/analytics/top-authors?interval=24h&limit=2');
    expect(status).toBe(200);
    expect(topAuthorsSchema.safeParse(body).success).toBe(true);
    expect(body.data).toEqual([
      { rank: 1, pubkey: AUTHORS[1], events: 7 },
      { rank: 2, pubkey: AUTHORS[0], events: 5 },
    ]);
    expect(body.meta.freshness.isPartial).toBe(true);
    expect(body.meta.partialReason).toContain('settled hours only');
    expect(headers['cache-control']).toBe('public, max-age=2');
  });

  it.each([
    ['/api/analytics/top-authors?interval=120d', 400, 'bad_window'],
    ['/api/analytics/top-authors?interval=soon', 400, 'bad_window'],
    ['/api/analytics/top-authors?limit=0', 400, 'bad_request'],
    ['/api/analytics/top-authors?interval=7d&startTs=1&endTs=2', 400, 'bad_request'],
    ['/api/analytics/top-authors?startTs=1', 400, 'bad_request'],
  ])('%s answers %i %s', async (path, status, code) => {
    const answer = await get(path);
    expect([answer.status, answer.body.error.code]).toEqual([status, code]);
  });
});

describe('the page and its files', () => {
  it('serves the page with a policy that keeps it on its own origin', async () => {
    const page = await get('/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toBe(DASHBOARD_CSP);
    expect(page.text).toContain('<script type="module" src="/dashboard/main.js">');
    // nothing the page names is off its origin
    expect(page.text).not.toMatch(/(src|href)="(https?:)?\/\//);
  });

  it('serves every module and the stylesheet, revalidated by ETag; anything else is a 404', async () => {
    for (const name of DASHBOARD_MODULES) {
      const script = await get(`/dashboard/${name}.js`);
      expect([name, script.status, script.headers['content-type']]).toEqual([name, 200, 'text/javascript; charset=utf-8']);
    }
    const css = await get(`/dashboard/${DASHBOARD_STYLESHEET}`);
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    expect(css.headers['cache-control']).toBe('public, no-cache');
    expect((await get(`/dashboard/${DASHBOARD_STYLESHEET}`, { 'if-none-match': css.headers.etag! })).status).toBe(304);
    const missing = await get('/dashboard/secrets.js');
    expect([missing.status, missing.body.error.code]).toEqual([404, 'not_found']);
    expect((await get('/dashboard/..%2Fhandler.js')).status).toBe(404);
  });

  it('lists exactly the files of the folder, and the page preloads every module it imports', async () => {
    const files = (await readdir(ASSETS)).sort();
    expect(files).toEqual([...DASHBOARD_MODULES.map((m) => `${m}.js`), DASHBOARD_STYLESHEET, 'index.html'].sort());
    const html = await readFile(new URL('index.html', ASSETS), 'utf8');
    const preloaded = [...html.matchAll(/modulepreload" href="\/dashboard\/(\w+)\.js"/g)].map((m) => m[1]).sort();
    expect(preloaded).toEqual(DASHBOARD_MODULES.filter((m) => m !== 'main').sort());
    for (const name of DASHBOARD_MODULES) {
      const source = await readFile(new URL(`${name}.js`, ASSETS), 'utf8');
      for (const [, imported] of source.matchAll(/from '\.\/(\w+)\.js'/g)) expect(DASHBOARD_MODULES, `${name}.js imports ${imported}.js`).toContain(imported);
      // no fetch leaves the page's origin
      expect(source, name).not.toMatch(/fetch\(\s*['"`]https?:/);
    }
  });
});

describe('live notices', () => {
  it('GET /api/analytics/stream is a 404 where nothing publishes (AWS), an event stream where something does', async () => {
    const aws = await get('/api/analytics/stream');
    expect([aws.status, aws.body.error.code]).toEqual([404, 'not_found']);
    expect(aws.body.error.message).toContain('poll');
    const notices = new LiveNotices();
    const local = createApiHandler({ counters: stores.counters, clock: fixedClock(NOW), retention: retentionFromEnv({}), liveNotices: notices });
    const stream = await get('/api/analytics/stream', {}, local);
    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(stream.text).toMatch(/^retry: 3000\n\nevent: ready\ndata: \{"topics":\["counted","settled","feeds"\]/);
  });

  it('sends a topic at most once a second, and never drops the last one', () => {
    vi.useFakeTimers();
    try {
      const notices = new LiveNotices();
      const seen: string[] = [];
      const unsubscribe = notices.subscribe((n) => seen.push(n.topic));
      notices.publish('counted');
      notices.publish('counted');
      notices.publish('counted');
      notices.publish('feeds');
      expect(seen).toEqual(['counted', 'feeds']);
      vi.advanceTimersByTime(NOTICE_MIN_INTERVAL_MS);
      expect(seen).toEqual(['counted', 'feeds', 'counted']);
      unsubscribe();
      notices.publish('settled');
      expect(seen).toHaveLength(3);
      expect(notices.subscribers).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('the local HTTP server holds the stream open and writes each notice to it', async () => {
    const notices = new LiveNotices({ minIntervalMs: 0 });
    const handler = createApiHandler({ counters: stores.counters, clock: fixedClock(NOW), retention: retentionFromEnv({}), liveNotices: notices });
    const server = await startHttpApi(handler, 0, '127.0.0.1', { liveNotices: notices });
    const abort = new AbortController();
    try {
      const response = await fetch(`${server.url}/api/analytics/stream`, { signal: abort.signal });
      expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      let text = '';
      const until = async (pattern: RegExp) => {
        while (!pattern.test(text)) text += decoder.decode((await reader.read()).value);
      };
      await until(/event: ready/);
      expect(notices.subscribers).toBe(1);
      notices.publish('counted');
      await until(/event: update\ndata: \{"topic":"counted","at":"[^"]+"\}\n\n/);
      abort.abort();
      await expect.poll(() => notices.subscribers, { timeout: 1_000, interval: 20 }).toBe(0);
    } finally {
      abort.abort();
      await server.close();
    }
  });
});

describe('the page\'s own modules (plain ES modules, run here as in the browser)', () => {
  const load = (name: string) => import(new URL(`${name}.js`, ASSETS).href) as Promise<any>;

  it('encodes NIP-19 links as nostr-tools does', async () => {
    const { npub, note, naddr, eventLink } = await load('nip19');
    const key = '7abe464e1131bd086136cb8c93878fe258b8bb9458e74563abae30f2729a6685';
    expect(npub(key)).toBe(nip19.npubEncode(key));
    expect(note(key)).toBe(nip19.noteEncode(key));
    expect(naddr(`34236:${key}:clip-1`)).toBe(nip19.naddrEncode({ kind: 34236, pubkey: key, identifier: 'clip-1' }));
    expect(eventLink('nonsense')).toBeNull();
  });

  it('writes CSV with headers, quotes what needs it, and defuses spreadsheet formulas', async () => {
    const { toCsv } = await load('tables');
    const columns = [{ key: 'title', label: 'Video, title' }, { key: 'n', label: 'Count', numeric: true }, { key: 'x', label: 'Derived', csv: (r: { n: number }) => r.n * 2 }];
    expect(toCsv(columns, [{ title: 'say "hi"', n: -3 }, { title: '=HYPERLINK("x")', n: 1500 }])).toBe('"Video, title",Count,Derived\r\n"say ""hi""",-3,-6\r\n"\'=HYPERLINK(""x"")",1500,3000\r\n');
  });

  it('reads the URL leniently and writes it back in one order', async () => {
    const { readState, searchOf, localInputToUnix, unixToLocalInput } = await load('state');
    const state = readState('?pubkey=npub1x&interval=7d&tz=%2B05:30&chart=sats', 0);
    expect(state).toMatchObject({ view: 'creator', pubkey: 'npub1x', pubkeyHex: null, interval: '7d', tz: '+05:30', chart: 'sats', feed: 'trending' });
    expect(searchOf(state)).toBe('?pubkey=npub1x&interval=7d&tz=%2B05%3A30&chart=sats');
    expect(readState('?interval=forever&tz=moon&chart=nope&view=network&feed=recent', -300)).toMatchObject({ view: 'network', interval: '24h', tz: '-05:00', chart: 'reactions', feed: 'recent' });
    // a `+` typed raw into a URL arrives as a space
    expect(readState('?tz=+02:00', 0).tz).toBe('+02:00');
    const custom = readState('?startTs=1700000000&endTs=1700086400&interval=7d', 0);
    expect([custom.interval, custom.startTs, custom.endTs]).toEqual([null, 1700000000, 1700086400]);
    expect(searchOf(custom)).toBe('?startTs=1700000000&endTs=1700086400&tz=%2B00%3A00&chart=reactions');
    expect(localInputToUnix('2026-11-22T17:30', 330)).toBe(at('2026-11-22T12:00:00Z'));
    expect(unixToLocalInput(at('2026-11-22T12:00:00Z'), 330)).toBe('2026-11-22T17:30');
  });

  it('formats changes, offsets and times the way the API counts them', async () => {
    const { fmtChange, changeOf, parseTz, tzLabel, fmtTime } = await load('format');
    expect(fmtChange({ previous: 4, delta: 2, percent: 50 })).toEqual({ text: '▲ +2 (+50.0%) vs 4', direction: 'up' });
    expect(fmtChange({ previous: 0, delta: 3, percent: null }).text).toBe('▲ +3 (new) vs 0');
    expect(fmtChange({ previous: 1200, delta: -200, percent: -16.7 }).text).toBe('▼ −200 (−16.7%) vs 1,200');
    expect(changeOf(3, 0)).toEqual({ previous: 0, delta: 3, percent: null });
    expect(changeOf(1, 3)).toEqual({ previous: 3, delta: -2, percent: -66.7 });
    expect([parseTz('+05:30'), parseTz('-08:00'), parseTz('+15:00'), parseTz('0530')]).toEqual([330, -480, null, null]);
    expect(tzLabel(-570)).toBe('-09:30');
    expect(fmtTime(at('2026-11-22T23:30:00Z'), 60)).toBe('2026-11-23 00:30');
  });
});
