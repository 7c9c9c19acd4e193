import type { SqlDialect } from './metrics-sql.js';

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

function facts(relation: string, dialect: SqlDialect, days: number): string {
  return `(SELECT * FROM (
      SELECT *, row_number() OVER (PARTITION BY event_id ORDER BY ingested_at) AS arrival
      FROM ${relation} WHERE ${recentPartitions(dialect, days)}
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
