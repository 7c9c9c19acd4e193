import { parseVariables, positiveVariable, type Environment } from '../util/env.js';
import { createHash } from 'node:crypto';
import { QueryStoppedError, type Clock, type CounterStore, type MetricsSink, type ObjectStore, type QueueSender, type SqlEngine } from '../ports.js';
import { METRIC } from '../metrics/names.js';
import type { SqlDialect } from './metrics-sql.js';
import type { Drilldown } from '../query/drilldown.js';
import type { Meta } from '../query/window-read.js';
import type { QueryWindow } from '../query/window.js';
import { JobMerge, partData, partLabel, partSql, type PartData, type PartName } from './parts.js';
import { EventTypeJobMerge, eventTypeCells, type EventTypeJobRequest } from './event-type-job.js';
import { archivedPartialReason, DEFAULT_JOB_MAX_SCAN_BYTES, DEFAULT_QUERY_CUTOFF_BYTES, JobError, planJob, type ArchivedSpan, type JobLimits, type JobPlan } from './plan.js';
import { athenaQueryCostUsd, formatBytes, listFactsByHour, prunedBytes, prunedHours, scanFraction } from './scan.js';
import { DEFAULT_ARCHIVE_POLICY, mayBeArchived, type ArchivePolicy } from '../facts/storage-tiers.js';
import { forEachLimited } from '../util/concurrency.js';

/** What a job computes, over a window the counters cannot answer: a user summary or one drill-down, or an app event type's metric. */
export type JobRequest = UserJobRequest | EventTypeJobRequest;

export interface UserJobRequest {
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
  /** the latest progress steps (at most MAX_PROGRESS_ENTRIES), so a caller can see the job move even when it runs fast */
  progress: { phase: string; percent: number; at: number }[];
  /** how the window is chunked, once the first step has planned it (absent on records from before chunking) */
  plan?: JobPlan | null;
  /** the first step not yet done: where a redelivered or resumed job carries on */
  nextStep?: number;
  scan?: JobScan | null;
}

/** What a job reads and what that costs, reported on the job as it runs. */
export interface JobScan {
  /** what all its steps are expected to scan (partition sizes × the share of columns each reads); null when the store cannot list sizes */
  expectedBytes: number | null;
  /** bytes scanned by the steps done so far */
  bytesScanned: number;
  /** `engine`: as Athena reported them; `estimate`: the steps' expected bytes (DuckDB reports none); `none`: neither is known */
  bytesScannedSource: 'engine' | 'estimate' | 'none';
  /** queries run: every part of the job, once per chunk */
  queries: number;
  /** what Athena bills for those queries (ATHENA_USD_PER_TB, at least 10 MB a query); an estimate when the bytes are */
  costUsd: number;
  /** the per-query cutoff no step may be expected over */
  cutoffBytes: number;
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

/** Longer than the jobs function's 15-minute timeout, so longer than any one step: a job this still has lost its message. */
const STALE_JOB_MS = 20 * 60_000;

export const jobNamespace = (jobId: string) => `job:${jobId}`;
export const jobResultKey = (jobId: string) => `jobs/${jobId}.json`;
/** A step's partial result, under its plan's id so a later run of the same job never reads it. */
export const jobPartialKey = (jobId: string, planId: string, step: number) => `jobs/${jobId}/${planId}/${String(step).padStart(5, '0')}.json`;
const MAX_CLIENT_CHARS = 64;
/** The client's hourly quota counter: `client` is a bounded CallerIdentity, safe as a key. */
const QUOTA_SCOPE = (client: string) => `quota:${client}`;

/** Identical requests share one job: the id is a hash of the normalised request. */
export function jobIdOf(request: JobRequest): string {
  const canonical = JSON.stringify(request.kind === 'event_type' ? eventTypeJobKey(request) : [
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

/** An event type's job is the project's: its id names the project, so two projects never share one. */
const eventTypeJobKey = (r: EventTypeJobRequest) => [r.kind, r.project, r.eventType, r.agg, r.property ?? null, r.groupBy, r.window.startTs, r.window.endTs];

export interface JobSettings {
  /** how long a completed result is reused for identical requests */
  resultTtlSeconds: number;
  /** jobs one client may start per hour */
  perClientPerHour: number;
}

/** An hour's reuse of a result, and 20 jobs per client per hour. */
export const DEFAULT_JOB_SETTINGS: JobSettings = { resultTtlSeconds: 3600, perClientPerHour: 20 };

const positive = (fallback: number) => positiveVariable(fallback);

/** JOB_RESULT_TTL_SECONDS and JOB_QUOTA_PER_HOUR (defaults DEFAULT_JOB_SETTINGS). */
export const jobSettingsEnvShape = { JOB_RESULT_TTL_SECONDS: positive(DEFAULT_JOB_SETTINGS.resultTtlSeconds), JOB_QUOTA_PER_HOUR: positive(DEFAULT_JOB_SETTINGS.perClientPerHour) };
/** The jobs function's limits, in bytes: ATHENA_BYTES_SCANNED_CUTOFF (the workgroup's cutoff, set by infra/lib/jobs.ts) and JOB_MAX_SCAN_BYTES (see DEFAULT_JOB_LIMITS). */
export const jobLimitsEnvShape = { ATHENA_BYTES_SCANNED_CUTOFF: positive(DEFAULT_QUERY_CUTOFF_BYTES), JOB_MAX_SCAN_BYTES: positive(DEFAULT_JOB_MAX_SCAN_BYTES) };

/** Parsed job settings variables (jobSettingsEnvShape) as JobSettings. */
export const jobSettingsOf = (env: { JOB_RESULT_TTL_SECONDS: number; JOB_QUOTA_PER_HOUR: number }): JobSettings => ({ resultTtlSeconds: env.JOB_RESULT_TTL_SECONDS, perClientPerHour: env.JOB_QUOTA_PER_HOUR });
/** Parsed job limits variables (jobLimitsEnvShape) as JobLimits. */
export const jobLimitsOf = (env: { ATHENA_BYTES_SCANNED_CUTOFF: number; JOB_MAX_SCAN_BYTES: number }): JobLimits => ({ cutoffBytes: env.ATHENA_BYTES_SCANNED_CUTOFF, maxJobBytes: env.JOB_MAX_SCAN_BYTES });

/** The job settings `env` configures; a bad value throws, naming it. */
export function jobSettingsFromEnv(env: Environment): JobSettings {
  return jobSettingsOf(parseVariables(jobSettingsEnvShape, env));
}

/** The limits with nothing configured: the workgroup's default cutoff and a 1 TB job budget. */
export const DEFAULT_JOB_LIMITS: JobLimits = { cutoffBytes: DEFAULT_QUERY_CUTOFF_BYTES, maxJobBytes: DEFAULT_JOB_MAX_SCAN_BYTES };

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
  // A job that has not moved for longer than a step may take lost its message (a restarted local stack,
  // a purged queue, a step dead-lettered): it is resumed, or queued again, rather than shared forever.
  const unfinished = existing && (existing.status === 'queued' || existing.status === 'running');
  if (unfinished && now - existing.updatedAt < STALE_JOB_MS) return existing;
  if (existing?.status === 'complete' && existing.completedAt !== null && now - existing.completedAt < deps.settings.resultTtlSeconds * 1000) return existing;

  // ADD on an hourly counter item is atomic, so concurrent submissions cannot both slip under the quota.
  const hour = Math.floor(now / 3_600_000) * 3600;
  await deps.counters.add([{ scope: QUOTA_SCOPE(client), granularity: 'h', bucket: hour, add: { jobs: 1 }, expiresAt: hour + 7200 }]);
  const [usage] = await deps.counters.range(QUOTA_SCOPE(client), 'h', hour, hour);
  if ((usage?.values.jobs ?? 0) > deps.settings.perClientPerHour) {
    const retryAfterSeconds = Math.max(1, hour + 3600 - Math.floor(now / 1000));
    throw new QuotaExceededError(`job quota reached: ${deps.settings.perClientPerHour} jobs per hour per client; try again after ${new Date((hour + 3600) * 1000).toISOString()}`, retryAfterSeconds);
  }

  if (unfinished && existing.plan) {
    // Its plan and finished steps stand: carry on at the first step not done.
    const step = existing.nextStep ?? 0;
    addProgress(existing, `resumed at step ${step + 1} of ${existing.plan.chunks.length + 1}`, existing.progressPercent, now);
    await writeJob(deps.counters, existing);
    await sendStep(deps.jobsQueue, { jobId, step });
    return existing;
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
    plan: null,
    nextStep: 0,
    scan: null,
  };
  await writeJob(deps.counters, record);
  await sendStep(deps.jobsQueue, { jobId, step: 0 });
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
  /** the jobs queue: each step sends the message of the next */
  jobsQueue: QueueSender;
  /** the per-query cutoff and the job budget (the handler reads them from its environment; default DEFAULT_JOB_LIMITS) */
  limits?: JobLimits;
  /** which fact objects may be archived, so no query reads them (FACTS_ARCHIVE_AFTER_DAYS; default DEFAULT_ARCHIVE_POLICY) */
  archive?: ArchivePolicy;
}

/**
 * A jobs queue message: run `step` of the job, the scan of chunk `step` (step 0 plans the job first)
 * or, after the last chunk, the merge; `attempt` counts the step's retries.
 */
export interface JobMessage {
  jobId: string;
  step?: number;
  attempt?: number;
}

/** Runs of one step before the job fails with the step's error. */
export const JOB_STEP_MAX_ATTEMPTS = 3;
/** Progress entries a job keeps, the latest: a long job has hundreds of steps and its item must stay small. */
export const MAX_PROGRESS_ENTRIES = 50;
/** Partials the merge reads at once. */
const MERGE_READ_CONCURRENCY = 16;

/** A chunk's partial result, stored before the next step's message is sent. */
interface JobPartial {
  planId: string;
  step: number;
  chunk: { startTs: number; endTs: number };
  /** per query, in the plan's part order */
  queries: { bytes: number; data: PartData }[];
  bytesSource: JobScan['bytesScannedSource'];
  /** the chunk, when some of its hours aged into the archive after planning: not scanned (queries is empty) */
  archived?: ArchivedSpan;
}

export type StepOutcome = 'ran' | 'merged' | 'retrying' | 'failed' | 'duplicate' | 'resent' | 'ignored';

async function sendStep(queue: QueueSender, message: JobMessage): Promise<void> {
  const { failed } = await queue.sendBatch([JSON.stringify(message)]);
  if (failed.length) throw new Error('the jobs queue did not accept the job; try again');
}

function addProgress(record: JobRecord, phase: string, percent: number, at: number): void {
  Object.assign(record, { phase, progressPercent: percent, updatedAt: at });
  record.progress = [...record.progress, { phase, percent, at }].slice(-MAX_PROGRESS_ENTRIES);
}

const dayOf = (ts: number) => new Date(ts * 1000).toISOString().slice(0, 10);
const rangeOf = (chunk: { startTs: number; endTs: number }) => `${dayOf(chunk.startTs)}..${dayOf(chunk.endTs - 1)}`;

/**
 * Runs one step of a job, in its own invocation: step 0 plans the job (unless it has a plan), each scan
 * step runs the job's queries over one chunk and stores its partial before sending the next step's
 * message, and the last step merges the partials into the result. A step runs again only until it is
 * done (the job item's `nextStep` says which), so a crash anywhere resumes at the first unfinished step
 * and a re-run overwrites its own partial: nothing is counted twice. A failed step is retried through a new
 * message (JOB_STEP_MAX_ATTEMPTS runs); a failure that is the job's own (JobError, a query the engine
 * stopped) fails the job at once. Throws only when the job item or the queue cannot be written, so the
 * message comes back.
 */
export async function runJobStep(message: JobMessage, deps: RunJobDeps, delivery: { receiveCount: number } = { receiveCount: 1 }): Promise<StepOutcome> {
  const { jobId } = message;
  const step = message.step ?? 0;
  const record = await readJob(deps.counters, jobId);
  // an unknown or finished job, or a message from a run a later submission replaced
  if (!record || record.status === 'complete' || record.status === 'failed' || (!record.plan && step !== 0)) return 'ignored';
  const next = record.nextStep ?? 0;
  if (record.plan && step < next) {
    // This step finished, but its message came back: the invocation may have died before it sent the
    // next step's message, so send it again (a duplicate of that is dropped here the same way).
    if (delivery.receiveCount > 1 || deps.clock.now() - record.updatedAt > STALE_JOB_MS) {
      await sendStep(deps.jobsQueue, { jobId, step: next });
      return 'resent';
    }
    return 'duplicate';
  }
  if (record.plan && step > next) return 'ignored';
  try {
    const limits = deps.limits ?? DEFAULT_JOB_LIMITS;
    if (!record.plan) await planStep(record, deps, limits);
    const plan = record.plan!;
    if (step < plan.chunks.length) return (await scanStep(record, plan, step, deps)) ? 'ran' : 'duplicate';
    return (await mergeStep(record, plan, deps)) ? 'merged' : 'duplicate';
  } catch (error) {
    return failStep(jobId, step, message.attempt ?? 0, error, deps);
  }
}

async function planStep(record: JobRecord, deps: RunJobDeps, limits: JobLimits): Promise<void> {
  const now = deps.clock.now();
  const plan = await planJob(record.request, { objects: deps.objects, relation: deps.relation, dialect: deps.dialect, limits, now, archive: deps.archive });
  Object.assign(record, {
    status: 'running',
    error: null,
    plan,
    nextStep: 0,
    scan: { expectedBytes: plan.expectedBytes, bytesScanned: 0, bytesScannedSource: 'none', queries: 0, costUsd: 0, cutoffBytes: plan.cutoffBytes } satisfies JobScan,
  });
  const expected = plan.expectedBytes === null ? 'unknown' : formatBytes(plan.expectedBytes);
  const archivedHours = (plan.archived ?? []).reduce((n, span) => n + span.hours, 0);
  addProgress(record, `planned ${plan.chunks.length} chunks × ${plan.parts.length} queries; expected scan ${expected}${archivedHours ? `; ${archivedHours} archived hours left out` : ''}`, 5, now);
  await writeJob(deps.counters, record);
}

async function scanStep(record: JobRecord, plan: JobPlan, step: number, deps: RunJobDeps): Promise<boolean> {
  const chunk = plan.chunks[step]!;
  // The cutoff again, on what the chunk holds now: facts arrive after planning. And the archive: an
  // object that aged into it since planning would be skipped by Athena, so the chunk is not scanned.
  const now = deps.clock.now();
  const policy = deps.archive ?? DEFAULT_ARCHIVE_POLICY;
  const listing = await listFactsByHour(deps.objects, chunk.startTs, chunk.endTs, (object) => mayBeArchived(object, now, policy));
  const sizes = listing?.bytes ?? null;
  const held = sizes && prunedBytes(sizes, chunk.startTs, chunk.endTs);
  const pruned = prunedHours(chunk.startTs, chunk.endTs);
  const agedOut = [...(listing?.archived ?? [])].some((hour) => hour >= pruned.from && hour < pruned.to);
  const queries: JobPartial['queries'] = [];
  let measuredAll = true;
  for (const part of agedOut ? [] : plan.parts) {
    const sql = partSql(part, record.request, chunk, deps.relation, deps.dialect);
    const expected = held === null ? null : Math.ceil(held * scanFraction(sql));
    if (expected !== null && expected > plan.cutoffBytes) {
      throw new JobError(`chunk ${rangeOf(chunk)} (${partLabel(part)}) is expected to scan ${formatBytes(expected)}, over the per-query cutoff of ${formatBytes(plan.cutoffBytes)}`);
    }
    const before = deps.sql.bytesScanned?.();
    const rows = await deps.sql.query(sql);
    const measured = before === undefined ? null : deps.sql.bytesScanned!() - before;
    measuredAll &&= measured !== null;
    const data = record.request.kind === 'event_type' ? eventTypeCells(record.request, rows) : partData(part as Exclude<PartName, 'event_type'>, rows);
    queries.push({ bytes: measured ?? expected ?? 0, data });
  }
  const bytesSource = measuredAll ? 'engine' : held !== null ? 'estimate' : 'none';
  const chunkHours = (hours: Iterable<number>) => [...hours].filter((hour) => hour >= Math.floor(chunk.startTs / 3600) * 3600 && hour < chunk.endTs).length;
  const partial: JobPartial = {
    planId: plan.id,
    step,
    chunk: { startTs: chunk.startTs, endTs: chunk.endTs },
    queries,
    bytesSource,
    ...(agedOut ? { archived: { startTs: chunk.startTs, endTs: chunk.endTs, hours: chunkHours(sizes?.keys() ?? []) + chunkHours(listing?.archived ?? []) } } : {}),
  };
  await deps.objects.put(jobPartialKey(record.jobId, plan.id, step), JSON.stringify(partial), 'application/json');
  const bytes = queries.reduce((sum, q) => sum + q.bytes, 0);
  deps.metrics?.observe?.(METRIC.jobBytesScanned, bytes);

  // Advance from a fresh read: a duplicate delivery that ran this step too finds it done and stops
  // here, so two copies of a message do not become two chains of steps.
  const fresh = await readJob(deps.counters, record.jobId);
  if (!fresh || fresh.status !== 'running' || fresh.plan?.id !== plan.id || (fresh.nextStep ?? 0) !== step) return false;
  const scan = fresh.scan!;
  fresh.scan = {
    ...scan,
    bytesScanned: scan.bytesScanned + bytes,
    // a chunk left unscanned measured nothing: the source stays what the other chunks say
    bytesScannedSource: queries.length === 0 ? scan.bytesScannedSource : scan.queries === 0 || scan.bytesScannedSource === bytesSource ? bytesSource : 'estimate',
    queries: scan.queries + queries.length,
    costUsd: Math.round((scan.costUsd + queries.reduce((sum, q) => sum + athenaQueryCostUsd(q.bytes), 0)) * 1e9) / 1e9,
  };
  fresh.nextStep = step + 1;
  const did = agedOut ? `left out ${rangeOf(chunk)}: archived since planning` : `scanning ${rangeOf(chunk)}`;
  addProgress(fresh, `${did} (chunk ${step + 1} of ${plan.chunks.length})`, 5 + Math.round((90 * (step + 1)) / (plan.chunks.length + 1)), deps.clock.now());
  await writeJob(deps.counters, fresh);
  await sendStep(deps.jobsQueue, { jobId: record.jobId, step: step + 1 });
  return true;
}

async function mergeStep(record: JobRecord, plan: JobPlan, deps: RunJobDeps): Promise<boolean> {
  const merge = record.request.kind === 'event_type' ? new EventTypeJobMerge(record.request) : new JobMerge(record.request);
  const chunks = plan.chunks.length;
  // at most one per chunk, besides the plan's own (bounded by MAX_ARCHIVED_SPANS)
  const archived: ArchivedSpan[] = [...(plan.archived ?? [])];
  // folded as each arrives (the order does not matter), so memory holds the merge and a few partials
  await forEachLimited(
    Array.from({ length: chunks }, (_, step) => step),
    MERGE_READ_CONCURRENCY,
    async (step) => {
      const bytes = await deps.objects.get(jobPartialKey(record.jobId, plan.id, step));
      // every step before this one stored its partial before it moved on: only expiry removes one
      if (!bytes) throw new JobError(`the partial result of step ${step + 1} is gone (jobs/ objects expire); submit the job again`);
      const partial = JSON.parse(new TextDecoder().decode(bytes)) as JobPartial;
      for (const query of partial.queries) (merge.add as (data: PartData) => void)(query.data);
      if (partial.archived) archived.push(partial.archived);
    },
  );
  const { window } = record.request;
  // What the job could not read is said, never silently under-counted (lib/facts/storage-tiers.ts).
  const partialReason = archivedPartialReason(archived, deps.archive ?? DEFAULT_ARCHIVE_POLICY);
  const meta: Meta = {
    window: { type: window.type, startTs: window.startTs, endTs: window.endTs, ...(window.interval ? { interval: window.interval } : {}) },
    freshness: { snapshotAsOf: null, deltaAsOf: null, stalenessMs: null, isPartial: partialReason !== null },
    source: 'fallback',
    partialReason,
    plan: { maxItems: 0, itemsRead: 0, segments: [] },
  };
  const resultRef = jobResultKey(record.jobId);
  await deps.objects.put(resultRef, JSON.stringify(merge.result(meta)), 'application/json');

  const fresh = await readJob(deps.counters, record.jobId);
  if (!fresh || fresh.status !== 'running' || fresh.plan?.id !== plan.id || (fresh.nextStep ?? 0) !== chunks) return false;
  const now = deps.clock.now();
  Object.assign(fresh, { status: 'complete', resultRef, completedAt: now, nextStep: chunks + 1 });
  addProgress(fresh, 'complete', 100, now);
  await writeJob(deps.counters, fresh);
  deps.metrics?.observe?.(METRIC.jobDurationMs, now - fresh.createdAt, { Status: 'complete' });
  return true;
}

async function failStep(jobId: string, step: number, attempt: number, error: unknown, deps: RunJobDeps): Promise<StepOutcome> {
  const record = await readJob(deps.counters, jobId);
  if (!record || record.status === 'complete' || record.status === 'failed') return 'ignored';
  const reason = (error as Error)?.message ?? String(error);
  const now = deps.clock.now();
  const final = error instanceof JobError || error instanceof QueryStoppedError || attempt + 1 >= JOB_STEP_MAX_ATTEMPTS;
  const where = record.plan ? `step ${step + 1} of ${record.plan.chunks.length + 1}` : 'planning';
  if (!final) {
    addProgress(record, `retrying ${where} (run ${attempt + 2} of ${JOB_STEP_MAX_ATTEMPTS}) after: ${reason.slice(0, 200)}`, record.progressPercent, now);
    await writeJob(deps.counters, record);
    await sendStep(deps.jobsQueue, { jobId, step, attempt: attempt + 1 });
    return 'retrying';
  }
  Object.assign(record, { status: 'failed', error: error instanceof JobError ? reason : `${where} failed: ${reason}` });
  addProgress(record, 'failed', record.progressPercent, now);
  await writeJob(deps.counters, record);
  deps.metrics?.observe?.(METRIC.jobDurationMs, now - record.createdAt, { Status: 'failed' });
  return 'failed';
}
