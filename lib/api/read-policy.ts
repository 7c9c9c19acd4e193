import { METRIC } from '../metrics/names.js';
import { QuotaExceededError, submitJob, type JobRequest } from '../jobs/jobs.js';
import { planFor } from '../query/window-read.js';
import { MAX_SYNC_WINDOW_SECONDS, timelineStep } from '../query/window.js';
import { BULK_STATS_CONCURRENCY, DeletedError } from '../query/event-stats.js';
import { userScope } from '../counters/contributions.js';
import { eventTypeMetricScope } from '../counters/event-type-counters.js';
import { forEachMapped } from '../util/concurrency.js';
import { isStoreUnavailable } from '../store-faults.js';
import { ttlForWindow } from './cache.js';
import { cacheControlFor, HttpError, json, type HttpResponse } from './http.js';
import { hasFreshness, isStaleAnswer, markedStale } from './stale-answers.js';
import type { ApiDeps, ApiRequest } from './deps.js';

/**
 * How reads are answered, whatever the route: at once from the counters or as a job (the sync/async
 * threshold), through the response cache, and in bulk. The route table (functions/api/routes.ts)
 * declares routes and calls these; it holds no policy of its own.
 */

/** Windows beyond the synchronous budget run as jobs, up to ten years. */
export const MAX_JOB_WINDOW_SECONDS = 3660 * 86400;

/** The counter scope whose items would answer a job's request instead. */
function scopeOfRequest(request: JobRequest): string {
  return request.kind === 'event_type' ? eventTypeMetricScope(request.project, request.eventType, request.groupBy) : userScope(request.pubkey);
}

/**
 * The sync/async threshold: a window longer than the sync budget (90 days), or one that needs counter
 * items past their retention, is answered by a job (202), as is a request the counters cannot answer
 * at all (`needsJob`: why); a fresh completed job answers at once (200).
 */
export async function viaJobIfNeeded(request: JobRequest, apiRequest: ApiRequest, deps: ApiDeps, needsJob?: string): Promise<HttpResponse | null> {
  const { window } = request;
  const tooLong = needsJob !== undefined || window.endTs - window.startTs > MAX_SYNC_WINDOW_SECONDS;
  let plan;
  try {
    // an event type's points are days beyond the sync budget, so its plan is read by days too
    const hourly = request.kind === 'event_type' ? false : timelineStep(window) === 3600;
    plan = tooLong ? null : await planFor(scopeOfRequest(request), window, deps, hourly);
  } catch (error) {
    // The counters did not answer (the watermark): the read goes on to the cache, whose last good copy
    // of this window may answer, marked stale; without one, its computation fails the same way (503).
    if (isStoreUnavailable(error)) return null;
    throw error;
  }
  if (!tooLong && !plan?.unanswerable) return null;
  if (!deps.jobs) {
    throw new HttpError('bad_window', needsJob ?? plan?.unanswerable ?? `windows longer than ${MAX_SYNC_WINDOW_SECONDS / 86400} days need the jobs runner, which is not configured`);
  }
  let job;
  try {
    job = await submitJob(request, apiRequest.client ?? 'anonymous', { counters: deps.counters, jobsQueue: deps.jobs.queue, clock: deps.clock, settings: deps.jobs.settings });
  } catch (error) {
    if (error instanceof QuotaExceededError) throw new HttpError('quota_exceeded', error.message, { 'retry-after': String(error.retryAfterSeconds) });
    throw error;
  }
  if (job.status === 'complete' && job.resultRef) {
    const bytes = await deps.jobs.objects.get(job.resultRef);
    if (bytes) return { statusCode: 200, headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': cacheControlFor(window.endTs - window.startTs) }, body: new TextDecoder().decode(bytes) };
  }
  return json(202, {
    data: { jobId: job.jobId, status: job.status, progressPercent: job.progressPercent, poll: `/api/v2/analytics/jobs/${job.jobId}` },
    meta: { window, reason: needsJob ?? plan?.unanswerable ?? `the window is longer than the ${MAX_SYNC_WINDOW_SECONDS / 86400}-day synchronous budget` },
  });
}

/**
 * A value through the response cache, and whether it came from it (counted as a hit, a miss or a stale
 * answer). Stale-if-error: when computing it fails because a store did not answer (throttled, down,
 * timed out: lib/store-faults.ts) and the key has a last good copy that can say it is stale (an answer
 * with `meta.freshness`), that copy answers, marked (lib/api/stale-answers.ts). Otherwise the error
 * stands: a 503 when a store did not answer.
 */
export async function throughCache<T>(deps: ApiDeps, key: string, ttlMs: number, compute: () => Promise<T>): Promise<{ value: T; cached: boolean }> {
  if (!deps.cache) return { value: await compute(), cached: false };
  const read = await deps.cache.get(key, ttlMs, compute, (error, lastGood) => isStoreUnavailable(error) && hasFreshness(lastGood));
  if (read.staleMs !== undefined && hasFreshness(read.value)) {
    deps.metrics?.count(METRIC.staleAnswers);
    return { value: markedStale(read.value, read.staleMs) as T, cached: true };
  }
  deps.metrics?.count(read.cached ? METRIC.cacheHits : METRIC.cacheMisses);
  return { value: read.value as T, cached: read.cached };
}

/** A value through the response cache. */
export const cachedValue = async <T>(deps: ApiDeps, key: string, ttlMs: number, compute: () => Promise<T>): Promise<T> => (await throughCache(deps, key, ttlMs, compute)).value;

/** An answer through the cache; the window's length picks the TTL and the Cache-Control header. */
export async function cachedJson(deps: ApiDeps, key: string, windowSeconds: number, compute: () => Promise<unknown>): Promise<HttpResponse> {
  return json(200, await cachedValue(deps, key, ttlForWindow(windowSeconds), compute), cacheControlFor(windowSeconds));
}

/** A stats answer: what the single route answers in its body. */
export interface StatsAnswer {
  data: unknown;
  meta: { freshness: { stalenessMs: number | null } };
}

/** One id's answer, or the error its single route would answer (a store that did not answer: `unavailable`). */
async function answerOrError(compute: () => Promise<StatsAnswer>): Promise<Partial<StatsAnswer> & { error?: { code: string; message: string }; unavailable?: unknown }> {
  try {
    return await compute();
  } catch (error) {
    if (error instanceof DeletedError) return { error: { code: 'deleted', message: error.message } };
    if (error instanceof HttpError) return { error: { code: error.code, message: error.message } };
    // While the counters fail, the ids with a last good copy still answer (stale); the others say so alone.
    if (isStoreUnavailable(error)) return { error: { code: 'unavailable', message: 'the counters did not answer for this id; retry' }, unavailable: error };
    throw error;
  }
}

/** Which of two metas a bulk answer reports: a stale one first (the answer must say so), then the larger stalenessMs. */
const staler = (a: StatsAnswer['meta'], b: StatsAnswer['meta']) =>
  isStaleAnswer({ meta: a }) !== isStaleAnswer({ meta: b }) ? isStaleAnswer({ meta: a }) : (a.freshness.stalenessMs ?? 0) > (b.freshness.stalenessMs ?? 0);

/**
 * A bulk answer: each id's single answer (the same object, not its text parsed back), in order, and
 * the freshness of the stalest. When no id could be answered because a store did not, the whole
 * request is the 503 its single routes would be.
 */
export async function bulkStats(ids: string[], one: (id: string) => Promise<StatsAnswer>): Promise<HttpResponse> {
  const answers = await forEachMapped(ids, BULK_STATS_CONCURRENCY, (id) => answerOrError(() => one(id)));
  const metas = answers.map((a) => a.meta).filter((m): m is StatsAnswer['meta'] => !!m);
  const unavailable = answers.find((a) => a.unavailable !== undefined);
  if (!metas.length && unavailable) throw unavailable.unavailable;
  const stalest = metas.reduce<StatsAnswer['meta'] | undefined>((worst, m) => (!worst || staler(m, worst) ? m : worst), undefined);
  const data = ids.map((id, i) => (answers[i]!.error ? { id, error: answers[i]!.error } : answers[i]!.data));
  return json(200, { data, meta: stalest ?? null }, cacheControlFor(60));
}
