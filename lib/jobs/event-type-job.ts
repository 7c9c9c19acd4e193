import { emptyRegisters, foldCode, foldSketch, hllEstimate } from '../counters/hll.js';
import { hllCodeSql } from '../counters/settle-sql.js';
import { NONE_VALUE } from '../app/dimension-values.js';
import type { EventTypeAggregation, EventTypeMetricGroup } from '../query/app-metrics.js';
import type { Meta } from '../query/window-read.js';
import type { QueryWindow } from '../query/window.js';
import { dedupedFacts, type FactsWindow, type SqlDialect } from './metrics-sql.js';

/**
 * A registered event type's metric as a job (docs/metrics.md, "Event types"): what the counters
 * cannot answer, a window past 90 days or unique users by dimension, computed from the facts' own
 * `dimensions` and `measures` columns (so a job groups an event exactly as its counters did), a point
 * per UTC day, in the shape GET /v1/metrics/{eventType} answers.
 */
export interface EventTypeJobRequest {
  kind: 'event_type';
  project: string;
  eventType: string;
  agg: EventTypeAggregation;
  property?: string;
  groupBy: string[];
  window: QueryWindow;
}

/** The longest window a job of an event type answers: the merge holds a cell per (group, day). */
export const MAX_EVENT_TYPE_JOB_DAYS = 732;
/** Unique users by dimension are merged as one sketch per (group, day): one dimension at most. */
export const MAX_UNIQUE_JOB_DIMENSIONS = 1;

const DAY = 86400;
const literal = (text: string) => `'${text.replace(/'/g, "''")}'`;

/**
 * One chunk's rows: per day and group, `a` and `b`: events and 0 (count), the measure's sum in
 * thousandths and the events that carried it (sum, avg), or per register a HyperLogLog code and 0
 * (unique: at most 1,024 rows per day and group).
 */
export function eventTypeJobSql(relation: string, window: FactsWindow, dialect: SqlDialect, request: EventTypeJobRequest): string {
  // Only the type's own rows are deduplicated; the partition pruning of dedupedFacts still applies.
  const own = `(SELECT * FROM ${relation} WHERE source = 'app' AND project = ${literal(request.project)} AND type = ${literal(`app:${request.eventType}`)})`;
  const facts = `SELECT * FROM (${dedupedFacts(own, window, dialect, { pruneHours: true })}) WHERE schema_version IS NOT NULL`;
  const value = (x: string) => `substr(${x}, strpos(${x}, '=') + 1)`;
  const byMeasure = request.agg === 'sum' || request.agg === 'avg';
  const joins = [...request.groupBy.map((_, i) => `CROSS JOIN UNNEST(f.dimensions) AS g${i}(x)`), ...(byMeasure ? ['CROSS JOIN UNNEST(f.measures) AS m(x)'] : [])];
  const where = [...request.groupBy.map((dimension, i) => `split_part(g${i}.x, '=', 1) = ${literal(dimension)}`), ...(byMeasure ? [`split_part(m.x, '=', 1) = ${literal(request.property!)}`] : [])];
  const columns = [
    'CAST(floor(f.created_at / 86400.0) AS BIGINT) * 86400 AS day',
    ...request.groupBy.map((_, i) => `${value(`g${i}.x`)} AS g${i}`),
    ...(byMeasure ? [`CAST(${value('m.x')} AS BIGINT) AS measure`] : []),
    ...(request.agg === 'unique' ? [`${hllCodeSql(dialect, 'f.author')} AS code`] : []),
  ];
  const keys = ['day', ...request.groupBy.map((_, i) => `g${i}`)];
  const register = 'CAST(floor(code / 64) AS BIGINT)';
  const aggregates = { count: 'count(*) AS a, 0 AS b', sum: 'sum(measure) AS a, count(*) AS b', avg: 'sum(measure) AS a, count(*) AS b', unique: `${register} * 64 + max(code % 64) AS a, 0 AS b` }[request.agg];
  return `WITH f AS (${facts}),
r AS (SELECT ${columns.join(', ')} FROM f ${joins.join(' ')} WHERE ${where.length ? where.join(' AND ') : 'TRUE'})
SELECT ${keys.join(', ')}, ${aggregates} FROM r GROUP BY ${[...keys, ...(request.agg === 'unique' ? [register] : [])].join(', ')}`;
}

/** What a chunk keeps: `[day, JSON of the group's values, a, b]` per row. */
export interface EventTypeCells {
  part: 'event_type';
  cells: [day: number, group: string, a: number, b: number][];
}

export function eventTypeCells(request: EventTypeJobRequest, rows: Record<string, unknown>[]): EventTypeCells {
  return { part: 'event_type', cells: rows.map((row) => [Number(row.day), JSON.stringify(request.groupBy.map((_, i) => String(row[`g${i}`]))), Number(row.a), Number(row.b)]) };
}

/** Folds every chunk's cells into the answer; memory bounded by groups × days (× 1 KiB for unique). */
export class EventTypeJobMerge {
  /** group → day → [a, b], or the day's registers for unique */
  private readonly groups = new Map<string, Map<number, [number, number] | Uint8Array>>();

  constructor(private readonly request: EventTypeJobRequest) {}

  add(data: EventTypeCells): void {
    for (const [day, group, a, b] of data.cells) {
      const days = this.groups.get(group) ?? this.groups.set(group, new Map()).get(group)!;
      if (this.request.agg === 'unique') {
        foldCode((days.get(day) as Uint8Array | undefined) ?? (days.set(day, emptyRegisters()).get(day) as Uint8Array), a);
        continue;
      }
      const cell = (days.get(day) as [number, number] | undefined) ?? (days.set(day, [0, 0]).get(day) as [number, number]);
      cell[0] += a;
      cell[1] += b;
    }
  }

  result(meta: Meta): unknown {
    const { request } = this;
    const days: number[] = [];
    for (let ts = Math.floor(request.window.startTs / DAY) * DAY; ts < request.window.endTs; ts += DAY) days.push(ts);
    const valueOf = (cells: ([number, number] | Uint8Array)[]): number | null => {
      if (request.agg === 'unique') {
        const union = emptyRegisters();
        for (const registers of cells as Uint8Array[]) foldSketch(union, registers);
        return hllEstimate(union);
      }
      const [a, b] = (cells as [number, number][]).reduce(([x, y], [p, q]) => [x + p, y + q], [0, 0]);
      if (request.agg === 'count') return a;
      if (request.agg === 'sum') return a / 1000;
      return b ? a / 1000 / b : null;
    };
    if (!request.groupBy.length && !this.groups.size) this.groups.set('[]', new Map());
    const groups: EventTypeMetricGroup[] = [...this.groups].map(([key, byDay]) => {
      const values = JSON.parse(key) as string[];
      return {
        group: Object.fromEntries(request.groupBy.map((dimension, i) => [dimension, values[i] === NONE_VALUE ? null : values[i]!])),
        value: valueOf([...byDay.values()]),
        series: days.map((day) => ({ start: new Date(day * 1000).toISOString(), value: valueOf(byDay.has(day) ? [byDay.get(day)!] : []) })),
      };
    });
    groups.sort((x, y) => (y.value ?? -Infinity) - (x.value ?? -Infinity) || (JSON.stringify(x.group) < JSON.stringify(y.group) ? -1 : 1));
    const data = { project: request.project, eventType: request.eventType, agg: request.agg, property: request.property ?? null, granularity: 'day', groupBy: request.groupBy, groups };
    return { data, meta: { ...meta, approximate: request.agg === 'unique' ? ['value'] : [] } };
  }
}
