import type { CounterItem, Granularity } from '../ports.js';
import { dedupedFacts, type SqlDialect } from '../jobs/metrics-sql.js';
import { HLL_PRECISION } from './hll.js';
import { GRANULARITY_SECONDS } from './buckets.js';
import { encodeTopList, TOP_N, TOP_PREFIX_BY_LIST, type TopList } from './topn.js';
import { SPARSE_HOUR_EVENTS } from './contributions.js';
import { zapAmountMetricSql } from './zap-amounts.js';
import { eventTypeCountsSql, eventTypeUsersSql } from './event-type-counters.js';
import { hasWeekItemsSql, WEEK_DAY_METRICS } from './weeks.js';

/**
 * Settled counters as one SQL statement over the facts, so the heavy part of settling (deduplicating
 * an hour or a day of facts and aggregating it per scope) runs in an engine that scales and spills:
 * Athena in AWS, DuckDB locally, the same text in two dialects, as the jobs already do. It computes
 * exactly what `aggregateFacts` + `settledHourItems` / `settledDayItem` compute from the same facts
 * (docs/metrics.md, "Counters"); test/unit/settle-sql.test.ts holds the two to the same items.
 *
 * One row per item: `scope`, `granularity`, `bucket`, and the item's content as JSON text: `vals`
 * (metric → number), `sketches` (sketch → sorted HLL codes, one per register), `tops` (list → the
 * `TOP_N` largest [key, amount] pairs, ties by key); last, `part`, the settled hour or day it belongs to.
 */
export interface SettleSqlOptions {
  dialect: SqlDialect;
  /**
   * `h`: hour items, except the per-event and per-address scopes' (`isTargetScope`: counted live per
   * hour), and ten-minute items, plus the live-counted items of `liveHours` and copies; `d`: day
   * items, with `eng_hHH`, and quarter-day items; `w`: week items (weeks.ts)
   */
  granularity: SettleGranularity;
  /** the hours (or days) to settle, bucket starts: one statement settles many, so a backlog is a few queries */
  buckets: readonly number[];
  /**
   * Hours whose live-counted items (minute items; the hour items of per-event and per-address scopes)
   * are settled too: rewritten only where live counting may have drifted.
   */
  liveHours?: readonly number[];
  /**
   * Also the live-counted items of every (scope, minute) — (scope, hour) for per-event and per-address
   * scopes — an event found in more than one object contributes to: where live counting may have
   * counted it twice. The relation must still hold the copies (the hour's objects before they are merged).
   */
  copiedLive?: boolean;
  /**
   * Only the scopes of one shard (`scopeShardSql`): the aggregation state, the part that grows with an
   * hour's scopes, is then 1/count of the hour's, so a settle's memory is bounded by the shard size.
   */
  shard?: { index: number; count: number };
  /**
   * The facts holding the deletion requests that may retract engagement in these buckets (NIP-09:
   * `dedupedFacts`' retractedFlag): the buckets' own hours and RETRACTION_HORIZON_SECONDS after. A retracted event
   * counts nowhere, and in an hour the live-counted items it touched are rewritten (a zero where it
   * was alone), so a retraction that arrives after its hour was counted live is taken back out.
   */
  deletions?: string;
  /** `w` of one bucket: its days before this time only (the week to date: weeks.ts); default the whole week */
  through?: number;
}

/**
 * A scope's shard, 0 … count−1, from the hex its key carries (a user's pubkey, an event id, an
 * address's author): uniform, the same in both dialects, and no hashing per row. The network and
 * project scopes are in shard 0.
 */
export function scopeShardSql(dialect: SqlDialect, scope: string, count: number): string {
  if (count <= 1) return '0';
  const hex = dialectSql(dialect).hex;
  return `(CASE WHEN substr(${scope}, 1, 2) IN ('u:', 'e:') THEN ${hex(`substr(${scope}, 3, 6)`)}
      WHEN substr(${scope}, 1, 2) = 'a:' THEN ${hex(`substr(split_part(${scope}, ':', 3), 1, 6)`)} ELSE 0 END) % ${count}`;
}

/** `isTargetScope` (contributions.ts) in SQL: a per-event or per-address scope. */
export const isTargetScopeSql = (scope: string) => `substr(${scope}, 1, 2) IN ('e:', 'a:')`;

/** The same shard in TypeScript (tests and the compactor's bookkeeping hold the SQL to it). */
export function scopeShard(scope: string, count: number): number {
  if (count <= 1) return 0;
  const prefix = scope.slice(0, 2);
  const hex = prefix === 'u:' || prefix === 'e:' ? scope.slice(2, 8) : prefix === 'a:' ? (scope.split(':')[2] ?? '').slice(0, 6) : '';
  const n = /^[0-9a-fA-F]{6}$/.test(hex) ? parseInt(hex, 16) : 0;
  return n % count;
}

/** Which settled bucket (hour or day start) a result row belongs to: the export's partition column. */
export const SETTLE_PART_COLUMN = 'part';

const AUTHORED = `('note', 'reply', 'comment', 'video')`;
const ENGAGEMENT = `('reaction', 'repost', 'reply', 'comment', 'zap')`;
const REGISTER_DIVISOR = 2 ** (32 - HLL_PRECISION);
const TEN_MINUTES = GRANULARITY_SECONDS.t;
const QUARTER_DAY = GRANULARITY_SECONDS.q;

/** What a settle run settles: hours, days or weeks (each its own manifests, compact.ts). */
export type SettleGranularity = 'h' | 'd' | 'w';

/** The granularities a settle run of hours, days or weeks writes as settled items (compared with, and cleared against, the last run's). */
export const SETTLED_GRANULARITIES = { h: ['h', 't'], d: ['d', 'q'], w: ['w'] } as const;

function dialectSql(dialect: SqlDialect) {
  return {
    hex: (expr: string) => (dialect === 'athena' ? `from_base(${expr}, 16)` : `CAST('0x' || ${expr} AS BIGINT)`),
    json: (expr: string) => (dialect === 'athena' ? `json_format(CAST(${expr} AS JSON))` : `CAST(to_json(${expr}) AS VARCHAR)`),
    join: (expr: string, orderBy: string) => (dialect === 'athena' ? `array_join(array_agg(${expr} ORDER BY ${orderBy}), ',')` : `string_agg(${expr}, ',' ORDER BY ${orderBy})`),
  };
}

/**
 * The same HyperLogLog code as hll.ts, of a 64-hex member: its first 10 bits pick the register, the
 * rank is 1 + the leading zeros of the next 54 bits (pubkeys and ids are uniform hashes already).
 */
export function hllCodeSql(dialect: SqlDialect, member: string): string {
  const d = dialectSql(dialect);
  const hi = d.hex(`substr(${member}, 1, 8)`);
  const next = d.hex(`substr(${member}, 9, 8)`);
  const rest = `(${hi} % ${REGISTER_DIVISOR})`;
  const rank = `(CASE WHEN ${rest} <> 0 THEN 22 - CAST(floor(log2(${rest})) AS BIGINT) WHEN ${next} = 0 THEN 55 ELSE 54 - CAST(floor(log2(${next})) AS BIGINT) END)`;
  return `(CAST(floor(${hi} / ${REGISTER_DIVISOR}) AS BIGINT) * 64 + ${rank})`;
}

export function settleSql(relation: string, options: SettleSqlOptions): string {
  const { dialect, granularity, buckets } = options;
  if (!buckets.length) throw new Error('settleSql needs at least one bucket');
  const d = dialectSql(dialect);
  const size = GRANULARITY_SECONDS[granularity];
  // Days and weeks alike: no live-counted items, no sparse hours; retracted events are left out.
  const dayOrWeek = granularity !== 'h';
  const isWeek = granularity === 'w';
  const bucketOf = (t: string, seconds: number) => `CAST(floor(${t} / ${seconds}) AS BIGINT) * ${seconds}`;
  const list = (values: readonly number[]) => values.map(String).join(', ');
  const liveHours = dayOrWeek ? [] : (options.liveHours ?? []);
  // Per-event and per-address scopes: counted live per hour, so their hour items are live-counted ones.
  const isTarget = isTargetScopeSql('scope');
  const code = (member: string) => hllCodeSql(dialect, member);
  const engagement = `CASE type
      WHEN 'reaction' THEN (CASE WHEN coalesce(reaction, '') IN ('+', '') THEN 'likes' WHEN reaction = '-' THEN 'dislikes' ELSE 'emoji' END)
      WHEN 'repost' THEN 'reposts' WHEN 'reply' THEN 'replies' WHEN 'comment' THEN 'replies' WHEN 'zap' THEN 'zaps' END`;
  const targetScope = `CASE
      WHEN type IN ('reaction', 'repost', 'zap') AND target_address IS NOT NULL THEN 'a:' || target_address
      WHEN target_event_id IS NOT NULL THEN 'e:' || target_event_id
      WHEN target_address IS NOT NULL THEN 'a:' || target_address END`;
  const project = `'p:' || coalesce(project, '')`;
  // `settled_only`: the global author sketch and top authors live in hour and day items only.
  // Every count row carries `retracted` (a retracted event's rows count 0, keeping its keys: `c`).
  const countsOf = (f: string, e: string, r: string) => [
    `SELECT 'g' AS scope, 'events' AS metric, CAST(1 AS BIGINT) AS amount, created_at, event_id, retracted FROM ${f}`,
    `SELECT 'g', 'kind:' || CAST(kind AS VARCHAR), 1, created_at, event_id, retracted FROM ${f} WHERE source = 'nostr'`,
    `SELECT 'g', 'type:' || type, 1, created_at, event_id, retracted FROM ${f}`,
    `SELECT 'u:' || author, CASE type WHEN 'note' THEN 'posts' WHEN 'reply' THEN 'replies' WHEN 'comment' THEN 'comments' ELSE 'videos' END, 1, created_at, event_id, retracted FROM ${f} WHERE source = 'nostr' AND type IN ${AUTHORED}`,
    `SELECT target_scope, eng, 1, created_at, event_id, retracted FROM ${e} WHERE target_scope IS NOT NULL`,
    `SELECT target_scope, 'zap_msats', zap_msats, created_at, event_id, retracted FROM ${e} WHERE target_scope IS NOT NULL AND type = 'zap' AND zap_msats <> 0`,
    `SELECT 'u:' || target_pubkey, eng || '_rcv', 1, created_at, event_id, retracted FROM ${r}`,
    `SELECT 'u:' || target_pubkey, 'zap_msats_rcv', zap_msats, created_at, event_id, retracted FROM ${r} WHERE type = 'zap' AND zap_msats <> 0`,
    `SELECT 'u:' || target_pubkey, ${zapAmountMetricSql('zap_msats')}, 1, created_at, event_id, retracted FROM ${r} WHERE type = 'zap'`,
    `SELECT ${project}, 'events', 1, created_at, event_id, retracted FROM ${f} WHERE source = 'app'`,
    `SELECT ${project}, type, 1, created_at, event_id, retracted FROM ${f} WHERE source = 'app'`,
    ...eventTypeCountsSql(f),
    `SELECT CASE WHEN target_address IS NOT NULL THEN 'a:' || target_address ELSE 'e:' || target_event_id END, 'views', 1, created_at, event_id, retracted FROM ${f}
      WHERE source = 'app' AND substr(type, 5) IN ('view', 'play', 'video_view') AND (target_address IS NOT NULL OR target_event_id IS NOT NULL)`,
    // Engagement received by UTC hour of day, for best-hours and best-days on day items.
    ...(granularity === 'd' ? [`SELECT 'u:' || target_pubkey, 'eng_h' || lpad(CAST(CAST(floor((created_at % 86400) / 3600) AS BIGINT) AS VARCHAR), 2, '0'), 1, created_at, event_id, retracted FROM ${r}`] : []),
  ];
  const sketches = [
    `SELECT 'g' AS scope, 'authors' AS sketch, author AS member, created_at, 1 AS settled_only FROM f WHERE source = 'nostr' AND NOT retracted`,
    `SELECT 'u:' || target_pubkey, 'engagers', engager, created_at, 0 FROM r WHERE engager IS NOT NULL AND engager <> '' AND NOT retracted`,
    `SELECT 'u:' || target_pubkey, 'zappers', engager, created_at, 0 FROM r WHERE type = 'zap' AND engager IS NOT NULL AND engager <> '' AND NOT retracted`,
    `SELECT ${project}, 'users', author, created_at, 0 FROM f WHERE source = 'app'`,
    eventTypeUsersSql('f'),
  ];
  const tops = [
    `SELECT 'g' AS scope, 'top_authors' AS list, author AS k, CAST(1 AS BIGINT) AS amount, created_at, 1 AS settled_only FROM f WHERE source = 'nostr' AND NOT retracted`,
    `SELECT 'u:' || f.author, 'top_tags', x.tag, 1, f.created_at, 0 FROM f CROSS JOIN UNNEST(f.hashtags) AS x(tag) WHERE f.source = 'nostr' AND f.type IN ${AUTHORED}`,
    `SELECT 'u:' || target_pubkey, 'top_zappers', engager, zap_msats, created_at, 0 FROM r WHERE type = 'zap' AND zap_msats <> 0 AND engager IS NOT NULL AND engager <> '' AND NOT retracted`,
    `SELECT 'u:' || target_pubkey, 'top_posts', coalesce(target_address, target_event_id), 1, created_at, 0 FROM r WHERE coalesce(target_address, target_event_id) IS NOT NULL AND NOT retracted`,
  ];

  // Retracted events, in an hour: their live-counted items are rewritten (zero rows keep the keys).
  const retractions = options.deletions !== undefined;
  const zeroed = retractions && !dayOrWeek;
  // The rows of live-counted items: a (scope, minute) — (scope, hour) for target scopes — of a drifted
  // hour, touched by a copy, or by a retracted event.
  const copied = !dayOrWeek && options.copiedLive === true;
  const liveKey = `scope || '|' || CAST(CASE WHEN ${isTarget} THEN ${bucketOf('created_at', 3600)} ELSE ${bucketOf('created_at', 60)} END AS VARCHAR)`;
  const liveRows = [
    ...(liveHours.length ? [`${bucketOf('created_at', 3600)} IN (${list(liveHours)})`] : []),
    ...(copied ? [`${liveKey} IN (SELECT k FROM copied_keys)`] : []),
    ...(zeroed ? [`${liveKey} IN (SELECT k FROM retracted_keys)`] : []),
  ];
  const liveWhere = liveRows.length ? `(${liveRows.join(' OR ')})` : 'FALSE';
  const minuteWhere = `NOT (${isTarget}) AND ${liveWhere}`;
  // A sparse user hour (SPARSE_HOUR_EVENTS) has no hour item: its minute items carry its details.
  const hourKey = `scope || '|' || CAST(${bucketOf('created_at', 3600)} AS VARCHAR)`;
  const inSparseHour = `${hourKey} IN (SELECT k FROM sparse_keys)`;
  const topPrefix = `CASE list ${Object.entries(TOP_PREFIX_BY_LIST).map(([list, prefix]) => `WHEN '${list}' THEN '${prefix}'`).join(' ')} END`;
  // Ten-minute items (hour runs) and quarter-day items (day runs) stand in for finer items only where
  // they replace more than one: a (scope, ten minutes) with events in two minutes or more, a (scope,
  // quarter day) with two hour items or more (a user's sparse hours have none). Elsewhere the reader
  // reads the finer items (read.ts), so these cost writes only where they save reads.
  const coarseKey = (seconds: number) => `scope || '|' || CAST(${bucketOf('created_at', seconds)} AS VARCHAR)`;
  const coarseKeys = dayOrWeek
    ? `SELECT scope || '|' || CAST(quarter AS VARCHAR) AS k FROM (
    SELECT scope, ${bucketOf('created_at', QUARTER_DAY)} AS quarter FROM c WHERE NOT (${isTarget}) AND NOT retracted
    GROUP BY scope, ${bucketOf('created_at', QUARTER_DAY)}, ${bucketOf('created_at', 3600)}
    HAVING substr(scope, 1, 2) <> 'u:' OR count(DISTINCT event_id) > ${SPARSE_HOUR_EVENTS}
  ) GROUP BY scope, quarter HAVING count(*) >= 2`
    : `SELECT ${coarseKey(TEN_MINUTES)} AS k FROM c WHERE NOT (${isTarget}) AND NOT retracted GROUP BY scope, ${bucketOf('created_at', TEN_MINUTES)} HAVING count(DISTINCT ${bucketOf('created_at', 60)}) >= 2`;
  const coarse = dayOrWeek ? QUARTER_DAY : TEN_MINUTES;
  // One aggregation per granularity of output: the hour or day item, the ten-minute or quarter-day items, and the minute items.
  const levels: { name: Granularity; bucket: string; filter: string; part: string; scopes: string }[] = isWeek
    ? [{ name: 'w', bucket: bucketOf('created_at', size), filter: 'TRUE', part: 'v.bucket', scopes: `WHERE ${hasWeekItemsSql('scope')}` }]
    : [
        { name: granularity, bucket: bucketOf('created_at', size), filter: 'TRUE', part: 'v.bucket', scopes: dayOrWeek ? '' : `WHERE (NOT (${isTarget}) OR ${liveWhere}) AND NOT (${inSparseHour})` },
        { name: dayOrWeek ? 'q' : 't', bucket: bucketOf('created_at', coarse), filter: dayOrWeek ? 'TRUE' : 'settled_only = 0', part: bucketOf('v.bucket', size), scopes: `WHERE ${coarseKey(coarse)} IN (SELECT k FROM coarse_keys)` },
      ];
  if (liveRows.length) {
    levels.push({ name: 'm', bucket: bucketOf('created_at', 60), filter: `settled_only = 0 AND ${minuteWhere}`, part: bucketOf('v.bucket', 3600), scopes: `WHERE ${minuteWhere}` });
  }
  const aggregate = (level: (typeof levels)[number]) => {
    const b = level.bucket;
    const g = `, ${b}`;
    const minute = level.name === 'm';
    // Minute and ten-minute items hold what live items hold: counts and a project's users sketch; a
    // minute of a sparse user hour also its engagers and top-list entries (as `tp:<key>` counts), never lists.
    const countsLevel = minute || level.name === 't';
    const sketchFilter = minute ? `${level.filter} AND (sketch = 'users' OR ${inSparseHour})` : countsLevel ? `${level.filter} AND sketch = 'users'` : level.filter;
    const tops = countsLevel ? 'CAST(NULL AS VARCHAR)' : 't.tops';
    // A week item's users also count each day's timeline metrics (weekDayMetric): each count row once
    // as itself and once as its day's (a self-join, not a UNION of c with itself, which DuckDB 1.x's optimizer fails on).
    const weekDays = `(SELECT scope, CASE WHEN x.daily THEN 'd' || CAST(CAST(floor((created_at % ${size}) / 86400) AS BIGINT) AS VARCHAR) || '.' || metric ELSE metric END AS metric, amount, created_at
        FROM c CROSS JOIN (VALUES (FALSE), (TRUE)) AS x(daily)
        WHERE NOT x.daily OR (substr(scope, 1, 2) = 'u:' AND metric IN (${WEEK_DAY_METRICS.map((m) => `'${m}'`).join(', ')})))`;
    const source = minute
      ? `(SELECT scope, metric, amount, created_at FROM c UNION ALL SELECT scope, ${topPrefix} || k, amount, created_at FROM t WHERE settled_only = 0 AND ${inSparseHour})`
      : level.name === 'w'
        ? weekDays
        : 'c';
    return `SELECT v.scope, '${level.name}' AS granularity, v.bucket, v.vals, s.sketches, ${tops} AS tops, CAST(${level.part} AS VARCHAR) AS ${SETTLE_PART_COLUMN} FROM (
      SELECT scope, bucket, '{' || ${d.join(`${d.json('metric')} || ':' || CAST(total AS VARCHAR)`, 'metric')} || '}' AS vals
      FROM (SELECT scope, ${b} AS bucket, metric, sum(amount) AS total FROM ${source} ${level.scopes} GROUP BY scope${g}, metric)
      GROUP BY scope, bucket
    ) v
    LEFT JOIN (
      SELECT scope, bucket, '{' || ${d.join(`${d.json('sketch')} || ':[' || codes || ']'`, 'sketch')} || '}' AS sketches
      FROM (
        SELECT scope, bucket, sketch, ${d.join('CAST(register * 64 + rank AS VARCHAR)', 'register')} AS codes
        FROM (SELECT scope, ${b} AS bucket, sketch, CAST(floor(code / 64) AS BIGINT) AS register, max(code % 64) AS rank FROM sk WHERE ${sketchFilter} GROUP BY scope${g}, sketch, CAST(floor(code / 64) AS BIGINT))
        GROUP BY scope, bucket, sketch
      ) GROUP BY scope, bucket
    ) s ON s.scope = v.scope AND s.bucket = v.bucket${
      countsLevel
        ? ''
        : `
    LEFT JOIN (
      SELECT scope, bucket, '{' || ${d.join(`${d.json('list')} || ':[' || entries || ']'`, 'list')} || '}' AS tops
      FROM (
        SELECT scope, bucket, list, ${d.join(`'[' || ${d.json('k')} || ',' || CAST(total AS VARCHAR) || ']'`, 'total DESC, k')} AS entries
        FROM (
          SELECT *, row_number() OVER (PARTITION BY scope, bucket, list ORDER BY total DESC, k) AS place
          FROM (SELECT scope, ${b} AS bucket, list, k, sum(amount) AS total FROM t WHERE ${level.filter} GROUP BY scope${g}, list, k)
        ) WHERE place <= ${TOP_N}
        GROUP BY scope, bucket, list
      ) GROUP BY scope, bucket
    ) t ON t.scope = v.scope AND t.bucket = v.bucket`
    }`;
  };

  const window = { startTs: Math.min(...buckets), endTs: Math.max(...buckets) + size };
  const shard = options.shard && options.shard.count > 1 ? options.shard : null;
  if (shard && !(Number.isInteger(shard.index) && shard.index >= 0 && shard.index < shard.count)) throw new Error(`invalid shard ${shard.index} of ${shard.count}`);
  // A week's rows: only the scopes with week items (weeks.ts), and of those only the shard's.
  const kept = [...(shard ? [`${scopeShardSql(dialect, 'scope', shard.count)} = ${shard.index}`] : []), ...(isWeek ? [hasWeekItemsSql('scope')] : [])];
  const inShard = (rows: string) => (kept.length ? `SELECT * FROM (${rows}) WHERE ${kept.join(' AND ')}` : rows);
  if (options.through !== undefined && !(isWeek && buckets.length === 1 && options.through > buckets[0]! && options.through <= buckets[0]! + size && options.through % 86400 === 0)) {
    throw new Error('`through` is for one week, a day boundary within it');
  }
  const inBuckets = `${bucketOf('created_at', size)} IN (${list(buckets)})${options.through !== undefined ? ` AND created_at < ${options.through}` : ''}`;
  const union = (lines: string[]) => lines.join('\n  UNION ALL ');
  const deduped = retractions ? dedupedFacts(relation, window, dialect, { deletions: options.deletions, keepRetracted: true }) : `SELECT *, FALSE AS retracted FROM (${dedupedFacts(relation, window, dialect)})`;
  // One facts CTE: a retracted event stays in it (flagged) where its live-counted items must be rewritten
  // (an hour), and is left out where nothing of it is kept (a day); without deletions nothing is flagged.
  const facts = `f AS (SELECT * FROM (${deduped}) WHERE ${inBuckets}${retractions && !zeroed ? ' AND NOT retracted' : ''}),`;
  const countRows = inShard(union(countsOf('f', 'e', 'r')));
  const counts = `SELECT scope, metric, CASE WHEN retracted THEN CAST(0 AS BIGINT) ELSE amount END AS amount, created_at, event_id, retracted FROM (${countRows})`;
  return `WITH ${facts}
e AS (
  SELECT *, ${engagement} AS eng, ${targetScope} AS target_scope, CASE WHEN type = 'zap' THEN zap_sender ELSE author END AS engager
  FROM f WHERE source = 'nostr' AND type IN ${ENGAGEMENT}
),
r AS (SELECT * FROM e WHERE target_pubkey IS NOT NULL AND target_pubkey IS DISTINCT FROM engager),
c AS (${counts}),${zeroed ? `
retracted_keys AS (SELECT DISTINCT ${liveKey} AS k FROM c WHERE retracted),` : ''}${
    copied
      ? `
copies AS (SELECT event_id FROM ${relation} WHERE created_at >= ${window.startTs} AND created_at < ${window.endTs} GROUP BY event_id HAVING count(*) > 1),
copied_keys AS (SELECT DISTINCT ${liveKey} AS k FROM c WHERE event_id IN (SELECT event_id FROM copies)),`
      : ''
  }
${
    dayOrWeek
      ? ''
      : `sparse_keys AS (
  SELECT scope || '|' || CAST(hour AS VARCHAR) AS k FROM (SELECT scope, ${bucketOf('created_at', 3600)} AS hour, event_id FROM c WHERE substr(scope, 1, 2) = 'u:')
  GROUP BY scope, hour HAVING count(DISTINCT event_id) <= ${SPARSE_HOUR_EVENTS}
),`
  }
${isWeek ? '' : `coarse_keys AS (${coarseKeys}),
`}sk AS (SELECT scope, sketch, ${code('member')} AS code, created_at, settled_only FROM (${inShard(sketches.join('\n  UNION ALL '))})),
t AS (${inShard(tops.join('\n  UNION ALL '))})
${levels.map(aggregate).join('\nUNION ALL\n')}`;
}

/** A row of `settleSql` as the item it describes. */
export function settledItemOfRow(row: Record<string, unknown>): CounterItem {
  const item: CounterItem = {
    scope: String(row.scope),
    granularity: String(row.granularity) as Granularity,
    bucket: Number(row.bucket),
    values: JSON.parse(String(row.vals)) as Record<string, number>,
  };
  if (row.sketches != null) item.sets = JSON.parse(String(row.sketches)) as Record<string, number[]>;
  if (row.tops != null) item.tops = Object.fromEntries(Object.entries(JSON.parse(String(row.tops)) as Record<string, TopList>).map(([name, list]) => [name, encodeTopList(list)]));
  return item;
}
