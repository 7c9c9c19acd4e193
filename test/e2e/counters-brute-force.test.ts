import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { compactAndSettle, type CompactionRun } from '../../lib/facts/compact.js';
import { retentionFromEnv } from '../../lib/counters/retention.js';
import { userSummary } from '../../lib/query/summary.js';
import { globalSummary } from '../../lib/query/global.js';
import { customWindow, rollingWindow } from '../../lib/query/window.js';
import { verifyDrift } from '../../lib/jobs/verify.js';
import { DuckDbSqlEngine, factsRelation } from '../../lib/adapters/local/duckdb-sql-engine.js';
import { memoryStores } from '../support/local.js';
import { bruteForce as bruteForceOver, checkWindows, expectExact as expectExactOver, ingestMessages, simulatedWorkload, type Workload } from '../support/brute-force.js';

// The compactor settles 1,440 hours and 60 days of facts in DuckDB twice, and the jobs scan them: minutes on a busy shared machine.
vi.setConfig({ testTimeout: 400_000, hookTimeout: 400_000 });

/**
 * The counters' promise: for every user and window, rolling or custom, before and after compaction,
 * the totals equal what a brute-force pass over the same events computes (test/support/brute-force.ts).
 * The subject is the core (ingest, the settle SQL in DuckDB, the planner and the reads), so the counters
 * are the in-memory store; test/adapters/counters-brute-force.dynalite.test.ts runs the same check on the
 * DynamoDB adapter over a smaller workload, and the contract suite holds the two stores to the same behaviours.
 */
const NOW_MS = Date.parse('2026-11-20T15:37:20Z');
const DAYS = 60;
const EVENTS = 1500;
const USERS = 30;

let clockMs = NOW_MS;
const clock = { now: () => clockMs };
// Generous retention: the whole workload is inside every TTL, so every window is answerable exactly.
const retention = retentionFromEnv({ MINUTE_TTL_DAYS: '100', HOUR_TTL_DAYS: '100' });
let stores: Awaited<ReturnType<typeof memoryStores>>;
let workload: Workload;
const sql = new DuckDbSqlEngine();

const bruteForce = (pubkey: string, window: Parameters<typeof bruteForceOver>[2]) => bruteForceOver(workload.facts, pubkey, window, 0);
/** Every active user over every window of checkWindows: the number of pairs checked is part of the promise. */
async function expectExact(users: string[]) {
  const checked = await expectExactOver(users, { counters: stores.counters, clock, retention, facts: workload.facts, days: DAYS });
  expect(checked).toBe(users.length * checkWindows(0, DAYS).length);
}
const compact = () => compactAndSettle({ objects: stores.objects, counters: stores.counters, sql: stores.sql, tables: stores.tables, clock, retention });

beforeAll(async () => {
  stores = await memoryStores();
  workload = simulatedWorkload({ nowMs: NOW_MS, days: DAYS, events: EVENTS, users: USERS, activeEvery: 4 });
  await ingestMessages(workload.messages, { ...stores, clock, retention });
});

afterAll(async () => {
  await sql.close();
  await stores?.close();
});

const activeUsers = () => workload.users.slice(0, 12);

describe('counters equal brute force over a 60-day workload', () => {
  it('from live minute counters, before any compaction', async () => {
    await expectExact(activeUsers());
  });

  describe('after compaction', () => {
    let run: CompactionRun;
    beforeAll(async () => {
      run = await compact();
    });

    it('settles every completed hour and rolls the days', () => {
      expect(run.watermark).toBe(Math.floor((NOW_MS / 1000 - 120) / 3600) * 3600);
      expect(run.daysRolled.length).toBeGreaterThanOrEqual(DAYS - 1);
      expect(run.failedHours).toEqual([]);
    });

    it('from settled hour, day and week items plus the live tail', async () => {
      const { meta } = await userSummary(activeUsers()[0]!, rollingWindow('30d', NOW_MS / 1000), { counters: stores.counters, clock, retention });
      expect(meta.source).toBe('canonical+delta');
      // 15:37 .. 15:37: minutes and ten minutes to the hour, hours and quarter days to the day (a Thursday),
      // weeks, the last week to date (its Thursday), then back down to the watermark (15:00), and the live minutes
      expect(meta.plan.segments.map((s) => `${s.granularity}${s.weekToDate ? ' to date' : ''}`)).toEqual(['m', 't', 'h', 'q', 'w', 'w to date', 'q', 'h', 'm']);
      expect(run.weeksSettled.length).toBeGreaterThanOrEqual(7);
      expect(meta.plan.maxItems).toBeLessThan(30 + 48 + 120);
      await expectExact(activeUsers());
    });
  });

  describe('after the first 30 messages are redelivered and their hours settle again', () => {
    beforeAll(async () => {
      // Redeliver the first 30 messages (old hours): live minutes over-count, settled hours must not.
      await ingestMessages(workload.messages.slice(0, 30), { ...stores, clock, retention }, { prefix: 'again', receiveCount: 2, perBatch: 30 });
      clockMs += 600_000;
      await compact();
    });

    it('stays exact when batches are redelivered and the hours settle again', async () => {
      await expectExact(activeUsers());
    });

    it('funnel verify finds zero drift after compaction, and the network totals agree', async () => {
      const window = rollingWindow('90d', clockMs / 1000);
      const report = await verifyDrift({ sql, relation: factsRelation(stores.dir), counters: stores.counters, clock, retention }, window);
      expect(report.drift).toEqual([]);
      expect(report.usersChecked).toBe(30);
      expect(report.metricsChecked).toBeGreaterThan(30 * 11);
      const global = await globalSummary(window, { counters: stores.counters, clock, retention });
      expect(global.data.totalEvents).toBe(workload.facts.length);
      const authors = new Set(workload.facts.map((f) => f.author)).size;
      expect(Math.abs(global.data.uniqueUsers - authors)).toBeLessThanOrEqual(2);
    });

    it('verify reports drift when a counter is wrong', async () => {
      const pubkey = activeUsers()[0]!;
      const hour = Math.floor((clockMs / 1000 - 5 * 86400) / 3600) * 3600;
      const day = Math.floor(hour / 86400) * 86400;
      await stores.counters.add([{ scope: `u:${pubkey}`, granularity: 'h', bucket: hour, add: { posts: 1 } }]);
      await stores.counters.add([{ scope: `u:${pubkey}`, granularity: 'd', bucket: day, add: { posts: 1 } }]);
      try {
        const report = await verifyDrift({ sql, relation: factsRelation(stores.dir), counters: stores.counters, clock, retention }, rollingWindow('90d', clockMs / 1000));
        expect(report.drift).toEqual([expect.objectContaining({ scope: `u:${pubkey}`, metric: 'posts' })]);
        expect(report.drift[0]!.counters - report.drift[0]!.facts).toBe(1);
      } finally {
        // Put the counters back as the facts say, for the tests that follow.
        await stores.counters.add([{ scope: `u:${pubkey}`, granularity: 'h', bucket: hour, add: { posts: -1 } }]);
        await stores.counters.add([{ scope: `u:${pubkey}`, granularity: 'd', bucket: day, add: { posts: -1 } }]);
      }
    });

    describe('long windows as jobs (DuckDB locally)', () => {
      it('a 400-day window answers 202, the job reports progress, and its totals equal brute force', async () => {
        const { LocalQueue } = await import('../../lib/adapters/local/local-queue.js');
        const { QueueConsumer, lambdaContext } = await import('../../lib/local/stack/queue-consumer.js');
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
        // The three accepted jobs stay queued: running them would check nothing the first one did not.
      });

      it('the DuckDB job SQL equals the counters on a settled window, drill-downs included', async () => {
        const { submitJob } = await import('../../lib/jobs/jobs.js');
        const { LocalQueue } = await import('../../lib/adapters/local/local-queue.js');
        const { QueueConsumer } = await import('../../lib/local/stack/queue-consumer.js');
        const { createJobsHandler } = await import('../../functions/jobs/handler.js');
        const now = Math.floor(clockMs / 1000);
        // A settled, day-aligned window: counters exact, no live part.
        const window = customWindow(Math.floor(now / 86400) * 86400 - 40 * 86400, Math.floor(now / 86400) * 86400 - 86400, now);
        const queue = new LocalQueue({ visibilityTimeoutMs: 1000, maxReceives: 3 });
        const jobs = new QueueConsumer(queue, createJobsHandler({ counters: stores.counters, objects: stores.objects, sql, relation: factsRelation(stores.dir), dialect: 'duckdb', clock, jobsQueue: queue }), { batchSize: 1, batchWindowMs: 0 });
        // The three most active users: the job SQL is the same statement for each, their data is what differs.
        for (const pubkey of activeUsers().slice(0, 3)) {
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
  });
});
