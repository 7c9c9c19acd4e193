import { ATHENA_SETTLE_SHARD_BYTES, ATHENA_SHARDS_IN_PARALLEL } from '../lib/facts/tables.js';
import { LIVE_BATCH_MAX_BYTES, LIVE_BATCH_WINDOW_SECONDS, LIVE_MAX_CONCURRENCY } from '../lib/counters/live-queue.js';
import { cpus } from 'node:os';
import { DEFAULT_DUCKDB_MEMORY_LIMIT } from '../lib/adapters/local/duckdb-sql-engine.js';
import { loadWasmSigner } from '../lib/nostr/sign.js';
import { loadVerifier } from '../lib/nostr/verify.js';
import { retentionFromEnv, type Retention } from '../lib/counters/retention.js';
import { seededRandom, simulatedUsers, WorkloadGenerator } from '../lib/local/stack/simulator.js';
import { runChild } from './child.js';
import { runCompactionSizes, type CompactionReport } from './load-compaction.js';
import { runPipeline, type PipelineReport } from './load-pipeline.js';
import { BATCH_WINDOW_SECONDS, COMPACTOR_EVERY_SECONDS, scopesAt, type WriteLoadOptions, type WriteLoadReport } from './load-writes.js';
import { DESIGN_MIX } from './workload.js';
import { fixed, int, median, positiveInt } from './stats.js';

/**
 * `funnel bench --only load`: the design load (DESIGN §7: 5,000 events/s) through the real code, every
 * figure next to a baseline measured in the same run:
 * - writes: simulated minutes of the design-load mix through ingest's write path and the compactor,
 *   every DynamoDB write priced (per 1,000 events, by kind), item sizes, storage per fact; baseline one
 *   UpdateItem per (scope, metric) contribution per event; the same at a sparse mix (1/100 of the rate);
 * - compaction and settlement of one hour at several sizes, each in a child process with a worker's heap;
 * - the local pipeline end to end at the rate it sustains; CPU figures against signature verification;
 * - the extrapolation to 5,000 events/s in AWS, with its arithmetic.
 */

export interface LoadBenchOptions {
  /** simulated minutes at the full rate (default 15) */
  minutes?: number;
  /** design rate, events/s (default 5,000) */
  eventsPerSecond?: number;
  /** daily active authors (default 200,000) */
  authors?: number;
  /** events per ingest invocation at the full rate (default 2,500: 100 messages × 25 events) */
  batchEvents?: number;
  /** hour sizes for the compaction runs (default 1 M, 4 M, 16 M); empty skips them */
  sizes?: number[];
  /** heap of a compaction worker, MB (default 2,048: the compactor function's memory) */
  workerMb?: number;
  /** time limit of one compaction size (default SIZE_TIME_LIMIT_MS, 30 min) */
  sizeTimeLimitMs?: number;
  /** heap of the write run's process, MB (default 16,384) */
  writesHeapMb?: number;
  /** seconds of the timed pipeline phase (default 120); 0 skips the pipeline */
  pipelineSeconds?: number;
  /** skip the write runs (the compaction and pipeline parts alone) */
  skipWrites?: boolean;
  log?: (line: string) => void;
}

export const DESIGN_RATE = 5_000;
/**
 * DuckDB's memory in the write run: its hour is settled from hundreds of small ingest objects, which
 * the local stack's 1 GB has failed on (the run says so when it does); the compaction sizes measure
 * the compactor's memory at the default, this run only needs the settle's writes.
 */
const WRITE_RUN_DUCKDB_MEMORY = '4GB';
const SPARSE_FACTOR = 100;
const HOT_ITEM_LIMIT = 4 * 1024;
const ITEM_LIMIT = 400 * 1024;
const LATENCY_GOAL_MS = 5_000;
const WCU_GOAL = 1.1;
const SPARSE_WCU_GOAL = 1.5;
const STORAGE_GOAL = 100;
/**
 * A compaction size's time limit: here one DuckDB worker settles a 16 M-fact hour's 8 shards one after
 * another (≈ 18 min measured); in AWS they run at once, each its own worker.
 */
const SIZE_TIME_LIMIT_MS = 30 * 60_000;
/** DynamoDB bills 100 bytes of overhead per item on top of its size */
const ITEM_OVERHEAD_BYTES = 100;
const PRICE = { onDemandPerMillionWru: 0.625, provisionedPerWcuHour: 0.00065, monthSeconds: 30 * 86400, monthHours: 30 * 24 };

export interface WriteFigures {
  run: WriteLoadReport;
  /** hour and day items of a full hour and day from the scope growth, ÷ as measured */
  fullHourFactor: number;
  /** live per-event and per-address hour items of a full hour ÷ the run's */
  liveHourFactor: number;
  fullDayFactor: number;
  /** WCU per event: as measured; with full hours and days; naive */
  wcuPerEvent: number;
  wcuPerEventFull: number;
  naiveWcuPerEvent: number;
}

export interface StorageFigure {
  granularity: string;
  itemsPerSecond: number;
  meanBytes: number;
  retentionDays: number;
  steadyBytes: number;
  note: string;
}

export interface LoadBenchReport {
  environment: { node: string; platform: string; arch: string; cpu: string; cores: number };
  mix: typeof DESIGN_MIX;
  eventsPerSecond: number;
  /** the CPU baseline next to each part: signature verification alone */
  verify: Partial<Record<'writes' | 'sparse' | 'compaction' | 'pipeline', VerifyFigure>>;
  writes?: WriteFigures;
  sparse?: WriteFigures;
  writesFailure?: string;
  storage?: { rows: StorageFigure[]; bytesPerFact: number; bytesPerFactWithOverhead: number; parquetBytesPerFact: number; longestRetentionDays: number };
  compaction?: CompactionReport;
  pipeline?: PipelineReport;
  pipelineFailure?: string;
  totalMs: number;
}

export async function runLoadBench(options: LoadBenchOptions = {}): Promise<LoadBenchReport> {
  const started = performance.now();
  const log = options.log ?? (() => {});
  const rate = positiveInt(options.eventsPerSecond ?? DESIGN_RATE, 'eventsPerSecond');
  const minutes = positiveInt(options.minutes ?? 15, 'minutes');
  const authors = positiveInt(options.authors ?? 200_000, 'authors');
  const retention = retentionFromEnv(process.env);
  const report: LoadBenchReport = {
    environment: { node: process.version, platform: process.platform, arch: process.arch, cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length },
    mix: DESIGN_MIX,
    eventsPerSecond: rate,
    verify: {},
    totalMs: 0,
  };
  const timeVerify = await verifyBaseline();
  const withBaseline = async <T>(part: keyof LoadBenchReport['verify'], work: () => Promise<T>): Promise<T> => {
    const before = timeVerify();
    try {
      return await work();
    } finally {
      report.verify[part] = verifyFigure([...before, ...timeVerify()]);
      log(`load: signature verification alone around the ${part} part: ${report.verify[part]!.microsPerEvent.toFixed(0)} µs/event`);
    }
  };

  // --- writes at the full rate and at the sparse mix, each in a process with room for millions of items
  const writes = async (eventsPerSecond: number, batchEvents: number | undefined, runMinutes: number) => {
    const input: Omit<WriteLoadOptions, 'log'> = { eventsPerSecond, minutes: runMinutes, authors, batchEvents, retention, duckDbMemoryLimit: WRITE_RUN_DUCKDB_MEMORY };
    const run = await runChild<WriteLoadReport>('writes', input, { heapMb: options.writesHeapMb ?? 16_384, timeoutMs: 3 * 3600_000, log });
    if (!run.ok) throw new Error(`the write run at ${eventsPerSecond}/s failed (${run.reason}): ${run.detail}`);
    return writeFigures(run.result);
  };
  const failures: string[] = [];
  if (options.skipWrites) failures.push('skipped (--skip-writes)');
  else {
    // Each run stands alone: the sparse figures do not depend on the full-rate run finishing.
    // The sparse mix is cheap enough to run a whole hour, so its hour items are measured, not bounded.
    for (const [part, eventsPerSecond, batchEvents, runMinutes] of [['writes', rate, options.batchEvents, minutes], ['sparse', rate / SPARSE_FACTOR, undefined, Math.max(minutes, 60)]] as const) {
      try {
        report[part] = await withBaseline(part, () => writes(eventsPerSecond, batchEvents, runMinutes));
      } catch (error) {
        failures.push((error as Error).message);
        log(`load: ${(error as Error).message}`);
      }
    }
    if (report.writes) report.storage = storage(report.writes, retention);
  }
  if (failures.length) report.writesFailure = failures.join('; ');

  const sizes = options.sizes ?? [1_000_000, 4_000_000, 16_000_000];
  if (sizes.length) {
    report.compaction = await withBaseline('compaction', () => runCompactionSizes({
      sizes,
      heapMb: options.workerMb ?? 2_048,
      timeLimitMs: options.sizeTimeLimitMs ?? SIZE_TIME_LIMIT_MS,
      authors,
      retention,
      log,
    }));
  }
  const pipelineSeconds = options.pipelineSeconds ?? 120;
  if (pipelineSeconds > 0) {
    try {
      // A step spans a local compaction (every 60 s), so a rate that only holds between compactions fails its step.
      report.pipeline = await withBaseline('pipeline', () => runPipeline({ seconds: pipelineSeconds, stepSeconds: 60, log }));
    } catch (error) {
      report.pipelineFailure = (error as Error).message;
      log(`load: the pipeline run failed: ${report.pipelineFailure}`);
    }
  }
  report.totalMs = performance.now() - started;
  return report;
}

export interface VerifyFigure {
  microsPerEvent: number;
  eventsPerSecondPerCore: number;
  /** µs per event of each timed pass, before and after the part */
  runs: number[];
}

/**
 * Signature verification alone over signed simulator events: the CPU baseline (as the ingest bench
 * measures it). The machine is shared, so each part gets its own, timed right before and after it.
 */
async function verifyBaseline(): Promise<() => number[]> {
  const generator = new WorkloadGenerator(simulatedUsers(200), seededRandom(9), await loadWasmSigner(new Uint8Array(32)));
  const events = Array.from({ length: 2_000 }, (_, i) => generator.next(1_767_225_600 + i));
  const verify = await loadVerifier();
  return () => {
    const runs: number[] = [];
    for (let r = 0; r < 4; r++) {
      const t0 = performance.now();
      for (const event of events) if (verify(event)) throw new Error('a workload event failed verification');
      // The first pass warms the WASM up and is not counted.
      if (r > 0) runs.push(((performance.now() - t0) * 1000) / events.length);
    }
    return runs;
  };
}

function verifyFigure(runs: number[]): VerifyFigure {
  const microsPerEvent = median(runs);
  return { microsPerEvent, eventsPerSecondPerCore: 1e6 / microsPerEvent, runs };
}

function writeFigures(run: WriteLoadReport): WriteFigures {
  const seconds = run.minutes * 60;
  // Distinct scopes of the run, and of a longer span (scopesAt), over the scope kinds named.
  const kinds = (only?: readonly string[]) => Object.keys(run.scopeGrowth.byKind).filter((k) => !only || only.includes(k));
  const measuredOf = (only?: readonly string[]) => kinds(only).reduce((sum, k) => sum + run.scopeGrowth.byKind[k]!.at(-1)!, 0);
  const atOf = (minutes: number, only?: readonly string[]) => {
    const scopes = scopesAt(run.scopeGrowth, minutes, run.authors);
    return kinds(only).reduce((sum, k) => sum + (scopes[k] ?? 0), 0);
  };
  // Items per second of a full hour (day) ÷ items per second of the run's part of it; 1 once the run covers it.
  const factor = (spanMinutes: number, only?: readonly string[]) =>
    run.minutes >= spanMinutes || !measuredOf(only) ? 1 : atOf(spanMinutes, only) / (spanMinutes * 60) / (measuredOf(only) / seconds);
  const fullDayFactor = factor(1440);
  const events = run.deliveries;
  const kind = (name: string) => run.kinds.find((k) => k.kind === name);
  const units = (name: string) => kind(name)?.writeUnits ?? 0;
  // Hour items of a full hour. A run shorter than an hour cannot say which user hours a full hour leaves
  // sparse (at most SPARSE_HOUR_EVENTS events, no hour item), so it counts an hour item for every scope a
  // full hour holds, at the run's mean size: an upper bound. The sparse mix runs a whole hour instead.
  const hourItems = kind('settled_h');
  const meanHourUnits = hourItems?.writes ? hourItems.writeUnits / hourItems.writes : 1;
  const settledHourKinds = kinds().filter((k) => k !== 'e' && k !== 'a');
  const hourUnitsFull = run.minutes >= 60 || !measuredOf(settledHourKinds) ? units('settled_h') : atOf(60, settledHourKinds) * (seconds / 3600) * meanHourUnits;
  const fullHourFactor = units('settled_h') ? hourUnitsFull / units('settled_h') : 1;
  // The live per-event hour items a full hour holds (for storage): their scopes' growth over the hour.
  const liveHourFactor = factor(60, ['e', 'a']);
  // Quarter days are written with their day, weeks with their last day: scaled like it.
  const full = run.totals.writeUnits - units('settled_h') + hourUnitsFull + (units('settled_d') + units('settled_q') + units('settled_w')) * (fullDayFactor - 1);
  return { run, fullHourFactor, liveHourFactor, fullDayFactor, wcuPerEvent: run.totals.writeUnits / events, wcuPerEventFull: full / events, naiveWcuPerEvent: run.naive.writes / events };
}

/**
 * Steady-state table bytes = Σ over what the table keeps of (items created per second × mean size ×
 * retention); per fact = that ÷ (facts per second × the longest retention), i.e. the bytes the table
 * holds for each fact of the history it answers for.
 */
function storage(w: WriteFigures, retention: Retention): NonNullable<LoadBenchReport['storage']> {
  const run = w.run;
  const seconds = run.minutes * 60;
  const longest = retention.daySeconds;
  const rows: StorageFigure[] = [];
  const add = (granularity: string, items: number, bytes: number, retentionSeconds: number, factor: number, note: string) => {
    if (!items) return;
    const itemsPerSecond = (items / seconds) * factor;
    rows.push({ granularity, itemsPerSecond, meanBytes: bytes / items, retentionDays: retentionSeconds / 86400, steadyBytes: itemsPerSecond * (bytes / items) * retentionSeconds, note });
  };
  const inv = run.inventory;
  const get = (group: string) => inv[group] ?? { items: 0, bytes: 0 };
  add('minute items', get('m').items, get('m').bytes, retention.minuteSeconds, 1, 'TTL');
  add('hour items (users, network, projects)', get('h').items, get('h').bytes, retention.hourSeconds, w.fullHourFactor, 'TTL; a full hour: every scope of it, an upper bound');
  add('hour items (events, addresses; live)', get('h~live').items, get('h~live').bytes, retention.hourSeconds, w.liveHourFactor, 'TTL; a full hour from the scope growth');
  add('day items', get('d').items, get('d').bytes, longest, w.fullDayFactor, 'u: TTL; e:, a:, g never expire (counted over the longest retention); a full day from the scope growth');
  add('event index: notes, replies, comments', get('ev~ttl').items, get('ev~ttl').bytes, retention.noteIndexSeconds, 1, 'TTL from created_at (noteIndexTtlDays)');
  const index = ['ev', 'rev', 'del', 'dela', 'vday', 'vuser', 'vtag'];
  const indexItems = index.reduce((n, k) => n + get(k).items, 0);
  const indexBytes = index.reduce((n, k) => n + get(k).bytes, 0);
  add('event index: videos, video lists, deletions', indexItems, indexBytes, longest, 1, 'no TTL (counted over the longest retention)');
  const factsPerSecond = run.deliveries / seconds;
  const total = rows.reduce((sum, r) => sum + r.steadyBytes, 0);
  const overhead = rows.reduce((sum, r) => sum + r.itemsPerSecond * ITEM_OVERHEAD_BYTES * r.retentionDays * 86400, 0);
  return {
    rows,
    bytesPerFact: total / (factsPerSecond * longest),
    bytesPerFactWithOverhead: (total + overhead) / (factsPerSecond * longest),
    parquetBytesPerFact: run.parquetBytes / Math.max(1, run.storedFacts),
    longestRetentionDays: longest / 86400,
  };
}

/**
 * The compaction figures' two claims in numbers: memory per worker flat across sizes (peak RSS of the
 * largest ÷ the smallest), and an hour of the design load in AWS as shards × per-shard time ÷ the
 * shards run at once (each shard statement scans the whole hour; measured here per shard, on DuckDB).
 */
function shardArithmetic(c: CompactionReport): string[] {
  const ok = c.sizes.filter((s) => s.outcome === 'ok' && s.result);
  if (!ok.length) return [];
  const smallest = ok[0]!;
  const largest = ok.at(-1)!;
  const ratio = largest.result!.maxRssKb / smallest.result!.maxRssKb;
  const lines = [
    `    peak RSS ${int(largest.result!.maxRssKb / 1024)} MB at ${millions(largest.facts)} ÷ ${int(smallest.result!.maxRssKb / 1024)} MB at ${millions(smallest.facts)} = ${fixed(ratio, 2)}; goal <= 1.5: ${ratio <= 1.5 && largest.facts >= 16_000_000 ? 'met' : largest.facts < 16_000_000 ? 'NOT MET (16 M did not complete)' : 'NOT MET'}`,
  ];
  const perShardSeconds = largest.result!.ms / 1000 / largest.result!.shards;
  const scannedPerSecond = largest.facts / perShardSeconds;
  const hourBytes = (DESIGN_RATE * 3600 * largest.inputBytes) / largest.facts;
  const shards = Math.ceil(hourBytes / ATHENA_SETTLE_SHARD_BYTES);
  const waves = Math.ceil(shards / ATHENA_SHARDS_IN_PARALLEL);
  const shardSeconds = (DESIGN_RATE * 3600) / scannedPerSecond;
  lines.push(
    `    an hour of the design load in AWS: ${millions(DESIGN_RATE * 3600)} facts ≈ ${fixed(hourBytes / 2 ** 30, 1)} GiB of Parquet → ${shards} shards of ${ATHENA_SETTLE_SHARD_BYTES / 2 ** 20} MiB (ATHENA_SETTLE_SHARD_BYTES, lib/facts/tables.ts), ${ATHENA_SHARDS_IN_PARALLEL} at once;` +
      ` a shard statement here scanned ${int(scannedPerSecond)} facts/s (${millions(largest.facts)} facts in ${fixed(perShardSeconds, 0)} s, one DuckDB worker, 2 cores), so one over the hour takes ≈ ${fixed(shardSeconds, 0)} s` +
      ` and the hour ≈ ${waves} × ${fixed(shardSeconds, 0)} s = ${fixed((waves * shardSeconds) / 60, 1)} min at this machine's speed (Athena scans in parallel across its workers; the goal is 10 min)`,
  );
  return lines;
}

// ---------------------------------------------------------------------------------------------------------
// The report

export function formatLoadBench(r: LoadBenchReport): string {
  const kb = (bytes: number) => `${fixed(bytes / 1024, 2)} KB`;
  const pct = (share: number) => `${fixed(share * 100, share < 0.01 ? 1 : 0)} %`;
  const money = (n: number) => `$${int(n)}`;
  const lines: string[] = [];
  const push = (...l: string[]) => lines.push(...l);
  const none: VerifyFigure = { microsPerEvent: NaN, eventsPerSecondPerCore: NaN, runs: [] };
  const verifyOf = (part: keyof LoadBenchReport['verify']) => r.verify[part] ?? none;
  push(
    `Funnel load bench: the design load (DESIGN §7) through the real ingest, compactor and local pipeline`,
    `  ${r.environment.cpu}, ${r.environment.cores} cores, node ${r.environment.node} ${r.environment.platform}/${r.environment.arch}`,
    `  design-load mix: ${int(r.eventsPerSecond)} events/s; ${int(r.writes?.run.authors ?? 200_000)} daily active authors, Zipf(1.1) activity; engagement aimed Zipf-wise at the`,
    `    last two days of posts (each author's posts of the last two days, history seeded before the run); by type ` +
      Object.entries(r.mix).map(([t, s]) => `${t} ${pct(s!)}`).join(', '),
    `    (= reactions 35 %, notes + replies 25 %, reposts 10 %, zaps 10 %, videos + comments 5 %, other kinds 15 %: profiles, contacts, deletions, lists, long-form);`,
    `    1 % of events back-dated uniformly up to two days; 0.5 % delivered twice (up to 30 s apart); sparse mix: the same at 1/${SPARSE_FACTOR} of the rate`,
    `  CPU baseline: signature verification alone over 2,000 signed events, 3 passes right before and 3 right after each part (the machine is shared): ` +
      Object.entries(r.verify).map(([part, f]) => `${part} ${fixed(f.microsPerEvent, 0)} µs/event`).join(', '),
    '',
  );
  if (r.writesFailure) push(`  WRITES: no figures: ${r.writesFailure}`, '');
  for (const [label, w, v] of [['design load', r.writes, verifyOf('writes')], ['sparse mix', r.sparse, verifyOf('sparse')]] as const) {
    if (!w) continue;
    const run = w.run;
    const goal = label === 'design load' ? WCU_GOAL : SPARSE_WCU_GOAL;
    push(
      `  DynamoDB writes, ${label}: ${int(run.deliveries)} deliveries at ${int(run.eventsPerSecond)}/s over ${run.minutes} simulated minutes (${iso(run.startTs)} .. ${iso(run.endTs)}),`,
      `    through storeNormalisedFacts (ingest's write path below verification) in batches of ${int(run.batchEvents)} events` +
        (label === 'design load' ? ` (100 messages × 25 events, the SQS batch size)` : ` (what the ${BATCH_WINDOW_SECONDS} s batching window gathers at this rate)`) +
        `, and compactAndSettle every ${COMPACTOR_EVERY_SECONDS / 60} simulated minutes until the last hour and its day settled;`,
      run.live.batches
        ? `    live deltas through the live queue (lib/counters/live-queue.ts): ${fixed(run.live.deltaBytesPerEvent, 0)} B of deltas per event, merged ${fixed(run.live.mergeSeconds, 0)} s (the ${LIVE_BATCH_WINDOW_SECONDS} s window ÷ ${LIVE_MAX_CONCURRENCY} pollers) or ${LIVE_BATCH_MAX_BYTES / 2 ** 20} MB at a time: ${int(run.live.batches)} merged batches of ${int(run.live.meanEvents)} events on average;`
        : `    live deltas written by each ingest batch (no live queue);`,
      `    ${int(run.copies)} copies, ${int(run.backdated)} back-dated, ${int(run.duplicatesInBatch)} copies in the same batch; ${run.compactorRuns.length} compactor runs: ` +
        run.compactorRuns.map((c) => `+${fixed((c.atTs - run.startTs) / 60, 0)} min ${c.hours} hours (${c.backdatedHours} back-dated, ${c.pacedHours} paced${c.failedHours ? `, ${c.failedHours} FAILED` : ''}) ${c.daysRolled} days ${int(c.itemsPut)} items Put`).join('; ') +
        ` (DuckDB memory limit ${WRITE_RUN_DUCKDB_MEMORY})`,
      ...run.compactorRuns.filter((c) => c.failure).map((c) => `    FAILED at +${fixed((c.atTs - run.startTs) / 60, 0)} min: ${c.failure}`),
      `    (back-dated hours hold only the run's back-dated events here; at the design load they hold a full hour, but a re-settle Puts only the items whose numbers moved, the ones late events touch, and is paced as in AWS: an hour at most hourly, a day every 6 h)`,
      `    ${'kind of write'.padEnd(46)}${'request'.padEnd(26)}${'writes'.padStart(9)}${'WCU'.padStart(9)}${'mean B'.padStart(8)}${'max B'.padStart(9)}   per 1,000 events`,
      ...run.kinds
        .filter((k) => k.writes || k.kind !== 'unclassified')
        .map((k) => `    ${k.label.padEnd(46)}${k.request.padEnd(26)}${fixed(k.writesPer1000).padStart(9)}${fixed(k.writeUnitsPer1000).padStart(9)}${int(k.meanBytes).padStart(8)}${int(k.maxBytes).padStart(9)}`),
      `    ${'all writes'.padEnd(72)}${fixed(run.totals.writesPer1000).padStart(9)}${fixed(run.totals.writeUnitsPer1000).padStart(9)}`,
      `    baseline, one UpdateItem per (scope, metric) contribution per event (1 WCU each): ${fixed(run.naive.writeUnitsPer1000)} WCU per 1,000 events`,
      // The verdict is on the steady state: a run of minutes writes each hour and day item once, as a
      // full hour and day would, over a fraction of their events.
      `    => ${fixed(w.wcuPerEvent, 3)} WCU per event as measured` +
        (w.fullHourFactor !== 1 || w.fullDayFactor !== 1
          ? `; with hour and day items of a full hour and day (× ${fixed(w.fullHourFactor, 3)} and × ${fixed(w.fullDayFactor, 3)} from the scope growth, below; ${run.minutes < 60 ? 'an hour item for every scope of a full hour, sparse user hours included: an upper bound' : 'the run is a full hour'}): ${fixed(w.wcuPerEventFull, 3)} WCU per event`
          : '') +
        ` = ${fixed(w.wcuPerEventFull / w.naiveWcuPerEvent, 3)} × the baseline; goal <= ${goal}: ${w.wcuPerEventFull <= goal ? 'met' : 'NOT MET'}`,
      `    (WCU: ceil(size / 1 KB), at least 1, per item; an UpdateItem and a replacing Put bill the larger of the item before and after; a conditional delete its item)`,
      `    scope growth (distinct scopes that counted an event of the run): ` +
        run.scopeGrowth.atMinutes.map((m, i) => `${fixed(m, m < 2 ? 2 : 0)} min ${int(Object.values(run.scopeGrowth.byKind).reduce((s, c) => s + c[i]!, 0))}`).join(', ') +
        ` (${Object.entries(run.scopeGrowth.byKind).map(([k, c]) => `${k}: ${int(c.at(-1)!)}`).join(', ')})`,
      `    ingest write path ${fixed((run.ingestMs * 1000) / run.deliveries)} µs/event (Parquet encoding, rollup, index, the pricing store) = ${fixed((run.ingestMs * 1000) / run.deliveries / v.microsPerEvent, 2)} × verification;` +
        ` compactor ${fixed(run.compactMs / 1000)} s for the run; ${fixed(run.totalMs / 1000)} s in all`,
      '',
    );
  }
  const w = r.writes;
  if (w) {
    const run = w.run;
    const largest = run.largest;
    push(
      `  item sizes (design load): largest ${kb(largest.bytes)} (${fixed((largest.bytes * 100) / ITEM_LIMIT, 2)} % of the 400 KB limit), a ${largest.kind} item ${shortKey(largest.key)}`,
      `    hot items (the 10 counter items and the 10 state records written most often), limit ${kb(HOT_ITEM_LIMIT)}:`,
      ...(['counters', 'records'] as const).flatMap((group) => [
        `      ${group === 'counters' ? 'counter items' : 'state records'}:`,
        ...run.hot[group].map((h) => `        ${shortKey(h.key).padEnd(42)}${int(h.writes).padStart(7)} writes   largest ${kb(h.maxBytes).padStart(9)}   ${h.maxBytes <= HOT_ITEM_LIMIT ? 'ok' : 'OVER 4 KB'}`),
      ]),
      `    every item written >= ${run.hotAbove.minWrites} times (a write a second over a minute's life) is hot: ${int(run.hotAbove.items)} items, ${int(run.hotAbove.over4KB)} of them over 4 KB;` +
        ` the largest ${kb(run.hotAbove.largest?.maxBytes ?? 0)} (${shortKey(run.hotAbove.largest?.key ?? '-')}, ${int(run.hotAbove.largest?.writes ?? 0)} writes)`,
      `    every hot item within 4 KB: ${run.hotAbove.over4KB === 0 ? 'yes' : 'NO'}`,
      '',
    );
  }
  if (r.storage) {
    const s = r.storage;
    push(
      `  DynamoDB storage at the documented retention (lib/counters/retention.ts): steady-state table bytes = Σ items created per second × mean size × retention,`,
      `    per fact = that ÷ (facts per second × the longest retention, ${int(s.longestRetentionDays)} days): the bytes the table holds per fact of the history it answers for`,
      `    ${'what'.padEnd(44)}${'items/s'.padStart(10)}${'mean B'.padStart(9)}${'days'.padStart(7)}${'steady GB'.padStart(12)}   note`,
      ...s.rows.map((row) => `    ${row.granularity.padEnd(44)}${fixed(row.itemsPerSecond, 0).padStart(10)}${int(row.meanBytes).padStart(9)}${int(row.retentionDays).padStart(7)}${fixed(row.steadyBytes / 1e9, 0).padStart(12)}   ${row.note}`),
      `    => ${fixed(s.bytesPerFact)} bytes per fact (${fixed(s.bytesPerFactWithOverhead)} with DynamoDB's 100 B per item); goal <= ${STORAGE_GOAL}: ${s.bytesPerFactWithOverhead <= STORAGE_GOAL ? 'met' : 'NOT MET'};` +
        ` = ${fixed(s.bytesPerFactWithOverhead / s.parquetBytesPerFact, 2)} × the fact's own Parquet bytes (${fixed(s.parquetBytesPerFact)} B)`,
      '',
    );
  }
  if (r.compaction) {
    const c = r.compaction;
    const v = verifyOf('compaction');
    push(
      `  compaction and settlement of one hour (compactAndSettle with FsObjectStore and DuckDB, a pricing counter store that keeps nothing per item), each size in its own process`,
      `    with a ${int(c.heapMb)} MB heap (the compactor function's memory) and DuckDB at the local stack's memory limit (${DEFAULT_DUCKDB_MEMORY_LIMIT}), a ${int(c.timeLimitMs / 60_000)} min limit; input: the design-load mix in Parquet objects of ${int(c.chunkFacts)} facts`,
      `    ${'facts'.padStart(12)}${'objects'.padStart(9)}${'time s'.padStart(9)}${'facts/s'.padStart(10)}${'µs/fact'.padStart(9)}${'× verify'.padStart(9)}${'peak RSS MB'.padStart(13)}${'writes'.padStart(11)}${'WCU'.padStart(11)}${'shards'.padStart(8)}${'s/shard'.padStart(9)}`,
      ...c.sizes.map((s) =>
        s.outcome === 'ok' && s.result
          ? `    ${int(s.facts).padStart(12)}${int(s.inputObjects).padStart(9)}${fixed(s.result.ms / 1000).padStart(9)}${int(s.factsPerSecond!).padStart(10)}${fixed((s.result.ms * 1000) / s.facts).padStart(9)}` +
            `${fixed((s.result.ms * 1000) / s.facts / v.microsPerEvent, 2).padStart(9)}${int(s.result.maxRssKb / 1024).padStart(13)}${int(s.result.writes).padStart(11)}${int(s.result.writeUnits).padStart(11)}` +
            `${int(s.result.shards).padStart(8)}${fixed(s.result.ms / 1000 / s.result.shards).padStart(9)}`
          : `    ${int(s.facts).padStart(12)}${int(s.inputObjects).padStart(9)}   ${{ oom: `OOM at ${millions(s.facts)}`, timeout: `over ${int(c.timeLimitMs / 60_000)} min at ${millions(s.facts)}`, crash: `failed at ${millions(s.facts)}`, skipped: 'not run', ok: '' }[s.outcome]}: ${s.detail ?? ''}`,
      ),
      ...shardArithmetic(c),
      `    (one worker = one process; facts/s per worker = facts ÷ the run's wall time; peak RSS = the process's maxRSS, node and the DuckDB standing in for Athena (memory limit ${DEFAULT_DUCKDB_MEMORY_LIMIT}), ${c.sizes.find((s) => s.result)?.result ? `${int(c.sizes.find((s) => s.result)!.result!.startRssKb / 1024)} MB of it before the run` : 'incl. node itself'})`,
      '',
    );
  }
  if (r.pipelineFailure) push(`  PIPELINE: no figures: ${r.pipelineFailure}`, '');
  if (r.pipeline) {
    const p = r.pipeline;
    const v = verifyOf('pipeline');
    push(
      `  the local pipeline (relay -> listener -> queue -> ingest -> compactor -> API, lib/local/stack/stack.ts in a child process, temp data dir, dynalite on disk)`,
      `    ramp, ${p.calibration.stepSeconds} s a step (kept up: ingested >= 90 % of the rate after the step's first 10 s): ` +
        p.calibration.steps.map((s) => `${int(s.rate)}/s ${s.kept ? 'ok' : `fell behind (${int(s.ingestedPerSecond)}/s, queue ${int(s.queueDepth)} messages)`}`).join(', '),
      ...(p.attempts.length > 1
        ? p.attempts.slice(0, -1).map((a) => `    ${fixed(a.seconds, 0)} s at ${int(a.targetRate)} events/s did not hold (ingested ${int(a.ingestedPerSecond)}/s, queue ${int(a.backlogMessages)} messages, p99 ${int(a.probes.p99Ms)} ms); one step lower:`)
        : []),
      `    then ${fixed(p.seconds, 0)} s at ${int(p.targetRate)} events/s${p.attempts.length > 1 ? '' : ', the highest step it kept up with'}, pre-signed events, one probe note a second:`,
      `    published ${int(p.publishedPerSecond)} events/s, ingested ${int(p.ingestedPerSecond)} events/s = ${fixed(p.ingestedPerSecond / v.eventsPerSecondPerCore, 2)} × verification alone on one core; ${int(p.refused)} refused by the relay`,
      `    publish to visible in the API: p50 ${int(p.probes.p50Ms)} ms, p99 ${int(p.probes.p99Ms)} ms, max ${int(p.probes.maxMs)} ms over ${p.probes.count} probes (${p.probes.lost} not visible in 60 s);` +
        ` p99 = ${fixed(p.probes.p99Ms / LATENCY_GOAL_MS, 2)} × the 5 s goal: ${p.probes.p99Ms <= LATENCY_GOAL_MS ? 'met' : 'NOT MET'}`,
      `    backlog: ${int(p.backlogMessages)} queue messages at the end (${int(p.backlogStart)} at the start): ${p.sustained ? 'sustained' : 'NOT sustained over the whole phase (ingested < 95 % of published, or the queue grew by over a second of events)'};` +
        ` signing the pool took ${fixed(p.signMs / 1000, 0)} s (setup)`,
      '',
    );
  }
  if (w) {
    const rows: [string, number][] = [
      ['baseline: one UpdateItem per metric per event', w.naiveWcuPerEvent],
      ['as measured', w.wcuPerEvent],
      ['with full hour and day items', w.wcuPerEventFull],
    ];
    push(
      `  extrapolation to ${int(DESIGN_RATE)} events/s in AWS: WCU/s = WCU per event × ${int(DESIGN_RATE)}; on-demand = WCU/s × ${int(PRICE.monthSeconds)} s × $${PRICE.onDemandPerMillionWru} per million;` +
        ` provisioned = WCU/s × ${PRICE.monthHours} h × $${PRICE.provisionedPerWcuHour} per WCU-hour (mean rate; 4× bursts need headroom or auto scaling)`,
      `    ${'writes'.padEnd(46)}${'WCU/event'.padStart(10)}${'× base'.padStart(8)}${'WCU/s'.padStart(10)}${'on-demand/month'.padStart(17)}${'provisioned/month'.padStart(19)}`,
      ...rows.map(([label, perEvent]) => {
        const perSecond = perEvent * DESIGN_RATE;
        return `    ${label.padEnd(46)}${fixed(perEvent, 3).padStart(10)}${fixed(perEvent / w.naiveWcuPerEvent, 3).padStart(8)}${int(perSecond).padStart(10)}${money((perSecond * PRICE.monthSeconds * PRICE.onDemandPerMillionWru) / 1e6).padStart(17)}${money(perSecond * PRICE.monthHours * PRICE.provisionedPerWcuHour).padStart(19)}`;
      }),
      `    e.g. as measured: ${fixed(w.wcuPerEvent, 3)} × ${int(DESIGN_RATE)} = ${int(w.wcuPerEvent * DESIGN_RATE)} WCU/s; × ${int(PRICE.monthSeconds)} s = ${fixed((w.wcuPerEvent * DESIGN_RATE * PRICE.monthSeconds) / 1e9, 2)} billion WRU × $${PRICE.onDemandPerMillionWru}/M = ${money((w.wcuPerEvent * DESIGN_RATE * PRICE.monthSeconds * PRICE.onDemandPerMillionWru) / 1e6)};` +
        ` provisioned ${int(w.wcuPerEvent * DESIGN_RATE)} × ${PRICE.monthHours} × $${PRICE.provisionedPerWcuHour} = ${money(w.wcuPerEvent * DESIGN_RATE * PRICE.monthHours * PRICE.provisionedPerWcuHour)}`,
      '',
    );
  }
  push(`  total ${fixed(r.totalMs / 1000)} s`);
  return lines.join('\n');
}

const iso = (s: number) => new Date(s * 1000).toISOString().replace(':00.000Z', 'Z');
const millions = (n: number) => (n >= 1e6 ? `${n / 1e6} M` : n.toLocaleString('en-US'));
const shortKey = (key: string) => key.replace(/[0-9a-f]{64}/g, (hex) => `${hex.slice(0, 8)}…`);
