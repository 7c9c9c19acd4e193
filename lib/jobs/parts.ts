import { USER_METRICS, type UserMetric } from '../counters/contributions.js';
import type { BucketState } from '../counters/aggregate.js';
import { emptyRegisters, foldSketch, hllEstimate } from '../counters/hll.js';
import type { Meta } from '../query/window-read.js';
import { heatmapOf } from '../query/drilldown.js';
import { timelineTotals, toTotals } from '../query/summary.js';
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
  if (request.kind === 'summary') return ['daily', 'engagers', 'top_posts', 'top_tags', 'top_zappers'];
  switch (request.drilldown) {
    case 'best-hours':
    case 'best-days':
    case 'heatmap':
      return ['by_hour'];
    case 'top-posts':
      return ['top_posts'];
    case 'top-hashtags':
      return ['top_tags'];
    case 'zappers':
      return ['top_zappers'];
    default:
      return ['daily'];
  }
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
  private readonly cells = Array.from({ length: 24 * 7 }, () => 0);
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
        for (const [hour, weekday, engagement] of data.cells) this.cells[((hour + 24) % 24) * 7 + ((weekday + 7) % 7)]! += engagement;
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
    const limit = request.limit ?? (request.kind === 'summary' ? 5 : 10);
    const top = (list: TopListQuery, name: string) => {
      const merged = this.tops.get(list) ?? { amounts: new Map<string, number>(), complete: true };
      if (!merged.complete) approximate.push(name);
      return [...merged.amounts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).slice(0, limit);
    };
    const posts = () => top('top_posts', 'topPosts').map(([id, engagement]) => ({ id, engagement }));
    const tags = () => top('top_tags', 'topHashtags').map(([tag, count]) => ({ tag, count }));
    const zappers = () => top('top_zappers', 'topZappers').map(([pubkey, msats]) => ({ pubkey, sats: Math.floor(msats / 1000) }));
    const stateOf = (values: Record<string, number>): BucketState => ({ values, sets: {}, tops: {} });
    const withMeta = (body: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ ...body, meta: { ...meta, ...extra, approximate } });

    if (request.kind === 'drilldown' && (request.drilldown === 'best-hours' || request.drilldown === 'best-days')) {
      const tz = { tzOffsetMinutes: request.tzOffsetMinutes ?? 0 };
      const byHour = Array.from({ length: 24 }, (_, hour) => ({ hour, engagement: this.cells.slice(hour * 7, hour * 7 + 7).reduce((a, b) => a + b, 0) }));
      if (request.drilldown === 'best-hours') {
        const best = [...byHour].sort((a, b) => b.engagement - a.engagement || a.hour - b.hour).filter((h) => h.engagement > 0).slice(0, 3).map((h) => h.hour);
        return withMeta({ data: { hours: byHour, best } }, tz);
      }
      const names = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
      const byDay = names.map((day, index) => ({ day, index, engagement: byHour.reduce((sum, h) => sum + this.cells[h.hour * 7 + index]!, 0) }));
      const best = [...byDay].sort((a, b) => b.engagement - a.engagement || a.index - b.index).filter((d) => d.engagement > 0).slice(0, 3).map((d) => d.day);
      return withMeta({ data: { days: byDay, best } }, tz);
    }
    if (request.kind === 'drilldown' && request.drilldown === 'heatmap') {
      return withMeta({ data: heatmapOf((weekday, hour) => this.cells[hour * 7 + weekday]!) }, { tzOffsetMinutes: request.tzOffsetMinutes ?? 0 });
    }
    if (request.kind === 'drilldown' && request.drilldown === 'top-posts') return withMeta({ data: posts() });
    if (request.kind === 'drilldown' && request.drilldown === 'top-hashtags') return withMeta({ data: tags() });
    if (request.kind === 'drilldown' && request.drilldown === 'zappers') return withMeta({ data: zappers() });
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
    const drilldowns = { topPosts: posts(), topHashtags: tags(), topZappers: zappers() };
    return withMeta({ data: { pubkey: request.pubkey, totals: { ...toTotals(stateOf(totalsValues)), uniqueEngagers, uniqueZappers }, timeline, drilldowns }, drilldowns });
  }
}
