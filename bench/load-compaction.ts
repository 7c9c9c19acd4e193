import { rm } from 'node:fs/promises';
import type { Clock } from '../lib/ports.js';
import type { Fact } from '../lib/facts/schema.js';
import { encodeFacts } from '../lib/facts/parquet.js';
import { partitionOf, partitionPrefix } from '../lib/facts/partition.js';
import { settledShards } from '../lib/counters/settle-run.js';
import { FsObjectStore } from '../lib/adapters/local/fs-object-store.js';
import { compactAndSettle } from '../lib/facts/compact.js';
import type { Retention } from '../lib/counters/retention.js';
import { COUNTING_LAYOUT, DIRTY_HOURS, WATERMARK } from '../lib/counters/state.js';
import { runChild } from './child.js';
import { benchCompactorDeps, COMPACTOR_GRACE_SECONDS, LOAD_DAY_END, scratchDir } from './load-writes.js';
import { PricingCounterStore } from './pricing-store.js';
import { DesignLoad } from './workload.js';
import { int } from './stats.js';

/**
 * Compaction and settlement of one hour of the design-load mix at several sizes, each in a child
 * process of its own (its RSS is then its own, its heap a worker's): the hour's input objects are
 * generated first by another child, in chunks of CHUNK_FACTS facts per Parquet object, so no process
 * ever holds the hour; then the real compactAndSettle merges and settles it with the local object
 * store and a pricing counter store that keeps nothing per item.
 */

/** facts per generated input object, as many small ingest objects would be merged (bounded memory while generating) */
export const CHUNK_FACTS = 50_000;
/** 12:00 of the load day: no day completes, so the run is the hour's merge and settle alone */
const HOUR_START = LOAD_DAY_END - 12 * 3600;

export interface GenerateHourInput {
  dataDir: string;
  facts: number;
  authors: number;
  seed: number;
}

/** Child task: writes one hour of `facts` design-load deliveries (0.5 % copies, nothing back-dated) as Parquet chunks. */
export async function generateHour(input: GenerateHourInput): Promise<{ objects: number; bytes: number }> {
  const objects = new FsObjectStore(input.dataDir);
  const load = new DesignLoad({ eventsPerSecond: input.facts / 3600, startTs: HOUR_START, authors: input.authors, seed: input.seed, backdatedShare: 0 });
  const prefix = partitionPrefix(partitionOf(HOUR_START));
  let bytes = 0;
  let written = 0;
  for (let done = 0; done < input.facts; written++) {
    const chunk: Fact[] = [];
    for (let i = 0; i < CHUNK_FACTS && done < input.facts; i++, done++) chunk.push(load.next().fact);
    const body = encodeFacts(chunk);
    bytes += body.byteLength;
    await objects.put(`${prefix}gen-${String(written).padStart(5, '0')}.parquet`, body);
    if (written % 40 === 39) console.error(`compaction: generated ${done.toLocaleString('en-US')} of ${input.facts.toLocaleString('en-US')} facts`);
  }
  return { objects: written, bytes };
}

export interface CompactHourInput {
  dataDir: string;
  retention: Retention;
}

export interface CompactHourResult {
  ms: number;
  inputRows: number;
  outputRows: number;
  writes: number;
  writeUnits: number;
  /** peak RSS of the process, KB (process.resourceUsage) */
  maxRssKb: number;
  /** RSS before the run (node, the modules), KB */
  startRssKb: number;
  /** the shards the hour's scopes were settled in (one statement each, one after another here) */
  shards: number;
}

/** Child task: one compactor run over the generated hour, timed. */
export async function compactOneHour(input: CompactHourInput): Promise<CompactHourResult> {
  const objects = new FsObjectStore(input.dataDir);
  // Nothing is written twice in one settle, so no item needs remembering.
  const counters = new PricingCounterStore({ trackItems: false });
  counters.seedState(WATERMARK, 0, { settledThrough: HOUR_START });
  // As ingest leaves it: the hour marked dirty, its events counted live (so the settle rewrites no live
  // items; an unmarked hour would be settled as one nobody counted, a whole-hour rewrite).
  counters.seedState(COUNTING_LAYOUT, 0, { targetScopes: 'hourly', sparseUserHours: 'minutes' });
  counters.seedState(DIRTY_HOURS, HOUR_START, { markedAt: 0, mark: 'bench' });
  let nowMs = (HOUR_START + 3600 + COMPACTOR_GRACE_SECONDS + 60) * 1000;
  const clock: Clock = { now: () => nowMs };
  const issues: string[] = [];
  const deps = benchCompactorDeps({ objects, counters, clock, retention: input.retention, dataDir: input.dataDir, issues });
  const startRssKb = Math.round(process.memoryUsage().rss / 1024);
  const t0 = performance.now();
  const run = await compactAndSettle(deps).finally(() => deps.close());
  const ms = performance.now() - t0;
  if (run.failedHours.length || run.hours.length !== 1) throw new Error(`compaction did not settle the hour: ${run.hours.length} settled, ${run.failedHours.length} failed; ${issues[0]?.slice(0, 1500) ?? ''}`);
  const hour = run.hours[0]!;
  const totals = counters.totals();
  const shards = (await settledShards(objects, 'h', HOUR_START)) ?? 1;
  return { ms, inputRows: hour.inputRows, outputRows: hour.outputRows, ...totals, maxRssKb: process.resourceUsage().maxRSS, startRssKb, shards };
}

export interface CompactionSizeFigure {
  facts: number;
  /** 'ok', or why there is no figure: out of memory, over the time limit, another failure, not run after a smaller size failed */
  outcome: 'ok' | 'oom' | 'timeout' | 'crash' | 'skipped';
  detail?: string;
  generateMs: number;
  inputObjects: number;
  inputBytes: number;
  result?: CompactHourResult;
  factsPerSecond?: number;
}

export interface CompactionReport {
  sizes: CompactionSizeFigure[];
  heapMb: number;
  timeLimitMs: number;
  chunkFacts: number;
  authors: number;
}

export async function runCompactionSizes(options: { sizes: number[]; heapMb: number; timeLimitMs: number; authors: number; retention: Retention; log: (line: string) => void }): Promise<CompactionReport> {
  const sizes: CompactionSizeFigure[] = [];
  for (const facts of [...options.sizes].sort((a, b) => a - b)) {
    // Memory and time only grow with the hour: once a size fails, a larger one is not generated for nothing.
    const failed = sizes.find((s) => s.outcome !== 'ok');
    if (failed) {
      sizes.push({ facts, outcome: 'skipped', detail: `${failed.outcome === 'oom' ? 'out of memory' : failed.outcome === 'timeout' ? 'over the time limit' : 'failed'} at ${failed.facts.toLocaleString('en-US')} facts already`, generateMs: 0, inputObjects: 0, inputBytes: 0 });
      continue;
    }
    const dataDir = await scratchDir('funnel-load-compaction-', false);
    try {
      options.log(`compaction: generating one hour of ${int(facts)} facts in objects of ${int(CHUNK_FACTS)}…`);
      // Generation is setup: a larger heap than the worker's, and a generous limit of its own.
      const generated = await runChild<{ objects: number; bytes: number }>('generate-hour', { dataDir, facts, authors: options.authors, seed: 5 } satisfies GenerateHourInput, {
        heapMb: 4096,
        timeoutMs: 4 * options.timeLimitMs,
        log: options.log,
      });
      if (!generated.ok) throw new Error(`generating ${int(facts)} facts failed (${generated.reason}): ${generated.detail}`);
      options.log(`compaction: ${int(generated.result.objects)} objects (${(generated.result.bytes / 1e6).toFixed(0)} MB) in ${(generated.ms / 1000).toFixed(0)} s; compacting with a ${int(options.heapMb)} MB heap, ${int(options.timeLimitMs / 60_000)} min limit…`);
      const run = await runChild<CompactHourResult>('compact-hour', { dataDir, retention: options.retention } satisfies CompactHourInput, {
        heapMb: options.heapMb,
        timeoutMs: options.timeLimitMs,
        log: options.log,
      });
      const base = { facts, generateMs: generated.ms, inputObjects: generated.result.objects, inputBytes: generated.result.bytes };
      if (run.ok) {
        sizes.push({ ...base, outcome: 'ok', result: run.result, factsPerSecond: (facts * 1000) / run.result.ms });
        options.log(`compaction: ${int(facts)} facts in ${(run.result.ms / 1000).toFixed(1)} s, peak RSS ${int(run.result.maxRssKb / 1024)} MB`);
      } else {
        sizes.push({ ...base, outcome: run.reason, detail: run.detail });
        options.log(`compaction: ${int(facts)} facts: ${run.reason} after ${(run.ms / 1000).toFixed(0)} s (${run.detail})`);
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }
  return { sizes, heapMb: options.heapMb, timeLimitMs: options.timeLimitMs, chunkFacts: CHUNK_FACTS, authors: options.authors };
}
