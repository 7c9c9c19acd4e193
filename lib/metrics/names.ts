/**
 * The metric catalogue: every operational metric's name, unit and dimensions, defined here once. Both
 * outputs take their names from it: CloudWatch embedded metric format in AWS (namespace `Funnel`, via
 * Powertools Metrics, lib/adapters/aws/powertools.ts) and Prometheus text at GET /metrics on the local
 * stack (`funnel_<snake_case>`, lib/metrics/registry.ts). Every emitter passes `METRIC.<key>`, and the CDK
 * dashboard and alarms (infra/lib/ops.ts) refer to these names and dimension sets only.
 */
export const METRICS_NAMESPACE = 'Funnel';

/** The CloudWatch units the catalogue uses (a subset of Powertools' MetricUnit, same strings). */
export type MetricUnit = 'Count' | 'Milliseconds' | 'Bytes';

export interface MetricDefinition {
  /** the CloudWatch metric name (PascalCase); Prometheus renders it snake_case */
  readonly name: string;
  readonly unit: MetricUnit;
  /** the one dimension set it is emitted with: a metric emitted with other dimensions is another CloudWatch metric */
  readonly dimensions: readonly string[];
}

const counter = <const N extends string, const D extends readonly string[] = []>(name: N, dimensions?: D) =>
  ({ name, unit: 'Count', dimensions: dimensions ?? ([] as unknown as D) }) as const;
const ms = <const N extends string, const D extends readonly string[] = []>(name: N, dimensions?: D) =>
  ({ name, unit: 'Milliseconds', dimensions: dimensions ?? ([] as unknown as D) }) as const;

export const METRICS = {
  /** events accepted by ingest; dimension Kind */
  eventsAccepted: counter('EventsAccepted', ['Kind']),
  /** events or messages refused; dimension Reason */
  eventsRejected: counter('EventsRejected', ['Reason']),
  /** ingest batches that failed as a whole (returned to the queue) */
  ingestBatchErrors: counter('IngestBatchErrors'),
  /** messages per ingest batch */
  batchSize: counter('BatchSize'),
  /** ms from an event's created_at to its ingestion (newest event of the batch: live lag) */
  ingestLagMs: ms('IngestLagMs'),
  /** live minute items written per live-queue batch (one UpdateItem each), and the events' deltas merged into them */
  liveItemsWritten: counter('LiveItemsWritten'),
  liveMessagesApplied: counter('LiveMessagesApplied'),
  /** live-queue messages that failed (malformed: dead-lettered after retries; a failed add: redelivered) */
  liveMessageErrors: counter('LiveMessageErrors'),
  /** ms one compactor run took */
  compactionDurationMs: ms('CompactionDurationMs'),
  /** ms between now and the watermark after a compactor run */
  watermarkStalenessMs: ms('WatermarkStalenessMs'),
  /** ms per API request; dimension Route */
  queryLatencyMs: ms('QueryLatencyMs', ['Route']),
  /** API cache hits and misses (hit ratio = hits / (hits + misses)) */
  cacheHits: counter('CacheHits'),
  cacheMisses: counter('CacheMisses'),
  /** reads answered from the last good copy, marked stale, because a store did not answer (counted instead of a hit or a miss) */
  staleAnswers: counter('StaleAnswers'),
  /** ms a job took (dimension Status: complete|failed), and bytes it scanned */
  jobDurationMs: ms('JobDurationMs', ['Status']),
  jobBytesScanned: { name: 'JobBytesScanned', unit: 'Bytes', dimensions: [] },
  /** storage operations that failed (disk full, store errors); dimension Store (counters|objects|queue) */
  storageFaults: counter('StorageFaults', ['Store']),
  /** fact objects that could not be decoded and were moved under quarantine/ */
  objectsQuarantined: counter('ObjectsQuarantined'),
  /** dirty hours and days closed because their facts may be archived (their late events stored, not counted); dimension Granularity (h|d) */
  archivedBucketsClosed: counter('ArchivedBucketsClosed', ['Granularity']),
  /** engager-row writes dropped because the row holds ENGAGER_ROW_MAX_TOKENS already (a zapper's 1,001st zap of one event) */
  engagerRowsFull: counter('EngagerRowsFull'),
  /** API requests refused by the per-caller limit (429); dimension Route */
  requestsRateLimited: counter('RequestsRateLimited', ['Route']),
  /** the relay listener (lib/listener): events taken into its buffer (new, shape-checked, not seen before) */
  listenerEventsReceived: counter('ListenerEventsReceived'),
  /** frames and events it dropped; dimension Reason (non_json, invalid_frame, oversized, duplicate, backpressure) */
  listenerRejected: counter('ListenerRejected', ['Reason']),
  /** queue messages it sent, and sends retried after the queue refused them */
  listenerMessagesSent: counter('ListenerMessagesSent'),
  listenerSendRetries: counter('ListenerSendRetries'),
  /** relay reconnects, NOTICE/CLOSED lines received, catch-up pages asked for, and pages all of one second stepped below */
  listenerReconnects: counter('ListenerReconnects'),
  listenerRelayNotices: counter('ListenerRelayNotices'),
  listenerCatchUpPages: counter('ListenerCatchUpPages'),
  listenerCatchUpSecondSteps: counter('ListenerCatchUpSecondSteps'),
} as const satisfies Record<string, MetricDefinition>;

export type MetricKey = keyof typeof METRICS;
export type MetricName = (typeof METRICS)[MetricKey]['name'];

/** `METRIC.eventsAccepted` is `'EventsAccepted'`: what emitters pass to a MetricsSink. */
export const METRIC = Object.fromEntries(Object.entries(METRICS).map(([key, def]) => [key, def.name])) as { readonly [K in MetricKey]: (typeof METRICS)[K]['name'] };

const BY_NAME = new Map<string, MetricDefinition>(Object.values(METRICS).map((def) => [def.name, def]));

/** The catalogue entry of a metric name (undefined for a name not in the catalogue). */
export function metricDefinition(name: string): MetricDefinition | undefined {
  return BY_NAME.get(name);
}

export function isMetricName(name: string): name is MetricName {
  return BY_NAME.has(name);
}
