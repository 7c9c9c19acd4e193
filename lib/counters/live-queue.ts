import { z } from 'zod';
import type { Clock, CounterDelta, CounterStore, Granularity, QueueSender } from '../ports.js';
import { reduceCodes } from './hll.js';
import { packJsonArray } from '../ingest/message.js';
import { markDrifted } from './state.js';
import { isTargetScope } from './contributions.js';
import { bucketStart } from './buckets.js';

/**
 * Live counters through a second queue (AWS). Ingest pre-aggregates one batch into one delta per
 * (scope, minute) it touches; at the design load a batch holds a few seconds of traffic, so nearly
 * every author, target and post of the batch is a write of its own. Sending those deltas to a queue
 * whose consumer gathers many batches (a long batching window, few concurrent pollers) and merges them
 * turns the same traffic into one write per (scope, minute) per *merged* batch: at 5,000 events/s,
 * 10 s of traffic merged halve the live writes (docs/scaling.md, docs/deploy.md). A delta is ~5× smaller
 * than the events it summarises, so Lambda's 6 MB batch holds tens of thousands of events' worth.
 *
 * The facts are durable before the deltas are sent, so nothing here can lose a fact: a lost or doubled
 * delta only moves a live minute item, and a redelivered delta message marks its hours for a minute
 * rewrite from the facts first (as ingest does for its own redeliveries).
 */

/**
 * How AWS gathers the live queue's batches (infra/lib/live-counters.ts reads these): a batch closes at
 * LIVE_BATCH_MESSAGES messages, Lambda's 6 MB payload or the window, whichever comes first, and at most
 * LIVE_MAX_CONCURRENCY run at once (Lambda's minimum), so each merges about window ÷ concurrency of
 * traffic, or 6 MB of deltas. At the design load a batch closes on the 6 MB (≈ 25 s, tens of thousands
 * of events); at a sparse rate on the window. A live count shows up at most a window late.
 */
export const LIVE_BATCH_WINDOW_SECONDS = 120;
export const LIVE_BATCH_MESSAGES = 10_000;
export const LIVE_MAX_CONCURRENCY = 2;
export const LIVE_BATCH_MAX_BYTES = 6 * 1024 * 1024;

/** Deltas per message at most, so one message's decode and merge are bounded whatever their size. */
export const LIVE_MESSAGE_MAX_DELTAS = 4_000;
/** a scope or metric name carries at most an address (normalise.ts bounds its d tag) */
const MAX_NAME_CHARS = 1_200;
const MAX_METRICS = 64;
const MAX_CODES = 4_096;

/** One delta on the wire: [scope, granularity, bucket, adds, unions?, expiresAt?]. */
const wireDelta = z.tuple([
  z.string().min(1).max(MAX_NAME_CHARS),
  z.enum(['m', 'h', 'd', 'all']),
  z.number().int().nonnegative(),
  z.record(z.string().max(MAX_NAME_CHARS), z.number().finite()).refine((add) => Object.keys(add).length <= MAX_METRICS, 'too many metrics'),
  z.record(z.string().max(64), z.array(z.number().int()).max(MAX_CODES)).nullable().optional(),
  z.number().int().positive().nullable().optional(),
]);
const liveMessageSchema = z.object({ v: z.literal(1), deltas: z.array(wireDelta).max(LIVE_MESSAGE_MAX_DELTAS) });

const toWire = (d: CounterDelta) => {
  const union = d.union && Object.keys(d.union).length ? d.union : null;
  return d.expiresAt !== undefined ? [d.scope, d.granularity, d.bucket, d.add, union, d.expiresAt] : union ? [d.scope, d.granularity, d.bucket, d.add, union] : [d.scope, d.granularity, d.bucket, d.add];
};

/** A batch's deltas as message bodies, each under the SQS message size and LIVE_MESSAGE_MAX_DELTAS. */
export function encodeLiveDeltas(deltas: CounterDelta[]): string[] {
  return packJsonArray('{"v":1,"deltas":[', ']}', deltas.map((d) => JSON.stringify(toWire(d))), LIVE_MESSAGE_MAX_DELTAS);
}

/** A message body back into deltas, or an error naming what is wrong with it (it fails alone). */
export function decodeLiveDeltas(body: string): CounterDelta[] {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new Error('live delta message is not JSON');
  }
  const parsed = liveMessageSchema.safeParse(json);
  if (!parsed.success) throw new Error(`live delta message is malformed: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}`);
  return parsed.data.deltas.map(([scope, granularity, bucket, add, union, expiresAt]) => {
    // A message from ingest code before per-event and per-address scopes were counted per hour: its
    // minute delta belongs to the hour item (nothing reads, or may write, their minute items now).
    const legacyMinute = granularity === 'm' && isTargetScope(scope);
    return {
      scope,
      granularity: legacyMinute ? 'h' : (granularity as Granularity),
      bucket: legacyMinute ? bucketStart(bucket, 'h') : bucket,
      add,
      ...(union ? { union } : {}),
      ...(expiresAt ? { expiresAt } : {}),
    };
  });
}

/** Deltas of many batches as one per item: adds summed, sketches merged (one code per register), the latest expiry. */
export function mergeDeltas(deltas: Iterable<CounterDelta>): CounterDelta[] {
  const merged = new Map<string, CounterDelta & { add: Record<string, number> }>();
  for (const d of deltas) {
    const key = `${d.scope}|${d.granularity}|${d.bucket}`;
    const into = merged.get(key);
    if (!into) {
      merged.set(key, { ...d, add: { ...d.add }, ...(d.union ? { union: Object.fromEntries(Object.entries(d.union).map(([k, v]) => [k, [...v]])) } : {}) });
      continue;
    }
    for (const [metric, amount] of Object.entries(d.add)) into.add[metric] = (into.add[metric] ?? 0) + amount;
    for (const [name, codes] of Object.entries(d.union ?? {})) ((into.union ??= {})[name] ??= []).push(...codes);
    if (d.expiresAt !== undefined && (into.expiresAt === undefined || d.expiresAt > into.expiresAt)) into.expiresAt = d.expiresAt;
  }
  for (const d of merged.values()) for (const [name, codes] of Object.entries(d.union ?? {})) d.union![name] = reduceCodes(codes);
  return [...merged.values()];
}

/** Ingest's side: a batch's deltas go to the live queue (every body accepted, or the batch fails and is redelivered). */
export function queuedLiveCounters(queue: QueueSender): Pick<CounterStore, 'add'> {
  return {
    async add(deltas) {
      let pending = encodeLiveDeltas(deltas);
      for (let attempt = 0; pending.length && attempt < 3; attempt++) pending = (await queue.sendBatch(pending)).failed;
      if (pending.length) throw new Error(`live queue refused ${pending.length} delta messages`);
    },
  };
}

export interface LiveRecord {
  messageId: string;
  body: string;
  receiveCount: number;
}

export interface LiveResult {
  failedMessageIds: string[];
  /** messages whose deltas were applied */
  applied: number;
  /** items written (one UpdateItem each) */
  items: number;
  /** messages that failed validation (each fails alone, then dead-letters) */
  malformed: { messageId: string; reason: string }[];
  /** why the add failed, when it did */
  error?: unknown;
}

/**
 * The live queue's consumer: every valid message's deltas merged into one per item and added. The
 * hours of a redelivered message are marked for a minute rewrite before anything is added (it may
 * have been added before its crash); a failed add fails every valid message, which come back
 * redelivered and so marked. A malformed message fails alone.
 */
export async function applyLiveDeltas(records: LiveRecord[], deps: { counters: CounterStore; clock: Clock }): Promise<LiveResult> {
  const malformed: LiveResult['malformed'] = [];
  const valid: { messageId: string; deltas: CounterDelta[]; redelivered: boolean }[] = [];
  for (const record of records) {
    try {
      valid.push({ messageId: record.messageId, deltas: decodeLiveDeltas(record.body), redelivered: record.receiveCount > 1 });
    } catch (error) {
      malformed.push({ messageId: record.messageId, reason: (error as Error).message });
    }
  }
  const failedMessageIds = malformed.map((m) => m.messageId);
  if (!valid.length) return { failedMessageIds, applied: 0, items: 0, malformed };
  try {
    const driftHours = new Set<number>();
    for (const m of valid) if (m.redelivered) for (const d of m.deltas) if (d.granularity === 'm') driftHours.add(Math.floor(d.bucket / 3600) * 3600);
    if (driftHours.size) await markDrifted(deps.counters, [...driftHours], deps.clock.now());
    const merged = mergeDeltas(valid.flatMap((m) => m.deltas));
    await deps.counters.add(merged);
    return { failedMessageIds, applied: valid.length, items: merged.length, malformed };
  } catch (error) {
    return { failedMessageIds: [...failedMessageIds, ...valid.map((m) => m.messageId)], applied: 0, items: 0, malformed, error };
  }
}
