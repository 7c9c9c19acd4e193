import { dedupedFacts, type FactsWindow, type SqlDialect } from './metrics-sql.js';
import { zapAmountColumnsSql } from '../counters/zap-amounts.js';
import type { TopListName } from '../query/top-lists.js';

/**
 * SQL for the long-window jobs: the same metrics as the counters (docs/metrics.md), for one user,
 * over deduplicated facts with partition pruning. A job runs each statement once per chunk of its
 * window, so every statement's result merges across chunks (sums, or sketches). Each is written once
 * and runs on Athena (Trino) and DuckDB: portable functions (count_if, IS DISTINCT FROM, floor, CAST,
 * UNNEST), except the two spelled per dialect in the engager sketch.
 */
const quote = (pubkey: string) => `'${pubkey.replace(/[^0-9a-f]/g, '')}'`;
/** A chunk inside one day reads only its hours; retracted engagement is left out, as the counters leave it. */
const facts = (relation: string, window: FactsWindow, dialect: SqlDialect) => dedupedFacts(relation, window, dialect, { pruneHours: true, deletions: relation });

/** The engager of an engagement fact: the zap sender for zaps, the author otherwise. */
const ENGAGER = `(CASE WHEN type = 'zap' THEN zap_sender ELSE author END)`;
const RECEIVED = (pk: string) => `(target_pubkey = ${pk} AND type IN ('reaction', 'repost', 'reply', 'comment', 'zap') AND target_pubkey IS DISTINCT FROM ${ENGAGER})`;

/** Per-day totals of every summary metric (the job's timeline; summed, its totals). */
export function userDailySql(relation: string, window: FactsWindow, dialect: SqlDialect, pubkey: string): string {
  const pk = quote(pubkey);
  const rcv = RECEIVED(pk);
  return `WITH f AS (${facts(relation, window, dialect)})
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
  coalesce(sum(CASE WHEN ${rcv} AND type = 'zap' THEN zap_msats END), 0) AS zap_msats_rcv,
  ${zapAmountColumnsSql(`${rcv} AND type = 'zap'`)}
FROM f
WHERE author = ${pk} OR target_pubkey = ${pk}
GROUP BY CAST(floor(created_at / 86400.0) AS BIGINT)
ORDER BY day`;
}

/** The distinct counts of a summary: everyone who engaged, and the zap senders among them. */
export const DISTINCT_SKETCHES = ['engagers', 'zappers'] as const;
export type DistinctPubkeys = (typeof DISTINCT_SKETCHES)[number];

/** Pubkeys kept per HyperLogLog register in a sketch: what keeps a chunk's count exact. */
export const ENGAGER_IDS_PER_REGISTER = 16;

/**
 * Distinct engagers and distinct zappers as mergeable sketches, in one scan: one row per (sketch,
 * HyperLogLog register), at most 2 × 1,024 rows, so a chunk's answer is bounded however popular the
 * user: the register's rank exactly as `hllCode` (lib/counters/hll.ts) computes it from the pubkey's
 * hex, its number of pubkeys, and up to ENGAGER_IDS_PER_REGISTER of them (comma-separated). While no
 * register overflows, the pubkeys are all of them and chunks union exactly; beyond that the ranks
 * merge as HLL.
 */
export function userEngagerSketchSql(relation: string, window: FactsWindow, dialect: SqlDialect, pubkey: string): string {
  const pk = quote(pubkey);
  const hex = (from: number) => (dialect === 'athena' ? `from_base(substr(engager, ${from}, 8), 16)` : `CAST('0x' || substr(engager, ${from}, 8) AS BIGINT)`);
  const ids =
    dialect === 'athena'
      ? `array_join(slice(array_agg(engager ORDER BY engager), 1, ${ENGAGER_IDS_PER_REGISTER}), ',')`
      : `array_to_string(list_slice(list(engager ORDER BY engager), 1, ${ENGAGER_IDS_PER_REGISTER}), ',')`;
  // hllCode: register = the top 10 of the first 32 bits; rank = 1 + leading zeros of the 22 bits after
  // them, going on into the next 32 bits when those are all zero. floor(log2(x + 0.5)) is one less than
  // x's bit length, exactly: x + 0.5 is never close to a power of two, as a power of two itself can be
  // in log2's rounding.
  const bits = (x: string) => `CAST(floor(log2(${x} + 0.5)) AS BIGINT)`;
  const rank = `CASE WHEN hi % 4194304 > 0 THEN 22 - ${bits('hi % 4194304')} WHEN nx > 0 THEN 54 - ${bits('nx')} ELSE 55 END`;
  return `WITH f AS (${facts(relation, window, dialect)}),
  e AS (SELECT ${ENGAGER} AS engager, max(CASE WHEN type = 'zap' THEN 1 ELSE 0 END) AS zapped FROM f WHERE ${RECEIVED(pk)} AND ${ENGAGER} IS NOT NULL GROUP BY ${ENGAGER}),
  s AS (SELECT 'engagers' AS sketch, engager FROM e UNION ALL SELECT 'zappers', engager FROM e WHERE zapped = 1),
  h AS (SELECT sketch, engager, ${hex(1)} AS hi, ${hex(9)} AS nx FROM s)
SELECT sketch, CAST(floor(hi / 4194304.0) AS BIGINT) AS register,
  max(${rank}) AS rank,
  count(*) AS engagers,
  ${ids} AS ids
FROM h
GROUP BY sketch, CAST(floor(hi / 4194304.0) AS BIGINT)
ORDER BY sketch, register`;
}

/** A top-list statement: one per counter top list (lib/query/top-lists.ts). */
export type TopListQuery = TopListName;

/** Rows one top-list statement returns at most: a chunk's candidates for the merged ranking. */
export const MAX_TOP_ROWS = 1000;

/** One of the drill-down lists over the window: its `limit` (at most MAX_TOP_ROWS) best items. */
export function userTopSql(relation: string, window: FactsWindow, dialect: SqlDialect, pubkey: string, list: TopListQuery, limit: number): string {
  const pk = quote(pubkey);
  const n = Math.max(1, Math.min(MAX_TOP_ROWS, Math.floor(limit)));
  const f = `WITH f AS (${facts(relation, window, dialect)})`;
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
  return `WITH f AS (${facts(relation, window, dialect)})
SELECT CAST(floor(${local} / 3600.0) AS BIGINT) % 24 AS hour_of_day,
  (CAST(floor(${local} / 86400.0) AS BIGINT) + 4) % 7 AS weekday,
  count(*) AS engagement
FROM f WHERE ${RECEIVED(quote(pubkey))}
GROUP BY CAST(floor(${local} / 3600.0) AS BIGINT) % 24, (CAST(floor(${local} / 86400.0) AS BIGINT) + 4) % 7`;
}
