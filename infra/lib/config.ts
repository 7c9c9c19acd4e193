import type { Node } from 'constructs';
import { DEFAULT_RETENTION_DAYS, type retentionEnvShape } from '../../lib/counters/retention.js';
import { ARCHIVE_ENV_VARIABLE, DEFAULT_ARCHIVE_AFTER_DAYS, MIN_ARCHIVE_AFTER_DAYS } from '../../lib/facts/storage-tiers.js';
import { DEFAULT_JOB_SETTINGS } from '../../lib/jobs/jobs.js';
import { DEFAULT_QUERY_CUTOFF_BYTES } from '../../lib/jobs/plan.js';

/** Deployment settings read from CDK context (`cdk.json` or `-c key=value`). */
export interface FunnelConfig {
  /** Relays the listener subscribes to. Context `relayUrls`: comma-separated string or array. */
  readonly relayUrls: string[];
  /** Origins allowed by the HTTP API's CORS. Context `corsOrigins`: comma-separated or array; `*` for any. */
  readonly corsOrigins: string[];
  /** Listener tasks to run; 0 parks the listener. Context `listenerDesiredCount`. */
  readonly listenerDesiredCount: number;
  /** Email subscribed to the alarm topic, when set. Context `alarmEmail`. */
  readonly alarmEmail?: string;
  /** Glue database holding the `facts` table (lower-case letters, digits, `_`). Context `glueDatabase`. */
  readonly glueDatabase: string;
  /** Athena workgroup for analysts and the jobs function. Context `athenaWorkGroup`. */
  readonly athenaWorkGroup: string;
  /** Per-query cutoff in bytes scanned (Athena cancels the query beyond it; minimum 10 MB). Context `athenaBytesScannedCutoff`. */
  readonly athenaBytesScannedCutoff: number;
  /** Days before Athena query results expire from the results bucket. Context `athenaResultsExpiryDays`. */
  readonly athenaResultsExpiryDays: number;
  /** Seconds a completed job's result is reused for an identical request (the api function). Context `jobResultTtlSeconds`. */
  readonly jobResultTtlSeconds: number;
  /** Jobs one client may start per hour (api env JOB_QUOTA_PER_HOUR). Context `jobQuotaPerHour`. */
  readonly jobQuotaPerHour: number;
  /**
   * Counter retention in days by granularity (DynamoDB TTL), passed to the ingest, compactor, api and
   * jobs functions as MINUTE_TTL_DAYS, HOUR_TTL_DAYS and DAY_TTL_DAYS. Context `minuteTtlDays`,
   * `hourTtlDays`, `dayTtlDays`; minute ≤ hour ≤ day.
   */
  readonly minuteTtlDays: number;
  readonly hourTtlDays: number;
  readonly dayTtlDays: number;
  /** Days the event index keeps a note, reply or comment (NOTE_INDEX_TTL_DAYS); videos are kept. Context `noteIndexTtlDays`. */
  readonly noteIndexTtlDays: number;
  /**
   * Days after it is written that a fact object moves to the archive tier (the facts lifecycle rule, and
   * FACTS_ARCHIVE_AFTER_DAYS of the compactor and jobs functions). Context `factsArchiveAfterDays`;
   * at least 60 (30 in Standard, then 30 in Standard-IA, as S3 requires).
   */
  readonly factsArchiveAfterDays: number;
  /** Messages per ingest invocation at most (SQS event source BatchSize). Context `ingestBatchSize`. */
  readonly ingestBatchSize: number;
  /** Seconds the event source waits to fill a batch (MaximumBatchingWindowInSeconds). Context `ingestBatchWindowSeconds`. */
  readonly ingestBatchWindowSeconds: number;
  /** Requests per second, steady state, on the HTTP API's default stage. Context `apiThrottleRateLimit`. */
  readonly apiThrottleRateLimit: number;
  /** Burst of requests the HTTP API's default stage admits. Context `apiThrottleBurstLimit`. */
  readonly apiThrottleBurstLimit: number;
  /** Put a CloudFront distribution in front of the HTTP API. Context `cloudFront` (`true`/`false`). */
  readonly cloudFront: boolean;
  /** Alarm when the ingest lag (IngestLagMs p90) exceeds this many seconds for 3 periods. Context `ingestLagAlarmSeconds`. */
  readonly ingestLagAlarmSeconds: number;
  /** Alarm when the watermark is this many minutes behind. Context `watermarkStalenessAlarmMinutes`. */
  readonly watermarkStalenessAlarmMinutes: number;
  /** Alarm when a dead-letter queue (ingest or jobs) holds at least this many messages. Context `dlqDepthAlarm`. */
  readonly dlqDepthAlarm: number;
}

export const DEFAULT_RELAY_URLS = ['wss://relay.damus.io', 'wss://nos.lol'];
export const DEFAULT_CORS_ORIGINS = ['*'];
export const DEFAULT_GLUE_DATABASE = 'funnel';
export const DEFAULT_ATHENA_WORKGROUP = 'funnel';
/** lib/jobs/plan.ts' default (10 GiB: about 70 million events' worth of every fact column, see docs/athena.md; about $0.05 per query). */
export const DEFAULT_ATHENA_BYTES_SCANNED_CUTOFF = DEFAULT_QUERY_CUTOFF_BYTES;
/** Athena's lower bound for BytesScannedCutoffPerQuery (10 MB). */
export const MIN_ATHENA_BYTES_SCANNED_CUTOFF = 10_000_000;
export const DEFAULT_ATHENA_RESULTS_EXPIRY_DAYS = 7;
/** lib/jobs/jobs.ts' defaults: the api function's JOB_RESULT_TTL_SECONDS and JOB_QUOTA_PER_HOUR when unset. */
export const DEFAULT_JOB_RESULT_TTL_SECONDS = DEFAULT_JOB_SETTINGS.resultTtlSeconds;
export const DEFAULT_JOB_QUOTA_PER_HOUR = DEFAULT_JOB_SETTINGS.perClientPerHour;
/** Days of minute, hour and day counters and of notes in the event index: lib/counters/retention.ts' defaults. */
export const DEFAULT_MINUTE_TTL_DAYS = DEFAULT_RETENTION_DAYS.minute;
export const DEFAULT_HOUR_TTL_DAYS = DEFAULT_RETENTION_DAYS.hour;
export const DEFAULT_DAY_TTL_DAYS = DEFAULT_RETENTION_DAYS.day;
export const DEFAULT_NOTE_INDEX_TTL_DAYS = DEFAULT_RETENTION_DAYS.noteIndex;
/** lib/facts/storage-tiers.ts' default: the core judges objects by the same age the rule moves them at. */
export const DEFAULT_FACTS_ARCHIVE_AFTER_DAYS = DEFAULT_ARCHIVE_AFTER_DAYS;
export const DEFAULT_INGEST_BATCH_SIZE = 100;
export const DEFAULT_INGEST_BATCH_WINDOW_SECONDS = 5;
export const DEFAULT_API_THROTTLE_RATE_LIMIT = 1000;
export const DEFAULT_API_THROTTLE_BURST_LIMIT = 2000;
export const DEFAULT_INGEST_LAG_ALARM_SECONDS = 300;
export const DEFAULT_WATERMARK_STALENESS_ALARM_MINUTES = 90;
export const DEFAULT_DLQ_DEPTH_ALARM = 1;

/** Every context key the app reads, with its default (docs/deploy.md lists them; test/infra checks both). */
export const CONTEXT_DEFAULTS = {
  relayUrls: DEFAULT_RELAY_URLS.join(','),
  corsOrigins: DEFAULT_CORS_ORIGINS.join(','),
  listenerDesiredCount: 1,
  alarmEmail: '',
  glueDatabase: DEFAULT_GLUE_DATABASE,
  athenaWorkGroup: DEFAULT_ATHENA_WORKGROUP,
  athenaBytesScannedCutoff: DEFAULT_ATHENA_BYTES_SCANNED_CUTOFF,
  athenaResultsExpiryDays: DEFAULT_ATHENA_RESULTS_EXPIRY_DAYS,
  jobResultTtlSeconds: DEFAULT_JOB_RESULT_TTL_SECONDS,
  jobQuotaPerHour: DEFAULT_JOB_QUOTA_PER_HOUR,
  minuteTtlDays: DEFAULT_MINUTE_TTL_DAYS,
  hourTtlDays: DEFAULT_HOUR_TTL_DAYS,
  dayTtlDays: DEFAULT_DAY_TTL_DAYS,
  noteIndexTtlDays: DEFAULT_NOTE_INDEX_TTL_DAYS,
  factsArchiveAfterDays: DEFAULT_FACTS_ARCHIVE_AFTER_DAYS,
  ingestBatchSize: DEFAULT_INGEST_BATCH_SIZE,
  ingestBatchWindowSeconds: DEFAULT_INGEST_BATCH_WINDOW_SECONDS,
  apiThrottleRateLimit: DEFAULT_API_THROTTLE_RATE_LIMIT,
  apiThrottleBurstLimit: DEFAULT_API_THROTTLE_BURST_LIMIT,
  cloudFront: false,
  ingestLagAlarmSeconds: DEFAULT_INGEST_LAG_ALARM_SECONDS,
  watermarkStalenessAlarmMinutes: DEFAULT_WATERMARK_STALENESS_ALARM_MINUTES,
  dlqDepthAlarm: DEFAULT_DLQ_DEPTH_ALARM,
} as const;

function list(value: unknown, fallback: string[]): string[] {
  if (value === undefined || value === null) return fallback;
  const items = (Array.isArray(value) ? value.map(String) : String(value).split(','))
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  return items.length > 0 ? items : fallback;
}

function count(value: unknown, fallback: number, key: string): number {
  if (value === undefined || value === null || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`context ${key} must be a non-negative integer, got ${String(value)}`);
  return n;
}

function name(value: unknown, fallback: string, key: string, pattern: RegExp, rule: string): string {
  const text = value === undefined || value === null ? '' : String(value).trim();
  if (text === '') return fallback;
  if (!pattern.test(text)) throw new Error(`context ${key} must be ${rule}, got ${text}`);
  return text;
}

function atLeast(value: unknown, fallback: number, key: string, min: number): number {
  const n = count(value, fallback, key);
  if (n < min) throw new Error(`context ${key} must be at least ${min}, got ${String(value)}`);
  return n;
}

function between(value: unknown, fallback: number, key: string, min: number, max: number): number {
  const n = atLeast(value, fallback, key, min);
  if (n > max) throw new Error(`context ${key} must be at most ${max}, got ${String(value)}`);
  return n;
}

/** `true`/`false` as a boolean or a string (`-c cloudFront=true` arrives as a string). */
function flag(value: unknown, fallback: boolean, key: string): boolean {
  if (value === undefined || value === null || value === '') return fallback;
  if (value === true || value === false) return value;
  const text = String(value).trim().toLowerCase();
  if (text === 'true') return true;
  if (text === 'false') return false;
  throw new Error(`context ${key} must be true or false, got ${String(value)}`);
}

export function readConfig(node: Node): FunnelConfig {
  const relayUrls = list(node.tryGetContext('relayUrls'), DEFAULT_RELAY_URLS);
  for (const url of relayUrls) {
    if (!/^wss?:\/\//.test(url)) throw new Error(`context relayUrls: not a ws:// or wss:// URL: ${url}`);
  }
  const alarmEmail = String(node.tryGetContext('alarmEmail') ?? '').trim();

  const minuteTtlDays = atLeast(node.tryGetContext('minuteTtlDays'), DEFAULT_MINUTE_TTL_DAYS, 'minuteTtlDays', 1);
  const hourTtlDays = atLeast(node.tryGetContext('hourTtlDays'), DEFAULT_HOUR_TTL_DAYS, 'hourTtlDays', 1);
  const dayTtlDays = atLeast(node.tryGetContext('dayTtlDays'), DEFAULT_DAY_TTL_DAYS, 'dayTtlDays', 1);
  // the window planner reads day buckets for the far past, hours nearer, minutes nearest
  if (!(minuteTtlDays <= hourTtlDays && hourTtlDays <= dayTtlDays)) {
    throw new Error(`context minuteTtlDays ≤ hourTtlDays ≤ dayTtlDays must hold, got ${minuteTtlDays}, ${hourTtlDays}, ${dayTtlDays}`);
  }

  // SQS event source limits: a batching window of 0–300 s; more than 10 messages needs a window of at least 1 s
  const ingestBatchWindowSeconds = between(
    node.tryGetContext('ingestBatchWindowSeconds'),
    DEFAULT_INGEST_BATCH_WINDOW_SECONDS,
    'ingestBatchWindowSeconds',
    0,
    300,
  );
  const ingestBatchSize = between(node.tryGetContext('ingestBatchSize'), DEFAULT_INGEST_BATCH_SIZE, 'ingestBatchSize', 1, 10_000);
  if (ingestBatchSize > 10 && ingestBatchWindowSeconds < 1) {
    throw new Error(`context ingestBatchSize above 10 needs ingestBatchWindowSeconds of at least 1, got ${ingestBatchSize} and ${ingestBatchWindowSeconds}`);
  }

  const apiThrottleRateLimit = atLeast(node.tryGetContext('apiThrottleRateLimit'), DEFAULT_API_THROTTLE_RATE_LIMIT, 'apiThrottleRateLimit', 1);

  return {
    relayUrls,
    corsOrigins: list(node.tryGetContext('corsOrigins'), DEFAULT_CORS_ORIGINS),
    listenerDesiredCount: count(node.tryGetContext('listenerDesiredCount'), 1, 'listenerDesiredCount'),
    ...(alarmEmail ? { alarmEmail } : {}),
    // Athena and Glue (Hive) database names: lower-case letters, digits and underscores
    glueDatabase: name(node.tryGetContext('glueDatabase'), DEFAULT_GLUE_DATABASE, 'glueDatabase', /^[a-z0-9_]{1,255}$/, 'lower-case letters, digits and _'),
    athenaWorkGroup: name(node.tryGetContext('athenaWorkGroup'), DEFAULT_ATHENA_WORKGROUP, 'athenaWorkGroup', /^[a-zA-Z0-9._-]{1,128}$/, 'letters, digits, ., _ and - (up to 128)'),
    athenaBytesScannedCutoff: atLeast(
      node.tryGetContext('athenaBytesScannedCutoff'),
      DEFAULT_ATHENA_BYTES_SCANNED_CUTOFF,
      'athenaBytesScannedCutoff',
      MIN_ATHENA_BYTES_SCANNED_CUTOFF,
    ),
    athenaResultsExpiryDays: atLeast(node.tryGetContext('athenaResultsExpiryDays'), DEFAULT_ATHENA_RESULTS_EXPIRY_DAYS, 'athenaResultsExpiryDays', 1),
    jobResultTtlSeconds: atLeast(node.tryGetContext('jobResultTtlSeconds'), DEFAULT_JOB_RESULT_TTL_SECONDS, 'jobResultTtlSeconds', 60),
    jobQuotaPerHour: atLeast(node.tryGetContext('jobQuotaPerHour'), DEFAULT_JOB_QUOTA_PER_HOUR, 'jobQuotaPerHour', 1),
    minuteTtlDays,
    hourTtlDays,
    dayTtlDays,
    noteIndexTtlDays: atLeast(node.tryGetContext('noteIndexTtlDays'), DEFAULT_NOTE_INDEX_TTL_DAYS, 'noteIndexTtlDays', 1),
    factsArchiveAfterDays: atLeast(node.tryGetContext('factsArchiveAfterDays'), DEFAULT_FACTS_ARCHIVE_AFTER_DAYS, 'factsArchiveAfterDays', MIN_ARCHIVE_AFTER_DAYS),
    ingestBatchSize,
    ingestBatchWindowSeconds,
    apiThrottleRateLimit,
    apiThrottleBurstLimit: atLeast(node.tryGetContext('apiThrottleBurstLimit'), DEFAULT_API_THROTTLE_BURST_LIMIT, 'apiThrottleBurstLimit', 1),
    cloudFront: flag(node.tryGetContext('cloudFront'), false, 'cloudFront'),
    ingestLagAlarmSeconds: atLeast(node.tryGetContext('ingestLagAlarmSeconds'), DEFAULT_INGEST_LAG_ALARM_SECONDS, 'ingestLagAlarmSeconds', 1),
    watermarkStalenessAlarmMinutes: atLeast(
      node.tryGetContext('watermarkStalenessAlarmMinutes'),
      DEFAULT_WATERMARK_STALENESS_ALARM_MINUTES,
      'watermarkStalenessAlarmMinutes',
      1,
    ),
    dlqDepthAlarm: atLeast(node.tryGetContext('dlqDepthAlarm'), DEFAULT_DLQ_DEPTH_ALARM, 'dlqDepthAlarm', 1),
  };
}

/** The counters' retention as the functions read it (lib/counters/retention.ts). */
export function retentionEnvironment(config: Pick<FunnelConfig, 'minuteTtlDays' | 'hourTtlDays' | 'dayTtlDays' | 'noteIndexTtlDays'>): Record<keyof typeof retentionEnvShape, string> {
  return {
    MINUTE_TTL_DAYS: String(config.minuteTtlDays),
    HOUR_TTL_DAYS: String(config.hourTtlDays),
    DAY_TTL_DAYS: String(config.dayTtlDays),
    NOTE_INDEX_TTL_DAYS: String(config.noteIndexTtlDays),
  };
}

/** The facts' archive age as the compactor and jobs functions read it (lib/facts/storage-tiers.ts). */
export function archiveEnvironment(config: Pick<FunnelConfig, 'factsArchiveAfterDays'>): Record<string, string> {
  return { [ARCHIVE_ENV_VARIABLE]: String(config.factsArchiveAfterDays) };
}
