import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ingestBatch } from '../../lib/ingest/ingest.js';
import { loadVerifier } from '../../lib/nostr/verify.js';
import { compactAndSettle } from '../../lib/facts/compact.js';
import { DIRTY_HOURS } from '../../lib/counters/state.js';
import { partitionFromKey } from '../../lib/facts/partition.js';
import { MetricsRegistry } from '../../lib/metrics/registry.js';
import { globalStatsResponse } from '../../lib/query/stats.js';
import { userSummary } from '../../lib/query/summary.js';
import { customWindow } from '../../lib/query/window.js';
import { retentionFromEnv } from '../../lib/counters/retention.js';
import { MemoryCounterStore } from '../../lib/adapters/memory/index.js';
import { FsObjectStore } from '../../lib/adapters/local/fs-object-store.js';
import { DuckDbSqlEngine, duckDbSettleTables } from '../../lib/adapters/local/duckdb-sql-engine.js';
import type { CounterStore, QueueRecord } from '../../lib/ports.js';
import { loadFixture } from '../support/fixtures.js';
import { FaultPlan } from '../support/faults.js';

const NOW = Date.parse('2026-11-22T00:00:00Z');
const clock = { now: () => NOW };
const retention = retentionFromEnv({ MINUTE_TTL_DAYS: '3650', HOUR_TTL_DAYS: '3650', DAY_TTL_DAYS: '3650' });

// The thread's three busiest hours: every kind of write, small enough to crash at each one.
const thread = loadFixture('thread-and-reactions.jsonl').filter((e) => [489309, 489310, 489311].includes(Math.floor(e.created_at / 3600)));
const message = (messageId: string, events: unknown[], source: string): QueueRecord => ({ messageId, body: JSON.stringify({ v: 1, source, events }), receiveCount: 1 });
// Two relays, overlapping: the second delivers half the thread again, in another order.
const deliveries: QueueRecord[][] = [
  [message('r1-a', thread.slice(0, 50), 'wss://one'), message('r1-b', thread.slice(50), 'wss://one')],
  [message('r2-a', [...thread].reverse().slice(0, 50), 'wss://two')],
];
const times = thread.map((e) => e.created_at);
const window = customWindow(Math.min(...times) - 60, Math.max(...times) + 60, NOW / 1000);
// Four weeks around the thread: read through week items (weeks.ts), which the compactor settles last.
const weeksWindow = customWindow(Math.min(...times) - 14 * 86400, Math.min(...times) + 14 * 86400, NOW / 1000);
const authors = [...new Set(thread.map((e) => e.pubkey))];
const cleanups: (() => Promise<void>)[] = [];
// One DuckDB for every run (each run exports into its own data dir): starting one per run is most of a run.
const duckdb = new DuckDbSqlEngine({ memoryLimit: '256MB' });
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
  await duckdb.close();
});

async function snapshot(counters: CounterStore) {
  const deps = { counters, clock, retention };
  return {
    stats: (await globalStatsResponse(deps)).data,
    users: await Promise.all(authors.map(async (a) => (await userSummary(a, window, deps)).data.totals)),
    byWeeks: await Promise.all(authors.map(async (a) => (await userSummary(a, weeksWindow, deps)).data.totals)),
    weeksPlanned: (await userSummary(authors[0]!, weeksWindow, deps)).meta.plan.segments.filter((s) => s.granularity === 'w').reduce((n, s) => n + (s.to - s.from) / (7 * 86400), 0),
    dirty: await counters.listState(DIRTY_HOURS),
  };
}

/**
 * The pipeline as the queue drives it: each delivery is ingested, and what was not acknowledged (a
 * failed message, or every message of an invocation that crashed) is delivered again after the
 * restart; then the compactor runs, and runs again if it crashed.
 */
async function runPipeline(plan: FaultPlan, crashAt: number) {
  // A fresh data dir per run: the facts on disk, DuckDB as the compactor's engine, counters in memory.
  const dir = await mkdtemp(join(tmpdir(), 'funnel-crash-'));
  const engine = duckdb.forDataDir(dir);
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const objects = plan.objects(new FsObjectStore(dir));
  const counters = plan.counters(new MemoryCounterStore());
  const deps = { objects, counters, verify: await loadVerifier(), clock, metrics: new MetricsRegistry(), minuteTtlSeconds: retention.minuteSeconds, logError: () => {} };
  const compactor = { objects, counters, sql: plan.sql(engine), tables: duckDbSettleTables(dir), clock, retention, logIssue: () => {} };
  plan.arm(crashAt);
  const pending: QueueRecord[] = [];
  for (const batch of deliveries) {
    const result = await ingestBatch(batch, deps);
    pending.push(...batch.filter((r) => result.failedMessageIds.includes(r.messageId)));
  }
  // What a crash leaves behind: every hour holding a fact object is marked dirty (marks come first), so
  // the compactor looks at it even if the message is never delivered again (dead-lettered, say).
  const marked = new Set((await counters.listState(DIRTY_HOURS)).map((m) => m.id));
  for (const key of await objects.list('facts/')) expect(marked.has(partitionFromKey(key)!.start), `${key} has no dirty mark after a crash at ${crashAt}`).toBe(true);
  let compactionCrashed = false;
  try {
    const run = await compactAndSettle(compactor);
    compactionCrashed = run.failedHours.length > 0;
  } catch {
    compactionCrashed = true;
  }
  const crashed = plan.crashed;
  plan.restart();
  // Redelivered: the queue counts the receive (ingest marks such hours for a minute rewrite).
  if (pending.length) expect((await ingestBatch(pending.map((r) => ({ ...r, receiveCount: r.receiveCount + 1 })), deps)).failedMessageIds).toEqual([]);
  if (pending.length || compactionCrashed || crashed) await compactAndSettle(compactor);
  return { counters, crashed };
}

// The crash-free run, while the file is collected: its writes are the crash points, one test each.
const plan = new FaultPlan();
const reference = await snapshot((await runPipeline(plan, Infinity)).counters);
const steps = [...plan.writes];

describe('a crash between any two storage steps of ingest and compaction loses and duplicates nothing', () => {
  it('the crash-free run counts every event once, settles every hour, and makes every kind of write', () => {
    expect(reference.stats.totalEvents).toBe(new Set(thread.map((e) => e.id)).size);
    expect(reference.dirty).toEqual([]);
    // the four-week window reads week items, and counts what the thread's hours count (its distinct
    // counts cover more: the hours' window has minute edges, which count no engagers)
    const counts = ({ uniqueEngagers: _e, uniqueZappers: _z, ...rest }: (typeof reference.users)[number]) => rest;
    expect(reference.byWeeks.map(counts)).toEqual(reference.users.map(counts));
    expect(reference.byWeeks.some((t, i) => t.uniqueEngagers > reference.users[i]!.uniqueEngagers)).toBe(true);
    expect(reference.weeksPlanned).toBe(3);
    // The run has every kind of write, so the crash points cover each ordering the design relies on.
    for (const kind of ['counters.putState dirty-hour', 'objects.put facts/', 'counters.add', 'counters.putStates', 'sql.export staging/compaction', 'objects.copy facts/', 'sql.export counters/results', 'objects.put counters/manifests', 'counters.put', 'objects.delete', 'counters.deleteStateIf dirty-hour', 'counters.putState watermark', 'counters.deleteStateIf dirty-day', 'counters.putState dirty-week', 'counters.deleteStateIf dirty-week']) {
      expect(steps.some((s) => s.startsWith(kind)), kind).toBe(true);
    }
  });

  // Every total equals the crash-free run after redelivery and the next compaction, for a crash before each write.
  it.each(steps.map((step, i) => ({ crashAt: i + 1, step })))('a crash before write $crashAt ($step)', async ({ crashAt, step }) => {
    const { counters, crashed } = await runPipeline(plan, crashAt);
    expect(crashed, `crash at step ${crashAt} (${step})`).toBe(true);
    expect(await snapshot(counters), `crash at step ${crashAt} (${step})`).toEqual(reference);
  });
});
