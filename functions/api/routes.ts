import { z } from 'zod';
import { jobResultKey, readJob } from '../../lib/jobs/jobs.js';
import { APP_EVENT_NAME, APP_EVENT_NAME_RULE, appEventsRequestSchema } from '../../lib/app/events.js';
import { FIELD_NAME_SOURCE, MAX_DIMENSIONS, MAX_MEASURES, listSchemas, projectSettings, putProjectSettings, registerSchema, schemaVersion, screenAppEvents, schemaValidatorsFor, SchemaRegistrationError } from '../../lib/app/schemas.js';
import { decodePathSegment } from '../../lib/api/request.js';
import { MAX_DIMENSION_VALUES } from '../../lib/app/dimension-values.js';
import { saveAppEventTypeQuery } from '../../lib/jobs/saved-queries.js';
import {
  APP_METRICS,
  appMetric,
  EVENT_TYPE_AGGREGATIONS,
  checkEventTypeMetric,
  EventTypeMetricError,
  eventTypeMetric,
  METRIC_GRANULARITIES,
  type AppMetric,
  type EventTypeAggregation,
  type EventTypeMetricRequest,
  type MetricGranularity,
} from '../../lib/query/app-metrics.js';
import { searchVideos, videosByAuthor, type VideoPage } from '../../lib/query/video-feeds.js';
import { feedPage, feedResponse, readFeed, StaleCursorError, type FeedKind, type FeedSort } from '../../lib/query/feeds.js';
import { decodeCursor, encodeCursor, type Cursor } from '../../lib/query/cursor.js';
import { eventZappers, videoLikers } from '../../lib/query/engagers.js';
import { cacheControlFor, HttpError, json, type HttpResponse } from '../../lib/api/http.js';
import { ttlForWindow } from '../../lib/api/cache.js';
import { customWindow, MAX_SYNC_WINDOW_SECONDS, rollingWindow, WindowError, type QueryWindow } from '../../lib/query/window.js';
import { previousWindowComparison, userSummary } from '../../lib/query/summary.js';
import { DRILLDOWNS, userDrilldown, type Drilldown } from '../../lib/query/drilldown.js';
import { globalStatsResponse } from '../../lib/query/stats.js';
import { globalSummary } from '../../lib/query/global.js';
import { BULK_STATS_MAX_IDS, DeletedError, eventStats, videoStats } from '../../lib/query/event-stats.js';
import { parsePubkey } from '../../lib/nostr/pubkey.js';
import { EVENT_ID_OR_ADDRESS_PATTERN, isEventIdOrAddress } from '../../lib/nostr/tags.js';
import { docsPage, openApiDocument, pathParameterNames, pathPattern, routeName, type RouteSpec } from '../../lib/api/openapi.js';
import type { ApiDeps, ApiRequest, RouteDeps } from '../../lib/api/deps.js';
import { bulkStats, cachedJson, cachedValue, MAX_JOB_WINDOW_SECONDS, throughCache, viaJobIfNeeded } from '../../lib/api/read-policy.js';
import * as contract from './contract.js';
import { RANKING_PERIODS, rankingPage, readRankingOrCompute, type RankingList, type RankingPeriod } from '../../lib/query/rankings.js';
import { DASHBOARD_ROUTES } from './dashboard-routes.js';

export type { ApiDeps, ApiRequest, RouteDeps } from '../../lib/api/deps.js';

const unixSeconds = (name: string) => z.string().regex(/^\d{1,12}$/, `${name} must be unix seconds`).transform(Number);
/** `limit` on every list: 1–100, a 400 outside (never clamped). */
const limitParam = z.string().regex(/^\d{1,3}$/, 'limit must be a number from 1 to 100').transform(Number).pipe(z.number().int().min(1, 'limit must be at least 1').max(100, 'limit must be at most 100'));

const windowQuery = z
  .object({
    interval: z.string().optional(),
    startTs: unixSeconds('startTs').optional(),
    endTs: unixSeconds('endTs').optional(),
    tz: z
      .string()
      .regex(/^([+-]\d{2}:?\d{2}|[+-]?\d{1,4})$/, 'tz must be an offset like +05:30, -0800 or minutes like -480')
      .optional(),
    limit: limitParam.optional(),
    compare: z.enum(['previous']).optional().describe('previous: add the window of the same length before this one, its totals and each total\'s change (the summary only)'),
  })
  .refine((q) => !(q.interval && (q.startTs !== undefined || q.endTs !== undefined)), 'give either interval or startTs/endTs, not both')
  .refine((q) => (q.startTs === undefined) === (q.endTs === undefined), 'startTs and endTs go together');

/**
 * A seed route's window: the one vocabulary (interval, or startTs/endTs), or its two old spellings
 * (unix seconds or ISO dates; the end defaults to now), kept as documented aliases on that route only.
 */
function windowWithAliases(start: string, end: string, required: boolean, extra: Record<string, z.ZodType> = {}) {
  const shape: Record<string, z.ZodType> = {
    ...extra,
    interval: z.string().optional(),
    startTs: unixSeconds('startTs').optional(),
    endTs: unixSeconds('endTs').optional(),
    [start]: z.string().min(1).optional().describe('alias (the seed contract): the window start, unix seconds or an ISO date'),
    [end]: z.string().optional().describe('alias (the seed contract): the window end; now when absent'),
  };
  type Query = { interval?: string; startTs?: number; endTs?: number } & Record<string, string | number | undefined>;
  return z
    .object(shape)
    .refine((raw) => {
      const q = raw as Query;
      const forms = [q.interval !== undefined, q.startTs !== undefined || q.endTs !== undefined, q[start] !== undefined || q[end] !== undefined].filter(Boolean).length;
      return required ? forms === 1 : forms <= 1;
    }, `give one of interval, startTs/endTs or ${start}/${end}`)
    .refine((q) => (q.startTs === undefined) === (q.endTs === undefined), 'startTs and endTs go together') as unknown as z.ZodType<Query>;
}
/** The network summary (seed: `from`/`to`); 24 hours when no window is given. */
const networkSummaryQuery = windowWithAliases('from', 'to', false);

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'id must be a 64-character lower-case hex event id');

function badRequest(error: z.ZodError): HttpError {
  const issue = error.issues[0]!;
  const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
  return new HttpError('bad_request', `${where}${issue.message}`);
}

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (!result.success) throw badRequest(result.error);
  return result.data;
}

export function tzOffsetMinutes(tz: string | undefined): number {
  if (!tz) return 0;
  const match = /^([+-])(\d{2}):?(\d{2})$/.exec(tz);
  const minutes = match ? (match[1] === '-' ? -1 : 1) * (Number(match[2]) * 60 + Number(match[3])) : Number(tz);
  if (Math.abs(minutes) > 14 * 60) throw new HttpError('bad_request', 'tz: offsets range from -14:00 to +14:00');
  return minutes;
}

function windowFrom(query: { interval?: string; startTs?: number; endTs?: number }, nowSeconds: number): QueryWindow {
  try {
    const window =
      query.startTs !== undefined && query.endTs !== undefined
        ? customWindow(query.startTs, query.endTs, nowSeconds)
        : rollingWindow(query.interval ?? '24h', nowSeconds);
    if (window.endTs - window.startTs > MAX_JOB_WINDOW_SECONDS) {
      throw new WindowError(`windows are limited to ${MAX_JOB_WINDOW_SECONDS / 86400} days`);
    }
    return window;
  } catch (error) {
    if (error instanceof WindowError) throw new HttpError('bad_window', error.message);
    throw error;
  }
}

/** App routes take an `x-api-key` header; the key names the project. */
async function appAuth(request: ApiRequest, deps: ApiDeps): Promise<{ project: string; app: NonNullable<ApiDeps['app']> }> {
  if (!deps.app) throw new HttpError('not_found', 'app events are not enabled on this deployment');
  if (!request.headers?.['x-api-key']) throw new HttpError('unauthorized', 'an x-api-key header is required');
  const key = request.appKey;
  if (key === 'unavailable') throw new HttpError('unavailable', 'API keys could not be checked just now; retry');
  if (!key) throw new HttpError('unauthorized', 'unknown API key');
  return { project: key.project, app: deps.app };
}

function timeArg(name: string, raw: string): number {
  if (/^\d{1,12}$/.test(raw)) return Number(raw);
  const ms = Date.parse(raw);
  if (Number.isNaN(ms)) throw new HttpError('bad_request', `${name} must be unix seconds or an ISO date, got "${raw}"`);
  return Math.floor(ms / 1000);
}

function pubkeyFrom(raw: string): string {
  const pubkey = parsePubkey(raw);
  if (!pubkey) throw new HttpError('bad_pubkey', 'pubkey must be 64 hex characters or an npub');
  return pubkey;
}

/** How long a feed answer is reused (in memory and by a CDN); the stored feed itself moves once a minute in AWS. */
const FEED_CACHE_SECONDS: Record<FeedSort, number> = { recent: 5, trending: 60 };

const feedQuery = z.object({ limit: limitParam.default(20), cursor: z.string().max(512).optional().describe('meta.pagination.nextCursor of the previous page') });

/** The decoded cursor of a list request (null on a first page); one that is not ours is a 400. */
function cursorFrom(text: string | undefined): Cursor | null {
  if (text === undefined) return null;
  const cursor = decodeCursor(text);
  if (!cursor) throw new HttpError('bad_cursor', 'cursor is not one this API gave out: pass meta.pagination.nextCursor as it came');
  return cursor;
}
/** The cursor of a list whose pages are keyed one way (`recent`, `pubkey`): one from another list is a 400. */
function cursorOfKind<K extends Cursor['o']>(text: string | undefined, kind: K): Extract<Cursor, { o: K }> | undefined {
  const cursor = cursorFrom(text);
  if (cursor && cursor.o !== kind) throw new HttpError('bad_cursor', 'this cursor belongs to another list');
  return (cursor ?? undefined) as Extract<Cursor, { o: K }> | undefined;
}
/** The meta of a page of an engager list (read as it is now, in pubkey order). */
const engagerListMeta = (deps: ApiDeps, next: string | null, limit: number, cursor: string | undefined) => ({
  source: 'live' as const,
  generatedAt: new Date(deps.clock.now()).toISOString(),
  pagination: { cursor: cursor ?? null, nextCursor: next ? encodeCursor({ o: 'pubkey', p: next }) : null, limit },
});
/** How long the all-time totals are reused, in memory and by a CDN. */
const GLOBAL_STATS_CACHE_SECONDS = 10;
/** How long an engager-list page is reused: a new like or zap shows within this, as in the video stats. */
const ENGAGER_LIST_CACHE_SECONDS = 10;
const videoFeedQuery = feedQuery.extend({ sort: z.enum(['recent', 'trending']).default('recent'), kind: z.enum(['21', '22', '34235', '34236']).transform((k) => Number(k) as FeedKind).optional() });
const searchQuery = feedQuery
  .extend({ tag: z.string().trim().toLowerCase().min(1).max(64).optional(), q: z.string().trim().min(2, 'q must be at least 2 characters').max(100).optional() })
  .refine((x) => x.tag !== undefined || x.q !== undefined, 'give tag, q or both');
/** An app event type, named as app events name it. */
const eventTypeParam = z.string().regex(APP_EVENT_NAME, `eventType must be ${APP_EVENT_NAME_RULE}`);
const schemaBody = z.strictObject({
  schema: z.record(z.string(), z.unknown()).describe('a JSON Schema (draft 2020-12) for the events\' properties: no pattern, patternProperties, format or remote $ref'),
  dimensions: z.array(z.string().min(1).max(32)).max(MAX_DIMENSIONS).optional().describe(`properties metrics may group by (string, integer or boolean, at most ${MAX_DIMENSIONS}); the first ${MAX_DIMENSION_VALUES} values seen of each are its groups, later ones count as (other)`),
  measures: z
    .array(z.string().min(1).max(32))
    .max(MAX_MEASURES)
    .optional()
    .describe(`numeric properties metrics sum and average (at most ${MAX_MEASURES}); by default every number or integer property of the schema`),
});
/** App metrics (seed: `startTime`/`endTime`); a window is required. */
const appMetricQuery = windowWithAliases('startTime', 'endTime', true, {
  agg: z.enum(EVENT_TYPE_AGGREGATIONS).optional().describe('event types only: count (the default), sum or avg of property, or unique users'),
  property: z.string().max(32).optional().describe('event types only: the measure sum and avg aggregate (a numeric property declared at registration)'),
  groupBy: z
    .string()
    .regex(new RegExp(`^${FIELD_NAME_SOURCE}(,${FIELD_NAME_SOURCE})?$`), 'groupBy is one dimension or two, comma-separated')
    .optional()
    .describe('event types only: one or two of the dimensions declared at registration, comma-separated'),
  granularity: z
    .enum(Object.keys(METRIC_GRANULARITIES) as [MetricGranularity, ...MetricGranularity[]])
    .optional()
    .describe(`event types only: a point per minute (windows up to 6 hours), hour (14 days) or day (90 days, the default)`),
});

/** A window from the vocabulary, or from a seed route's two aliases (unix seconds or ISO dates; the end defaults to now). */
function windowOrAliases(query: { interval?: string; startTs?: number; endTs?: number }, aliases: [name: string, value: string | undefined][], now: number): QueryWindow {
  const [[startName, start], [endName, end]] = aliases as [[string, string | undefined], [string, string | undefined]];
  if (start === undefined && end === undefined) return windowFrom(query, now);
  if (start === undefined) throw new HttpError('bad_request', `${endName} needs ${startName}`);
  return windowFrom({ startTs: timeArg(startName, start), endTs: end ? timeArg(endName, end) : now }, now);
}

/** The meta of a page of a list read from the video index as it is now (not precomputed, not windowed). */
const listMeta = (deps: ApiDeps, page: VideoPage, limit: number, cursor: string | undefined) => ({
  source: 'live' as const,
  generatedAt: new Date(deps.clock.now()).toISOString(),
  pagination: { cursor: cursor ?? null, nextCursor: page.nextCursor ? encodeCursor(page.nextCursor) : null, limit },
});

type Handler = (params: Record<string, string>, request: ApiRequest, deps: RouteDeps) => Promise<HttpResponse>;
const nowSeconds = (deps: ApiDeps) => Math.floor(deps.clock.now() / 1000);

const pubkeyParam = z.string().describe('64 hex characters, or an npub');
const windowDoc = 'interval (24h, 7d, 30d, 90d, …) or startTs and endTs (unix seconds); windows past 90 days, or past the counters\' retention, become jobs (202)';
const summaryAnswers = {
  200: { description: 'the answer', schema: contract.summarySchema },
  202: { description: windowDoc, schema: contract.jobAcceptedSchema },
} as const;

/** An event id or an address (lib/nostr/tags.ts); the pattern is what the OpenAPI document shows of the rule. */
const idOrAddress = (message: string) => z.string().regex(EVENT_ID_OR_ADDRESS_PATTERN, message).refine(isEventIdOrAddress, message);
const videoId = idOrAddress('id must be a video event id (64 hex) or its address kind:pubkey:d');
const eventOrAddressId = idOrAddress('id must be an event id (64 hex) or an address kind:pubkey:d');
const bulkBody = (id: z.ZodString) => z.strictObject({ ids: z.array(id).min(1, 'ids: give at least one').max(BULK_STATS_MAX_IDS, `ids: at most ${BULK_STATS_MAX_IDS}`) });
const eventsBulkBody = bulkBody(hex64);
const videosBulkBody = bulkBody(videoId);

/** An event's stats answer, cached under one key for the single and the bulk route. */
const eventStatsAnswer = (id: string, deps: RouteDeps) => cachedValue(deps, `event:${id}`, ttlForWindow(60), () => eventStats(id, deps));
/** A video's stats answer, cached under one key for the single and the bulk route (so it too can answer stale while the counters fail). */
async function videoStatsAnswer(raw: string, deps: RouteDeps) {
  const id = parse(videoId, raw);
  const result = await cachedValue(deps, `video:${id}`, ttlForWindow(60), () => videoStats(id, deps));
  if (!result) throw new HttpError('not_a_video', `event ${id} is not a video`);
  return result;
}

function bodyOf<T>(schema: z.ZodType<T>, request: ApiRequest): T {
  let body: unknown;
  try {
    body = JSON.parse(request.body ?? '');
  } catch {
    throw new HttpError('bad_request', 'the body must be JSON');
  }
  return parse(schema, body);
}

const rankingQuery = z.object({
  period: z.enum(RANKING_PERIODS).default('day').describe('day, week, month (videos published in the last 1, 7 or 30 UTC days) or all'),
  limit: limitParam.default(20),
  cursor: z.string().max(512).optional().describe('meta.pagination.nextCursor of the previous page'),
});

/** A ranking route: one stored answer (cached like the trending feed), a page of it by offset within its computation. */
async function rankingResponse(list: RankingList, request: ApiRequest, deps: RouteDeps): Promise<HttpResponse> {
  const query = parse(rankingQuery, request.query);
  const period = query.period as RankingPeriod;
  const read = await cachedValue(deps, `rank:${list}:${period}`, FEED_CACHE_SECONDS.trending * 1000, () => readRankingOrCompute(deps, list, period));
  const cursor = cursorFrom(query.cursor);
  if (cursor && (cursor.o !== 'offset' || cursor.g !== read.ranking.generatedAt)) throw new HttpError('bad_cursor', 'the ranking was computed again since this cursor (or it belongs to another list): start from the first page');
  const page = rankingPage(read, query.limit, cursor?.n ?? 0, deps.clock.now());
  return json(
    200,
    {
      data: page.entries,
      meta: {
        list,
        period,
        source: page.source,
        freshness: page.freshness,
        partialReason: null,
        pagination: { cursor: query.cursor ?? null, nextCursor: page.next === null ? null : encodeCursor({ o: 'offset', n: page.next, g: read.ranking.generatedAt }), limit: query.limit },
      },
    },
    `public, max-age=${FEED_CACHE_SECONDS.trending}`,
  );
}

const routes: { spec: RouteSpec; handle: Handler }[] = [
  {
    spec: { method: 'GET', path: '/health', operationId: 'health', summary: 'Liveness: degraded (503) when a store or ingest fails', tag: 'operations', responses: { 200: { description: 'every check passes', schema: contract.healthSchema }, 503: { description: 'degraded: a check failed', schema: contract.healthSchema } } },
    handle: async (_p, _r, deps) => {
      const { status, checks } = await deps.health();
      return json(status === 'ok' ? 200 : 503, { status, time: new Date(deps.clock.now()).toISOString(), checks });
    },
  },
  {
    spec: { method: 'GET', path: '/metrics', operationId: 'prometheusMetrics', summary: 'Prometheus text (the local stack; in AWS see CloudWatch)', tag: 'operations', responses: { 200: { description: 'Prometheus exposition format', schema: z.string(), contentType: 'text/plain' } } },
    handle: async (_p, _r, deps) => {
      if (!deps.metricsText) throw new HttpError('not_found', 'GET /metrics is served by the local stack; in AWS see CloudWatch');
      return { statusCode: 200, headers: { 'content-type': 'text/plain; version=0.0.4', 'cache-control': 'no-store' }, body: await deps.metricsText() };
    },
  },
  {
    spec: { method: 'GET', path: '/openapi.json', operationId: 'openApi', summary: 'This contract, as OpenAPI 3.1', tag: 'operations', responses: { 200: { description: 'the OpenAPI document', schema: z.looseObject({ openapi: z.literal('3.1.0') }) } } },
    handle: async () => json(200, apiDocument(), 'public, max-age=300'),
  },
  {
    spec: { method: 'GET', path: '/docs', operationId: 'apiDocs', summary: 'This contract, as a page to read', tag: 'operations', responses: { 200: { description: 'HTML', schema: z.string(), contentType: 'text/html' } } },
    handle: async () => ({ statusCode: 200, headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'public, max-age=300' }, body: (docsHtml ??= docsPage(apiDocument())) }),
  },
  {
    spec: { method: 'GET', path: '/api/stats', operationId: 'globalStats', summary: 'All-time network totals by kind, and rejections by reason', tag: 'network', responses: { 200: { description: 'the totals', schema: contract.globalStatsSchema } } },
    handle: async (_p, _r, deps) => json(200, await cachedValue(deps, 'global-stats', GLOBAL_STATS_CACHE_SECONDS * 1000, () => globalStatsResponse(deps)), `public, max-age=${GLOBAL_STATS_CACHE_SECONDS}`),
  },
  {
    spec: { method: 'GET', path: '/api/v2/analytics/user/{pubkey}/summary', operationId: 'userSummary', summary: `A user's totals, timeline and top lists over a window: ${windowDoc}`, tag: 'users', params: z.object({ pubkey: pubkeyParam }), query: windowQuery, responses: summaryAnswers },
    handle: async (params, request, deps) => {
      const pubkey = pubkeyFrom(params.pubkey!);
      const query = parse(windowQuery, request.query);
      const window = windowFrom(query, nowSeconds(deps));
      const job = await viaJobIfNeeded({ kind: 'summary', pubkey, window }, request, deps);
      if (job) return job;
      const compare = query.compare === 'previous';
      return cachedJson(deps, `summary:${pubkey}:${window.startTs}:${window.endTs}:${compare ? 'previous' : ''}`, window.endTs - window.startTs, async () => {
        const summary = await userSummary(pubkey, window, deps);
        if (!compare) return summary;
        return { ...summary, data: { ...summary.data, previous: await previousWindowComparison(pubkey, window, summary.data.totals, deps) } };
      });
    },
  },
  {
    spec: {
      method: 'GET',
      path: '/api/v2/analytics/user/{pubkey}/drilldown/{metric}',
      operationId: 'userDrilldown',
      summary: `One drill-down of a user's window (${DRILLDOWNS.join(', ')}): ${windowDoc}`,
      tag: 'users',
      params: z.object({ pubkey: pubkeyParam, metric: z.enum(DRILLDOWNS) }),
      query: windowQuery,
      responses: { 200: { description: 'the drill-down', schema: contract.drilldownSchema }, 202: summaryAnswers[202] },
    },
    handle: async (params, request, deps) => {
      const pubkey = pubkeyFrom(params.pubkey!);
      const metric = params.metric! as Drilldown;
      if (!DRILLDOWNS.includes(metric)) throw new HttpError('unknown_drilldown', `drilldown must be one of ${DRILLDOWNS.join(', ')}`);
      const query = parse(windowQuery, request.query);
      const window = windowFrom(query, nowSeconds(deps));
      const tz = tzOffsetMinutes(query.tz);
      const limit = query.limit ?? 10;
      const job = await viaJobIfNeeded({ kind: 'drilldown', pubkey, drilldown: metric, window, tzOffsetMinutes: tz, limit }, request, deps);
      if (job) return job;
      return cachedJson(deps, `drilldown:${metric}:${pubkey}:${window.startTs}:${window.endTs}:${tz}:${limit}`, window.endTs - window.startTs, () =>
        userDrilldown(pubkey, metric, window, deps, { tzOffsetMinutes: tz, limit }),
      );
    },
  },
  {
    spec: {
      method: 'POST',
      path: '/v1/events',
      operationId: 'postAppEvents',
      summary: 'First-party app events (views, plays, …), for the API key\'s project: on the ingest queue when 202',
      tag: 'app events',
      headers: { 'x-api-key': { description: 'the project\'s API key', required: true } },
      body: appEventsRequestSchema,
      responses: { 202: { description: 'accepted (durably queued); rejected events are listed by index', schema: contract.appEventsAcceptedSchema } },
    },
    handle: async (_p, request, deps) => {
      const { project, app } = await appAuth(request, deps);
      const { events } = bodyOf(appEventsRequestSchema, request);
      const { accepted, rejected } = await screenAppEvents(events, project, schemaValidatorsFor(deps.counters, deps.clock));
      if (accepted.length) {
        const { failed } = await app.ingestQueue.sendBatch([JSON.stringify({ v: 1, source: 'app', project, events: accepted })]);
        if (failed.length) throw new HttpError('unavailable', 'the ingest queue did not take the events; retry with the same ids');
      }
      return json(202, { data: { accepted: accepted.length, rejected }, meta: { project } });
    },
  },
  {
    spec: {
      method: 'PUT',
      path: '/v1/schemas/{eventType}',
      operationId: 'registerSchema',
      summary: 'Registers a JSON Schema (draft 2020-12) for an app event type\'s properties, as its next immutable version (201; 200 when the newest version says the same already; 409 when another registration took the number)',
      tag: 'app events',
      headers: { 'x-api-key': { description: 'the project\'s API key', required: true } },
      params: z.object({ eventType: eventTypeParam }),
      body: schemaBody,
      responses: { 200: { description: 'the newest version already says this', schema: contract.schemaVersionAnswerSchema }, 201: { description: 'registered as a new version', schema: contract.schemaVersionAnswerSchema } },
    },
    handle: async (params, request, deps) => {
      const { project } = await appAuth(request, deps);
      const eventType = parse(eventTypeParam, params.eventType!);
      const body = bodyOf(schemaBody, request);
      try {
        const { version, created } = await registerSchema(deps.counters, deps.clock, project, eventType, { schema: body.schema, dimensions: body.dimensions ?? [], ...(body.measures ? { measures: body.measures } : {}) });
        // Saved on every answer, not only the first: a retried PUT writes what a failed save left out.
        if (deps.savedQueries) {
          const { store, relation, dialect } = deps.savedQueries;
          await saveAppEventTypeQuery(store, relation, { project, ...version }, dialect).catch(() => {
            throw new HttpError('unavailable', `${eventType} is registered as version ${version.version}, but its saved Athena query could not be written; PUT the same body again`);
          });
        }
        return json(created ? 201 : 200, { data: version, meta: { project } }, 'no-store');
      } catch (error) {
        if (error instanceof SchemaRegistrationError) throw new HttpError(error.code === 'conflict' ? 'conflict' : 'bad_request', error.message);
        throw error;
      }
    },
  },
  {
    spec: {
      method: 'GET',
      path: '/v1/schemas',
      operationId: 'listSchemas',
      summary: 'The project\'s app event types with a schema, each with its newest version',
      tag: 'app events',
      headers: { 'x-api-key': { description: 'the project\'s API key', required: true } },
      responses: { 200: { description: 'the schemas', schema: contract.schemaListSchema } },
    },
    handle: async (_p, request, deps) => {
      const { project } = await appAuth(request, deps);
      return json(200, { data: await listSchemas(deps.counters, project), meta: { project } }, 'no-store');
    },
  },
  {
    spec: {
      method: 'GET',
      path: '/v1/schemas/{eventType}/versions/{n}',
      operationId: 'schemaVersion',
      summary: 'One version of an app event type\'s schema',
      tag: 'app events',
      headers: { 'x-api-key': { description: 'the project\'s API key', required: true } },
      params: z.object({ eventType: eventTypeParam, n: z.string().describe('the version, 1 and up') }),
      responses: { 200: { description: 'the version', schema: contract.schemaVersionAnswerSchema } },
    },
    handle: async (params, request, deps) => {
      const { project } = await appAuth(request, deps);
      const eventType = parse(eventTypeParam, params.eventType!);
      const n = parse(z.coerce.number().int().min(1).max(1_000), params.n!);
      const version = await schemaVersion(deps.counters, project, eventType, n);
      if (!version) throw new HttpError('not_found', `${eventType} has no schema version ${n}`);
      // versions are immutable
      return json(200, { data: version, meta: { project } }, 'private, max-age=3600');
    },
  },
  {
    spec: {
      method: 'GET',
      path: '/v1/settings',
      operationId: 'projectSettings',
      summary: 'The project\'s settings: whether events of a type with no schema are stored or refused',
      tag: 'app events',
      headers: { 'x-api-key': { description: 'the project\'s API key', required: true } },
      responses: { 200: { description: 'the settings', schema: contract.projectSettingsAnswerSchema } },
    },
    handle: async (_p, request, deps) => {
      const { project } = await appAuth(request, deps);
      return json(200, { data: await projectSettings(deps.counters, project), meta: { project } }, 'no-store');
    },
  },
  {
    spec: {
      method: 'PUT',
      path: '/v1/settings',
      operationId: 'putProjectSettings',
      summary: 'Sets the project\'s settings (enforced by every api and ingest container within 30 s)',
      tag: 'app events',
      headers: { 'x-api-key': { description: 'the project\'s API key', required: true } },
      body: contract.projectSettingsSchema,
      responses: { 200: { description: 'the settings now', schema: contract.projectSettingsAnswerSchema } },
    },
    handle: async (_p, request, deps) => {
      const { project } = await appAuth(request, deps);
      const settings = bodyOf(contract.projectSettingsSchema, request);
      await putProjectSettings(deps.counters, project, settings);
      return json(200, { data: settings, meta: { project } }, 'no-store');
    },
  },
  {
    spec: {
      method: 'GET',
      path: '/v1/metrics/{metric}',
      operationId: 'appMetric',
      summary: `A metric of the API key's project: built-in (${APP_METRICS.join(', ')}, by UTC day over at most 90 days), or a registered event type's count, sum, avg or unique users, optionally by one or two of its dimensions`,
      tag: 'app events',
      headers: { 'x-api-key': { description: 'the project\'s API key', required: true } },
      params: z.object({ metric: z.string().describe(`${APP_METRICS.join(' or ')}, or a registered event type`) }),
      query: appMetricQuery,
      responses: {
        200: { description: 'the metric', schema: z.union([contract.appMetricSchema, contract.eventTypeMetricSchema]) },
        202: { description: 'an event type\'s daily metric past 90 days, or unique users by dimension: a job (poll it; its result is the 200 answer, meta.source "fallback")', schema: contract.jobAcceptedSchema },
      },
    },
    handle: async (params, request, deps) => {
      const { project } = await appAuth(request, deps);
      const metric = parse(eventTypeParam, params.metric!);
      const query = parse(appMetricQuery, request.query);
      const now = nowSeconds(deps);
      const window = windowOrAliases(query, [['startTime', query.startTime as string | undefined], ['endTime', query.endTime as string | undefined]], now);
      if ((APP_METRICS as readonly string[]).includes(metric)) {
        if (window.endTs - window.startTs > MAX_SYNC_WINDOW_SECONDS) throw new HttpError('bad_window', `app metrics cover at most ${MAX_SYNC_WINDOW_SECONDS / 86400} days`);
        return cachedJson(deps, `app:${project}:${metric}:${window.startTs}:${window.endTs}`, window.endTs - window.startTs, () => appMetric(project, metric as AppMetric, window, deps));
      }
      const request_: EventTypeMetricRequest = {
        eventType: metric,
        agg: (query.agg as EventTypeAggregation | undefined) ?? 'count',
        ...(query.property ? { property: query.property as string } : {}),
        groupBy: query.groupBy ? String(query.groupBy).split(',') : [],
        granularity: (query.granularity as MetricGranularity | undefined) ?? 'day',
      };
      let needsJob: string | null;
      try {
        ({ needsJob } = await checkEventTypeMetric(project, request_, window, deps));
      } catch (error) {
        if (error instanceof EventTypeMetricError) throw new HttpError(error.code, error.message);
        throw error;
      }
      // Daily points past 90 days (or past the counters' retention), and unique users by dimension: a job.
      if (needsJob || request_.granularity === 'day') {
        const { eventType, agg, property, groupBy } = request_;
        const job = await viaJobIfNeeded({ kind: 'event_type', project, eventType, agg, ...(property ? { property } : {}), groupBy, window }, request, deps, needsJob ?? undefined);
        if (job) return job;
      }
      const key = `apptype:${project}:${JSON.stringify(request_)}:${window.startTs}:${window.endTs}`;
      return cachedJson(deps, key, window.endTs - window.startTs, () => eventTypeMetric(project, request_, window, deps));
    },
  },
  {
    spec: { method: 'GET', path: '/api/v2/analytics/jobs/{jobId}', operationId: 'job', summary: 'A job\'s status, progress and, once complete, its answer', tag: 'users', params: z.object({ jobId: z.string().describe('32 hex characters') }), responses: { 200: { description: 'the job', schema: contract.jobStatusSchema } } },
    handle: async (params, _r, deps) => {
      const jobId = parse(z.string().regex(/^[0-9a-f]{32}$/, 'jobId must be 32 hex characters'), params.jobId);
      const job = await readJob(deps.counters, jobId);
      if (!job) throw new HttpError('not_found', `no job ${jobId}`);
      const body: Record<string, unknown> = {
        jobId,
        status: job.status,
        progressPercent: job.progressPercent,
        phase: job.phase,
        resultRef: job.resultRef,
        progress: job.progress,
        // expected and scanned bytes, and their cost at Athena's price, once the job is planned
        scan: job.scan ?? null,
        createdAt: new Date(job.createdAt).toISOString(),
        updatedAt: new Date(job.updatedAt).toISOString(),
      };
      if (job.status === 'failed') body.error = { code: 'job_failed', message: job.error ?? 'the job failed' };
      if (job.status === 'complete' && job.resultRef && deps.jobs) {
        const bytes = await deps.jobs.objects.get(job.resultRef ?? jobResultKey(jobId));
        if (bytes) body.result = JSON.parse(new TextDecoder().decode(bytes));
      }
      const done = job.status === 'complete' || job.status === 'failed';
      return json(200, { data: body, meta: { poll: `/api/v2/analytics/jobs/${jobId}`, done } }, job.status === 'complete' ? 'public, max-age=300' : 'no-store');
    },
  },
  {
    spec: { method: 'GET', path: '/api/analytics/summary', operationId: 'networkSummary', summary: 'Network totals over a window: interval or startTs/endTs (or the seed contract\'s from/to, unix seconds or ISO dates)', tag: 'network', query: networkSummaryQuery, responses: { 200: { description: 'the totals', schema: contract.seedSummarySchema } } },
    handle: async (_p, request, deps) => {
      const query = parse(networkSummaryQuery, request.query);
      const now = nowSeconds(deps);
      const window = windowOrAliases(query, [['from', query.from as string | undefined], ['to', query.to as string | undefined]], now);
      const key = `global:${window.startTs}:${window.endTs}`;
      // The seed contract says whether the answer came from the cache.
      const { value: summary, cached } = await throughCache(deps, key, ttlForWindow(window.endTs - window.startTs), () => globalSummary(window, deps));
      return json(200, { data: summary.data, cached, meta: summary.meta }, cacheControlFor(window.endTs - window.startTs));
    },
  },
  {
    spec: { method: 'GET', path: '/api/events/{id}/stats', operationId: 'eventStats', summary: 'All-time engagement of one event: reactions, replies, reposts, zaps, sats, views', tag: 'events', params: z.object({ id: z.string().describe('the event id, 64 hex') }), responses: { 200: { description: 'the stats', schema: contract.eventStatsSchema } } },
    handle: async (params, _r, deps) => json(200, await eventStatsAnswer(parse(hex64, params.id), deps), cacheControlFor(60)),
  },
  {
    spec: {
      method: 'POST',
      path: '/api/events/stats/bulk',
      operationId: 'eventStatsBulk',
      summary: `The stats of up to ${BULK_STATS_MAX_IDS} events in one request: each item is what GET /api/events/{id}/stats answers in data, or {id, error}`,
      tag: 'events',
      body: eventsBulkBody,
      responses: { 200: { description: 'one item per id, in order', schema: contract.eventStatsBulkSchema } },
    },
    handle: async (_p, request, deps) => bulkStats(bodyOf(eventsBulkBody, request).ids, (id) => eventStatsAnswer(id, deps)),
  },
  {
    spec: { method: 'GET', path: '/api/videos', operationId: 'videoFeed', summary: 'The video feed, recent or trending, each card with its stats (precomputed)', tag: 'videos', query: videoFeedQuery, responses: { 200: { description: 'the feed', schema: contract.feedSchema } } },
    handle: async (_p, request, deps) => {
      const query = parse(videoFeedQuery, request.query);
      const variant = { sort: query.sort, kind: query.kind ?? null };
      // One stored record per feed (lib/query/feeds.ts), cached whole: every limit is served from the same read.
      const read = await cachedValue(deps, `videos:${variant.sort}:${variant.kind ?? 'all'}`, FEED_CACHE_SECONDS[variant.sort] * 1000, () => readFeed(deps, variant));
      const cursor = cursorFrom(query.cursor);
      let page;
      try {
        page = await feedPage(deps, read, query.limit, cursor);
      } catch (error) {
        if (error instanceof StaleCursorError) throw new HttpError('bad_cursor', error.message);
        throw error;
      }
      return json(200, feedResponse(read, page, query.limit, query.cursor ?? null, deps.clock.now()), `public, max-age=${FEED_CACHE_SECONDS[variant.sort]}`);
    },
  },
  {
    spec: { method: 'GET', path: '/api/leaderboard/videos', operationId: 'videoLeaderboard', summary: 'Videos by engagement (reactions + replies + reposts + zaps, all time) among those published in the period (precomputed every minute)', tag: 'videos', query: rankingQuery, responses: { 200: { description: 'the ranking', schema: contract.videoLeaderboardSchema } } },
    handle: async (_p, request, deps) => rankingResponse('videos', request, deps),
  },
  {
    spec: { method: 'GET', path: '/api/leaderboard/creators', operationId: 'creatorLeaderboard', summary: 'Creators by the engagement of their videos published in the period (precomputed every minute)', tag: 'videos', query: rankingQuery, responses: { 200: { description: 'the ranking', schema: contract.creatorLeaderboardSchema } } },
    handle: async (_p, request, deps) => rankingResponse('creators', request, deps),
  },
  {
    spec: { method: 'GET', path: '/api/hashtags/trending', operationId: 'trendingHashtags', summary: 'Hashtags by the engagement of the videos that carry them, among those published in the period (precomputed every minute)', tag: 'videos', query: rankingQuery, responses: { 200: { description: 'the ranking', schema: contract.hashtagRankingSchema } } },
    handle: async (_p, request, deps) => rankingResponse('hashtags', request, deps),
  },
  {
    spec: { method: 'GET', path: '/api/users/{pubkey}/videos', operationId: 'userVideos', summary: 'A user\'s videos, newest first', tag: 'videos', params: z.object({ pubkey: pubkeyParam }), query: feedQuery, responses: { 200: { description: 'the videos', schema: contract.videoListSchema } } },
    handle: async (params, request, deps) => {
      const pubkey = pubkeyFrom(params.pubkey!);
      const { limit, cursor } = parse(feedQuery, request.query);
      const after = cursorOfKind(cursor, 'recent');
      const page = await cachedValue(deps, `user-videos:${pubkey}:${limit}:${cursor ?? ''}`, 5_000, () => videosByAuthor(deps, pubkey, limit, after));
      return json(200, { data: page.cards, meta: listMeta(deps, page, limit, cursor) }, 'public, max-age=5');
    },
  },
  {
    spec: { method: 'GET', path: '/api/search', operationId: 'searchVideos', summary: 'Videos by hashtag and/or title words', tag: 'videos', query: searchQuery, responses: { 200: { description: 'the videos found', schema: contract.videoListSchema } } },
    handle: async (_p, request, deps) => {
      const query = parse(searchQuery, request.query);
      const after = cursorOfKind(query.cursor, 'recent');
      const page = await cachedValue(deps, `search:${JSON.stringify([query.tag ?? null, query.q?.toLowerCase() ?? null, query.limit, query.cursor ?? null])}`, 10_000, () => searchVideos(deps, { ...query, after }));
      return json(200, { data: page.cards, meta: listMeta(deps, page, query.limit, query.cursor) }, 'public, max-age=10');
    },
  },
  {
    spec: {
      method: 'GET',
      path: '/api/videos/{id}/likers',
      operationId: 'videoLikers',
      summary: 'Who liked a video, one row per pubkey, paged (an addressable video: its address and its newest revisions)',
      tag: 'videos',
      params: z.object({ id: z.string().describe('the video event id (64 hex) or its address kind:pubkey:d') }),
      query: feedQuery,
      responses: { 200: { description: 'one page of likers', schema: contract.likersSchema } },
    },
    handle: async (params, request, deps) => {
      const id = parse(videoId, params.id!);
      const { limit, cursor } = parse(feedQuery, request.query);
      const after = cursorOfKind(cursor, 'pubkey')?.p;
      const page = await cachedValue(deps, `likers:${id}:${limit}:${cursor ?? ''}`, ENGAGER_LIST_CACHE_SECONDS * 1000, () => videoLikers(id, deps, { limit, after }));
      if (!page) throw new HttpError('not_a_video', `event ${id} is not a video`);
      return json(200, { data: page.rows, meta: engagerListMeta(deps, page.next, limit, cursor) }, `public, max-age=${ENGAGER_LIST_CACHE_SECONDS}`);
    },
  },
  {
    spec: {
      method: 'GET',
      path: '/api/events/{id}/zappers',
      operationId: 'eventZappers',
      summary: 'Who zapped an event (or an address), one row per sender with their zaps and total sats, paged',
      tag: 'events',
      params: z.object({ id: z.string().describe('the event id (64 hex), or an address kind:pubkey:d for zaps that name it') }),
      query: feedQuery,
      responses: { 200: { description: 'one page of zappers', schema: contract.zappersSchema } },
    },
    handle: async (params, request, deps) => {
      const id = parse(eventOrAddressId, params.id!);
      const { limit, cursor } = parse(feedQuery, request.query);
      const after = cursorOfKind(cursor, 'pubkey')?.p;
      const page = await cachedValue(deps, `zappers:${id}:${limit}:${cursor ?? ''}`, ENGAGER_LIST_CACHE_SECONDS * 1000, () => eventZappers(id, deps, { limit, after }));
      return json(200, { data: page.rows, meta: engagerListMeta(deps, page.next, limit, cursor) }, `public, max-age=${ENGAGER_LIST_CACHE_SECONDS}`);
    },
  },
  {
    spec: { method: 'GET', path: '/api/videos/{id}/stats', operationId: 'videoStats', summary: 'All-time engagement of a video, over every revision of an addressable one', tag: 'videos', params: z.object({ id: z.string().describe('the video event id (64 hex) or its address kind:pubkey:d') }), responses: { 200: { description: 'the stats', schema: contract.videoStatsSchema } } },
    handle: async (params, _r, deps) => json(200, await videoStatsAnswer(params.id!, deps), cacheControlFor(60)),
  },
  {
    spec: {
      method: 'POST',
      path: '/api/videos/stats/bulk',
      operationId: 'videoStatsBulk',
      summary: `The stats of up to ${BULK_STATS_MAX_IDS} videos (ids or addresses) in one request: each item is what GET /api/videos/{id}/stats answers in data, or {id, error}`,
      tag: 'videos',
      body: videosBulkBody,
      responses: { 200: { description: 'one item per id, in order', schema: contract.videoStatsBulkSchema } },
    },
    handle: async (_p, request, deps) => bulkStats(bodyOf(videosBulkBody, request).ids, (id) => videoStatsAnswer(id, deps)),
  },
  ...DASHBOARD_ROUTES,
];

const compiled = routes.map((r) => ({ ...r, pattern: pathPattern(r.spec.path), names: pathParameterNames(r.spec.path), name: routeName(r.spec.path) }));

/** Every route's declaration, in the order they match (the OpenAPI document and the contract tests read these). */
export const ROUTE_SPECS: readonly RouteSpec[] = routes.map((r) => r.spec);

let documentMemo: Record<string, unknown> | undefined;
let docsHtml: string | undefined;
/** The OpenAPI 3.1 document of this API (built once per process; `npm run openapi` writes it to docs/openapi.json). */
export function apiDocument(): Record<string, unknown> {
  return (documentMemo ??= openApiDocument(ROUTE_SPECS, {
    title: 'Funnel',
    version: '1',
    description: 'Analytics for Nostr: per-user summaries and drill-downs over any window, per-event and per-video stats, feeds, network totals, and first-party app events. Every success is JSON with its freshness in meta; every error is {"error":{"code","message"}}.',
  }));
}

/** The route a path belongs to, as a low-cardinality label (`/api/events/:id/stats`). */
export function routeLabel(path: string): string {
  for (const { pattern, name } of compiled) if (pattern.test(path)) return name;
  return 'unmatched';
}

export async function route(request: ApiRequest, deps: RouteDeps): Promise<HttpResponse> {
  let pathMatched = false;
  for (const { spec, pattern, names, handle } of compiled) {
    const match = pattern.exec(request.path);
    if (!match) continue;
    pathMatched = true;
    if (spec.method !== request.method) continue;
    const params = Object.fromEntries(names.map((name, i) => [name, decodePathSegment(match[i + 1]!)]));
    try {
      return await handle(params, request, deps);
    } catch (error) {
      if (error instanceof DeletedError) throw new HttpError('deleted', error.message);
      throw error;
    }
  }
  if (pathMatched) throw new HttpError('method_not_allowed', `${request.method} is not allowed on ${request.path}`);
  throw new HttpError('not_found', `no route for ${request.method} ${request.path}`);
}
