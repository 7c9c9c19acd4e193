import { dedupedFacts, type FactsWindow, type SqlDialect } from './metrics-sql.js';

/**
 * SQL for the long-window jobs: the same metrics as the counters (docs/metrics.md), for one user,
 * over deduplicated facts with partition pruning. Each statement is written once and runs on Athena
 * (Trino) and DuckDB: only portable functions (count_if, IS DISTINCT FROM, floor, CAST, UNNEST).
 */
const quote = (pubkey: string) => `'${pubkey.replace(/[^0-9a-f]/g, '')}'`;

/** The engager of an engagement fact: the zap sender for zaps, the author otherwise. */
const ENGAGER = `(CASE WHEN type = 'zap' THEN zap_sender ELSE author END)`;
const RECEIVED = (pk: string) => `(target_pubkey = ${pk} AND type IN ('reaction', 'repost', 'reply', 'comment', 'zap') AND target_pubkey IS DISTINCT FROM ${ENGAGER})`;

/** Per-day totals of every summary metric (the job's timeline; summed, its totals). */
export function userDailySql(relation: string, window: FactsWindow, dialect: SqlDialect, pubkey: string): string {
  const pk = quote(pubkey);
  const rcv = RECEIVED(pk);
  return `WITH f AS (${dedupedFacts(relation, window, dialect)})
SELECT CAST(floor(created_at / 86400.0) AS BIGINT) * 86400 AS day,
  count_if(author = ${pk} AND type = 'note') AS posts,
  count_if(author = ${pk} AND type = 'reply') AS replies,
  count_if(author = ${pk} AND type = 'comment') AS comments,
  count_if(author = ${pk} AND type = 'video') AS videos,
  count_if(${rcv} AND type = 'reaction' AND reaction IN ('+', '')) AS likes_rcv,
  count_if(${rcv} AND type = 'reaction' AND reaction = '-') AS dislikes_rcv,
  count_if(${rcv} AND type = 'reaction' AND reaction NOT IN ('+', '', '-')) AS emoji_rcv,
  count_if(${rcv} AND type = 'repost') AS reposts_rcv,
  count_if(${rcv} AND type IN ('reply', 'comment')) AS replies_rcv,
  count_if(${rcv} AND type = 'zap') AS zaps_rcv,
  coalesce(sum(CASE WHEN ${rcv} AND type = 'zap' THEN zap_msats END), 0) AS zap_msats_rcv
FROM f
WHERE author = ${pk} OR target_pubkey = ${pk}
GROUP BY CAST(floor(created_at / 86400.0) AS BIGINT)
ORDER BY day`;
}

/** Exact distinct engagers over the whole window (the counters estimate it with HyperLogLog). */
export function userEngagersSql(relation: string, window: FactsWindow, dialect: SqlDialect, pubkey: string): string {
  const pk = quote(pubkey);
  return `WITH f AS (${dedupedFacts(relation, window, dialect)})
SELECT count(DISTINCT ${ENGAGER}) AS engagers FROM f WHERE ${RECEIVED(pk)}`;
}

export type TopListQuery = 'top_posts' | 'top_tags' | 'top_zappers';

/** One of the drill-down lists, exact over the window. */
export function userTopSql(relation: string, window: FactsWindow, dialect: SqlDialect, pubkey: string, list: TopListQuery, limit: number): string {
  const pk = quote(pubkey);
  const n = Math.max(1, Math.min(100, Math.floor(limit)));
  const f = `WITH f AS (${dedupedFacts(relation, window, dialect)})`;
  switch (list) {
    case 'top_posts':
      return `${f}
SELECT coalesce(target_address, target_event_id) AS item, count(*) AS amount FROM f
WHERE ${RECEIVED(pk)} AND coalesce(target_address, target_event_id) IS NOT NULL
GROUP BY coalesce(target_address, target_event_id) ORDER BY amount DESC, item LIMIT ${n}`;
    case 'top_tags':
      return `${f}
SELECT t.tag AS item, count(*) AS amount FROM f CROSS JOIN UNNEST(f.hashtags) AS t(tag)
WHERE f.author = ${pk} AND f.type IN ('note', 'reply', 'comment', 'video')
GROUP BY t.tag ORDER BY amount DESC, item LIMIT ${n}`;
    case 'top_zappers':
      return `${f}
SELECT zap_sender AS item, sum(zap_msats) AS amount FROM f
WHERE ${RECEIVED(pk)} AND type = 'zap' AND zap_sender IS NOT NULL AND zap_msats IS NOT NULL
GROUP BY zap_sender ORDER BY amount DESC, item LIMIT ${n}`;
  }
}

/** Engagement received by local hour of day and weekday (0 = Sunday), shifted by a tz offset. */
export function userEngagementByHourSql(relation: string, window: FactsWindow, dialect: SqlDialect, pubkey: string, tzOffsetMinutes: number): string {
  const shift = Math.round(tzOffsetMinutes) * 60;
  const local = `(created_at + ${shift})`;
  return `WITH f AS (${dedupedFacts(relation, window, dialect)})
SELECT CAST(floor(${local} / 3600.0) AS BIGINT) % 24 AS hour_of_day,
  (CAST(floor(${local} / 86400.0) AS BIGINT) + 4) % 7 AS weekday,
  count(*) AS engagement
FROM f WHERE ${RECEIVED(quote(pubkey))}
GROUP BY CAST(floor(${local} / 3600.0) AS BIGINT) % 24, (CAST(floor(${local} / 86400.0) AS BIGINT) + 4) % 7`;
}
