import { createHash } from 'node:crypto';
import type { Clock, CounterStore, MetricsSink, ObjectStore, QueueSender, SqlEngine } from '../ports.js';
import { METRIC } from '../metrics/names.js';
import type { SqlDialect } from './metrics-sql.js';
import { userDailySql, userEngagersSql, userEngagementByHourSql, userTopSql, type TopListQuery } from './user-job-sql.js';
import { USER_METRICS, type UserMetric } from '../counters/contributions.js';
import type { BucketState } from '../counters/aggregate.js';
import type { Drilldown } from '../query/drilldown.js';
import { toTotals } from '../query/summary.js';
import type { Meta } from '../query/window-read.js';
import type { QueryWindow } from '../query/window.js';

/** What a job computes: a user summary or one drill-down, over a window the counters cannot answer. */
export interface JobRequest {
  kind: 'summary' | 'drilldown';
  pubkey: string;
  drilldown?: Drilldown;
  window: QueryWindow;
  tzOffsetMinutes?: number;
  limit?: number;
}

export type JobStatus = 'queued' | 'running' | 'complete' | 'failed';

export interface JobRecord {
  jobId: string;
  status: JobStatus;
  progressPercent: number;
  phase: string;
  /** object key of the result JSON, once complete */
  resultRef: string | null;
  error: string | null;
  request: JobRequest;
  /** the caller that started it, as a CallerIdentity (lib/api/identity.ts): a key hash or an address */
  client: string;
  createdAt: number;
  updatedAt: number;
  completedAt: number | null;
  /** every progress step, so a caller can see the job move even when it runs fast */
  progress: { phase: string; percent: number; at: number }[];
}

export class QuotaExceededError extends Error {
  constructor(
    message: string,
    /** seconds until the quota hour ends */
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

/** Longer than the jobs function's 15-minute timeout. */
const STALE_JOB_MS = 20 * 60_000;

export const jobNamespace = (jobId: string) => `job:${jobId}`;
export const jobResultKey = (jobId: string) => `jobs/${jobId}.json`;
const MAX_CLIENT_CHARS = 64;
/** The client's hourly quota counter: `client` is a bounded CallerIdentity, safe as a key. */
const QUOTA_SCOPE = (client: string) => `quota:${client}`;

/** Identical requests share one job: the id is a hash of the normalised request. */
export function jobIdOf(request: JobRequest): string {
  const canonical = JSON.stringify([
    request.kind,
    request.pubkey,
    request.drilldown ?? null,
    request.window.startTs,
    request.window.endTs,
    request.tzOffsetMinutes ?? 0,
    request.limit ?? 10,
  ]);
  return createHash('sha256').update(canonical).digest('hex').slice(0, 32);
}

export interface JobSettings {
  /** how long a completed result is reused for identical requests */
  resultTtlSeconds: number;
  /** jobs one client may start per hour */
  perClientPerHour: number;
}

export function jobSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): JobSettings {
  const positive = (name: string, fallback: number) => {
    const value = env[name] === undefined || env[name] === '' ? fallback : Number(env[name]);
    if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got ${env[name]}`);
    return value;
  };
  return { resultTtlSeconds: positive('JOB_RESULT_TTL_SECONDS', 3600), perClientPerHour: positive('JOB_QUOTA_PER_HOUR', 20) };
}

export async function readJob(counters: CounterStore, jobId: string): Promise<JobRecord | null> {
  return (await counters.getState(jobNamespace(jobId), 0)) as unknown as JobRecord | null;
}

async function writeJob(counters: CounterStore, record: JobRecord): Promise<void> {
  await counters.putState(jobNamespace(record.jobId), 0, record as unknown as Record<string, unknown>);
}

/**
 * Starts (or joins) a job. A queued or running job with the same request is shared; a completed one
 * is reused while its result is fresh; otherwise the client's hourly quota is charged and the job queued.
 * `client` is the caller's identity (lib/api/identity.ts); it is stored in the job record and the quota key.
 */
export async function submitJob(
  request: JobRequest,
  client: string,
  deps: { counters: CounterStore; jobsQueue: QueueSender; clock: Clock; settings: JobSettings },
): Promise<JobRecord> {
  // a raw header or key here would land in a DynamoDB key and the job record: only identities fit
  if (client.length === 0 || client.length > MAX_CLIENT_CHARS) throw new Error(`job client must be a caller identity of 1–${MAX_CLIENT_CHARS} characters`);
  const jobId = jobIdOf(request);
  const now = deps.clock.now();
  const existing = await readJob(deps.counters, jobId);
  // A job that has not moved for longer than a run may take lost its message (a restarted local stack,
  // a purged queue): it is queued again rather than shared forever.
  const active = existing && (existing.status === 'queued' || existing.status === 'running') && now - existing.updatedAt < STALE_JOB_MS;
  if (active) return existing;
  if (existing?.status === 'complete' && existing.completedAt !== null && now - existing.completedAt < deps.settings.resultTtlSeconds * 1000) return existing;

  // ADD on an hourly counter item is atomic, so concurrent submissions cannot both slip under the quota.
  const hour = Math.floor(now / 3_600_000) * 3600;
  await deps.counters.add([{ scope: QUOTA_SCOPE(client), granularity: 'h', bucket: hour, add: { jobs: 1 }, expiresAt: hour + 7200 }]);
  const [usage] = await deps.counters.range(QUOTA_SCOPE(client), 'h', hour, hour);
  if ((usage?.values.jobs ?? 0) > deps.settings.perClientPerHour) {
    const retryAfterSeconds = Math.max(1, hour + 3600 - Math.floor(now / 1000));
    throw new QuotaExceededError(`job quota reached: ${deps.settings.perClientPerHour} jobs per hour per client; try again after ${new Date((hour + 3600) * 1000).toISOString()}`, retryAfterSeconds);
  }

  const record: JobRecord = {
    jobId,
    status: 'queued',
    progressPercent: 0,
    phase: 'queued',
    resultRef: null,
    error: null,
    request,
    client,
    createdAt: now,
    updatedAt: now,
    completedAt: null,
    progress: [{ phase: 'queued', percent: 0, at: now }],
  };
  await writeJob(deps.counters, record);
  const { failed } = await deps.jobsQueue.sendBatch([JSON.stringify({ jobId })]);
  if (failed.length) throw new Error('the jobs queue did not accept the job; try again');
  return record;
}

export interface RunJobDeps {
  counters: CounterStore;
  objects: ObjectStore;
  sql: SqlEngine;
  /** the facts table as the engine names it */
  relation: string;
  dialect: SqlDialect;
  clock: Clock;
  metrics?: MetricsSink;
}

const DAY = 86400;
/** Days per scan: each chunk is one query, so progress moves and a failure costs one chunk. */
const CHUNK_DAYS = 31;

/** Runs a queued job to completion (or failure), recording progress as it goes. Idempotent per job. */
export async function runJob(jobId: string, deps: RunJobDeps): Promise<JobRecord> {
  const record = await readJob(deps.counters, jobId);
  if (!record) throw new Error(`no job ${jobId}`);
  if (record.status === 'complete') return record;
  const step = async (phase: string, percent: number, patch: Partial<JobRecord> = {}) => {
    const at = deps.clock.now();
    Object.assign(record, { phase, progressPercent: percent, updatedAt: at, ...patch });
    record.progress = [...record.progress, { phase, percent, at }];
    await writeJob(deps.counters, record);
  };
  const started = deps.clock.now();
  const scannedBefore = deps.sql.bytesScanned?.() ?? 0;
  try {
    await step('planning', 5, { status: 'running', error: null });
    const result = await computeJob(record.request, deps, step);
    await step('writing result', 95);
    const resultRef = jobResultKey(jobId);
    await deps.objects.put(resultRef, JSON.stringify(result), 'application/json');
    await step('complete', 100, { status: 'complete', resultRef, completedAt: deps.clock.now() });
  } catch (error) {
    await step('failed', record.progressPercent, { status: 'failed', error: (error as Error).message });
  }
  deps.metrics?.observe?.(METRIC.jobDurationMs, deps.clock.now() - started, { Status: record.status });
  if (deps.sql.bytesScanned) deps.metrics?.observe?.(METRIC.jobBytesScanned, deps.sql.bytesScanned() - scannedBefore);
  return record;
}

type Step = (phase: string, percent: number) => Promise<void>;

async function computeJob(request: JobRequest, deps: RunJobDeps, step: Step): Promise<unknown> {
  const { window, pubkey } = request;
  const meta: Meta = {
    window: { type: window.type, startTs: window.startTs, endTs: window.endTs, ...(window.interval ? { interval: window.interval } : {}) },
    freshness: { snapshotAsOf: null, deltaAsOf: null, stalenessMs: null, isPartial: false },
    source: 'fallback',
    partialReason: null,
    plan: { maxItems: 0, itemsRead: 0, segments: [] },
  };
  const limit = request.limit ?? (request.kind === 'summary' ? 5 : 10);
  const top = async (list: TopListQuery, n: number) =>
    (await deps.sql.query(userTopSql(deps.relation, window, deps.dialect, pubkey, list, n))).map((r) => [String(r.item), Number(r.amount)] as const);

  if (request.kind === 'drilldown' && (request.drilldown === 'best-hours' || request.drilldown === 'best-days')) {
    await step('scanning engagement by hour', 30);
    const tz = request.tzOffsetMinutes ?? 0;
    const rows = await deps.sql.query(userEngagementByHourSql(deps.relation, window, deps.dialect, pubkey, tz));
    const byHour = Array.from({ length: 24 }, (_, hour) => ({ hour, engagement: 0 }));
    const names = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
    const byDay = names.map((day, index) => ({ day, index, engagement: 0 }));
    for (const row of rows) {
      byHour[(Number(row.hour_of_day) + 24) % 24]!.engagement += Number(row.engagement);
      byDay[(Number(row.weekday) + 7) % 7]!.engagement += Number(row.engagement);
    }
    const tzMeta = { ...meta, tzOffsetMinutes: tz };
    if (request.drilldown === 'best-hours') {
      const best = [...byHour].sort((a, b) => b.engagement - a.engagement || a.hour - b.hour).filter((h) => h.engagement > 0).slice(0, 3).map((h) => h.hour);
      return { data: { hours: byHour, best }, meta: tzMeta };
    }
    const best = [...byDay].sort((a, b) => b.engagement - a.engagement || a.index - b.index).filter((d) => d.engagement > 0).slice(0, 3).map((d) => d.day);
    return { data: { days: byDay, best }, meta: tzMeta };
  }

  if (request.kind === 'drilldown' && request.drilldown !== 'timeline') {
    await step(`scanning ${request.drilldown}`, 30);
    if (request.drilldown === 'top-posts') return { data: (await top('top_posts', limit)).map(([id, engagement]) => ({ id, engagement })), meta };
    if (request.drilldown === 'top-hashtags') return { data: (await top('top_tags', limit)).map(([tag, count]) => ({ tag, count })), meta };
    return { data: (await top('top_zappers', limit)).map(([pk, msats]) => ({ pubkey: pk, sats: Math.floor(msats / 1000) })), meta };
  }

  // Summary and timeline: scan in chunks of days, so progress moves and each query stays bounded.
  const chunks: { startTs: number; endTs: number }[] = [];
  for (let start = window.startTs; start < window.endTs; ) {
    const end = Math.min(window.endTs, (Math.floor(start / DAY) + CHUNK_DAYS) * DAY);
    chunks.push({ startTs: start, endTs: end });
    start = end;
  }
  const days = new Map<number, Record<UserMetric, number>>();
  for (let ts = Math.floor(window.startTs / DAY) * DAY; ts < window.endTs; ts += DAY) {
    days.set(ts, Object.fromEntries(USER_METRICS.map((m) => [m, 0])) as Record<UserMetric, number>);
  }
  for (const [i, chunk] of chunks.entries()) {
    await step(`scanning ${new Date(chunk.startTs * 1000).toISOString().slice(0, 10)}..${new Date((chunk.endTs - 1) * 1000).toISOString().slice(0, 10)}`, Math.round(10 + (70 * i) / chunks.length));
    for (const row of await deps.sql.query(userDailySql(deps.relation, chunk, deps.dialect, pubkey))) {
      const point = days.get(Number(row.day));
      if (point) for (const metric of USER_METRICS) point[metric] += Number(row[metric] ?? 0);
    }
  }
  const stateOf = (values: Record<string, number>): BucketState => ({ values, sets: {}, tops: {} });
  const totalsValues = Object.fromEntries(USER_METRICS.map((m) => [m, 0])) as Record<UserMetric, number>;
  for (const point of days.values()) for (const metric of USER_METRICS) totalsValues[metric] += point[metric];
  const timeline = [...days].map(([ts, values]) => {
    const { uniqueEngagers: _omit, ...totals } = toTotals(stateOf(values));
    return { ts, ...totals };
  });
  if (request.kind === 'drilldown') {
    return { data: [...days].map(([ts, values]) => ({ ts, ...toTotals(stateOf(values)) })), meta };
  }

  await step('counting distinct engagers', 82);
  const [engagers] = await deps.sql.query(userEngagersSql(deps.relation, window, deps.dialect, pubkey));
  await step('ranking drill-downs', 88);
  const [posts, tags, zappers] = [await top('top_posts', limit), await top('top_tags', limit), await top('top_zappers', limit)];
  return {
    data: { pubkey, totals: { ...toTotals(stateOf(totalsValues)), uniqueEngagers: Number(engagers?.engagers ?? 0) }, timeline },
    drilldowns: {
      topPosts: posts.map(([id, engagement]) => ({ id, engagement })),
      topHashtags: tags.map(([tag, count]) => ({ tag, count })),
      topZappers: zappers.map(([pk, msats]) => ({ pubkey: pk, sats: Math.floor(msats / 1000) })),
    },
    meta,
  };
}
