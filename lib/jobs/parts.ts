import { USER_METRICS, type UserMetric } from '../counters/contributions.js';
import type { BucketState } from '../counters/aggregate.js';
import { emptyRegisters, foldSketch, hllEstimate } from '../counters/hll.js';
import type { Meta } from '../query/window-read.js';
import { isTimeDrilldown, timeDrilldown, WeekHourGrid } from '../query/best-times.js';
import { timelineTotals, toTotals } from '../query/summary.js';
import { DRILLDOWN_TOP_COUNT, drilldownsOf, SUMMARY_TOP_COUNT, TOP_LISTS, topListOfDrilldown } from '../query/top-lists.js';
import type { FactsWindow, SqlDialect } from './metrics-sql.js';
import { ENGAGER_IDS_PER_REGISTER, MAX_TOP_ROWS, userDailySql, userEngagementByHourSql, userEngagerSketchSql, userTopSql, DISTINCT_SKETCHES, type DistinctPubkeys, type TopListQuery } from './user-job-sql.js';
import type { JobRequest, UserJobRequest } from './jobs.js';
import { eventTypeJobSql, type EventTypeCells } from './event-type-job.js';

/**
 * A job's queries: each part is one statement a job runs over every chunk of its window, whose answer
 * is bounded (whatever the data) and merges across chunks. The merge then builds the same result the
 * counters' routes answer with.
 */
export type PartName = 'daily' | 'by_hour' | 'engagers' | TopListQuery | 'event_type';

/** Candidates per chunk for a merged top list: the ranking is exact while no chunk has more. */
const TOP_CANDIDATES_PER_CHUNK = MAX_TOP_ROWS;
/** Distinct engagers held for an exact count across chunks; past it the count is the HLL estimate. */
export const ENGAGERS_EXACT_MAX = 100_000;

const LABELS: Record<PartName, string> = {
  daily: 'daily totals',
  by_hour: 'engagement by hour',
  engagers: 'distinct engagers and zappers',
  top_posts: 'top posts',
  top_tags: 'top hashtags',
  top_zappers: 'top zappers',
  event_type: 'the event type\'s metric',
};
export const partLabel = (part: PartName) => LABELS[part];

export function partsOf(request: JobRequest): PartName[] {
  if (request.kind === 'event_type') return ['event_type'];
  if (request.kind === 'summary') return ['daily', 'engagers', ...TOP_LISTS.map((t) => t.list)];
  if (isTimeDrilldown(request.drilldown)) return ['by_hour'];
  const topList = topListOfDrilldown(request.drilldown);
  return topList ? [topList.list] : ['daily'];
}

export function partSql(part: PartName, request: JobRequest, window: FactsWindow, relation: string, dialect: SqlDialect): string {
  if (request.kind === 'event_type') return eventTypeJobSql(relation, window, dialect, request);
  if (part === 'event_type') throw new Error('an event_type part belongs to an event type\'s job');
  switch (part) {
    case 'daily':
      return userDailySql(relation, window, dialect, request.pubkey);
    case 'by_hour':
      return userEngagementByHourSql(relation, window, dialect, request.pubkey, request.tzOffsetMinutes ?? 0);
    case 'engagers':
      return userEngagerSketchSql(relation, window, dialect, request.pubkey);
    default:
      return userTopSql(relation, window, dialect, request.pubkey, part, TOP_CANDIDATES_PER_CHUNK);
  }
}

/** What a step keeps of its rows (JSON, in the step's partial object). */
export type PartData =
  | { part: 'daily'; days: { day: number; values: Record<UserMetric, number> }[] }
  | { part: 'by_hour'; cells: [hour: number, weekday: number, engagement: number][] }
  | { part: 'engagers'; sketches: Record<DistinctPubkeys, { codes: number[]; ids: string[] | null }> }
  | { part: TopListQuery; items: [item: string, amount: number][]; complete: boolean }
  | EventTypeCells;

/** A user job's part's rows as what the step keeps (an event type's: eventTypeCells). */
export function partData(part: Exclude<PartName, 'event_type'>, rows: Record<string, unknown>[]): PartData {
  switch (part) {
    case 'daily':
      return { part, days: rows.map((row) => ({ day: Number(row.day), values: Object.fromEntries(USER_METRICS.map((m) => [m, Number(row[m] ?? 0)])) as Record<UserMetric, number> })) };
    case 'by_hour':
      return { part, cells: rows.map((row) => [Number(row.hour_of_day), Number(row.weekday), Number(row.engagement)]) };
    case 'engagers': {
      const sketchOf = (sketch: DistinctPubkeys) => {
        const own = rows.filter((row) => row.sketch === sketch);
        // every register's pubkeys are all there while none holds more than the sketch keeps
        const complete = own.every((row) => Number(row.engagers) <= ENGAGER_IDS_PER_REGISTER);
        return { codes: own.map((row) => (Number(row.register) << 6) | Number(row.rank)), ids: complete ? own.flatMap((row) => String(row.ids ?? '').split(',').filter(Boolean)) : null };
      };
      return { part, sketches: Object.fromEntries(DISTINCT_SKETCHES.map((sketch) => [sketch, sketchOf(sketch)])) as Record<DistinctPubkeys, { codes: number[]; ids: string[] | null }> };
    }
    default:
      return { part, items: rows.map((row) => [String(row.item), Number(row.amount)]), complete: rows.length < TOP_CANDIDATES_PER_CHUNK };
  }
}

const zeros = () => Object.fromEntries(USER_METRICS.map((m) => [m, 0])) as Record<UserMetric, number>;
const DAY = 86400;

/** Folds the partials of every step into one job's answer; memory bounded by the constants above. */
export class JobMerge {
  private readonly days = new Map<number, Record<UserMetric, number>>();
  private readonly byLocalTime = new WeekHourGrid();
  private readonly tops = new Map<TopListQuery, { amounts: Map<string, number>; complete: boolean }>();
  /** per distinct count: the merged sketch, and every pubkey while all are known (null past that) */
  private readonly distinct: Record<DistinctPubkeys, { registers: Uint8Array; ids: Set<string> | null }> = {
    engagers: { registers: emptyRegisters(), ids: new Set() },
    zappers: { registers: emptyRegisters(), ids: new Set() },
  };

  constructor(private readonly request: UserJobRequest) {
    for (let ts = Math.floor(request.window.startTs / DAY) * DAY; ts < request.window.endTs; ts += DAY) this.days.set(ts, zeros());
  }

  add(data: PartData): void {
    switch (data.part) {
      case 'daily':
        for (const { day, values } of data.days) {
          const point = this.days.get(day);
          if (point) for (const metric of USER_METRICS) point[metric] += values[metric] ?? 0;
        }
        return;
      case 'by_hour':
        for (const [hour, weekday, engagement] of data.cells) this.byLocalTime.add(weekday, hour, engagement);
        return;
      case 'engagers':
        for (const sketch of DISTINCT_SKETCHES) {
          const distinct = this.distinct[sketch];
          const chunk = data.sketches[sketch];
          foldSketch(distinct.registers, chunk.codes);
          if (distinct.ids && chunk.ids) for (const id of chunk.ids) distinct.ids.add(id);
          // an incomplete chunk, or more pubkeys than it is worth holding: the sketch answers
          if (!chunk.ids || (distinct.ids?.size ?? 0) > ENGAGERS_EXACT_MAX) distinct.ids = null;
        }
        return;
      case 'event_type':
        throw new Error('an event type\'s cells merge in EventTypeJobMerge');
      default: {
        const top = this.tops.get(data.part) ?? { amounts: new Map<string, number>(), complete: true };
        for (const [item, amount] of data.items) top.amounts.set(item, (top.amounts.get(item) ?? 0) + amount);
        top.complete &&= data.complete;
        this.tops.set(data.part, top);
      }
    }
  }

  /** The result JSON: the shapes of the summary and drill-down routes, `meta.source: "fallback"`. */
  result(meta: Meta): unknown {
    const request = this.request;
    const approximate: string[] = [];
    const limit = request.limit ?? (request.kind === 'summary' ? SUMMARY_TOP_COUNT : DRILLDOWN_TOP_COUNT);
    // The merged candidates as the counters' top lists; a list past some chunk's candidates is approximate.
    const drilldowns = () => {
      for (const { field, list } of TOP_LISTS) if (this.tops.get(list)?.complete === false) approximate.push(field);
      return drilldownsOf({ tops: Object.fromEntries([...this.tops].map(([list, top]) => [list, top.amounts])) }, limit);
    };
    const stateOf = (values: Record<string, number>): BucketState => ({ values, sets: {}, tops: {} });
    const withMeta = (body: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ ...body, meta: { ...meta, ...extra, approximate } });

    if (request.kind === 'drilldown' && isTimeDrilldown(request.drilldown)) {
      return withMeta({ data: timeDrilldown(request.drilldown, this.byLocalTime) }, { tzOffsetMinutes: request.tzOffsetMinutes ?? 0 });
    }
    const topList = request.kind === 'drilldown' ? topListOfDrilldown(request.drilldown) : undefined;
    if (topList) return withMeta({ data: drilldowns()[topList.field] });
    if (request.kind === 'drilldown') return withMeta({ data: [...this.days].map(([ts, values]) => ({ ts, ...toTotals(stateOf(values)) })) });

    const totalsValues = zeros();
    for (const point of this.days.values()) for (const metric of USER_METRICS) totalsValues[metric] += point[metric];
    const timeline = [...this.days].map(([ts, values]) => ({ ts, ...timelineTotals(toTotals(stateOf(values))) }));
    const count = (name: DistinctPubkeys, field: string) => {
      const { registers, ids } = this.distinct[name];
      if (!ids) approximate.push(field);
      return ids ? ids.size : hllEstimate(registers);
    };
    const uniqueEngagers = count('engagers', 'uniqueEngagers');
    const uniqueZappers = count('zappers', 'uniqueZappers');
    const lists = drilldowns();
    return withMeta({ data: { pubkey: request.pubkey, totals: { ...toTotals(stateOf(totalsValues)), uniqueEngagers, uniqueZappers }, timeline, drilldowns: lists }, drilldowns: lists });
  }
}
