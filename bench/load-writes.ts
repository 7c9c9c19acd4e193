import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock, CounterStore, ObjectStore, QueueSender } from '../lib/ports.js';
import type { Fact } from '../lib/facts/schema.js';
import type { NostrEvent } from '../lib/nostr/event.js';
import { FsObjectStore } from '../lib/adapters/local/fs-object-store.js';
import { DuckDbSqlEngine, duckDbSettleTables } from '../lib/adapters/local/duckdb-sql-engine.js';
import { compactAndSettle, DEFAULT_GRACE_SECONDS, parquetObjects, type CompactorDeps } from '../lib/facts/compact.js';
import { FACTS_PREFIX } from '../lib/facts/partition.js';
import { contributionsOf, isTargetScope } from '../lib/counters/contributions.js';
import type { Retention } from '../lib/counters/retention.js';
import { COUNTING_LAYOUT, WATERMARK } from '../lib/counters/state.js';
import { storeNormalisedFacts } from '../lib/ingest/ingest.js';
import { applyLiveDeltas, LIVE_BATCH_MAX_BYTES, LIVE_BATCH_WINDOW_SECONDS, LIVE_MAX_CONCURRENCY, queuedLiveCounters } from '../lib/counters/live-queue.js';
import { PricingCounterStore, WRITE_KINDS, type HotItem, type KindTally, type WriteKind } from './pricing-store.js';
import { deletionEvent, DesignLoad, type DesignLoadOptions } from './workload.js';
import { int } from './stats.js';

/**
 * The write part of the load bench: the design-load mix fed, batch by batch, through ingest's real
 * write path below verification (storeNormalisedFacts: Parquet objects, dirty marks, live counters,
 * event index, heartbeat) and the real compactor (compactAndSettle every 10 simulated minutes, as
 * EventBridge runs it), on a simulated clock, with every DynamoDB write priced by PricingCounterStore.
 */

/**
 * The compactor's deps for the bench, in one place (the write run and the compaction sizes share
 * them): the local object store's directory, DuckDB over it as the SQL engine (Athena's stand-in,
 * spilling to the data dir above its memory limit), and AWS's pacing of re-settles. `close` ends the engine.
 */
export function benchCompactorDeps(base: { objects: ObjectStore; counters: CounterStore; clock: Clock; retention: Retention; dataDir: string; issues: string[]; duckDbMemoryLimit?: string }): CompactorDeps & { close: () => Promise<void> } {
  const logIssue = (level: string, msg: string, fields: Record<string, unknown>) => void base.issues.push(`${level}: ${msg} ${JSON.stringify(fields)}`);
  const sql = new DuckDbSqlEngine({ dataDir: base.dataDir, memoryLimit: base.duckDbMemoryLimit });
  return {
    objects: base.objects,
    counters: base.counters,
    sql,
    tables: duckDbSettleTables(base.dataDir),
    clock: base.clock,
    retention: base.retention,
    graceSeconds: COMPACTOR_GRACE_SECONDS,
    resettle: AWS_RESETTLE,
    logIssue,
    close: () => sql.close(),
  };
}

/** Re-settles of settled hours and days as AWS paces them (RESETTLE_HOUR_AFTER, RESETTLE_DAY_AFTER in infra/lib/compactor.ts). */
export const AWS_RESETTLE = { hourAfterSeconds: 3600, dayAfterSeconds: 6 * 3600 };

/** The compactor's schedule in AWS (infra/lib/compactor.ts) and its default grace (lib/facts/compact.ts). */
export const COMPACTOR_EVERY_SECONDS = 600;
export const COMPACTOR_GRACE_SECONDS = DEFAULT_GRACE_SECONDS;
/** SQS → Lambda batching window (ingestBatchWindowSeconds' default): a slow stream fills smaller batches */
export const BATCH_WINDOW_SECONDS = 5;

/**
 * A directory for throwaway data: memory-backed where there is one when `inMemory` (the object store
 * fsyncs every put, and a run of small batches makes thousands), on disk for gigabytes.
 */
export async function scratchDir(prefix: string, inMemory = true): Promise<string> {
  return mkdtemp(join(inMemory && existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), prefix));
}

export interface WriteLoadOptions {
  eventsPerSecond: number;
  minutes: number;
  /** events per ingest invocation (default min(2,500, rate × the 5 s batching window)) */
  batchEvents?: number;
  authors?: number;
  seed?: number;
  retention: Retention;
  log?: (line: string) => void;
  /** extra DesignLoad options (tests shrink the seeded history) */
  load?: Partial<DesignLoadOptions>;
  /**
   * Simulated seconds of ingest batches the live queue's consumer merges into one write per item
   * (default AWS's: window ÷ concurrency, lib/counters/live-queue.ts); a merged batch also closes at
   * Lambda's 6 MB. 0 writes each batch's deltas directly, as without the live queue.
   */
  liveMergeSeconds?: number;
  /** DuckDB's memory limit for the run's compactor (default the local stack's); the compaction sizes measure the compactor's memory, this run its writes */
  duckDbMemoryLimit?: string;
}

export interface KindFigure extends KindTally {
  kind: WriteKind;
  label: string;
  request: string;
  writesPer1000: number;
  writeUnitsPer1000: number;
  meanBytes: number;
}

export interface ScopeGrowth {
  /** minutes since the start */
  atMinutes: number[];
  /** distinct scopes that had counted an event of the run by then, by scope kind (u, e, a, g, p) */
  byKind: Record<string, number[]>;
}

export interface WriteLoadReport {
  eventsPerSecond: number;
  minutes: number;
  startTs: number;
  endTs: number;
  authors: number;
  batchEvents: number;
  batches: number;
  /** the live queue as simulated: seconds merged per batch, merged batches, their mean events, delta bytes per event */
  live: { mergeSeconds: number; batches: number; meanEvents: number; deltaBytesPerEvent: number };
  deliveries: number;
  copies: number;
  backdated: number;
  duplicatesInBatch: number;
  unencodable: number;
  byType: Record<string, number>;
  /** the simulated compactor runs */
  compactorRuns: { atTs: number; hours: number; backdatedHours: number; pacedHours: number; failedHours: number; failure?: string; daysRolled: number; itemsPut: number; watermark: number; ms: number }[];
  kinds: KindFigure[];
  totals: { writes: number; writeUnits: number; writesPer1000: number; writeUnitsPer1000: number };
  /** one UpdateItem per (scope, metric) contribution per delivered event, 1 WCU each */
  naive: { writes: number; writeUnitsPer1000: number };
  largest: { kind: WriteKind; key: string; bytes: number };
  /** the 10 counter items and the 10 state records written most often */
  hot: { counters: HotItem[]; records: HotItem[] };
  /** every item written at least HOT_WRITES times: how many, how many over 4 KB, the largest */
  hotAbove: { minWrites: number; items: number; over4KB: number; largest: HotItem | null };
  /** what the table holds at the end, by counter granularity or state kind */
  inventory: Record<string, { items: number; bytes: number }>;
  scopeGrowth: ScopeGrowth;
  /** Parquet bytes of the facts the run left (compacted hours and the objects not merged yet) */
  parquetBytes: number;
  /** distinct events stored (copies in other batches are merged away by compaction) */
  storedFacts: number;
  /** ms in storeNormalisedFacts (ingest's writes, Parquet encoding, the pricing store) */
  ingestMs: number;
  /** ms in compactAndSettle */
  compactMs: number;
  totalMs: number;
}

/** writes that make an item hot: a minute item written this often took one a second while it was live */
export const HOT_WRITES = 60;

/** 2026-01-02T00:00:00Z: the runs end here, so the last simulated hour and its day both complete. */
export const LOAD_DAY_END = 1_767_312_000;

export async function runWriteLoad(options: WriteLoadOptions): Promise<WriteLoadReport> {
  const started = performance.now();
  const log = options.log ?? (() => {});
  const rate = options.eventsPerSecond;
  const minutes = options.minutes;
  if (minutes > 1440) throw new Error('the write run simulates at most one day');
  const batchEvents = options.batchEvents ?? Math.max(1, Math.min(2_500, Math.round(rate * BATCH_WINDOW_SECONDS)));
  const endTs = LOAD_DAY_END;
  const startTs = endTs - minutes * 60;
  const total = Math.round(rate * minutes * 60);
  const dataDir = await scratchDir('funnel-load-writes-');
  const objects = new FsObjectStore(dataDir);
  const counters = new PricingCounterStore();
  let nowMs = startTs * 1000;
  const clock: Clock = { now: () => nowMs };
  // The live queue: ingest's bodies gathered until a merged batch closes (its window share or 6 MB), then applied.
  const liveMergeSeconds = options.liveMergeSeconds ?? LIVE_BATCH_WINDOW_SECONDS / LIVE_MAX_CONCURRENCY;
  const live = { bodies: [] as string[], bytes: 0, events: 0, firstMs: 0, batches: 0, mergedEvents: 0, deltaBytes: 0 };
  const liveQueue: QueueSender = {
    async sendBatch(bodies) {
      if (!live.bodies.length) live.firstMs = nowMs;
      for (const body of bodies) {
        live.bodies.push(body);
        live.bytes += Buffer.byteLength(body);
      }
      return { failed: [] };
    },
  };
  const flushLive = async () => {
    if (!live.bodies.length) return;
    const result = await applyLiveDeltas(live.bodies.map((body, i) => ({ messageId: `live-${live.batches}-${i}`, body, receiveCount: 1 })), { counters, clock });
    if (result.failedMessageIds.length) throw new Error(`live batch failed: ${String(result.error ?? result.malformed[0]?.reason)}`);
    live.batches++;
    live.mergedEvents += live.events;
    live.deltaBytes += live.bytes;
    Object.assign(live, { bodies: [], bytes: 0, events: 0 });
  };
  const liveCounters = liveMergeSeconds > 0 ? queuedLiveCounters(liveQueue) : undefined;
  const issues: string[] = [];
  const deps = benchCompactorDeps({ objects, counters, clock, retention: options.retention, dataDir, issues, duckDbMemoryLimit: options.duckDbMemoryLimit });
  const load = new DesignLoad({ eventsPerSecond: rate, startTs, authors: options.authors, seed: options.seed, ...options.load });
  log(`load writes: ${int(total)} deliveries at ${int(rate)}/s over ${minutes} simulated minutes, ${int(load.authors)} authors, batches of ${int(batchEvents)}…`);
  try {
    // The system has been running: everything before this hour is settled.
    counters.seedState(WATERMARK, 0, { settledThrough: Math.floor(startTs / 3600) * 3600 });
    counters.seedState(COUNTING_LAYOUT, 0, { targetScopes: 'hourly' });
    const byType: Record<string, number> = {};
    const firstSeen = new Map<string, number>();
    let copies = 0;
    let backdated = 0;
    let duplicatesInBatch = 0;
    let unencodable = 0;
    let naive = 0;
    let batches = 0;
    let ingestMs = 0;
    let compactMs = 0;
    const compactorRuns: WriteLoadReport['compactorRuns'] = [];
    let nextCompaction = (Math.floor(startTs / COMPACTOR_EVERY_SECONDS) + 1) * COMPACTOR_EVERY_SECONDS;
    const compact = async (atTs: number) => {
      nowMs = atTs * 1000;
      const t0 = performance.now();
      const run = await compactAndSettle(deps);
      const ms = performance.now() - t0;
      compactMs += ms;
      // A failed hour is a figure too: it stays dirty (the next run retries it) and the report says why.
      const failure = run.failedHours.length ? issues.find((i) => i.startsWith('error'))?.slice(0, 600) : undefined;
      const backdatedHours = run.hours.filter((h) => h.hourStart < Math.floor(startTs / 3600) * 3600).length;
      compactorRuns.push({ atTs, hours: run.hours.length, backdatedHours, pacedHours: run.pacedHours.length, failedHours: run.failedHours.length, failure, daysRolled: run.daysRolled.length, itemsPut: run.itemsPut, watermark: run.watermark, ms });
      issues.length = 0;
      log(`load writes: compactor at +${((atTs - startTs) / 60).toFixed(0)} min settled ${run.hours.length} hours (${backdatedHours} back-dated, ${run.pacedHours.length} paced, ${run.failedHours.length} failed), rolled ${run.daysRolled.length} days, Put ${run.itemsPut} items in ${(ms / 1000).toFixed(1)} s; rss ${rssMb()} MB${failure ? `; ${failure}` : ''}`);
    };
    for (let done = 0; done < total; ) {
      const n = Math.min(batchEvents, total - done);
      const seen = new Set<string>();
      const facts: Fact[] = [];
      const deletions = new Map<string, NostrEvent>();
      let lastArrival = 0;
      for (let i = 0; i < n; i++) {
        const { fact, arrivalMs, copy } = load.next();
        lastArrival = arrivalMs;
        byType[fact.type] = (byType[fact.type] ?? 0) + 1;
        const counts = contributionsOf(fact).counts;
        naive += counts.length;
        // Scope growth: when each scope first counted an event of the run (back-dated events aside).
        if (fact.created_at >= startTs) for (const { scope } of counts) if (!firstSeen.has(scope)) firstSeen.set(scope, fact.created_at);
        if (copy) copies++;
        else if (fact.created_at < Math.floor(arrivalMs / 1000)) backdated++;
        // As ingestBatch: an id already in the batch is a duplicate, stored once.
        if (seen.has(fact.event_id)) {
          duplicatesInBatch++;
          continue;
        }
        seen.add(fact.event_id);
        facts.push(fact);
        if (fact.type === 'deletion') deletions.set(fact.event_id, deletionEvent(fact));
      }
      done += n;
      // The batch is invoked once its last event has arrived; the compactor runs when its time comes.
      while (nextCompaction * 1000 <= lastArrival) {
        await compact(nextCompaction);
        nextCompaction += COMPACTOR_EVERY_SECONDS;
      }
      nowMs = lastArrival;
      const t0 = performance.now();
      const stored = await storeNormalisedFacts(facts, deletions, `load-${batches}`, { objects, counters, minuteTtlSeconds: options.retention.minuteSeconds, noteIndexTtlSeconds: options.retention.noteIndexSeconds, hourTtlSeconds: options.retention.hourSeconds, liveCounters }, nowMs);
      ingestMs += performance.now() - t0;
      live.events += facts.length;
      if (live.bodies.length && (nowMs - live.firstMs >= liveMergeSeconds * 1000 || live.bytes >= LIVE_BATCH_MAX_BYTES)) await flushLive();
      unencodable += stored.unencodable;
      batches++;
      if (batches % 100 === 0) log(`load writes: ${int(done)} of ${int(total)} deliveries (${((performance.now() - started) / 1000).toFixed(0)} s, rss ${rssMb()} MB)`);
    }
    await flushLive();
    // After the stream: the scheduled runs until the last hour (and so its day) is settled.
    const lastHourEnd = Math.ceil(endTs / 3600) * 3600;
    for (;;) {
      await compact(nextCompaction);
      if (nextCompaction >= lastHourEnd + COMPACTOR_GRACE_SECONDS) break;
      nextCompaction += COMPACTOR_EVERY_SECONDS;
    }

    const per1000 = (x: number) => (x * 1000) / total;
    const kinds: KindFigure[] = WRITE_KINDS.map(({ kind, label, request }) => {
      const t = counters.tally[kind];
      return { kind, label, request, ...t, writesPer1000: per1000(t.writes), writeUnitsPer1000: per1000(t.writeUnits), meanBytes: t.writes ? t.bytes / t.writes : 0 };
    });
    const totals = counters.totals();
    const largest = kinds.reduce((a, b) => (b.maxBytes > a.maxBytes ? b : a));
    const inventory: WriteLoadReport['inventory'] = {};
    for (const { key, group, bytes } of counters.inventory()) {
      // Per-event and per-address hours are live items, apart from the settled hours.
      const slot = (inventory[group === 'h' && isTargetScope(key) ? 'h~live' : group] ??= { items: 0, bytes: 0 });
      slot.items++;
      slot.bytes += bytes;
    }
    return {
      eventsPerSecond: rate,
      minutes,
      startTs,
      endTs,
      authors: load.authors,
      batchEvents,
      batches,
      live: { mergeSeconds: liveMergeSeconds, batches: live.batches, meanEvents: live.batches ? live.mergedEvents / live.batches : 0, deltaBytesPerEvent: live.mergedEvents ? live.deltaBytes / live.mergedEvents : 0 },
      deliveries: total,
      copies,
      backdated,
      duplicatesInBatch,
      unencodable,
      byType,
      compactorRuns,
      kinds,
      totals: { ...totals, writesPer1000: per1000(totals.writes), writeUnitsPer1000: per1000(totals.writeUnits) },
      naive: { writes: naive, writeUnitsPer1000: per1000(naive) },
      largest: { kind: largest.kind, key: largest.maxKey, bytes: largest.maxBytes },
      hot: counters.hottest(10),
      hotAbove: (({ items, over, largest }) => ({ minWrites: HOT_WRITES, items, over4KB: over, largest }))(counters.hotAbove(HOT_WRITES, 4096)),
      inventory,
      scopeGrowth: scopeGrowth(firstSeen, startTs, minutes),
      parquetBytes: (await parquetObjects(objects, FACTS_PREFIX)).bytes,
      storedFacts: total - copies,
      ingestMs,
      compactMs,
      totalMs: performance.now() - started,
    };
  } finally {
    await deps.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

const rssMb = () => Math.round(process.memoryUsage().rss / 1e6);

const scopeKind = (scope: string) => (scope === 'g' ? 'g' : scope.slice(0, 1));

/** Distinct scopes seen by each doubling of the run's length, ending at its whole length. */
function scopeGrowth(firstSeen: Map<string, number>, startTs: number, minutes: number): ScopeGrowth {
  const atMinutes: number[] = [];
  for (let m = minutes; m >= 1 && atMinutes.length < 4; m /= 2) atMinutes.unshift(m);
  const byKind: Record<string, number[]> = {};
  for (const [scope, bucket] of firstSeen) {
    const counts = (byKind[scopeKind(scope)] ??= atMinutes.map(() => 0));
    const minute = (bucket - startTs) / 60;
    atMinutes.forEach((m, i) => {
      if (minute < m) counts[i]!++;
    });
  }
  return { atMinutes, byKind };
}

/** Extrapolates distinct scopes to a longer span from the growth over the run's last doubling (a power law); u: is capped at the authors. */
export function scopesAt(growth: ScopeGrowth, minutes: number, authors: number): Record<string, number> {
  const out: Record<string, number> = {};
  const n = growth.atMinutes.length;
  for (const [kind, counts] of Object.entries(growth.byKind)) {
    const last = counts[n - 1]!;
    const prev = n > 1 ? counts[n - 2]! : last;
    const span = n > 1 ? growth.atMinutes[n - 1]! / growth.atMinutes[n - 2]! : 2;
    const exponent = prev > 0 && last > prev ? Math.log(last / prev) / Math.log(span) : 0;
    let value = last * Math.max(1, minutes / growth.atMinutes[n - 1]!) ** exponent;
    if (kind === 'u') value = Math.min(value, Math.max(last, authors));
    out[kind] = value;
  }
  return out;
}

