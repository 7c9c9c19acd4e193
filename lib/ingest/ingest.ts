import { createHash } from 'node:crypto';
import type { Clock, CounterStore, MetricsSink, ObjectStore, QueueRecord } from '../ports.js';
import { nostrEventSchema, type NostrEvent } from '../nostr/event.js';
import { indexRecords } from '../counters/event-index.js';
import { appEventSchema, appFact } from '../app/events.js';
import type { EventVerifier } from '../nostr/verify.js';
import { normalise } from '../nostr/normalise.js';
import type { Fact } from '../facts/schema.js';
import { encodeFacts } from '../facts/parquet.js';
import { partitionOf, partitionPrefix } from '../facts/partition.js';
import { DeltaRollup } from '../counters/rollup.js';
import { ingestMessageSchema, MAX_EVENT_BYTES } from './message.js';
import { markDirty, recordIngestHeartbeat } from '../counters/state.js';
import { METRIC } from '../metrics/names.js';

export interface IngestDeps {
  objects: ObjectStore;
  counters: CounterStore;
  verify: EventVerifier;
  clock: Clock;
  metrics: MetricsSink;
  minuteTtlSeconds: number;
}

export type RejectReason = 'malformed_message' | 'invalid_shape' | 'oversized' | 'bad_id' | 'bad_sig';

export interface IngestResult {
  /** messages to hand back to the queue (redelivered, then dead-lettered) */
  failedMessageIds: string[];
  accepted: number;
  duplicatesInBatch: number;
  rejected: Partial<Record<RejectReason, number>>;
  objectKeys: string[];
}

/**
 * One queue batch → validated, verified, normalised facts (one Parquet object per hour partition
 * touched) + pre-aggregated live minute counters. Bad events are counted and dropped; a message
 * that is not an ingest message at all fails alone and is dead-lettered after its retries.
 */
export async function ingestBatch(records: QueueRecord[], deps: IngestDeps): Promise<IngestResult> {
  const nowMs = deps.clock.now();
  const nowSeconds = Math.floor(nowMs / 1000);
  const rollup = new DeltaRollup({ minuteTtlSeconds: deps.minuteTtlSeconds });
  const rejected: IngestResult['rejected'] = {};
  const failedMessageIds: string[] = [];
  const okMessageIds: string[] = [];
  const facts = new Map<string, Fact>();
  const events = new Map<string, NostrEvent>();
  let duplicatesInBatch = 0;

  const reject = (reason: RejectReason) => {
    rejected[reason] = (rejected[reason] ?? 0) + 1;
    deps.metrics.count(METRIC.eventsRejected, { Reason: reason });
  };

  for (const record of records) {
    let message;
    try {
      message = ingestMessageSchema.safeParse(JSON.parse(record.body));
    } catch {
      message = null;
    }
    if (!message?.success) {
      reject('malformed_message');
      failedMessageIds.push(record.messageId);
      continue;
    }
    okMessageIds.push(record.messageId);
    const relay = message.data.source.startsWith('ws') ? message.data.source : null;
    if (message.data.source === 'app') {
      // First-party events: validated and hashed by the same rules as at the API edge, never signed.
      for (const raw of message.data.events) {
        const parsed = appEventSchema.safeParse(raw);
        if (!parsed.success || !message.data.project) {
          reject('invalid_shape');
          continue;
        }
        const fact = appFact(parsed.data, message.data.project, nowMs);
        if (facts.has(fact.event_id)) {
          duplicatesInBatch++;
          continue;
        }
        facts.set(fact.event_id, fact);
        deps.metrics.count(METRIC.eventsAccepted, { Kind: 'app' });
      }
      continue;
    }
    for (const raw of message.data.events) {
      const parsed = nostrEventSchema.safeParse(raw);
      if (!parsed.success) {
        reject('invalid_shape');
        continue;
      }
      const event = parsed.data;
      if (event.content.length > MAX_EVENT_BYTES || JSON.stringify(event.tags).length > MAX_EVENT_BYTES) {
        reject('oversized');
        continue;
      }
      if (facts.has(event.id)) {
        duplicatesInBatch++;
        continue;
      }
      const failure = deps.verify(event);
      if (failure) {
        reject(failure);
        continue;
      }
      const fact = normalise(event, { relay, ingestedAt: nowMs });
      facts.set(event.id, fact);
      if (event.kind === 5) events.set(event.id, event);
      deps.metrics.count(METRIC.eventsAccepted, { Kind: String(event.kind) });
    }
  }

  for (const [reason, n] of Object.entries(rejected)) rollup.addRejection(reason, nowSeconds, n);
  for (const fact of facts.values()) rollup.addFact(fact);

  // A deterministic object name per (hour, message set): a redelivered identical batch overwrites
  // its own object instead of adding a copy.
  const batchId = createHash('sha256').update(okMessageIds.sort().join(',')).digest('hex').slice(0, 20);
  const byHour = new Map<number, Fact[]>();
  for (const fact of facts.values()) {
    const start = partitionOf(fact.created_at).start;
    let list = byHour.get(start);
    if (!list) byHour.set(start, (list = []));
    list.push(fact);
  }

  const objectKeys: string[] = [];
  try {
    await Promise.all(
      [...byHour].map(async ([start, hourFacts]) => {
        const key = `${partitionPrefix(partitionOf(start))}${batchId}.parquet`;
        await deps.objects.put(key, encodeFacts(hourFacts), 'application/vnd.apache.parquet');
        objectKeys.push(key);
      }),
    );
    // Facts first, counters after: if counting fails the batch is redelivered and the facts object is
    // overwritten by name, so facts never go missing behind counters.
    await deps.counters.add(rollup.deltas());
    await deps.counters.putStates(indexRecords(facts.values(), events));
    await markDirty(deps.counters, [...byHour.keys()], nowMs);
    await recordIngestHeartbeat(deps.counters, nowMs, facts.size);
  } catch (error) {
    deps.metrics.count(METRIC.ingestBatchErrors);
    console.error(JSON.stringify({ level: 'error', msg: 'ingest batch failed; returning it to the queue', error: String(error) }));
    return { failedMessageIds: records.map((r) => r.messageId), accepted: 0, duplicatesInBatch, rejected, objectKeys };
  }

  deps.metrics.observe?.(METRIC.batchSize, records.length);
  // Live lag: how long the newest event of the batch took to arrive (a backfill shows its age here).
  if (facts.size) deps.metrics.observe?.(METRIC.ingestLagMs, Math.max(0, nowMs - 1000 * Math.max(...[...facts.values()].map((f) => f.created_at))));
  return { failedMessageIds, accepted: facts.size, duplicatesInBatch, rejected, objectKeys };
}
