import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compactAndSettle, type CompactionRun } from '../../lib/facts/compact.js';
import { retentionFromEnv } from '../../lib/counters/retention.js';
import { localStores } from '../support/local.js';
import { checkWindows, expectExact, ingestMessages, simulatedWorkload, type Workload } from '../support/brute-force.js';

/**
 * test/e2e/counters-brute-force.test.ts on the DynamoDB adapter: the same exactness check (every
 * user, every window, before and after compaction) with the counters in dynalite over HTTP instead of
 * the memory store, over a smaller workload (3 days), so what the adapter does to items on the way
 * (ADD, Put, paging, sketches as number sets and binary) is inside the promise too.
 */
const NOW_MS = Date.parse('2026-11-20T15:37:20Z');
const DAYS = 3;
const clock = { now: () => NOW_MS };
const retention = retentionFromEnv({ MINUTE_TTL_DAYS: '100', HOUR_TTL_DAYS: '100' });
let stores: Awaited<ReturnType<typeof localStores>>;
let workload: Workload;

beforeAll(async () => {
  stores = await localStores();
  workload = simulatedWorkload({ nowMs: NOW_MS, days: DAYS, events: 180, users: 12 });
  await ingestMessages(workload.messages, { ...stores, clock, retention });
}, 120_000);

afterAll(async () => {
  await stores?.close();
});

const users = () => workload.users.slice(0, 8);
const exact = () => expectExact(users(), { counters: stores.counters, clock, retention, facts: workload.facts, days: DAYS });

describe('counters in dynalite equal brute force over a 3-day workload', () => {
  it('from live minute counters, before any compaction', async () => {
    expect(await exact()).toBe(users().length * checkWindows(0, DAYS).length);
  });

  describe('after compaction', () => {
    let run: CompactionRun;
    beforeAll(async () => {
      run = await compactAndSettle({ objects: stores.objects, counters: stores.counters, sql: stores.sql, tables: stores.tables, clock, retention });
    }, 120_000);

    it('from settled items plus the live tail', async () => {
      expect(run.failedHours).toEqual([]);
      expect(run.daysRolled.length).toBeGreaterThanOrEqual(DAYS - 1);
      expect(await exact()).toBe(users().length * checkWindows(0, DAYS).length);
    });
  });
});
