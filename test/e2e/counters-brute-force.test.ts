import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { globalSummary } from '../../lib/query/global.js';
import { userSummary } from '../../lib/query/summary.js';
import { rollingWindow } from '../../lib/query/window.js';
import { verifyDrift } from '../../lib/jobs/verify.js';
import { DuckDbSqlEngine, factsRelation } from '../../lib/adapters/local/duckdb-sql-engine.js';
import { activeUsers, bruteForceWorkload, DAYS, NOW_MS, retention } from '../support/brute-force.js';

/**
 * The counters' promise: for every user and window, rolling or custom, before and after compaction,
 * the totals equal what a brute-force pass over the same events computes. (The jobs' side of the same
 * promise is test/e2e/counters-jobs.test.ts, on a workload of its own, so the two run side by side.)
 */
let w: Awaited<ReturnType<typeof bruteForceWorkload>>;
const sql = new DuckDbSqlEngine();

beforeAll(async () => {
  w = await bruteForceWorkload();
}, 120_000);

afterAll(async () => {
  await sql.close();
  await w?.stores.close();
});

describe('counters equal brute force over a 60-day workload', () => {
  it('from live minute counters, before any compaction', async () => {
    await w.expectExact(activeUsers());
  });

  it('from settled hour and day items plus the live tail, after compaction', async () => {
    const run = await w.compact();
    expect(run.watermark).toBe(Math.floor((NOW_MS / 1000 - 120) / 3600) * 3600);
    expect(run.daysRolled.length).toBeGreaterThanOrEqual(DAYS - 1);
    const { meta } = await userSummary(activeUsers()[0]!, rollingWindow('30d', NOW_MS / 1000), { counters: w.stores.counters, clock: w.clock, retention });
    expect(meta.source).toBe('canonical+delta');
    expect(meta.plan.segments.map((s) => s.granularity)).toEqual(['m', 'h', 'd', 'h', 'm']);
    expect(meta.plan.maxItems).toBeLessThan(30 + 48 + 120);
    await w.expectExact(activeUsers());
  });

  it('stays exact when batches are redelivered and the hours settle again', async () => {
    // Redeliver the first 30 messages (old hours): live minutes over-count, settled hours must not.
    await w.redeliver(w.messages.slice(0, 30));
    w.clock.ms += 600_000;
    await w.compact();
    await w.expectExact(activeUsers());
  });

  it('funnel verify finds zero drift after compaction, and the network totals agree', async () => {
    const window = rollingWindow('90d', w.clock.now() / 1000);
    const report = await verifyDrift({ sql, relation: factsRelation(w.stores.dir), counters: w.stores.counters, clock: w.clock, retention }, window);
    expect(report.drift).toEqual([]);
    expect(report.usersChecked).toBe(30);
    expect(report.metricsChecked).toBeGreaterThan(30 * 11);
    const global = await globalSummary(window, { counters: w.stores.counters, clock: w.clock, retention });
    expect(global.data.totalEvents).toBe(w.facts.length);
    const authors = new Set(w.facts.map((f) => f.author)).size;
    expect(Math.abs(global.data.uniqueUsers - authors)).toBeLessThanOrEqual(2);
  });

  it('verify reports drift when a counter is wrong', async () => {
    const pubkey = activeUsers()[0]!;
    const hour = Math.floor((w.clock.now() / 1000 - 5 * 86400) / 3600) * 3600;
    const counters = w.stores.counters;
    await counters.add([{ scope: `u:${pubkey}`, granularity: 'h', bucket: hour, add: { posts: 1 } }]);
    await counters.add([{ scope: `u:${pubkey}`, granularity: 'd', bucket: Math.floor(hour / 86400) * 86400, add: { posts: 1 } }]);
    const report = await verifyDrift({ sql, relation: factsRelation(w.stores.dir), counters, clock: w.clock, retention }, rollingWindow('90d', w.clock.now() / 1000));
    expect(report.drift).toEqual([expect.objectContaining({ scope: `u:${pubkey}`, metric: 'posts' })]);
    expect(report.drift[0]!.counters - report.drift[0]!.facts).toBe(1);
  });
});
