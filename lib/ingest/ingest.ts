import { createHash } from 'node:crypto';
import type { Clock, CounterStore, MetricsSink, ObjectStore, QueueRecord } from '../ports.js';
import { nostrEventSchema, type NostrEvent } from '../nostr/event.js';
import { indexRecords, resolveReplyTargets } from '../counters/event-index.js';
import { engagerWrites } from '../counters/engager-lists.js';
import { DEFAULT_RETENTION_DAYS } from '../counters/retention.js';
import { appFact } from '../app/events.js';
import { schemaValidatorsFor, screenAppEvents, type SchemaRejectReason } from '../app/schemas.js';
import { appEventGroups, dimensionValuesFor, type AppEventGroups } from '../app/dimension-values.js';
import type { EventVerifier } from '../nostr/verify.js';
import { EventRejectedError, normalise, type NormaliseRejectReason } from '../nostr/normalise.js';
import type { Fact } from '../facts/schema.js';
import { encodeFacts } from '../facts/parquet.js';
import { createdAtInRange, partitionOf, partitionPrefix } from '../facts/partition.js';
import { DeltaRollup } from '../counters/rollup.js';
import { ingestMessageSchema, MAX_EVENT_BYTES } from './message.js';
import { markDirty, markDrifted, recordIngestHeartbeat } from '../counters/state.js';
import { METRIC } from '../metrics/names.js';
import { createLogger } from '../log.js';

/** Kinds whose events' tags are needed after normalising: deletions (5: their targets), reactions (7: the `k` of a video's like). */
const TAGS_NEEDED: ReadonlySet<number> = new Set([5, 7]);

export interface IngestDeps {
  objects: ObjectStore;
  counters: CounterStore;
  verify: EventVerifier;
  clock: Clock;
  metrics: MetricsSink;
  minuteTtlSeconds: number;
  /**
   * Where the batch's live minute deltas go: the live queue in AWS, whose consumer merges many batches
   * before writing (lib/counters/live-queue.ts); straight into `counters` when absent.
   */
  liveCounters?: Pick<CounterStore, 'add'>;
  /** how long a note's event-index record is kept (retention.ts' noteIndexSeconds; its default when absent) */
  noteIndexTtlSeconds?: number;
  /** how long a live hour item of a per-event or per-address scope is kept (retention.ts' hourSeconds; its default when absent) */
  hourTtlSeconds?: number;
  /** structured error lines (storage faults); the handler passes its correlated logger, the installed log backend (lib/log.ts) otherwise */
  logError?: (msg: string, fields: Record<string, unknown>) => void;
}

/**
 * Why an event (or a message) was not stored; each is counted under its own name (docs/metrics.md).
 * Every one of them belongs to the event alone: none fails its message or its batch.
 */
export type RejectReason =
  | 'malformed_message'
  | 'invalid_shape'
  | 'oversized'
  | 'bad_id'
  | 'bad_sig'
  | 'created_at_out_of_range'
  | 'unprocessable'
  | 'unencodable'
  | SchemaRejectReason
  | Exclude<NormaliseRejectReason, 'oversized'>;

export interface IngestResult {
  /** messages to hand back to the queue (redelivered, then dead-lettered) */
  failedMessageIds: string[];
  /** facts durably stored by this batch (the messages not in failedMessageIds) */
  accepted: number;
  duplicatesInBatch: number;
  rejected: Partial<Record<RejectReason, number>>;
  objectKeys: string[];
}

/** What one queue message contributes: its own facts (first arrival in the batch) and rejections. */
interface MessageFacts {
  messageId: string;
  facts: Fact[];
  /** the events whose tags a later write needs, by id: deletions (their targets) and reactions (NIP-25 `k`: is it a video's like) */
  tagged: Map<string, NostrEvent>;
  rejected: Partial<Record<RejectReason, number>>;
  /** received before: its facts may be counted live already (the compactor rewrites those minutes) */
  redelivered?: boolean;
}

/**
 * One queue batch → validated, verified, normalised facts (one Parquet object per hour partition
 * touched) + pre-aggregated live minute counters.
 *
 * Isolation: everything that can go wrong with one event (shape, size, id, signature, created_at,
 * normalisation, encoding) rejects that event under its reason and nothing else. A message that is not
 * an ingest message at all fails alone (dead-lettered after its retries). A storage fault fails the
 * batch's write; the batch is then stored message by message, so only the messages whose own writes
 * fail go back to the queue.
 *
 * Verification comes before deduplication: an id is only "seen" once an event carrying it verified,
 * so a forged copy earlier in the batch cannot hide the genuine one.
 */
export async function ingestBatch(records: QueueRecord[], deps: IngestDeps): Promise<IngestResult> {
  const nowMs = deps.clock.now();
  const nowSeconds = Math.floor(nowMs / 1000);
  const failedMessageIds: string[] = [];
  const seen = new Set<string>();
  const messages: MessageFacts[] = [];
  const rejectedTotal: IngestResult['rejected'] = {};
  let duplicatesInBatch = 0;

  const countReject = (message: MessageFacts, reason: RejectReason, n = 1) => {
    message.rejected[reason] = (message.rejected[reason] ?? 0) + n;
    rejectedTotal[reason] = (rejectedTotal[reason] ?? 0) + n;
    deps.metrics.count(METRIC.eventsRejected, { Reason: reason }, n);
  };

  const malformed: MessageFacts = { messageId: '', facts: [], tagged: new Map(), rejected: {} };
  for (const record of records) {
    const own: MessageFacts = { messageId: record.messageId, facts: [], tagged: new Map(), rejected: {}, redelivered: record.receiveCount > 1 };
    let message;
    try {
      message = ingestMessageSchema.safeParse(JSON.parse(record.body));
    } catch {
      message = null;
    }
    if (!message?.success) {
      // Counted with the batch's stored rejections (the message itself stores nothing).
      countReject(malformed, 'malformed_message');
      failedMessageIds.push(record.messageId);
      continue;
    }
    const { source, project, events } = message.data;
    // App events are checked by the api's own rules (shape, then the project's registered schema):
    // what the batch needs of the registry is read first (or kept from an earlier batch); a registry
    // that cannot be read fails the message, which is redelivered, rather than storing events unchecked.
    // The groups of a registered type's events (their dimensions' admitted values) are resolved here
    // too, before anything of the message is kept: a store that cannot answer fails the message.
    let screened: Awaited<ReturnType<typeof screenAppEvents>> | null = null;
    /** by the index of the accepted event: undefined for a type with no schema */
    const groups: (AppEventGroups | undefined)[] = [];
    if (source === 'app' && project) {
      try {
        screened = await screenAppEvents(events, project, schemaValidatorsFor(deps.counters, deps.clock));
        const values = dimensionValuesFor(deps.counters, deps.clock);
        for (const [i, event] of screened.accepted.entries()) {
          const version = screened.versions[i];
          groups.push(version ? await appEventGroups(values, project, event, version) : undefined);
        }
      } catch (error) {
        logError(deps, 'the schema registry or the admitted dimension values could not be read; the message will be redelivered', error, { messageId: record.messageId });
        failedMessageIds.push(record.messageId);
        continue;
      }
    }
    messages.push(own);
    const relay = source.startsWith('ws') ? source : null;
    const keep = (fact: Fact) => {
      if (seen.has(fact.event_id)) {
        duplicatesInBatch++;
        return;
      }
      seen.add(fact.event_id);
      own.facts.push(fact);
    };
    if (source === 'app') {
      // First-party events, never signed; an app message without a project has no event to keep.
      if (!screened) countReject(own, 'invalid_shape', events.length);
      for (const { reason } of screened?.rejected ?? []) countReject(own, reason);
      for (const [i, event] of (screened?.accepted ?? []).entries()) {
        const fact = appFact(event, project!, nowMs, groups[i]);
        if (!createdAtInRange(fact.created_at, nowSeconds)) countReject(own, 'created_at_out_of_range');
        else keep(fact);
      }
      continue;
    }
    for (const raw of events) {
      try {
        const parsed = nostrEventSchema.safeParse(raw);
        if (!parsed.success) {
          countReject(own, 'invalid_shape');
          continue;
        }
        const event = parsed.data;
        // Range before signature: far-future spam is cheap to refuse, and partitionOf needs a real date.
        if (!createdAtInRange(event.created_at, nowSeconds)) {
          countReject(own, 'created_at_out_of_range');
          continue;
        }
        if (event.content.length > MAX_EVENT_BYTES || JSON.stringify(event.tags).length > MAX_EVENT_BYTES) {
          countReject(own, 'oversized');
          continue;
        }
        // An id already accepted in this batch was verified; an exact id match means identical content.
        if (seen.has(event.id)) {
          duplicatesInBatch++;
          continue;
        }
        const failure = deps.verify(event);
        if (failure) {
          countReject(own, failure);
          continue;
        }
        const before = own.facts.length;
        keep(normalise(event, { relay, ingestedAt: nowMs }));
        if (TAGS_NEEDED.has(event.kind) && own.facts.length > before) own.tagged.set(event.id, event);
      } catch (error) {
        // A normaliser edge case on one hostile event must not cost its neighbours.
        countReject(own, error instanceof EventRejectedError ? error.reason : 'unprocessable');
      }
    }
  }

  // Before anything is stored, so the facts, the live counters and the index agree on whom a reply answers.
  await resolveReplyTargets(
    messages.flatMap((m) => m.facts),
    deps.counters,
    (error) => logError(deps, 'event index unreadable: replies of this batch stay unresolved until their hour settles', error),
  );
  const encoded = encodeByHour(messages, (message, n) => countReject(message, 'unencodable', n));
  const objectKeys: string[] = [];
  const okIds = messages.map((m) => m.messageId);
  try {
    // A deterministic object name per (hour, message set): a redelivered identical batch overwrites
    // its own object instead of adding a copy.
    objectKeys.push(...(await storeFacts([malformed, ...messages], encoded, batchName(okIds), deps, nowMs)));
  } catch (error) {
    deps.metrics.count(METRIC.ingestBatchErrors);
    deps.metrics.count(METRIC.storageFaults, { Store: storeOf(error) });
    logError(deps, 'ingest batch write failed; storing it message by message', error);
    for (const [i, message] of messages.entries()) {
      try {
        const group = i === 0 ? [malformed, message] : [message];
        objectKeys.push(...(await storeFacts(group, encodeByHour([message], () => {}), batchName([message.messageId]), deps, nowMs)));
      } catch (messageError) {
        deps.metrics.count(METRIC.storageFaults, { Store: storeOf(messageError) });
        logError(deps, 'ingest message write failed; returning it to the queue', messageError, { messageId: message.messageId });
        failedMessageIds.push(message.messageId);
      }
    }
  }

  const failed = new Set(failedMessageIds);
  const stored = messages.filter((m) => !failed.has(m.messageId));
  const accepted = stored.reduce((n, m) => n + m.facts.length, 0);
  // Accepted means stored: counted once the writes went through, by kind.
  const byKind = new Map<string, number>();
  for (const message of stored) for (const fact of message.facts) {
    const kind = fact.source === 'app' ? 'app' : String(fact.kind);
    byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
  }
  for (const [kind, n] of byKind) deps.metrics.count(METRIC.eventsAccepted, { Kind: kind }, n);
  deps.metrics.observe?.(METRIC.batchSize, records.length);
  // Live lag: how long the newest event of the batch took to arrive (a backfill shows its age here).
  let newest = -Infinity;
  for (const message of stored) for (const fact of message.facts) newest = Math.max(newest, fact.created_at);
  if (accepted) deps.metrics.observe?.(METRIC.ingestLagMs, Math.max(0, nowMs - 1000 * newest));
  return { failedMessageIds, accepted, duplicatesInBatch, rejected: rejectedTotal, objectKeys };
}

const batchName = (messageIds: string[]) => createHash('sha256').update([...messageIds].sort().join(',')).digest('hex').slice(0, 20);

/**
 * Parquet bytes per hour partition. An encoding failure is narrowed to the facts that cause it (each
 * encoded alone), which are dropped from their messages and counted; the rest of the hour is kept.
 */
function encodeByHour(messages: MessageFacts[], onUnencodable: (message: MessageFacts, n: number) => void): Map<number, Uint8Array> {
  const byHour = new Map<number, { fact: Fact; message: MessageFacts }[]>();
  for (const message of messages) {
    for (const fact of message.facts) {
      const start = partitionOf(fact.created_at).start;
      let list = byHour.get(start);
      if (!list) byHour.set(start, (list = []));
      list.push({ fact, message });
    }
  }
  const out = new Map<number, Uint8Array>();
  for (const [start, entries] of byHour) {
    try {
      out.set(start, encodeFacts(entries.map((e) => e.fact)));
      continue;
    } catch {
      // fall through: find the culprits
    }
    const good = entries.filter(({ fact, message }) => {
      try {
        encodeFacts([fact]);
        return true;
      } catch {
        message.facts.splice(message.facts.indexOf(fact), 1);
        onUnencodable(message, 1);
        return false;
      }
    });
    if (good.length) out.set(start, encodeFacts(good.map((e) => e.fact)));
  }
  return out;
}

/**
 * The durable writes of a set of messages, in the order that keeps a crash at any point harmless:
 * dirty marks first (so the compactor will look at every hour that may receive facts), then the fact
 * objects, then the live counters, the event index, the engager lists and the heartbeat. A redelivery repeats them all;
 * objects are overwritten by name, live counters may over-count until the hour settles.
 */
async function storeFacts(messages: MessageFacts[], encoded: Map<number, Uint8Array>, name: string, deps: StoreDeps, nowMs: number): Promise<string[]> {
  const nowSeconds = Math.floor(nowMs / 1000);
  const rollup = new DeltaRollup({ minuteTtlSeconds: deps.minuteTtlSeconds, hourTtlSeconds: deps.hourTtlSeconds ?? DEFAULT_RETENTION_DAYS.hour * 86400 });
  const tagged = new Map<string, NostrEvent>();
  let facts = 0;
  for (const message of messages) {
    for (const [reason, n] of Object.entries(message.rejected)) rollup.addRejection(reason, nowSeconds, n);
    for (const fact of message.facts) rollup.addFact(fact);
    for (const [id, event] of message.tagged) tagged.set(id, event);
    facts += message.facts.length;
  }
  const hours = [...encoded.keys()];
  // Marks first (DESIGN §8). A redelivered message may have been counted live before its crash or
  // failure: its hours are marked for a minute rewrite too (every other hour's live minutes count once).
  const redelivered = messages.some((m) => m.redelivered && m.facts.length);
  await inStore('counters', redelivered ? markDrifted(deps.counters, hours, nowMs) : markDirty(deps.counters, hours, nowMs));
  const keys = await inStore(
    'objects',
    Promise.all(
      [...encoded].map(async ([start, bytes]) => {
        const key = `${partitionPrefix(partitionOf(start))}${name}.parquet`;
        await deps.objects.put(key, bytes, 'application/vnd.apache.parquet');
        return key;
      }),
    ),
  );
  await inStore(deps.liveCounters ? 'queue' : 'counters', (deps.liveCounters ?? deps.counters).add(rollup.deltas()));
  const allFacts = messages.flatMap((m) => m.facts);
  await inStore('counters', deps.counters.putStates(indexRecords(allFacts, tagged, deps.noteIndexTtlSeconds ?? DEFAULT_RETENTION_DAYS.noteIndex * 86400)));
  const engagerRows = engagerWrites(allFacts, tagged);
  if (engagerRows.length) {
    const { dropped } = await inStore('counters', deps.counters.addEngagers(engagerRows));
    // A full row (ENGAGER_ROW_MAX_TOKENS) takes no more: counted; the event itself is stored and counted.
    if (dropped) deps.metrics?.count(METRIC.engagerRowsFull, {}, dropped);
  }
  await inStore('counters', recordIngestHeartbeat(deps.counters, nowMs, facts));
  return keys;
}

/** What storing a batch's facts needs: no verifier or clock (they belong to ingestBatch); metrics for the engager rows dropped as full, when given. */
export type StoreDeps = Pick<IngestDeps, 'objects' | 'counters' | 'minuteTtlSeconds' | 'hourTtlSeconds' | 'liveCounters' | 'noteIndexTtlSeconds'> & { metrics?: MetricsSink };

/**
 * The write path below verification, as ingestBatch runs it for a batch that stored in one go: the
 * facts' Parquet objects per hour, dirty marks, live counters, event index and heartbeat, in
 * storeFacts' order. The load bench feeds generated facts through it, since signing and verifying
 * millions of events would take hours. Deduplication is the caller's (ingestBatch does it while
 * verifying); facts that cannot be encoded are dropped, as ingestBatch drops them, and their number returned.
 */
export async function storeNormalisedFacts(
  facts: Fact[],
  tagged: Map<string, NostrEvent>,
  name: string,
  deps: StoreDeps,
  nowMs: number,
): Promise<{ objectKeys: string[]; unencodable: number }> {
  const message: MessageFacts = { messageId: name, facts, tagged, rejected: {} };
  let unencodable = 0;
  const encoded = encodeByHour([message], (_, n) => (unencodable += n));
  return { objectKeys: await storeFacts([message], encoded, name, deps, nowMs), unencodable };
}

/** A write failure, labelled with the store it came from (the StorageFaults metric's Store). */
export class StoreWriteError extends Error {
  constructor(
    readonly store: 'objects' | 'counters' | 'queue',
    readonly cause: unknown,
  ) {
    super(`${store} write failed: ${String((cause as Error)?.message ?? cause)}`);
    this.name = 'StoreWriteError';
  }
}

async function inStore<T>(store: StoreWriteError['store'], write: Promise<T>): Promise<T> {
  try {
    return await write;
  } catch (error) {
    throw new StoreWriteError(store, error);
  }
}

const storeOf = (error: unknown) => (error instanceof StoreWriteError ? error.store : 'counters');

const log = createLogger({ component: 'ingest' });

/** `error` goes to the log as itself: an Error is written with its name, message and stack. */
function logError(deps: IngestDeps, msg: string, error: unknown, fields: Record<string, unknown> = {}): void {
  const record = { ...fields, error };
  if (deps.logError) deps.logError(msg, record);
  else log('error', msg, record);
}
