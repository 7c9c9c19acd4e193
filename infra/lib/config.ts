import type { Node } from 'constructs';

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
  /** Seconds a completed job's result is reused for an identical request (api and jobs function). Context `jobResultTtlSeconds`. */
  readonly jobResultTtlSeconds: number;
}

export const DEFAULT_RELAY_URLS = ['wss://relay.damus.io', 'wss://nos.lol'];
export const DEFAULT_CORS_ORIGINS = ['*'];
export const DEFAULT_GLUE_DATABASE = 'funnel';
export const DEFAULT_ATHENA_WORKGROUP = 'funnel';
/** 10 GiB: about 70 million events' worth of every fact column (see docs/athena.md), about $0.05 per query. */
export const DEFAULT_ATHENA_BYTES_SCANNED_CUTOFF = 10 * 1024 ** 3;
/** Athena's lower bound for BytesScannedCutoffPerQuery (10 MB). */
export const MIN_ATHENA_BYTES_SCANNED_CUTOFF = 10_000_000;
export const DEFAULT_ATHENA_RESULTS_EXPIRY_DAYS = 7;
export const DEFAULT_JOB_RESULT_TTL_SECONDS = 3600;

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

export function readConfig(node: Node): FunnelConfig {
  const relayUrls = list(node.tryGetContext('relayUrls'), DEFAULT_RELAY_URLS);
  for (const url of relayUrls) {
    if (!/^wss?:\/\//.test(url)) throw new Error(`context relayUrls: not a ws:// or wss:// URL: ${url}`);
  }
  const alarmEmail = String(node.tryGetContext('alarmEmail') ?? '').trim();
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
  };
}
