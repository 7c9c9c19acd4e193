/**
 * The counters' metric definitions (docs/metrics.md) as SQL over the facts table, for the engines that
 * scan facts: DuckDB locally (`funnel verify`, jobs) and Athena/Trino in AWS. One description, two
 * dialects; both deduplicate by event_id (first arrival wins) and prune partitions on dt.
 */
export type SqlDialect = 'duckdb' | 'athena';

export interface FactsWindow {
  startTs: number;
  endTs: number;
}

const day = (unixSeconds: number) => new Date(unixSeconds * 1000).toISOString().slice(0, 10);
const hourOf = (unixSeconds: number) => new Date(unixSeconds * 1000).toISOString().slice(11, 13);

/**
 * Deduplicated facts inside [startTs, endTs), with partition pruning on dt; with `pruneHours`, a window
 * inside one UTC day is pruned to its hours too (a job's hour-sized chunk then reads only those hours).
 */
export function dedupedFacts(relation: string, window: FactsWindow, dialect: SqlDialect, pruneHours = false): string {
  const last = Math.max(window.startTs, window.endTs - 1);
  const dtFrom = day(window.startTs);
  const dtTo = day(last);
  const dtFilter = dialect === 'athena' ? `dt BETWEEN '${dtFrom}' AND '${dtTo}'` : `dt BETWEEN DATE '${dtFrom}' AND DATE '${dtTo}'`;
  // `hour` is a two-digit string in both engines, so the comparison is lexicographic and exact.
  const hourFilter = pruneHours && dtFrom === dtTo ? ` AND hour BETWEEN '${hourOf(window.startTs)}' AND '${hourOf(last)}'` : '';
  return `SELECT * FROM (
    SELECT *, row_number() OVER (PARTITION BY event_id ORDER BY ingested_at, relay) AS arrival
    FROM ${relation}
    WHERE ${dtFilter}${hourFilter} AND created_at >= ${window.startTs} AND created_at < ${window.endTs}
  ) WHERE arrival = 1`;
}

/** Per-user summary metrics, one row per pubkey, named as the counters name them. */
export function userMetricsSql(relation: string, window: FactsWindow, dialect: SqlDialect, pubkeys?: string[]): string {
  const only = pubkeys?.length ? `WHERE pubkey IN (${pubkeys.map((p) => `'${p.replace(/[^0-9a-f]/g, '')}'`).join(', ')})` : '';
  return `WITH f AS (${dedupedFacts(relation, window, dialect)}),
  authored AS (
    SELECT author AS pubkey,
      count_if(type = 'note') AS posts, count_if(type = 'reply') AS replies,
      count_if(type = 'comment') AS comments, count_if(type = 'video') AS videos
    FROM f WHERE type IN ('note', 'reply', 'comment', 'video') GROUP BY author
  ),
  received AS (
    SELECT target_pubkey AS pubkey,
      count_if(type = 'reaction' AND reaction IN ('+', '')) AS likes_rcv,
      count_if(type = 'reaction' AND reaction = '-') AS dislikes_rcv,
      count_if(type = 'reaction' AND reaction NOT IN ('+', '', '-')) AS emoji_rcv,
      count_if(type = 'repost') AS reposts_rcv,
      count_if(type IN ('reply', 'comment')) AS replies_rcv,
      count_if(type = 'zap') AS zaps_rcv,
      coalesce(sum(CASE WHEN type = 'zap' THEN zap_msats END), 0) AS zap_msats_rcv
    FROM f
    WHERE target_pubkey IS NOT NULL AND type IN ('reaction', 'repost', 'reply', 'comment', 'zap')
      AND target_pubkey IS DISTINCT FROM (CASE WHEN type = 'zap' THEN zap_sender ELSE author END)
    GROUP BY target_pubkey
  )
  SELECT * FROM (
    SELECT coalesce(a.pubkey, r.pubkey) AS pubkey,
      coalesce(posts, 0) AS posts, coalesce(replies, 0) AS replies, coalesce(comments, 0) AS comments, coalesce(videos, 0) AS videos,
      coalesce(likes_rcv, 0) AS likes_rcv, coalesce(dislikes_rcv, 0) AS dislikes_rcv, coalesce(emoji_rcv, 0) AS emoji_rcv,
      coalesce(reposts_rcv, 0) AS reposts_rcv, coalesce(replies_rcv, 0) AS replies_rcv,
      coalesce(zaps_rcv, 0) AS zaps_rcv, coalesce(zap_msats_rcv, 0) AS zap_msats_rcv
    FROM authored a FULL OUTER JOIN received r ON a.pubkey = r.pubkey
  ) ${only}
  ORDER BY pubkey`;
}

/** Network totals: events by type and by Nostr kind (app events have no kind), and exact distinct authors. */
export function globalMetricsSql(relation: string, window: FactsWindow, dialect: SqlDialect): string {
  return `WITH f AS (${dedupedFacts(relation, window, dialect)})
  SELECT 'type' AS dimension, type AS value, count(*) AS events FROM f GROUP BY type
  UNION ALL SELECT 'kind', CAST(kind AS VARCHAR), count(*) FROM f WHERE source = 'nostr' GROUP BY kind
  UNION ALL SELECT 'total', 'events', count(*) FROM f
  UNION ALL SELECT 'total', 'authors', count(DISTINCT author) FROM f`;
}
