import { createHash } from 'node:crypto';
import type { SqlDialect } from './metrics-sql.js';
import { PROJECT_NAME } from '../app/api-keys.js';
import { APP_EVENT_NAME } from '../app/events.js';
import { FIELD_NAME } from '../app/schemas.js';
import type { SavedQueryStore } from '../ports.js';

/**
 * The questions analysts ask first, as SQL for Athena (Trino) and DuckDB from one text: the CDK app
 * saves the Athena form as named queries, the tests run the DuckDB form on fixture facts. Each reads
 * the last `days` days of partitions and counts each event once (facts may hold a duplicate until its
 * hour is compacted).
 */
export interface SavedQuery {
  name: string;
  description: string;
  sql: (relation: string, dialect: SqlDialect, days?: number) => string;
}

const toTimestamp = (dialect: SqlDialect, column: string) => (dialect === 'athena' ? `from_unixtime(${column})` : `to_timestamp(${column})`);

/** Partitions of the last `days` days (dt is a string partition in Athena, a DATE in DuckDB's hive reader). */
function recentPartitions(dialect: SqlDialect, days: number): string {
  return dialect === 'athena'
    ? `dt >= date_format(date_add('day', -${days}, current_date), '%Y-%m-%d')`
    : `dt >= current_date - INTERVAL ${days} DAY`;
}

/** `where` narrows the facts before the window that deduplicates them, so the window sorts only those. */
function facts(relation: string, dialect: SqlDialect, days: number, where?: string): string {
  return `(SELECT * FROM (
      SELECT *, row_number() OVER (PARTITION BY event_id ORDER BY ingested_at) AS arrival
      FROM ${relation} WHERE ${recentPartitions(dialect, days)}${where ? ` AND ${where}` : ''}
    ) WHERE arrival = 1)`;
}

export const SAVED_QUERIES: SavedQuery[] = [
  {
    name: 'daily-active-authors',
    description: 'Distinct authors per day, and their events',
    sql: (relation, dialect, days = 30) => `SELECT dt, count(DISTINCT author) AS active_authors, count(*) AS events
FROM ${facts(relation, dialect, days)} f
GROUP BY dt
ORDER BY dt`,
  },
  {
    name: 'top-creators',
    description: 'Authors ranked by engagement received (reactions, reposts, replies, zaps; self-engagement excluded)',
    sql: (relation, dialect, days = 30) => `SELECT target_pubkey AS creator,
  count(*) AS engagement,
  count_if(type = 'reaction') AS reactions,
  count_if(type = 'repost') AS reposts,
  count_if(type IN ('reply', 'comment')) AS replies,
  count_if(type = 'zap') AS zaps,
  CAST(floor(coalesce(sum(zap_msats), 0) / 1000.0) AS BIGINT) AS zap_sats
FROM ${facts(relation, dialect, days)} f
WHERE type IN ('reaction', 'repost', 'reply', 'comment', 'zap') AND target_pubkey IS NOT NULL
  AND target_pubkey IS DISTINCT FROM (CASE WHEN type = 'zap' THEN zap_sender ELSE author END)
GROUP BY target_pubkey
ORDER BY engagement DESC, creator
LIMIT 100`,
  },
  {
    name: 'zap-volume-by-day',
    description: 'Zap receipts and sats per day',
    sql: (relation, dialect, days = 30) => `SELECT dt, count(*) AS zaps, CAST(floor(coalesce(sum(zap_msats), 0) / 1000.0) AS BIGINT) AS sats,
  count(DISTINCT zap_sender) AS senders, count(DISTINCT target_pubkey) AS recipients
FROM ${facts(relation, dialect, days)} f
WHERE type = 'zap'
GROUP BY dt
ORDER BY dt`,
  },
  {
    name: 'hashtag-trends',
    description: 'Hashtag use per day (notes, replies, comments, videos)',
    sql: (relation, dialect, days = 30) => `SELECT f.dt, t.tag, count(*) AS uses, count(DISTINCT f.author) AS authors
FROM ${facts(relation, dialect, days)} f
CROSS JOIN UNNEST(f.hashtags) AS t(tag)
GROUP BY f.dt, t.tag
ORDER BY f.dt, uses DESC, t.tag`,
  },
  {
    name: 'video-leaderboard',
    description: 'Videos ranked by engagement, all revisions of an addressable video together',
    sql: (relation, dialect, days = 30) => `WITH f AS ${facts(relation, dialect, days)},
videos AS (
  SELECT coalesce(target_address, event_id) AS video, max_by(title, created_at) AS title, min(author) AS author,
    array_agg(event_id) AS revisions
  FROM f WHERE type = 'video'
  GROUP BY coalesce(target_address, event_id)
),
engagement AS (
  SELECT coalesce(v1.video, v2.video) AS video, e.type, e.zap_msats
  FROM f e
  LEFT JOIN videos v1 ON e.target_address = v1.video
  LEFT JOIN (SELECT video, revision FROM videos CROSS JOIN UNNEST(revisions) AS r(revision)) v2 ON e.target_address IS NULL AND e.target_event_id = v2.revision
  WHERE e.type IN ('reaction', 'repost', 'reply', 'comment', 'zap') AND coalesce(v1.video, v2.video) IS NOT NULL
)
SELECT v.video, v.title, v.author, count(e.type) AS engagement,
  count_if(e.type = 'reaction') AS reactions, count_if(e.type = 'zap') AS zaps, CAST(floor(coalesce(sum(e.zap_msats), 0) / 1000.0) AS BIGINT) AS zap_sats
FROM videos v LEFT JOIN engagement e ON e.video = v.video
GROUP BY v.video, v.title, v.author
ORDER BY engagement DESC, v.video
LIMIT 100`,
  },
  {
    name: 'engagement-by-hour-of-day',
    description: 'Engagement events by UTC hour of day',
    sql: (relation, dialect, days = 30) => `SELECT hour(${toTimestamp(dialect, 'created_at')}) AS hour_utc, count(*) AS engagement,
  count_if(type = 'reaction') AS reactions, count_if(type = 'zap') AS zaps
FROM ${facts(relation, dialect, days)} f
WHERE type IN ('reaction', 'repost', 'reply', 'comment', 'zap')
GROUP BY hour(${toTimestamp(dialect, 'created_at')})
ORDER BY hour_utc`,
  },
];

/** A registered schema version of an app event type, as far as its saved query needs it (lib/app/schemas.ts). */
export interface AppEventTypeVersion {
  project: string;
  eventType: string;
  version: number;
  dimensions: readonly string[];
  /** numeric top-level properties; none when the version declares none */
  measures: readonly string[];
}

/**
 * The property names a column is made of: the registry's dimension and measure names (FIELD_NAME).
 * Such a name is a JSON path step (`$.name`) and, quoted, an identifier in Trino and DuckDB alike with
 * nothing to escape; the two engines escape quoted path steps differently, so any other name (a quote,
 * a bracket, a space) gets no column rather than a path one engine might read as more than a name.
 */
const COLUMN_PROPERTY_NAME = FIELD_NAME;
/** Athena's limit on a named query's name. */
export const MAX_SAVED_QUERY_NAME_CHARS = 128;
/** Days of partitions a registered event type's saved query reads: as many as the stack's own (infra/lib/analytics.ts, SAVED_QUERY_DAYS). */
export const APP_EVENT_QUERY_DAYS = 30;

const quoteLiteral = (text: string) => `'${text.replace(/'/g, "''")}'`;
const quoteIdentifier = (name: string) => `"${name.replace(/"/g, '""')}"`;

function checkVersion(v: AppEventTypeVersion): void {
  if (!PROJECT_NAME.test(v.project)) throw new Error(`not a project name: ${JSON.stringify(v.project.slice(0, 80))}`);
  if (!APP_EVENT_NAME.test(v.eventType)) throw new Error(`not an app event type: ${JSON.stringify(v.eventType.slice(0, 80))}`);
  if (!Number.isSafeInteger(v.version) || v.version < 1) throw new Error(`not a schema version: ${v.version}`);
}

/** The dimensions and measures that get a column (COLUMN_PROPERTY_NAME), each once, in the version's order. */
function columnProperties(names: readonly string[]): string[] {
  return [...new Set(names.filter((name) => COLUMN_PROPERTY_NAME.test(name)))];
}

/**
 * Per UTC day of an app event type's facts in one project: the events, the distinct users (`author`,
 * the hashed user id), and each measure's sum and average, grouped by the version's dimensions. Values
 * are read from `properties` (JSON text); a measure that is not a number in an event (an older version
 * declared it otherwise) is left out of its sum and average rather than failing the query. It reads
 * every event of the type, whichever version it was validated against: the version only decides the
 * columns. Column names are case-insensitive in both engines, so one that would repeat another gets a
 * `_2`, `_3` suffix.
 */
export function appEventTypeQuery(relation: string, dialect: SqlDialect, v: AppEventTypeVersion, days = APP_EVENT_QUERY_DAYS): string {
  checkVersion(v);
  if (!Number.isSafeInteger(days) || days < 1) throw new Error(`not a number of days: ${days}`);
  const extract = dialect === 'athena' ? 'json_extract_scalar' : 'json_extract_string';
  const property = (name: string) => `${extract}(properties, '$.${name}')`;
  const number = (name: string) => `TRY_CAST(${property(name)} AS DOUBLE)`;
  const taken = new Set(['dt', 'events', 'users']);
  const alias = (base: string) => {
    let name = base;
    for (let n = 2; taken.has(name.toLowerCase()); n++) name = `${base}_${n}`;
    taken.add(name.toLowerCase());
    return quoteIdentifier(name);
  };
  const dimensions = columnProperties(v.dimensions);
  const measures = columnProperties(v.measures);
  const dimensionColumns = dimensions.map((name) => `${property(name)} AS ${alias(name)}`);
  const measureColumns = measures.flatMap((name) => [`sum(${number(name)}) AS ${alias(`${name}_sum`)}`, `avg(${number(name)}) AS ${alias(`${name}_avg`)}`]);
  const keys = ['dt', ...dimensions.map(property)];
  const where = `project = ${quoteLiteral(v.project)} AND type = ${quoteLiteral(`app:${v.eventType}`)}`;
  return `SELECT ${['dt', ...dimensionColumns, 'count(*) AS events', 'count(DISTINCT author) AS users', ...measureColumns].join(',\n  ')}
FROM ${facts(relation, dialect, days, where)} f
GROUP BY ${keys.join(', ')}
ORDER BY ${keys.join(', ')}`;
}

/**
 * The saved query's name: `funnel-app-<project>-<eventType>-v<version>`, or, past Athena's 128
 * characters, the project and type cut short and a hash of them kept, so two long names stay apart.
 */
export function appEventTypeQueryName(v: Pick<AppEventTypeVersion, 'project' | 'eventType' | 'version'>): string {
  const [prefix, suffix] = ['funnel-app-', `-v${v.version}`];
  const full = `${prefix}${v.project}-${v.eventType}${suffix}`;
  if (full.length <= MAX_SAVED_QUERY_NAME_CHARS) return full;
  const hash = createHash('sha256').update(`${v.project}\u0000${v.eventType}`).digest('hex').slice(0, 12);
  const room = MAX_SAVED_QUERY_NAME_CHARS - prefix.length - suffix.length - hash.length - 1;
  return `${prefix}${`${v.project}-${v.eventType}`.slice(0, room)}-${hash}${suffix}`;
}

/**
 * Saves a registered schema version's query (appEventTypeQuery) where analysts find it; without a store
 * (a deployment with no Athena) it does nothing. `dialect` is the store's engine: Athena in AWS, DuckDB
 * for the local stack's files.
 */
export async function saveAppEventTypeQuery(store: SavedQueryStore | undefined, relation: string, v: AppEventTypeVersion, dialect: SqlDialect = 'athena'): Promise<void> {
  if (!store) return;
  const sql = appEventTypeQuery(relation, dialect, v);
  const skipped = new Set([...v.dimensions, ...v.measures].filter((name) => !COLUMN_PROPERTY_NAME.test(name))).size;
  const description =
    `Project ${v.project}, app events of type app:${v.eventType} (columns of schema version ${v.version}): events, distinct users ` +
    `and each measure's sum and average per UTC day and dimension values, last ${APP_EVENT_QUERY_DAYS} days` +
    (skipped ? `; ${skipped} ${skipped === 1 ? 'property has' : 'properties have'} no column (names other than letters, digits and _)` : '');
  await store.save({ name: appEventTypeQueryName(v), description, sql });
}
