import type { ObjectStore, SqlEngine } from '../ports.js';
import { RETRACTION_HORIZON_SECONDS, RETRACTION_SKEW_SECONDS } from '../jobs/metrics-sql.js';
import { forEachMapped } from '../util/concurrency.js';
import { partitionOf, partitionPrefix } from './partition.js';
import type { SettleTables } from './tables.js';

/** Hour partitions listed at once when looking for the deletions around a settle. */
const LISTINGS_IN_PARALLEL = 8;

/** The hours in [fromTs, toTs) that hold at least one fact object, before `nowSeconds` (later ones cannot). */
export async function hoursWithFacts(objects: ObjectStore, fromTs: number, toTs: number, nowSeconds: number): Promise<number[]> {
  const hours: number[] = [];
  for (let h = Math.floor(fromTs / 3600) * 3600; h < Math.min(toTs, nowSeconds + 3600); h += 3600) hours.push(h);
  const listed = await forEachMapped(hours, LISTINGS_IN_PARALLEL, async (h) => (await objects.list(partitionPrefix(partitionOf(h)))).some((k) => k.endsWith('.parquet')));
  return hours.filter((_, i) => listed[i]);
}

/**
 * The hours whose facts may hold a deletion request that retracts engagement of [startTs, endTs): from
 * RETRACTION_SKEW_SECONDS before to RETRACTION_HORIZON_SECONDS after the last hour (the span dedupedFacts reads).
 */
export function deletionHoursFor(objects: ObjectStore, startTs: number, endTs: number, nowSeconds: number): Promise<number[]> {
  return hoursWithFacts(objects, startTs - RETRACTION_SKEW_SECONDS, endTs + 3600 + RETRACTION_HORIZON_SECONDS, nowSeconds);
}

/**
 * Which of `candidates` (settled hours, not waiting to settle again) hold a reaction, repost or zap
 * that a deletion request in `deletionHours` retracts: those must settle again for it to leave their
 * counters. The settle of an hour applies every deletion within the horizon that exists by then, so
 * only deletions arriving after their target's hour settled need this lookup, and only new ones
 * (`ingestedAfter`): it reads the candidates' engagement rows once per settle of new deletions.
 */
export async function hoursWithRetractedEvents(
  deletionHours: readonly number[],
  candidates: readonly number[],
  deps: { sql: SqlEngine; tables: SettleTables },
  /** per deletion hour, only deletions ingested after this (unix ms; null: all of them) */
  ingestedAfter: (hour: number) => number | null = () => null,
): Promise<number[]> {
  if (!deletionHours.length || !candidates.length) return [];
  // The time bounds are the settle's rule (dedupedFacts' retractedFlag): a deletion counts from just
  // before its target's hour to the horizon after it.
  const fresh = deletionHours
    .map((h) => {
      const after = ingestedAfter(h);
      return `(d.created_at >= ${h} AND d.created_at < ${h + 3600}${after === null ? '' : ` AND d.ingested_at > ${Math.floor(after)}`})`;
    })
    .join(' OR ');
  const rows = await deps.sql.query(`SELECT DISTINCT CAST(floor(t.created_at / 3600) AS BIGINT) * 3600 AS hour
    FROM ${deps.tables.hours(candidates)} t
    JOIN (
      SELECT DISTINCT x.id AS retracted_id, d.author AS retracted_by, d.created_at AS retracted_at
      FROM ${deps.tables.hours(deletionHours)} d CROSS JOIN UNNEST(d.deleted_event_ids) AS x(id)
      WHERE d.type = 'deletion' AND (${fresh})
    ) r ON r.retracted_id = (CASE WHEN t.type = 'zap' THEN t.zap_request_id ELSE t.event_id END)
      AND r.retracted_by = (CASE WHEN t.type = 'zap' THEN t.zap_sender ELSE t.author END)
      AND r.retracted_at >= CAST(floor(t.created_at / 3600) AS BIGINT) * 3600 - ${RETRACTION_SKEW_SECONDS}
      AND r.retracted_at < CAST(floor(t.created_at / 3600) AS BIGINT) * 3600 + ${3600 + RETRACTION_HORIZON_SECONDS}
    WHERE t.type IN ('reaction', 'repost', 'zap')`);
  const wanted = new Set(candidates);
  return rows.map((row) => Number(row.hour)).filter((h) => wanted.has(h));
}
