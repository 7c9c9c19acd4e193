import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { z } from 'zod';
import { createApiHandler } from '../../functions/api/handler.js';
import { HEALTH_REPORT_TTL_MS } from '../../lib/api/health.js';
import { createIngestHandler } from '../../functions/ingest/handler.js';
import * as contract from '../../functions/api/contract.js';
import { lambdaContext, QueueConsumer } from '../../lib/local/stack/queue-consumer.js';
import { LocalQueue } from '../../lib/adapters/local/local-queue.js';
import { ResponseCache, STALE_RETRY_MS } from '../../lib/api/cache.js';
import { STALE_CACHE_CONTROL, STALE_PARTIAL_REASON } from '../../lib/api/stale-answers.js';
import { hashApiKey, staticApiKeys } from '../../lib/app/api-keys.js';
import { ingestBatch } from '../../lib/ingest/ingest.js';
import { loadVerifier } from '../../lib/nostr/verify.js';
import { compactAndSettle } from '../../lib/facts/compact.js';
import { factsRelation } from '../../lib/adapters/local/duckdb-sql-engine.js';
import { globalStatsResponse } from '../../lib/query/stats.js';
import { retentionFromEnv } from '../../lib/counters/retention.js';
import { MetricsRegistry } from '../../lib/metrics/registry.js';
import { METRIC } from '../../lib/metrics/names.js';
import { loadFixture } from '../support/fixtures.js';
import { CounterStoreOutage } from '../support/faults.js';
import { fixedClock, memoryStores } from '../support/local.js';

/**
 * The counter store (DynamoDB) throttles or errors: the api answers cached reads from their last good
 * copy, marked stale, and the rest with 503; ingest fails its messages back to the queue, which keeps
 * them until the store is back, and then each event is stored once.
 */
const thread = loadFixture('thread-and-reactions.jsonl');
// Just after the fixture's last event, so a 7-day window holds all of it in live and settled counters.
const NOW = Date.parse('2025-10-27T22:00:30Z');
const retention = retentionFromEnv({});
const APP_KEY = 'app-key-for-outage-tests';
/** The thread's two most prolific authors (5 and 4 notes). */
const author = 'aab93e8e3fa6a8974e1c1f3199e5f3d9afb7aaa70b8236e93a5b2fafeafcbd3a';
const otherAuthor = 'deba271e547767bd6d8eec75eece5615db317a03b07f459134b03e7236005655';
/** The two events the thread engages with most (`e` tags naming them). */
const [busiest, secondBusiest] = (() => {
  const named = new Map<string, number>();
  for (const e of thread) for (const tag of e.tags) if (tag[0] === 'e' && tag[1]) named.set(tag[1], (named.get(tag[1]) ?? 0) + 1);
  return [...named].filter(([id]) => thread.some((e) => e.id === id)).sort((a, b) => b[1] - a[1]).map(([id]) => id);
})() as [string, string];

type Api = ReturnType<typeof createApiHandler>;
async function call(api: Api, path: string, init: { method?: string; headers?: Record<string, string>; body?: unknown } = {}) {
  const url = new URL(path, 'http://x');
  const event = {
    rawPath: url.pathname,
    rawQueryString: url.searchParams.toString(),
    queryStringParameters: Object.fromEntries(url.searchParams),
    headers: { ...(init.body ? { 'content-type': 'application/json' } : {}), ...init.headers },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    requestContext: { requestId: 'r1', http: { method: init.method ?? 'GET', sourceIp: '198.51.100.7' } },
  } as unknown as APIGatewayProxyEventV2;
  const response = await api(event, lambdaContext('test'));
  const headers = (response.headers ?? {}) as Record<string, string>;
  return { status: response.statusCode!, headers, body: response.body ? JSON.parse(response.body) : null };
}

function valid(schema: z.ZodType, body: unknown) {
  const result = schema.safeParse(body);
  expect(result.success, JSON.stringify(result.error?.issues.slice(0, 3))).toBe(true);
}

describe('the api while the counter store fails', () => {
  let stores: Awaited<ReturnType<typeof memoryStores>>;
  let outage: CounterStoreOutage;
  let api: Api;
  let cacheNow = NOW;
  const metrics = new MetricsRegistry();
  const reads = {
    summary: `/api/v2/analytics/user/${author}/summary?interval=7d`,
    drilldown: `/api/v2/analytics/user/${author}/drilldown/top-posts?interval=24h`,
    network: '/api/analytics/summary?interval=7d',
    eventStats: `/api/events/${busiest}/stats`,
    appMetric: '/v1/metrics/events?interval=7d',
  };
  const fresh: Record<string, Awaited<ReturnType<typeof call>>> = {};

  beforeAll(async () => {
    stores = await memoryStores();
    await ingestBatch([{ messageId: 'thread', body: JSON.stringify({ v: 1, source: 'wss://relay.example', events: thread }), receiveCount: 1 }], {
      objects: stores.objects,
      counters: stores.counters,
      verify: await loadVerifier(),
      clock: fixedClock(NOW),
      metrics: new MetricsRegistry(),
      minuteTtlSeconds: retention.minuteSeconds,
      logError: () => {},
    });
    // The settled hours and the watermark, as the compactor leaves them: answers are canonical + live.
    await compactAndSettle({ objects: stores.objects, counters: stores.counters, sql: stores.sql, tables: stores.tables, clock: fixedClock(NOW), retention, logIssue: () => {} });
    outage = new CounterStoreOutage(stores.counters);
    api = createApiHandler({
      counters: outage.counters,
      clock: fixedClock(NOW),
      retention,
      metrics,
      // The cache's own clock, so a test can let entries expire without waiting.
      cache: new ResponseCache({ maxEntries: 100, now: () => cacheNow }),
      app: { ingestQueue: new LocalQueue({ visibilityTimeoutMs: 60_000, maxReceives: 5 }), apiKeys: staticApiKeys(`sha256:${hashApiKey(APP_KEY)}:shop`) },
    });
    // The first good reads: each route's answer is now cached.
    for (const [name, path] of Object.entries(reads)) {
      fresh[name] = await call(api, path, { headers: name === 'appMetric' ? { 'x-api-key': APP_KEY } : {} });
      expect(fresh[name]!.status, name).toBe(200);
    }
    expect(fresh.summary!.body.data.totals.replies).toBeGreaterThan(0);
    expect(fresh.eventStats!.body.data.stats.replies).toBeGreaterThan(0);
    expect(await call(api, '/api/videos?sort=recent')).toMatchObject({ status: 200 });
  }, 60_000);
  afterAll(() => stores.close());

  it('answers each cached read from its last good copy, marked stale with its real age, short-lived, and valid against its schema', async () => {
    outage.down = true;
    cacheNow = NOW + 600_000; // ten minutes on: every entry has expired
    const schemas: Record<string, z.ZodType> = {
      summary: contract.summarySchema,
      drilldown: contract.drilldownSchema,
      network: contract.seedSummarySchema,
      eventStats: contract.eventStatsSchema,
      appMetric: contract.appMetricSchema,
    };
    const staleBefore = metrics.total(METRIC.staleAnswers);
    for (const [name, path] of Object.entries(reads)) {
      const stale = await call(api, path, { headers: name === 'appMetric' ? { 'x-api-key': APP_KEY } : {} });
      const before = fresh[name]!.body;
      expect(stale.status, name).toBe(200);
      expect(stale.body.data, name).toEqual(before.data);
      expect(stale.body.meta, name).toEqual({
        ...before.meta,
        freshness: { ...before.meta.freshness, isPartial: true, stalenessMs: (before.meta.freshness.stalenessMs ?? 0) + 600_000 },
        partialReason: STALE_PARTIAL_REASON,
      });
      expect(stale.headers['cache-control'], name).toBe(STALE_CACHE_CONTROL);
      valid(schemas[name]!, stale.body);
    }
    expect(metrics.total(METRIC.staleAnswers) - staleBefore).toBe(Object.keys(reads).length);
    // The seed contract's flag: this answer came from the cache.
    expect((await call(api, reads.network)).body.cached).toBe(true);
  });

  it('keeps validators right: a client holding the fresh copy gets the stale answer, not a 304; one holding the stale copy gets a 304 only for the same body', async () => {
    const stale = await call(api, reads.summary);
    expect(stale.headers.etag).toMatch(/^".+"$/);
    expect(stale.headers.etag).not.toBe(fresh.summary!.headers.etag);
    const withFreshTag = await call(api, reads.summary, { headers: { 'if-none-match': fresh.summary!.headers.etag! } });
    expect(withFreshTag.status).toBe(200);
    expect(withFreshTag.body.meta.partialReason).toBe(STALE_PARTIAL_REASON);
    // Within the retry interval the same copy at the same age is the same body: its tag matches.
    expect(await call(api, reads.summary, { headers: { 'if-none-match': stale.headers.etag! } })).toMatchObject({ status: 304, headers: { 'cache-control': STALE_CACHE_CONTROL } });
  });

  it('asks the failing store at most once per retry interval for a key, not once per request', async () => {
    cacheNow += STALE_RETRY_MS;
    const before = outage.refused;
    await call(api, reads.eventStats);
    const oneRefresh = outage.refused - before;
    expect(oneRefresh).toBeGreaterThan(0);
    await Promise.all(Array.from({ length: 5 }, () => call(api, reads.eventStats)));
    expect(outage.refused - before).toBe(oneRefresh);
  });

  it('answers 503 unavailable with Retry-After for a read with no good copy, and for a feed (which cannot say it is stale)', async () => {
    for (const path of [`/api/v2/analytics/user/${otherAuthor}/summary?interval=7d`, `/api/events/${secondBusiest}/stats`, '/api/videos?sort=recent', '/api/stats']) {
      const answer = await call(api, path);
      expect({ path, status: answer.status, code: answer.body.error.code }).toEqual({ path, status: 503, code: 'unavailable' });
      expect(answer.headers['retry-after']).toMatch(/^\d+$/);
    }
  });

  it('answers a bulk request with the stale copies it has and `unavailable` for the other ids; 503 when it has none', async () => {
    const bulk = await call(api, '/api/events/stats/bulk', { method: 'POST', body: { ids: [busiest, secondBusiest] } });
    expect(bulk.status).toBe(200);
    expect(bulk.body.data[0]).toEqual(fresh.eventStats!.body.data);
    expect(bulk.body.data[1]).toEqual({ id: secondBusiest, error: { code: 'unavailable', message: expect.any(String) } });
    expect(bulk.body.meta.partialReason).toBe(STALE_PARTIAL_REASON);
    valid(contract.eventStatsBulkSchema, bulk.body);
    const none = await call(api, '/api/events/stats/bulk', { method: 'POST', body: { ids: [secondBusiest] } });
    expect(none.status).toBe(503);
    expect(none.body.error.code).toBe('unavailable');
  });

  it('keeps /health degraded while the store fails', async () => {
    const health = await call(api, '/health');
    expect(health.status).toBe(503);
    expect(health.body).toMatchObject({ status: 'degraded', checks: { counters: { ok: false } } });
    valid(contract.healthSchema, health.body);
  });

  it('answers fresh again once the store is back: unmarked, the usual Cache-Control, and the pre-outage ETag matches again', async () => {
    outage.down = false;
    cacheNow += STALE_RETRY_MS;
    for (const [name, path] of Object.entries(reads)) {
      const again = await call(api, path, { headers: name === 'appMetric' ? { 'x-api-key': APP_KEY } : {} });
      expect(again.status, name).toBe(200);
      expect(again.body, name).toEqual(fresh[name]!.body);
      expect(again.headers['cache-control'], name).toBe(fresh[name]!.headers['cache-control']);
    }
    expect((await call(api, reads.summary, { headers: { 'if-none-match': fresh.summary!.headers.etag! } })).status).toBe(304);
    expect((await call(api, '/api/stats')).status).toBe(200);
    // Health reports are reused for HEALTH_REPORT_TTL_MS (lib/api/health.ts, on the real clock): one of the next ones sees the store answer.
    await expect.poll(async () => (await call(api, '/health')).body.status, { timeout: HEALTH_REPORT_TTL_MS + 3_000, interval: 200 }).toBe('ok');
  });
});

describe('ingest while the counter store fails', () => {
  it('keeps accepting into the queue; ingest fails the messages back, they are redelivered, and once the store is back each event is stored once', async () => {
    const stores = await memoryStores();
    try {
      const outage = new CounterStoreOutage(stores.counters);
      let queueNow = NOW;
      const deadLetter = new LocalQueue({ visibilityTimeoutMs: 1_000, maxReceives: Infinity, now: () => queueNow });
      const queue = new LocalQueue({ visibilityTimeoutMs: 1_000, maxReceives: 5, deadLetter, now: () => queueNow });
      const metrics = new MetricsRegistry();
      const consumer = new QueueConsumer(
        queue,
        createIngestHandler({ objects: stores.objects, counters: outage.counters, clock: fixedClock(NOW), metrics, minuteTtlSeconds: retention.minuteSeconds, write: () => {} }),
        // Small batches: the overlapping relay messages are stored by different batches, as deduplication then must catch.
        { batchSize: 2, batchWindowMs: 0 },
      );
      const deliverVisible = async () => {
        while (queue.visibleDepth > 0) await consumer.processOnce();
      };
      const api = createApiHandler({ counters: outage.counters, clock: fixedClock(NOW), retention, app: { ingestQueue: queue, apiKeys: staticApiKeys(`sha256:${hashApiKey(APP_KEY)}:shop`) } });
      const appEvents = [{ id: 'view-1', name: 'view', userId: 'u1', timestamp: NOW / 1000 - 60 }, { id: 'view-2', name: 'view', userId: 'u2', timestamp: NOW / 1000 - 30 }];
      const post = (events: unknown[]) => call(api, '/v1/events', { method: 'POST', headers: { 'x-api-key': APP_KEY }, body: { events } });
      // Before the outage: the api screens app events against the schema registry, and keeps what it read
      // for SCHEMA_CACHE_MS (lib/app/schemas.ts); past that, a failing store makes POST /v1/events a 503.
      expect((await post(appEvents.slice(0, 1))).status).toBe(202);
      outage.down = true;

      // Both entry paths keep accepting: the listener's (straight onto the queue) and POST /v1/events (202).
      const relayMessages = [thread.slice(0, 100), thread.slice(100), thread.slice(50, 150)].map((events) => JSON.stringify({ v: 1, source: 'wss://relay.example', events }));
      expect((await queue.sendBatch(relayMessages)).failed).toEqual([]);
      // A client's retry of the first event with a new one: the copy is stored once all the same.
      expect(await post(appEvents)).toMatchObject({ status: 202, body: { data: { accepted: 2, rejected: [] } } });
      expect(queue.depth).toBe(5);

      // Three deliveries while the store is down: every message fails back to the queue, none is lost or dead-lettered.
      for (let receive = 1; receive <= 3; receive++) {
        await deliverVisible();
        expect(queue.depth).toBe(5);
        expect(queue.visibleDepth).toBe(0);
        queueNow += 1_000;
      }
      expect(deadLetter.depth).toBe(0);
      expect(await stores.objects.list('facts/')).toEqual([]);
      // The fault is counted where the StorageFaults alarm looks.
      expect(metrics.byLabel(METRIC.storageFaults, 'Store').counters).toBeGreaterThan(0);

      outage.down = false;
      await deliverVisible();
      expect(queue.depth).toBe(0);
      expect(deadLetter.depth).toBe(0);

      const later = fixedClock(NOW + 2 * 3600_000);
      const run = await compactAndSettle({ objects: stores.objects, counters: stores.counters, sql: stores.sql, tables: stores.tables, clock: later, retention, logIssue: () => {} });
      expect(run.failedHours).toEqual([]);
      const [facts] = await stores.sql.query(`select count(*) as n, count(distinct event_id) as ids from ${factsRelation(stores.dir)}`);
      const expected = new Set(thread.map((e) => e.id)).size + appEvents.length;
      expect({ n: Number(facts!.n), ids: Number(facts!.ids) }).toEqual({ n: expected, ids: expected });
      expect((await globalStatsResponse({ counters: stores.counters, clock: later, retention })).data.totalEvents).toBe(expected);
    } finally {
      await stores.close();
    }
  }, 60_000);
});
