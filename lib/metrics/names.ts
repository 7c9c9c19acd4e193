/**
 * The operational metrics, one list for both outputs: CloudWatch embedded metric format in AWS (namespace
 * `Funnel`) and Prometheus text at GET /metrics on the local stack (`funnel_<snake_case>`). The CDK
 * dashboard and alarms refer to these names.
 */
export const METRICS_NAMESPACE = 'Funnel';

export const METRIC = {
  /** events accepted by ingest; dimension Kind */
  eventsAccepted: 'EventsAccepted',
  /** events or messages refused; dimension Reason */
  eventsRejected: 'EventsRejected',
  /** ingest batches that failed as a whole (returned to the queue) */
  ingestBatchErrors: 'IngestBatchErrors',
  /** messages per ingest batch */
  batchSize: 'BatchSize',
  /** ms from an event's created_at to its ingestion (newest event of the batch: live lag) */
  ingestLagMs: 'IngestLagMs',
  /** live minute items written per live-queue batch (one UpdateItem each), and the events' deltas merged into them */
  liveItemsWritten: 'LiveItemsWritten',
  liveMessagesApplied: 'LiveMessagesApplied',
  /** live-queue messages that failed (malformed: dead-lettered after retries; a failed add: redelivered) */
  liveMessageErrors: 'LiveMessageErrors',
  /** ms one compactor run took */
  compactionDurationMs: 'CompactionDurationMs',
  /** ms between now and the watermark after a compactor run */
  watermarkStalenessMs: 'WatermarkStalenessMs',
  /** ms per API request; dimension Route */
  queryLatencyMs: 'QueryLatencyMs',
  /** API cache hits and misses (hit ratio = hits / (hits + misses)) */
  cacheHits: 'CacheHits',
  cacheMisses: 'CacheMisses',
  /** reads answered from the last good copy, marked stale, because a store did not answer (counted instead of a hit or a miss) */
  staleAnswers: 'StaleAnswers',
  /** ms a job took, and bytes it scanned */
  jobDurationMs: 'JobDurationMs',
  jobBytesScanned: 'JobBytesScanned',
  /** storage operations that failed (disk full, store errors); dimension Store (counters|objects|queue) */
  storageFaults: 'StorageFaults',
  /** fact objects that could not be decoded and were moved under quarantine/ */
  objectsQuarantined: 'ObjectsQuarantined',
  /** dirty hours and days closed because their facts may be archived (their late events stored, not counted); dimension Granularity (h|d) */
  archivedBucketsClosed: 'ArchivedBucketsClosed',
  /** engager-row writes dropped because the row holds ENGAGER_ROW_MAX_TOKENS already (a zapper's 1,001st zap of one event) */
  engagerRowsFull: 'EngagerRowsFull',
  /** API requests refused by the per-caller limit (429); dimension Route */
  requestsRateLimited: 'RequestsRateLimited',
} as const;
export type MetricName = (typeof METRIC)[keyof typeof METRIC];
