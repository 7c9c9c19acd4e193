import { loadWasmSigner } from '../lib/nostr/sign.js';
import { fixed, int, median, positiveInt } from './stats.js';
import { cpus } from 'node:os';
import type { VerifiedEvent } from 'nostr-tools/pure';
import type { QueueRecord } from '../lib/ports.js';
import { ingestBatch, type IngestDeps } from '../lib/ingest/ingest.js';
import { ingestMessageSchema, MAX_EVENT_BYTES, packEvents } from '../lib/ingest/message.js';
import { nostrEventSchema, type NostrEvent } from '../lib/nostr/event.js';
import { loadVerifier, type EventVerifier } from '../lib/nostr/verify.js';
import { normalise } from '../lib/nostr/normalise.js';
import type { Fact } from '../lib/facts/schema.js';
import { encodeFacts } from '../lib/facts/parquet.js';
import { partitionOf } from '../lib/facts/partition.js';
import { DeltaRollup } from '../lib/counters/rollup.js';
import { contributionsOf, GLOBAL_SCOPE } from '../lib/counters/contributions.js';
import { MetricsRegistry } from '../lib/metrics/registry.js';
import { seededRandom, simulatedUsers, WorkloadGenerator } from '../lib/local/stack/simulator.js';
import { MemoryCounterStore, MemoryObjectStore } from '../lib/adapters/memory/index.js';

/**
 * `funnel bench`: ingest throughput per core next to the cost of signature verification alone
 * (DESIGN §7: the ingest path within 1.3× of verification). Everything runs in this process on one
 * thread; figures are medians of timed runs after a warm-up and are reported as ratios against the
 * verification baseline measured in the same run, so they compare across machines.
 */

export interface IngestBenchOptions {
  /** signed events in the workload (default 16,000: about 45 s in all on a 2-core machine, a third of it signing) */
  events?: number;
  /** progress lines (setup, runs) */
  log?: (line: string) => void;
  /** simulated users (default 1,000) */
  users?: number;
  /** events per second of created_at: how the workload spreads over minute buckets (default 50) */
  eventsPerSecond?: number;
  /** events packed into one queue message (default 25: a 250 ms listener flush at 100 events/s) */
  eventsPerMessage?: number;
  /** queue messages per ingest batch (default 100, the SQS event source batch size) */
  messagesPerBatch?: number;
  /** timed runs per figure; the median is reported (default 3) */
  runs?: number;
  /** workload seed (default 1) */
  seed?: number;
}

export type StageName = 'json_parse' | 'zod_validate' | 'size_check' | 'verify' | 'normalise' | 'rollup' | 'parquet_encode' | 'other';

export interface StageFigure {
  stage: StageName;
  label: string;
  /** median µs per event */
  microsPerEvent: number;
  /** share of the full ingest cost per event */
  shareOfIngest: number;
  /** µs per event relative to verification alone */
  ofVerify: number;
}

export interface Throughput {
  eventsPerSecond: number;
  microsPerEvent: number;
  /** every timed run, µs per event */
  runsMicrosPerEvent: number[];
}

export interface IngestBenchReport {
  environment: { node: string; platform: string; arch: string; cpu: string; cores: number };
  workload: {
    events: number;
    users: number;
    seed: number;
    eventsPerSecond: number;
    spanSeconds: number;
    eventsPerMessage: number;
    messagesPerBatch: number;
    messages: number;
    batches: number;
    meanEventJsonBytes: number;
    byKind: Record<string, number>;
    setupMs: number;
  };
  runs: number;
  /** baseline: loadVerifier() over the already-parsed events */
  verifyOnly: Throughput;
  /** ingestBatch over the queue records, with in-memory stores (CPU cost, no I/O) */
  ingest: Throughput & { accepted: number; rejected: number; duplicatesInBatch: number; failedMessages: number };
  /** ingest time ÷ verification time over the same events: the median of the per-run ratios */
  ratio: number;
  /** every run's ratio */
  runRatios: number[];
  goal: number;
  withinGoal: boolean;
  /** each stage timed alone over the same events; `other` is the full ingest minus the timed stages */
  stages: StageFigure[];
  counters: {
    /** DynamoDB UpdateItems (one per delta) over the whole workload */
    updateItems: number;
    updateItemsPer1000Events: number;
    /** one UpdateItem per counted metric and sketch member per event, as the live rollup would write without aggregating */
    naiveUpdatesPer1000Events: number;
    /** naive ÷ actual */
    reduction: number;
    /** state record writes (event index, dirty hour marks, ingest heartbeat) per 1,000 events */
    statePutsPer1000Events: number;
    /** every DynamoDB write ingest makes (counter UpdateItems + state record writes) per 1,000 events */
    totalWritesPer1000Events: number;
  };
  facts: { objects: number; bytes: number; bytesPerEvent: number };
  totalMs: number;
}

interface Batch {
  records: QueueRecord[];
  /** the batch's events, already parsed: the verification baseline's input */
  events: NostrEvent[];
}

interface Prepared {
  batches: Batch[];
  /** per batch: message bodies after JSON.parse */
  parsedBodies: unknown[][];
  /** per batch: events after shape validation, with their message's relay */
  validated: { relay: string | null; event: NostrEvent }[][];
  /** per batch: normalised facts */
  facts: Fact[][];
  /** number of events */
  count: number;
  nowMs: number;
}

const GOAL = 1.3;
const RELAY = 'wss://relay.bench.example';
/** 2026-01-01T00:00:00Z: a fixed start so the workload (and its hour partitions) is reproducible */
const START_SECONDS = 1_767_225_600;

export async function runIngestBench(options: IngestBenchOptions = {}): Promise<IngestBenchReport> {
  const started = performance.now();
  const log = options.log ?? (() => {});
  const eventCount = positiveInt(options.events ?? 16_000, 'events');
  const userCount = positiveInt(options.users ?? 1_000, 'users');
  const eventsPerSecond = positiveInt(options.eventsPerSecond ?? 50, 'eventsPerSecond');
  const eventsPerMessage = positiveInt(options.eventsPerMessage ?? 25, 'eventsPerMessage');
  const messagesPerBatch = positiveInt(options.messagesPerBatch ?? 100, 'messagesPerBatch');
  const runs = positiveInt(options.runs ?? 3, 'runs');
  const seed = options.seed ?? 1;

  // --- setup: sign the workload, pack it as the listener does, split it as the SQS event source does
  log(`setup: signing ${eventCount.toLocaleString('en-US')} events from ${userCount.toLocaleString('en-US')} simulated users…`);
  const setupStarted = performance.now();
  const signed = await signWorkload(eventCount, userCount, eventsPerSecond, seed, log);
  const serialized = signed.map((event) => JSON.stringify(event));
  const { bodies, oversized } = packEvents(RELAY, serialized, eventsPerMessage);
  if (oversized) throw new Error(`bench workload has ${oversized} oversized events`);
  const records: QueueRecord[] = bodies.map((body, i) => ({ messageId: `bench-${i}`, body, receiveCount: 1 }));
  const batches: Batch[] = [];
  for (let i = 0; i < records.length; i += messagesPerBatch) batches.push({ records: records.slice(i, i + messagesPerBatch), events: [] });
  const nowMs = (START_SECONDS + Math.ceil(eventCount / eventsPerSecond) + 1) * 1000;
  const prepared = prepare(batches, nowMs);
  if (prepared.count !== eventCount) throw new Error(`prepared ${prepared.count} events, expected ${eventCount}`);
  const verify = await loadVerifier();
  const setupMs = performance.now() - setupStarted;
  log(`setup: ${(setupMs / 1000).toFixed(1)} s (${bodies.length} messages in ${batches.length} batches of up to ${messagesPerBatch})`);

  const byKind: Record<string, number> = {};
  for (const event of signed) byKind[event.kind] = (byKind[event.kind] ?? 0) + 1;

  // --- the figures: one warm-up pass over part of the workload, then `runs` interleaved timed passes
  // Verification alone and full ingest are timed as a pair, batch by batch in alternating order, so both
  // see the same machine conditions; the ratio is the median of the per-run ratios.
  const last: { ingest?: Awaited<ReturnType<typeof runVerifyAndIngest>> } = {};
  const measures: { name: string; run: (p: Prepared) => Promise<number | number[]> | number }[] = [
    { name: 'verify+ingest', run: async (p) => { last.ingest = await runVerifyAndIngest(p, verify); return [last.ingest.verifyMs, last.ingest.ingestMs]; } },
    { name: 'json_parse', run: timeJsonParse },
    { name: 'zod_validate', run: timeZod },
    { name: 'size_check', run: timeSizeCheck },
    { name: 'normalise', run: timeNormalise },
    { name: 'rollup', run: timeRollup },
    { name: 'parquet_encode', run: timeParquet },
  ];
  // One batch (2,500 events by default) is enough for the JIT and the WASM tier-up.
  const warmup = slice(prepared, 1);
  log(`warm-up over ${warmup.count.toLocaleString('en-US')} events…`);
  for (const m of measures) await m.run(warmup);
  const samples = new Map<string, number[]>([['verify', []], ['ingest', []], ...measures.map((m): [string, number[]] => [m.name, []])]);
  const ratios: number[] = [];
  for (let r = 0; r < runs; r++) {
    const runStarted = performance.now();
    for (const m of measures) {
      const ms = await m.run(prepared);
      if (Array.isArray(ms)) {
        const [verifyMs, ingestMs] = ms as [number, number];
        samples.get('verify')!.push((verifyMs * 1000) / eventCount);
        samples.get('ingest')!.push((ingestMs * 1000) / eventCount);
        ratios.push(ingestMs / verifyMs);
      } else samples.get(m.name)!.push((ms * 1000) / eventCount);
    }
    log(`run ${r + 1}/${runs}: ${((performance.now() - runStarted) / 1000).toFixed(1)} s, ingest ÷ verify ${ratios.at(-1)!.toFixed(3)}`);
  }
  const micros = (name: string) => median(samples.get(name)!);
  const ratio = median(ratios);

  // The counts come from the last timed ingest pass over the whole workload (they do not depend on timing).
  const outcome = last.ingest;
  if (!outcome) throw new Error('no ingest run');
  let naiveUpdates = 0;
  for (const facts of prepared.facts) for (const fact of facts) naiveUpdates += naiveUpdatesOf(fact);

  const verifyMicros = micros('verify');
  const ingestMicros = micros('ingest');
  const stageNames: [StageName, string][] = [
    ['json_parse', 'JSON.parse of message bodies'],
    ['zod_validate', 'zod validation (message + event)'],
    ['size_check', 'size check (JSON.stringify tags)'],
    ['verify', 'verify id + signature'],
    ['normalise', 'normalise to facts'],
    ['rollup', 'counter rollup (DeltaRollup)'],
    ['parquet_encode', 'Parquet encode (encodeFacts)'],
  ];
  const stages: StageFigure[] = stageNames.map(([stage, label]) => figure(stage, label, micros(stage), ingestMicros, verifyMicros));
  const timed = stages.reduce((sum, s) => sum + s.microsPerEvent, 0);
  stages.push(figure('other', 'other: ingest minus the stages above*', ingestMicros - timed, ingestMicros, verifyMicros));

  const per1000 = (n: number) => (n * 1000) / eventCount;
  return {
    environment: { node: process.version, platform: process.platform, arch: process.arch, cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length },
    workload: {
      events: eventCount,
      users: userCount,
      seed,
      eventsPerSecond,
      spanSeconds: Math.ceil(eventCount / eventsPerSecond),
      eventsPerMessage,
      messagesPerBatch,
      messages: bodies.length,
      batches: batches.length,
      meanEventJsonBytes: serialized.reduce((sum, s) => sum + Buffer.byteLength(s), 0) / eventCount,
      byKind,
      setupMs,
    },
    runs,
    verifyOnly: throughput(samples.get('verify')!),
    ingest: { ...throughput(samples.get('ingest')!), accepted: outcome.accepted, rejected: outcome.rejected, duplicatesInBatch: outcome.duplicates, failedMessages: outcome.failed },
    ratio,
    runRatios: ratios,
    goal: GOAL,
    withinGoal: ratio <= GOAL,
    stages,
    counters: {
      updateItems: outcome.counters.updateItems,
      updateItemsPer1000Events: per1000(outcome.counters.updateItems),
      naiveUpdatesPer1000Events: per1000(naiveUpdates),
      reduction: naiveUpdates / Math.max(1, outcome.counters.updateItems),
      statePutsPer1000Events: per1000(outcome.counters.statePuts),
      totalWritesPer1000Events: per1000(outcome.counters.updateItems + outcome.counters.statePuts),
    },
    facts: { objects: outcome.objects.puts, bytes: outcome.objects.bytesWritten, bytesPerEvent: outcome.objects.bytesWritten / Math.max(1, outcome.accepted) },
    totalMs: performance.now() - started,
  };
}

/**
 * Signs the simulator's workload. Signing is only setup, so it uses libsecp256k1 (nostr-wasm) instead of
 * the simulator's pure-JS nostr-tools signer (~10× slower here), with fixed BIP-340 aux data so the
 * workload is byte-for-byte reproducible. The events are the same NIP-01 events either way.
 */
async function signWorkload(count: number, users: number, eventsPerSecond: number, seed: number, log: (line: string) => void): Promise<VerifiedEvent[]> {
  const generator = new WorkloadGenerator(simulatedUsers(users), seededRandom(seed), await loadWasmSigner(new Uint8Array(32)));
  // The generator can repeat an event exactly (same author, kind, tags, content and second: the same
  // id); keep the first so every workload event is distinct and `accepted` must equal `events`.
  const seen = new Set<string>();
  const events: VerifiedEvent[] = [];
  while (events.length < count) {
    const event = generator.next(START_SECONDS + Math.floor(events.length / eventsPerSecond));
    if (seen.has(event.id)) continue;
    seen.add(event.id);
    events.push(event);
  }
  return events;
}

/** Everything the stage timings start from, computed once outside the timed loops. */
function prepare(batches: Batch[], nowMs: number): Prepared {
  const parsedBodies: unknown[][] = [];
  const validated: Prepared['validated'] = [];
  const facts: Fact[][] = [];
  let count = 0;
  for (const batch of batches) {
    const parsed = batch.records.map((r) => JSON.parse(r.body) as unknown);
    const batchEvents: Prepared['validated'][number] = [];
    for (const body of parsed) {
      const message = ingestMessageSchema.parse(body);
      const relay = message.source.startsWith('ws') ? message.source : null;
      for (const raw of message.events) {
        batchEvents.push({ relay, event: nostrEventSchema.parse(raw) });
        batch.events.push(raw as NostrEvent);
        count++;
      }
    }
    parsedBodies.push(parsed);
    validated.push(batchEvents);
    facts.push(batchEvents.map(({ relay, event }) => normalise(event, { relay, ingestedAt: nowMs })));
  }
  return { batches, parsedBodies, validated, facts, count, nowMs };
}

/** The first `n` batches, for the warm-up. */
function slice(p: Prepared, n: number): Prepared {
  const batches = p.batches.slice(0, n);
  const count = batches.reduce((sum, b) => sum + b.events.length, 0);
  return { batches, parsedBodies: p.parsedBodies.slice(0, n), validated: p.validated.slice(0, n), facts: p.facts.slice(0, n), count, nowMs: p.nowMs };
}

/** Per batch, in alternating order: verification alone over the batch's events, and ingestBatch over its messages. */
async function runVerifyAndIngest(p: Prepared, verify: EventVerifier) {
  const objects = new MemoryObjectStore();
  const counters = new MemoryCounterStore();
  const deps: IngestDeps = { objects, counters, verify, clock: { now: () => p.nowMs }, metrics: new MetricsRegistry(), minuteTtlSeconds: 35 * 86400 };
  let accepted = 0;
  let rejected = 0;
  let duplicates = 0;
  let failed = 0;
  let verifyMs = 0;
  let ingestMs = 0;
  for (const [i, batch] of p.batches.entries()) {
    if (i % 2 === 0) verifyMs += timeVerify(batch.events, verify);
    const t0 = performance.now();
    const result = await ingestBatch(batch.records, deps);
    ingestMs += performance.now() - t0;
    if (i % 2 === 1) verifyMs += timeVerify(batch.events, verify);
    accepted += result.accepted;
    duplicates += result.duplicatesInBatch;
    failed += result.failedMessageIds.length;
    for (const n of Object.values(result.rejected)) rejected += n ?? 0;
  }
  // A failed batch skips the work being measured: the figures would be meaningless, so stop here.
  if (failed || rejected || accepted + duplicates !== p.count) {
    throw new Error(`ingest did not accept the workload: ${accepted} accepted, ${duplicates} duplicates, ${rejected} rejected, ${failed} messages failed of ${p.count} events`);
  }
  return { verifyMs, ingestMs, accepted, rejected, duplicates, failed, objects, counters };
}

function timeVerify(events: NostrEvent[], verify: EventVerifier): number {
  let failures = 0;
  const t0 = performance.now();
  for (const event of events) if (verify(event)) failures++;
  const ms = performance.now() - t0;
  if (failures) throw new Error(`${failures} workload events failed verification`);
  return ms;
}

function timeJsonParse(p: Prepared): number {
  let sink = 0;
  const t0 = performance.now();
  for (const batch of p.batches) for (const record of batch.records) sink += (JSON.parse(record.body) as { events: unknown[] }).events.length;
  return consume(performance.now() - t0, sink);
}

function timeZod(p: Prepared): number {
  let sink = 0;
  const t0 = performance.now();
  for (const bodies of p.parsedBodies) {
    for (const body of bodies) {
      const message = ingestMessageSchema.safeParse(body);
      if (!message.success) continue;
      for (const raw of message.data.events) if (nostrEventSchema.safeParse(raw).success) sink++;
    }
  }
  return consume(performance.now() - t0, sink);
}

function timeSizeCheck(p: Prepared): number {
  let sink = 0;
  const t0 = performance.now();
  for (const batch of p.validated) {
    for (const { event } of batch) if (event.content.length > MAX_EVENT_BYTES || JSON.stringify(event.tags).length > MAX_EVENT_BYTES) sink++;
  }
  return consume(performance.now() - t0, sink);
}

function timeNormalise(p: Prepared): number {
  let sink = 0;
  const t0 = performance.now();
  for (const batch of p.validated) for (const { relay, event } of batch) sink += normalise(event, { relay, ingestedAt: p.nowMs }).kind;
  return consume(performance.now() - t0, sink);
}

function timeRollup(p: Prepared): number {
  let sink = 0;
  const t0 = performance.now();
  for (const facts of p.facts) {
    const rollup = new DeltaRollup({ minuteTtlSeconds: 35 * 86400, hourTtlSeconds: 62 * 86400 });
    for (const fact of facts) rollup.addFact(fact);
    sink += rollup.deltas().length;
  }
  return consume(performance.now() - t0, sink);
}

/** Grouped by hour partition as ingest does: one Parquet object per hour a batch touches. */
function timeParquet(p: Prepared): number {
  let sink = 0;
  const t0 = performance.now();
  for (const facts of p.facts) {
    const byHour = new Map<number, Fact[]>();
    for (const fact of facts) {
      const start = partitionOf(fact.created_at).start;
      let list = byHour.get(start);
      if (!list) byHour.set(start, (list = []));
      list.push(fact);
    }
    for (const hourFacts of byHour.values()) sink += encodeFacts(hourFacts).byteLength;
  }
  return consume(performance.now() - t0, sink);
}

/**
 * One UpdateItem per counted metric and per engager-sketch member, per event: what the live rollup
 * writes, without aggregating a batch into one delta per (scope, minute) item. (The global author
 * sketch and the top-N lists are settled-only, never written live, so they are not counted.)
 */
function naiveUpdatesOf(fact: Fact): number {
  const c = contributionsOf(fact);
  return c.counts.length + c.distinct.filter((d) => d.scope !== GLOBAL_SCOPE).length;
}

let blackhole = 0;
/** Keeps a loop's result alive so the JIT cannot drop the work being timed. */
function consume(ms: number, sink: number): number {
  blackhole = (blackhole + sink) | 0;
  return ms;
}

function figure(stage: StageName, label: string, microsPerEvent: number, ingestMicros: number, verifyMicros: number): StageFigure {
  return { stage, label, microsPerEvent, shareOfIngest: microsPerEvent / ingestMicros, ofVerify: microsPerEvent / verifyMicros };
}

function throughput(runsMicrosPerEvent: number[]): Throughput {
  const microsPerEvent = median(runsMicrosPerEvent);
  return { eventsPerSecond: 1e6 / microsPerEvent, microsPerEvent, runsMicrosPerEvent };
}

/** The report as a readable table. */
export function formatIngestBench(r: IngestBenchReport): string {
  const w = r.workload;
  const lines = [
    `Funnel ingest bench: ${int(w.events)} signed events, one thread ("per core"), median of ${r.runs} timed runs after a warm-up`,
    `  ${r.environment.cpu}, ${r.environment.cores} cores, node ${r.environment.node} ${r.environment.platform}/${r.environment.arch}`,
    `  workload: ${int(w.users)} simulated users, ${w.eventsPerSecond} events/s over ${int(w.spanSeconds)} s, ${fixed(w.meanEventJsonBytes, 0)} B/event JSON;` +
      ` ${w.eventsPerMessage} events/message, ${w.messagesPerBatch} messages/batch -> ${int(w.messages)} messages, ${w.batches} batches`,
    `  kinds: ${Object.entries(w.byKind).map(([k, n]) => `${k}:${n}`).join(' ')}`,
    `  setup (sign, pack, parse): ${fixed(w.setupMs / 1000)} s`,
    '',
    `  ${'figure'.padEnd(44)}${'events/s'.padStart(10)}${'µs/event'.padStart(11)}${'× verify'.padStart(10)}`,
    `  ${'verification alone (baseline)'.padEnd(44)}${int(r.verifyOnly.eventsPerSecond).padStart(10)}${fixed(r.verifyOnly.microsPerEvent).padStart(11)}${'1.00'.padStart(10)}`,
    `  ${'full ingest (ingestBatch, in-memory stores)'.padEnd(44)}${int(r.ingest.eventsPerSecond).padStart(10)}${fixed(r.ingest.microsPerEvent).padStart(11)}${fixed(r.ratio, 2).padStart(10)}` +
      `   goal <= ${fixed(r.goal, 2)}: ${r.withinGoal ? 'met' : 'NOT MET'}`,
    `  (× verify for full ingest: median of the paired per-run ratios ${r.runRatios.map((x) => fixed(x, 3)).join(', ')};` +
      ` verification and ingest are timed batch by batch, side by side)`,
    '',
    `  where the time goes (each stage timed alone over the same events)`,
    `  ${'stage'.padEnd(44)}${'µs/event'.padStart(21)}${'× verify'.padStart(10)}${'of ingest'.padStart(11)}`,
    ...r.stages.map(
      (s) => `  ${s.label.padEnd(44)}${fixed(s.microsPerEvent, 2).padStart(21)}${fixed(s.ofVerify, 3).padStart(10)}${`${fixed(s.shareOfIngest * 100)}%`.padStart(11)}`,
    ),
    `  * work not timed above (dedupe, batch id hash, hour grouping, event index records, store calls, dirty-hour marks)`,
    `    plus the run-to-run noise of the larger figures; can come out slightly negative`,
    '',
    `  DynamoDB counter writes: ${fixed(r.counters.updateItemsPer1000Events)} UpdateItems per 1,000 events vs ${fixed(r.counters.naiveUpdatesPer1000Events)} naive` +
      ` (one per metric per event): ${fixed(r.counters.reduction)}× fewer`,
    `    plus ${fixed(r.counters.statePutsPer1000Events)} state record writes per 1,000 events (event index, dirty-hour marks, heartbeat):` +
      ` ${fixed(r.counters.totalWritesPer1000Events)} DynamoDB writes per 1,000 events in all`,
    `  Parquet facts: ${fixed(r.facts.bytesPerEvent)} bytes per event (${int(r.facts.objects)} objects, ${int(r.facts.bytes)} bytes)`,
    `  accepted ${int(r.ingest.accepted)} of ${int(w.events)}, rejected ${r.ingest.rejected}, duplicates ${r.ingest.duplicatesInBatch}, failed messages ${r.ingest.failedMessages}`,
    `  total ${fixed(r.totalMs / 1000)} s`,
  ];
  return lines.join('\n');
}
