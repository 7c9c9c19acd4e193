import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userSummary } from '../../lib/query/summary.js';
import { customWindow } from '../../lib/query/window.js';
import { DuckDbSqlEngine, factsRelation } from '../../lib/adapters/local/duckdb-sql-engine.js';
import { activeUsers, bruteForceWorkload, retention } from '../support/brute-force.js';

/**
 * Long windows answered as jobs (DuckDB over the facts locally) equal brute force and the counters, on
 * the brute-force workload of test/e2e/counters-brute-force.test.ts, compacted.
 */
let w: Awaited<ReturnType<typeof bruteForceWorkload>>;
const sql = new DuckDbSqlEngine();

beforeAll(async () => {
  w = await bruteForceWorkload();
  await w.compact();
}, 180_000);

afterAll(async () => {
  await sql.close();
  await w?.stores.close();
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
      createJobsHandler({ counters: w.stores.counters, objects: w.stores.objects, sql, relation: factsRelation(w.stores.dir), dialect: 'duckdb', clock: w.clock, jobsQueue }),
      { batchSize: 1, batchWindowMs: 0 },
    );
    const api = createApiHandler({ counters: w.stores.counters, clock: w.clock, retention, jobs: { queue: jobsQueue, objects: w.stores.objects, settings: { resultTtlSeconds: 3600, perClientPerHour: 3 } } });
    const get = async (path: string, client = '10.0.0.1') => {
      const url = new URL(path, 'http://x');
      const response = await api(
        { rawPath: url.pathname, queryStringParameters: Object.fromEntries(url.searchParams), headers: {}, requestContext: { http: { method: 'GET', sourceIp: client } } } as never,
        lambdaContext('test'),
      );
      return { status: response.statusCode, body: JSON.parse(response.body ?? 'null') };
    };
    const pubkey = activeUsers()[0]!;
    const now = Math.floor(w.clock.now() / 1000);
    const start = now - 400 * 86400;
    const path = `/api/v2/analytics/user/${pubkey}/summary?startTs=${start}&endTs=${now}`;

    const accepted = await get(path);
    expect(accepted.status).toBe(202);
    expect(accepted.body).toMatchObject({ status: 'queued', poll: `/api/v2/analytics/jobs/${accepted.body.jobId}` });
    // The same request while it runs shares the job.
    expect((await get(path)).body.jobId).toBe(accepted.body.jobId);

    await consumer.drain(60_000);
    const done = await get(accepted.body.poll);
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
    const { engagersSettled: _settled, ...expected } = w.bruteForce(pubkey, window);
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
    const now = Math.floor(w.clock.now() / 1000);
    // A settled, day-aligned window: counters exact, no live part.
    const window = customWindow(Math.floor(now / 86400) * 86400 - 40 * 86400, Math.floor(now / 86400) * 86400 - 86400, now);
    const queue = new LocalQueue({ visibilityTimeoutMs: 1000, maxReceives: 3 });
    const jobs = new QueueConsumer(queue, createJobsHandler({ counters: w.stores.counters, objects: w.stores.objects, sql, relation: factsRelation(w.stores.dir), dialect: 'duckdb', clock: w.clock, jobsQueue: queue }), { batchSize: 1, batchWindowMs: 0 });
    for (const pubkey of activeUsers().slice(0, 5)) {
      const counted = await userSummary(pubkey, window, { counters: w.stores.counters, clock: w.clock, retention });
      expect(counted.meta.source).toBe('canonical');
      const job = await submitJob({ kind: 'summary', pubkey, window }, 'test', { counters: w.stores.counters, jobsQueue: queue, clock: w.clock, settings: { resultTtlSeconds: 1, perClientPerHour: 100 } });
      await jobs.drain(60_000);
      const result = JSON.parse(new TextDecoder().decode((await w.stores.objects.get(`jobs/${job.jobId}.json`))!));
      const { uniqueEngagers, ...exact } = counted.data.totals;
      const { uniqueEngagers: exactEngagers, ...scanned } = result.data.totals;
      expect(scanned).toEqual(exact);
      expect(Math.abs(uniqueEngagers - exactEngagers)).toBeLessThanOrEqual(2);
      // Daily timelines agree point by point.
      expect(result.data.timeline.map((p: { posts: number }) => p.posts)).toEqual(counted.data.timeline.map((p) => p.posts));
      // Drill-downs: small enough here that every bucket's top list is complete, so they agree exactly.
      expect(result.drilldowns.topHashtags).toEqual(counted.drilldowns.topHashtags);
      expect(result.drilldowns.topZappers).toEqual(counted.drilldowns.topZappers);
      const { userDrilldown } = await import('../../lib/query/drilldown.js');
      const bestHours = await submitJob({ kind: 'drilldown', drilldown: 'best-hours', pubkey, window, tzOffsetMinutes: -300 }, 'test', { counters: w.stores.counters, jobsQueue: queue, clock: w.clock, settings: { resultTtlSeconds: 1, perClientPerHour: 100 } });
      await jobs.drain(60_000);
      const scannedHours = JSON.parse(new TextDecoder().decode((await w.stores.objects.get(`jobs/${bestHours.jobId}.json`))!));
      const countedHours = await userDrilldown(pubkey, 'best-hours', window, { counters: w.stores.counters, clock: w.clock, retention }, { tzOffsetMinutes: -300, limit: 10 });
      expect(scannedHours.data).toEqual(countedHours.data);
    }
  });
});
