import { projectScope } from '../counters/contributions.js';
import { mergeItems, type BucketState } from '../counters/aggregate.js';
import { carriedMetric, eventTypeMetricScope, EVENTS_METRIC, sumMetric } from '../counters/event-type-counters.js';
import { NONE_VALUE } from '../app/dimension-values.js';
import { schemaValidatorsFor } from '../app/schemas.js';
import { MAX_EVENT_TYPE_JOB_DAYS, MAX_UNIQUE_JOB_DIMENSIONS } from '../jobs/event-type-job.js';
import { hllEstimate } from '../counters/hll.js';
import { MAX_SYNC_WINDOW_SECONDS, type QueryWindow } from './window.js';
import { timelineOf } from './summary.js';
import { readWindow, type Meta, type QueryDeps } from './window-read.js';

export const APP_METRICS = ['daily_active_users', 'events'] as const;
export type AppMetric = (typeof APP_METRICS)[number];

/** A project's metric per day (UTC) over the window, from the `p:<project>` counters. */
export async function appMetric(project: string, metric: AppMetric, window: QueryWindow, deps: QueryDeps): Promise<{ data: { metric: AppMetric; project: string; total: number; series: { day: string; value: number }[] }; meta: Meta }> {
  const read = await readWindow(projectScope(project), window, deps, { hourly: false });
  const points = timelineOf(read.items, window, 86400);
  const value = (state: ReturnType<typeof mergeItems>) => (metric === 'events' ? (state.values.events ?? 0) : hllEstimate(state.sets.users ?? []));
  return {
    data: {
      metric,
      project,
      // For users, the distinct users of the whole window (not the sum of the days).
      total: value(mergeItems(read.items)),
      series: points.map(({ ts, state }) => ({ day: new Date(ts * 1000).toISOString().slice(0, 10), value: value(state) })),
    },
    meta: read.meta,
  };
}

/** What GET /v1/metrics/{eventType} aggregates (docs/metrics.md, "Event types"). */
export const EVENT_TYPE_AGGREGATIONS = ['count', 'sum', 'avg', 'unique'] as const;
export type EventTypeAggregation = (typeof EVENT_TYPE_AGGREGATIONS)[number];
export const METRIC_GRANULARITIES = { minute: 60, hour: 3600, day: 86400 } as const;
export type MetricGranularity = keyof typeof METRIC_GRANULARITIES;
/** The longest window of each granularity: at most 360, 336 or 90 points, so the items read are bounded too. */
export const MAX_METRIC_WINDOW_SECONDS: Record<MetricGranularity, number> = { minute: 6 * 3600, hour: 14 * 86400, day: MAX_SYNC_WINDOW_SECONDS };

export interface EventTypeMetricRequest {
  eventType: string;
  agg: EventTypeAggregation;
  /** the measure `sum` and `avg` aggregate */
  property?: string;
  /** one or two of the type's dimensions */
  groupBy: string[];
  granularity: MetricGranularity;
}

/** A request the registry's declarations cannot answer: 404 for an unknown type, else 400. */
export class EventTypeMetricError extends Error {
  constructor(
    readonly code: 'not_found' | 'bad_request' | 'bad_window',
    message: string,
  ) {
    super(message);
    this.name = 'EventTypeMetricError';
  }
}

export interface EventTypeMetricGroup {
  /** the group's value of each groupBy dimension: null where events lacked it, `(other)` past the admitted values */
  group: Record<string, string | null>;
  value: number | null;
  series: { start: string; value: number | null }[];
}

/**
 * Whether the request can be answered, from what the registry declares (read through the container's
 * 30 s registry view: no extra read per request): throws EventTypeMetricError when not; else says why a
 * job must answer it (unique users by dimension), or null (the counters, or a job when the window is
 * past 90 days: lib/api/read-policy.ts).
 */
export async function checkEventTypeMetric(project: string, request: EventTypeMetricRequest, window: QueryWindow, deps: QueryDeps): Promise<{ needsJob: string | null }> {
  const { eventType, agg, groupBy, granularity } = request;
  const registry = schemaValidatorsFor(deps.counters, deps.clock);
  await registry.load(project, [eventType]);
  const versions = registry.versions(project, eventType);
  if (!versions.length) throw new EventTypeMetricError('not_found', `${eventType} has no registered schema in this project`);
  // Any version's declarations: a window may span versions, and counters are kept by name.
  const dimensions = new Set(versions.flatMap((v) => v.dimensions));
  const measures = new Set(versions.flatMap((v) => v.measures));
  const property = request.property ?? null;
  if (agg === 'sum' || agg === 'avg') {
    if (!property) throw new EventTypeMetricError('bad_request', `${agg} needs property, one of the measures: ${[...measures].join(', ') || '(none declared)'}`);
    if (!measures.has(property)) throw new EventTypeMetricError('bad_request', `${property} is not a measure of ${eventType}; measures: ${[...measures].join(', ') || '(none declared)'}`);
  } else if (property) throw new EventTypeMetricError('bad_request', `property applies to sum and avg, not ${agg}`);
  if (new Set(groupBy).size !== groupBy.length || groupBy.length > 2) throw new EventTypeMetricError('bad_request', 'groupBy names one or two distinct dimensions');
  for (const dimension of groupBy) if (!dimensions.has(dimension)) throw new EventTypeMetricError('bad_request', `${dimension} is not a dimension of ${eventType}; dimensions: ${[...dimensions].join(', ') || '(none declared)'}`);
  const seconds = window.endTs - window.startTs;
  if (seconds > MAX_EVENT_TYPE_JOB_DAYS * 86400) throw new EventTypeMetricError('bad_window', `an event type's metric covers at most ${MAX_EVENT_TYPE_JOB_DAYS} days`);
  if (seconds > MAX_METRIC_WINDOW_SECONDS[granularity] && granularity !== 'day') {
    const most = MAX_METRIC_WINDOW_SECONDS[granularity];
    throw new EventTypeMetricError('bad_window', `granularity ${granularity} covers at most ${most < 86400 ? `${most / 3600} hours` : `${most / 86400} days`}; use a coarser one`);
  }
  // A sketch per group would outgrow the counter items: a job counts them from the facts, per day.
  if (agg === 'unique' && groupBy.length) {
    if (groupBy.length > MAX_UNIQUE_JOB_DIMENSIONS) throw new EventTypeMetricError('bad_request', `unique users group by ${MAX_UNIQUE_JOB_DIMENSIONS} dimension at most`);
    if (granularity !== 'day') throw new EventTypeMetricError('bad_request', 'unique users by dimension are counted per day (granularity=day)');
    return { needsJob: 'unique users by dimension are counted from the facts, by a job' };
  }
  return { needsJob: null };
}

/**
 * A registered event type's metric over the window, for the whole type or per group of one or two
 * dimensions, with a point per minute, hour or day (UTC), from the type's counters (live + settled).
 * The request must have passed checkEventTypeMetric without needing a job.
 */
export async function eventTypeMetric(
  project: string,
  request: EventTypeMetricRequest,
  window: QueryWindow,
  deps: QueryDeps,
): Promise<{ data: { project: string; eventType: string; agg: EventTypeAggregation; property: string | null; granularity: MetricGranularity; groupBy: string[]; groups: EventTypeMetricGroup[] }; meta: Meta }> {
  const { eventType, agg, groupBy, granularity } = request;
  const property = request.property ?? null;
  const step = METRIC_GRANULARITIES[granularity];
  const scope = eventTypeMetricScope(project, eventType, groupBy);
  const read = await readWindow(scope, window, deps, { hourly: step <= 3600, minutesOnly: step === 60 });
  const countsOnly = agg !== 'unique';
  const total = mergeItems(read.items, undefined, { countsOnly });
  const points = timelineOf(read.items, window, step, { countsOnly });

  // The groups are the suffixes of the window's event counts: at most (values + 2) per dimension, squared for two.
  const pair = groupBy.length === 2 ? [...groupBy].sort() : null;
  const prefix = EVENTS_METRIC + (groupBy.length === 1 ? `|${groupBy[0]}=` : '|');
  const suffixes = groupBy.length ? Object.keys(total.values).filter((k) => k.startsWith(prefix)).map((k) => k.slice(EVENTS_METRIC.length)) : [''];
  const valueOf = (state: BucketState, suffix: string): number | null => {
    if (agg === 'unique') return hllEstimate(state.sets.users ?? []);
    if (agg === 'count') return state.values[EVENTS_METRIC + suffix] ?? 0;
    const sum = (state.values[sumMetric(property!) + suffix] ?? 0) / 1000;
    if (agg === 'sum') return sum;
    const carried = state.values[carriedMetric(property!) + suffix] ?? 0;
    return carried ? sum / carried : null;
  };
  const groupOf = (suffix: string): Record<string, string | null> => {
    const shown = (value: string) => (value === NONE_VALUE ? null : value);
    if (!groupBy.length) return {};
    if (!pair) return { [groupBy[0]!]: shown(suffix.slice(prefix.length - EVENTS_METRIC.length)) };
    const [, a, b] = suffix.split('|');
    return { [pair[0]!]: shown(a!), [pair[1]!]: shown(b!) };
  };
  const groups = suffixes.map((suffix) => ({
    group: groupOf(suffix),
    value: valueOf(total, suffix),
    series: points.map(({ ts, state }) => ({ start: new Date(ts * 1000).toISOString(), value: valueOf(state, suffix) })),
  }));
  groups.sort((x, y) => (y.value ?? -Infinity) - (x.value ?? -Infinity) || (JSON.stringify(x.group) < JSON.stringify(y.group) ? -1 : 1));
  return { data: { project, eventType, agg, property, granularity, groupBy, groups }, meta: read.meta };
}

