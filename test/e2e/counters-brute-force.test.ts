import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WorkloadGenerator, seededRandom, simulatedUsers } from '../../lib/local/simulator.js';
import { ingestBatch } from '../../lib/ingest/ingest.js';
import { packEvents } from '../../lib/ingest/message.js';
import { loadVerifier } from '../../lib/nostr/verify.js';
import { normalise, reactionClass } from '../../lib/nostr/normalise.js';
import { MetricsRegistry } from '../../lib/metrics/registry.js';
import { compactAndSettle } from '../../lib/facts/compact.js';
import { readWatermark } from '../../lib/counters/state.js';
import { retentionFromEnv } from '../../lib/counters/retention.js';
import { userSummary } from '../../lib/query/summary.js';
import { globalSummary } from '../../lib/query/global.js';
import { customWindow, rollingWindow, type QueryWindow } from '../../lib/query/window.js';
import { verifyDrift } from '../../lib/jobs/verify.js';
import { DuckDbSqlEngine, factsRelation } from '../../lib/adapters/local/duckdb-sql-engine.js';
import type { Fact } from '../../lib/facts/schema.js';
import { localStores } from '../support/local.js';

// Each test settles and scans a 60-day workload (25–35 s alone here); on a shared machine that can double.
vi.setConfig({ testTimeout: 180_000 });

/**
 * The counters' promise: for every user and window, rolling or custom, before and after compaction,
 * the totals equal what a brute-force pass over the same events computes.
 */
const NOW_MS = Date.parse('2026-11-20T15:37:20Z');
const DAYS = 60;
const EVENTS = 1500;

let clockMs = NOW_MS;
const clock = { now: () => clockMs };
// Generous retention: the whole workload is inside every TTL, so every window is answerable exactly.
const retention = retentionFromEnv({ MINUTE_TTL_DAYS: '100', HOUR_TTL_DAYS: '100' });
let stores: Awaited<ReturnType<typeof localStores>>;
let facts: Fact[];
let messages: string[];
const sql = new DuckDbSqlEngine();

/** The metric definitions of docs/metrics.md, written out plainly over facts. */
function bruteForce(pubkey: string, window: QueryWindow) {
  const inWindow = facts.filter((f) => f.created_at >= window.startTs && f.created_at < window.endTs);
  const received = inWindow.filter((f) => f.target_pubkey === pubkey && (f.type === 'zap' ? f.zap_sender : f.author) !== pubkey);
  const authored = (type: string) => inWindow.filter((f) => f.author === pubkey && f.type === type).length;
  const reactions = (cls: string) => received.filter((f) => f.type === 'reaction' && reactionClass(f.reaction ?? '') === cls).length;
  const zaps = received.filter((f) => f.type === 'zap');
  const engagersOf = (list: Fact[]) => new Set(list.filter((f) => ['reaction', 'repost', 'reply', 'comment', 'zap'].includes(f.type)).map((f) => (f.type === 'zap' ? f.zap_sender : f.author)).filter(Boolean));
  const engagers = engagersOf(received);
  // Sketches are settled, never live: unique engagers count the whole settled hours (and days) inside
  // the window; minute edges and the live tail add to the totals only (docs/metrics.md).
  const settledFrom = Math.ceil(window.startTs / 3600) * 3600;
  const settledTo = Math.min(Math.floor(window.endTs / 3600) * 3600, watermarkNow);
  const settled = received.filter((f) => f.created_at >= settledFrom && f.created_at < settledTo);
  const zappersOf = (list: Fact[]) => new Set(list.filter((f) => f.type === 'zap' && f.zap_sender).map((f) => f.zap_sender));
  // The histogram written out: decades of sats, the last bin open-ended.
  const bins = [0, 10, 100, 1000, 10_000, 100_000];
  const zapAmounts = bins.map((minSats, i) => ({
    minSats,
    maxSats: bins[i + 1] ?? null,
    zaps: zaps.filter((f) => Math.floor((f.zap_msats ?? 0) / 1000) >= minSats && (i + 1 === bins.length || Math.floor((f.zap_msats ?? 0) / 1000) < bins[i + 1]!)).length,
  }));
  return {
    engagersSettled: engagersOf(settled).size,
    zappersSettled: zappersOf(settled).size,
    posts: authored('note'),
    replies: authored('reply'),
    comments: authored('comment'),
    videos: authored('video'),
    reactionsReceived: { total: reactions('like') + reactions('dislike') + reactions('emoji'), likes: reactions('like'), dislikes: reactions('dislike'), emoji: reactions('emoji') },
    repostsReceived: received.filter((f) => f.type === 'repost').length,
    repliesReceived: received.filter((f) => f.type === 'reply' || f.type === 'comment').length,
    zapsReceived: zaps.length,
    zapSatsReceived: Math.floor(zaps.reduce((n, f) => n + (f.zap_msats ?? 0), 0) / 1000),
    zapAmounts,
    uniqueEngagers: engagers.size,
    uniqueZappers: zappersOf(received).size,
  };
}

function windows(): QueryWindow[] {
  const now = Math.floor(clockMs / 1000);
  const random = seededRandom(7);
  const custom = Array.from({ length: 4 }, () => {
    const start = now - Math.floor(random() * DAYS * 86400);
    return customWindow(start, start + Math.floor(random() * 20 * 86400) + 1, now);
  });
  return [...['24h', '7d', '30d', '90d'].map((i) => rollingWindow(i, now)), customWindow(now - 3 * 86400 - 1234, now - 86400 + 77, now), ...custom];
}

let watermarkNow = 0;
async function expectExact(users: string[]) {
  watermarkNow = await readWatermark(stores.counters);
  for (const window of windows()) {
    for (const pubkey of users) {
      const { data, meta } = await userSummary(pubkey, window, { counters: stores.counters, clock, retention });
      const expected = bruteForce(pubkey, window);
      const { uniqueEngagers, uniqueZappers, ...exact } = data.totals;
      const { uniqueEngagers: _engagers, uniqueZappers: _zappers, engagersSettled, zappersSettled, ...expectedExact } = expected;
      expect({ pubkey, window: [window.startTs, window.endTs], ...exact }).toEqual({ pubkey, window: [window.startTs, window.endTs], ...expectedExact });
      // The engagers and zappers of the settled whole hours (minute items hold no sketch), within
      // HyperLogLog's error: linear counting is within a couple of units at these sizes.
      const slack = (n: number) => Math.max(2, n * 0.05);
      for (const [counted, settledCount] of [[uniqueEngagers, engagersSettled], [uniqueZappers, zappersSettled]] as const) {
        expect(counted, `${pubkey} ${window.startTs}`).toBeGreaterThanOrEqual(settledCount - slack(settledCount));
        expect(counted, `${pubkey} ${window.startTs}`).toBeLessThanOrEqual(settledCount + slack(settledCount));
      }
      expect(meta.partialReason).toBeNull();
    }
  }
}

beforeAll(async () => {
  stores = await localStores();
  const users = simulatedUsers(30);
  const generator = new WorkloadGenerator(users, seededRandom(42));
  const start = Math.floor(NOW_MS / 1000) - DAYS * 86400;
  const events = [...generator.bootstrap(start)];
  for (let i = 0; i < EVENTS; i++) events.push(generator.next(start + Math.floor(((i + 0.5) * DAYS * 86400) / EVENTS)));
  facts = events.map((e) => normalise(e, { relay: null, ingestedAt: 0 }));
  messages = packEvents('wss://sim', events.map((e) => JSON.stringify(e)), 25).bodies;
  const verify = await loadVerifier();
  for (let i = 0; i < messages.length; i += 10) {
    const records = messages.slice(i, i + 10).map((body, j) => ({ messageId: `m${i + j}`, body, receiveCount: 1 }));
    await ingestBatch(records, { objects: stores.objects, counters: stores.counters, verify, clock, metrics: new MetricsRegistry(), minuteTtlSeconds: retention.minuteSeconds });
  }
}, 120_000);

afterAll(async () => {
  await sql.close();
  await stores.close();
});

const activeUsers = () => simulatedUsers(30).map((u) => u.pubkey).slice(0, 12);

describe('counters equal brute force over a 60-day workload', () => {
  it('from live minute counters, before any compaction', async () => {
    await expectExact(activeUsers());
  });

  it('from settled hour and day items plus the live tail, after compaction', async () => {
    const run = await compactAndSettle({ objects: stores.objects, counters: stores.counters, sql: stores.sql, tables: stores.tables, clock, retention });
    expect(run.watermark).toBe(Math.floor((NOW_MS / 1000 - 120) / 3600) * 3600);
    expect(run.daysRolled.length).toBeGreaterThanOrEqual(DAYS - 1);
    const { meta } = await userSummary(activeUsers()[0]!, rollingWindow('30d', NOW_MS / 1000), { counters: stores.counters, clock, retention });
    expect(meta.source).toBe('canonical+delta');
    expect(meta.plan.segments.map((s) => s.granularity)).toEqual(['m', 'h', 'd', 'h', 'm']);
    expect(meta.plan.maxItems).toBeLessThan(30 + 48 + 120);
    await expectExact(activeUsers());
  });

  it('stays exact when batches are redelivered and the hours settle again', async () => {
    // Redeliver the first 30 messages (old hours): live minutes over-count, settled hours must not.
    const verify = await loadVerifier();
    const records = messages.slice(0, 30).map((body, j) => ({ messageId: `again${j}`, body, receiveCount: 2 }));
    await ingestBatch(records, { objects: stores.objects, counters: stores.counters, verify, clock, metrics: new MetricsRegistry(), minuteTtlSeconds: retention.minuteSeconds });
    clockMs += 600_000;
    await compactAndSettle({ objects: stores.objects, counters: stores.counters, sql: stores.sql, tables: stores.tables, clock, retention });
    await expectExact(activeUsers());
  });

  it('funnel verify finds zero drift after compaction, and the network totals agree', async () => {
    const window = rollingWindow('90d', clockMs / 1000);
    const report = await verifyDrift({ sql, relation: factsRelation(stores.dir), counters: stores.counters, clock, retention }, window);
    expect(report.drift).toEqual([]);
    expect(report.usersChecked).toBe(30);
    expect(report.metricsChecked).toBeGreaterThan(30 * 11);
    const global = await globalSummary(window, { counters: stores.counters, clock, retention });
    expect(global.data.totalEvents).toBe(facts.length);
    const authors = new Set(facts.map((f) => f.author)).size;
    expect(Math.abs(global.data.uniqueUsers - authors)).toBeLessThanOrEqual(2);
  });

  it('verify reports drift when a counter is wrong', async () => {
    const pubkey = activeUsers()[0]!;
    const hour = Math.floor((clockMs / 1000 - 5 * 86400) / 3600) * 3600;
    await stores.counters.add([{ scope: `u:${pubkey}`, granularity: 'h', bucket: hour, add: { posts: 1 } }]);
    await stores.counters.add([{ scope: `u:${pubkey}`, granularity: 'd', bucket: Math.floor(hour / 86400) * 86400, add: { posts: 1 } }]);
    const report = await verifyDrift({ sql, relation: factsRelation(stores.dir), counters: stores.counters, clock, retention }, rollingWindow('90d', clockMs / 1000));
    expect(report.drift).toEqual([expect.objectContaining({ scope: `u:${pubkey}`, metric: 'posts' })]);
    expect(report.drift[0]!.counters - report.drift[0]!.facts).toBe(1);
    // Put the counters back as the facts say, for the tests that follow.
    await stores.counters.add([{ scope: `u:${pubkey}`, granularity: 'h', bucket: hour, add: { posts: -1 } }]);
    await stores.counters.add([{ scope: `u:${pubkey}`, granularity: 'd', bucket: Math.floor(hour / 86400) * 86400, add: { posts: -1 } }]);
  });
});

describe('long windows as jobs (DuckDB locally)', () => {
  it('a 400-day window answers 202, the job reports progress, and its totals equal brute force', async () => {
    const { LocalQueue } = await import('../../lib/adapters/local/local-queue.js');
    const { QueueConsumer, lambdaContext } = await import('../../lib/local/queue-consumer.js');
    const { createJobsHandler } = await import('../../functions/jobs/handler.js');
    const { createApiHandler } = await import('../../functions/api/handler.js');
    const jobsQueue = new LocalQueue({ visibilityTimeoutMs: 60_000, maxReceives: 3 });
    const consumer = new QueueConsumer(
      jobsQueue,
      createJobsHandler({ counters: stores.counters, objects: stores.objects, sql, relation: factsRelation(stores.dir), dialect: 'duckdb', clock, jobsQueue }),
      { batchSize: 1, batchWindowMs: 0 },
    );
    const api = createApiHandler({ counters: stores.counters, clock, retention, jobs: { queue: jobsQueue, objects: stores.objects, settings: { resultTtlSeconds: 3600, perClientPerHour: 3 } } });
    const get = async (path: string, client = '10.0.0.1') => {
      const url = new URL(path, 'http://x');
      const response = await api(
        { rawPath: url.pathname, queryStringParameters: Object.fromEntries(url.searchParams), headers: {}, requestContext: { http: { method: 'GET', sourceIp: client } } } as never,
        lambdaContext('test'),
      );
      return { status: response.statusCode, body: JSON.parse(response.body ?? 'null') };
    };
    const pubkey = activeUsers()[0]!;
    const now = Math.floor(clockMs / 1000);
    const start = now - 400 * 86400;
    const path = `/api/v2/analytics/user/${pubkey}/summary?startTs=${start}&endTs=${now}`;

    const accepted = await get(path);
    expect(accepted.status).toBe(202);
    expect(accepted.body.data).toMatchObject({ status: 'queued', poll: `/api/v2/analytics/jobs/${accepted.body.data.jobId}` });
    // The same request while it runs shares the job.
    expect((await get(path)).body.data.jobId).toBe(accepted.body.data.jobId);

    await consumer.drain(60_000);
    const done = await get(accepted.body.data.poll);
    expect(done.body.meta.done).toBe(true);
    done.body = done.body.data;
    expect(done.body.status).toBe('complete');
    expect(done.body.progressPercent).toBe(100);
    // DuckDB reports no bytes: the job says what Athena would have scanned and billed, as an estimate
    expect(done.body.scan).toMatchObject({ bytesScannedSource: 'estimate', cutoffBytes: 10 * 1024 ** 3 });
    expect(done.body.scan.bytesScanned).toBeGreaterThan(0);
    expect(done.body.scan.costUsd).toBeGreaterThan(0);
    const percents = done.body.progress.map((p: { percent: number }) => p.percent);
    expect(percents.length).toBeGreaterThan(5);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(done.body.progress.some((p: { phase: string }) => p.phase.startsWith('scanning'))).toBe(true);
    expect(done.body.result.meta.source).toBe('fallback');
    const window = customWindow(start, now, now);
    const { engagersSettled: _settled, zappersSettled: _zappersSettled, ...expected } = bruteForce(pubkey, window);
    expect(expected.uniqueZappers).toBeGreaterThan(0);
    expect(expected.zapAmounts.filter((bin) => bin.zaps > 0).length).toBeGreaterThan(1);
    expect(done.body.result.data.totals).toEqual(expected);
    expect(done.body.result.data.timeline).toHaveLength(401);

    // Completed results are reused: the same request now answers 200 at once.
    const reused = await get(path);
    expect(reused.status).toBe(200);
    expect(reused.body.data.totals).toEqual(done.body.result.data.totals);

    // A per-client quota limits how many jobs one caller may start.
    for (let i = 1; i <= 3; i++) expect((await get(`/api/v2/analytics/user/${activeUsers()[i]}/summary?interval=200d`, '10.0.0.2')).status).toBe(202);
    const limited = await get(`/api/v2/analytics/user/${activeUsers()[4]}/summary?interval=200d`, '10.0.0.2');
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('quota_exceeded');
    await consumer.drain(60_000);
  });

  it('the DuckDB job SQL equals the counters on a settled window, drill-downs included', async () => {
    const { submitJob } = await import('../../lib/jobs/jobs.js');
    const { LocalQueue } = await import('../../lib/adapters/local/local-queue.js');
    const { QueueConsumer } = await import('../../lib/local/queue-consumer.js');
    const { createJobsHandler } = await import('../../functions/jobs/handler.js');
    const now = Math.floor(clockMs / 1000);
    // A settled, day-aligned window: counters exact, no live part.
    const window = customWindow(Math.floor(now / 86400) * 86400 - 40 * 86400, Math.floor(now / 86400) * 86400 - 86400, now);
    const queue = new LocalQueue({ visibilityTimeoutMs: 1000, maxReceives: 3 });
    const jobs = new QueueConsumer(queue, createJobsHandler({ counters: stores.counters, objects: stores.objects, sql, relation: factsRelation(stores.dir), dialect: 'duckdb', clock, jobsQueue: queue }), { batchSize: 1, batchWindowMs: 0 });
    for (const pubkey of activeUsers().slice(0, 5)) {
      const counted = await userSummary(pubkey, window, { counters: stores.counters, clock, retention });
      expect(counted.meta.source).toBe('canonical');
      const job = await submitJob({ kind: 'summary', pubkey, window }, 'test', { counters: stores.counters, jobsQueue: queue, clock, settings: { resultTtlSeconds: 1, perClientPerHour: 100 } });
      await jobs.drain(60_000);
      const result = JSON.parse(new TextDecoder().decode((await stores.objects.get(`jobs/${job.jobId}.json`))!));
      const { uniqueEngagers, uniqueZappers, ...exact } = counted.data.totals;
      const { uniqueEngagers: exactEngagers, uniqueZappers: exactZappers, ...scanned } = result.data.totals;
      expect(scanned).toEqual(exact);
      expect(Math.abs(uniqueEngagers - exactEngagers)).toBeLessThanOrEqual(2);
      expect(Math.abs(uniqueZappers - exactZappers)).toBeLessThanOrEqual(2);
      // Daily timelines agree point by point.
      expect(result.data.timeline.map((p: { posts: number }) => p.posts)).toEqual(counted.data.timeline.map((p) => p.posts));
      // Drill-downs: small enough here that every bucket's top list is complete, so they agree exactly.
      expect(result.drilldowns.topHashtags).toEqual(counted.drilldowns.topHashtags);
      expect(result.drilldowns.topZappers).toEqual(counted.drilldowns.topZappers);
      const { userDrilldown } = await import('../../lib/query/drilldown.js');
      const bestHours = await submitJob({ kind: 'drilldown', drilldown: 'best-hours', pubkey, window, tzOffsetMinutes: -300 }, 'test', { counters: stores.counters, jobsQueue: queue, clock, settings: { resultTtlSeconds: 1, perClientPerHour: 100 } });
      await jobs.drain(60_000);
      const scannedHours = JSON.parse(new TextDecoder().decode((await stores.objects.get(`jobs/${bestHours.jobId}.json`))!));
      const countedHours = await userDrilldown(pubkey, 'best-hours', window, { counters: stores.counters, clock, retention }, { tzOffsetMinutes: -300, limit: 10 });
      expect(scannedHours.data).toEqual(countedHours.data);
      const heatmap = await submitJob({ kind: 'drilldown', drilldown: 'heatmap', pubkey, window, tzOffsetMinutes: -300 }, 'test', { counters: stores.counters, jobsQueue: queue, clock, settings: { resultTtlSeconds: 1, perClientPerHour: 100 } });
      await jobs.drain(60_000);
      const scannedHeatmap = JSON.parse(new TextDecoder().decode((await stores.objects.get(`jobs/${heatmap.jobId}.json`))!));
      expect(scannedHeatmap.data).toEqual((await userDrilldown(pubkey, 'heatmap', window, { counters: stores.counters, clock, retention }, { tzOffsetMinutes: -300, limit: 10 })).data);
    }
  });
});
