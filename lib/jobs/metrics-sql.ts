import { ZAP_AMOUNT_METRICS, zapAmountColumnsSql } from '../counters/zap-amounts.js';
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
 * How long after its target a deletion request still retracts it (docs/metrics.md, "Retractions"):
 * the facts a settle or a job reads for deletions end this far after its window, so the scan is bounded.
 */
export const RETRACTION_HORIZON_SECONDS = 48 * 3600;
/** Deletions are read from this long before a window too: a deletion's created_at is its author's clock. */
export const RETRACTION_SKEW_SECONDS = 3600;

export interface DedupeOptions {
  /** a window inside one UTC day is pruned to its hours too (a job's hour-sized chunk then reads only those hours) */
  pruneHours?: boolean;
  /**
   * Leave out the reactions, reposts and zaps their own author retracted (NIP-09), with the deletion
   * requests read from this relation (the same table, or the settle's hours around the window).
   */
  deletions?: string;
}

const dtRange = (window: FactsWindow, dialect: SqlDialect) => {
  const from = day(window.startTs);
  const to = day(Math.max(window.startTs, window.endTs - 1));
  return dialect === 'athena' ? `dt BETWEEN '${from}' AND '${to}'` : `dt BETWEEN DATE '${from}' AND DATE '${to}'`;
};

/**
 * Deduplicated facts inside [startTs, endTs) (first arrival wins; a copy whose reply target was resolved
 * wins over one that was not: resolving only adds what the parent says), with partition pruning on dt.
 * With `deletions`, each fact is flagged `retracted` first (retractedFlag), and the retracted ones are
 * left out, or kept with the flag (`keepRetracted`: a settle rewrites what they were counted in).
 */
export function dedupedFacts(relation: string, window: FactsWindow, dialect: SqlDialect, options: DedupeOptions & { keepRetracted?: boolean } = {}): string {
  const last = Math.max(window.startTs, window.endTs - 1);
  const dtFrom = day(window.startTs);
  const dtTo = day(last);
  // `hour` is a two-digit string in both engines, so the comparison is lexicographic and exact.
  const hourFilter = options.pruneHours && dtFrom === dtTo ? ` AND hour BETWEEN '${hourOf(window.startTs)}' AND '${hourOf(last)}'` : '';
  const inWindow = `${dtRange(window, dialect)}${hourFilter} AND created_at >= ${window.startTs} AND created_at < ${window.endTs}`;
  const source = options.deletions === undefined ? `SELECT * FROM ${relation} WHERE ${inWindow}` : retractedFlag(`SELECT * FROM ${relation} WHERE ${inWindow}`, options.deletions, window, dialect);
  // A fact matched by two deletions is one row twice: `retracted DESC` keeps one, flagged.
  const deduped = `SELECT * FROM (
    SELECT *, row_number() OVER (PARTITION BY event_id ORDER BY CASE WHEN target_pubkey IS NULL THEN 1 ELSE 0 END, ingested_at, relay${options.deletions === undefined ? '' : ', retracted DESC'}) AS arrival
    FROM (${source})
  ) WHERE arrival = 1`;
  if (options.deletions === undefined || options.keepRetracted) return deduped;
  return `SELECT * FROM (${deduped}) WHERE NOT retracted`;
}

/**
 * `facts` with a boolean `retracted`: a reaction or repost whose id, or a zap whose zap request's id, is
 * named by a deletion request of the same author (zaps: the sender) created from RETRACTION_SKEW_SECONDS
 * before the start of the target's hour to RETRACTION_HORIZON_SECONDS after its end: a rule of the
 * target alone, so every statement (an hour, a day's hours, a day, a job's chunk) flags it alike. The
 * deletions are read once per statement, from the span every fact of the window needs; the join costs
 * nothing for events nobody retracted.
 */
function retractedFlag(facts: string, deletions: string, window: FactsWindow, dialect: SqlDialect): string {
  // From the first fact's hour (a window may start mid-hour: the rule is the target hour's), to the last one's end.
  const around = { startTs: Math.floor(window.startTs / 3600) * 3600 - RETRACTION_SKEW_SECONDS, endTs: window.endTs + 3600 + RETRACTION_HORIZON_SECONDS };
  const retractions = `SELECT DISTINCT x.id AS retracted_id, d.author AS retracted_by, d.created_at AS retracted_at
    FROM ${deletions} d CROSS JOIN UNNEST(d.deleted_event_ids) AS x(id)
    WHERE ${dtRange(around, dialect)} AND d.type = 'deletion' AND d.created_at >= ${around.startTs} AND d.created_at < ${around.endTs}`;
  const hourStart = `CAST(floor(fr.created_at / 3600) AS BIGINT) * 3600`;
  return `SELECT fr.*, (rt.retracted_id IS NOT NULL) AS retracted FROM (${facts}) fr
    LEFT JOIN (${retractions}) rt ON fr.type IN ('reaction', 'repost', 'zap')
      AND rt.retracted_id = (CASE WHEN fr.type = 'zap' THEN fr.zap_request_id ELSE fr.event_id END)
      AND rt.retracted_by = (CASE WHEN fr.type = 'zap' THEN fr.zap_sender ELSE fr.author END)
      AND rt.retracted_at >= ${hourStart} - ${RETRACTION_SKEW_SECONDS} AND rt.retracted_at < ${hourStart} + ${3600 + RETRACTION_HORIZON_SECONDS}`;
}

/** Per-user summary metrics, one row per pubkey, named as the counters name them. */
export function userMetricsSql(relation: string, window: FactsWindow, dialect: SqlDialect, pubkeys?: string[]): string {
  const only = pubkeys?.length ? `WHERE pubkey IN (${pubkeys.map((p) => `'${p.replace(/[^0-9a-f]/g, '')}'`).join(', ')})` : '';
  return `WITH f AS (${dedupedFacts(relation, window, dialect, { deletions: relation })}),
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
      coalesce(sum(CASE WHEN type = 'zap' THEN zap_msats END), 0) AS zap_msats_rcv,
      ${zapAmountColumnsSql(`type = 'zap'`)}
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
      coalesce(zaps_rcv, 0) AS zaps_rcv, coalesce(zap_msats_rcv, 0) AS zap_msats_rcv,
      ${ZAP_AMOUNT_METRICS.map((m) => `coalesce(${m}, 0) AS ${m}`).join(', ')}
    FROM authored a FULL OUTER JOIN received r ON a.pubkey = r.pubkey
  ) ${only}
  ORDER BY pubkey`;
}

/** Network totals: events by type and by Nostr kind (app events have no kind), and exact distinct authors. */
export function globalMetricsSql(relation: string, window: FactsWindow, dialect: SqlDialect): string {
  return `WITH f AS (${dedupedFacts(relation, window, dialect, { deletions: relation })})
  SELECT 'type' AS dimension, type AS value, count(*) AS events FROM f GROUP BY type
  UNION ALL SELECT 'kind', CAST(kind AS VARCHAR), count(*) FROM f WHERE source = 'nostr' GROUP BY kind
  UNION ALL SELECT 'total', 'events', count(*) FROM f
  UNION ALL SELECT 'total', 'authors', count(DISTINCT author) FROM f`;
}
