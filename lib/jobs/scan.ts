import { FACT_COLUMNS } from '../facts/schema.js';
import { FACTS_PREFIX, partitionFromKey } from '../facts/partition.js';
import type { ObjectSize, ObjectStore } from '../ports.js';
import { forEachLimited } from '../util/concurrency.js';

/**
 * What a job's queries will read, before they run: the bytes of the hour partitions a statement prunes
 * to, times the share of each file its columns take (Parquet is columnar: Athena reads only the columns
 * a query names). And what Athena bills for it.
 */

/** Athena's price per TB (10^12 bytes) scanned, in US dollars. */
export const ATHENA_USD_PER_TB = 5;
/** Athena bills each query at least 10 MB, rounded up to the megabyte (10^6 bytes). */
export const ATHENA_MIN_BILLED_BYTES = 10_000_000;

/** What Athena bills for one query that scanned `bytes`; a reused result (0 bytes) is not billed. */
export function athenaQueryCostUsd(bytes: number): number {
  if (bytes <= 0) return 0;
  const billed = Math.max(ATHENA_MIN_BILLED_BYTES, Math.ceil(bytes / 1e6) * 1e6);
  return (billed / 1e12) * ATHENA_USD_PER_TB;
}

type FactColumn = (typeof FACT_COLUMNS)[number];

/**
 * Compressed bytes per event of each column in a compacted hour, as `funnel bench` measures them
 * (docs/athena.md, "What a scan costs"), with the pubkey columns at their size among many distinct
 * pubkeys (≈ 37 B; dictionaries make them far smaller in a small network) and every column at least
 * 0.5 B for its pages and statistics. Only the ratios matter: they split a file's bytes by column.
 */
const COLUMN_BYTES_PER_EVENT: Record<FactColumn, number> = {
  event_id: 63,
  source: 0.5,
  kind: 0.5,
  type: 0.5,
  created_at: 1.5,
  author: 37,
  target_pubkey: 37,
  target_event_id: 28,
  target_address: 3,
  root_event_id: 10,
  parent_event_id: 10,
  reaction: 0.5,
  zap_msats: 0.5,
  zap_sender: 5,
  hashtags: 1,
  title: 0.5,
  d_tag: 1,
  media_url: 1,
  image_url: 1,
  duration_s: 0.5,
  published_at: 0.5,
  relay: 0.5,
  project: 0.5,
  properties: 0.5,
  ingested_at: 5,
  zap_request_id: 2,
  deleted_event_ids: 0.5,
  schema_version: 0.5,
  dimensions: 0.5,
  measures: 0.5,
};
const ALL_COLUMNS_BYTES = FACT_COLUMNS.reduce((sum, column) => sum + COLUMN_BYTES_PER_EVENT[column], 0);

/** The fact columns a statement names outside its string literals: what Athena reads of each file. */
export function columnsRead(sql: string): FactColumn[] {
  const code = sql.replace(/'(?:[^']|'')*'/g, "''");
  return FACT_COLUMNS.filter((column) => new RegExp(`\\b${column}\\b`).test(code));
}

/** The share of a partition's bytes a statement reads (dt and hour live in the key and cost nothing). */
export function scanFraction(sql: string): number {
  return columnsRead(sql).reduce((sum, column) => sum + COLUMN_BYTES_PER_EVENT[column], 0) / ALL_COLUMNS_BYTES;
}

/** Listings at once while sizing a window (one per month, or one per day for a single day). */
const LIST_CONCURRENCY = 8;
const DAY = 86400;
const dayOf = (ts: number) => new Date(ts * 1000).toISOString().slice(0, 10);

/**
 * Bytes of facts per hour partition (keyed by the hour's start) for every UTC day [startTs, endTs)
 * touches, from one listing per month (per day when the range is one day). Null when the store cannot
 * list sizes: the caller plans without an estimate.
 */
export async function factsBytesByHour(objects: ObjectStore, startTs: number, endTs: number): Promise<Map<number, number> | null> {
  return (await listFactsByHour(objects, startTs, endTs))?.bytes ?? null;
}

/** What a window's listing says per hour partition: the bytes a query may read, and the hours it may not. */
export interface FactsListing {
  /** bytes per hour, for the hours with no archived object */
  bytes: Map<number, number>;
  /** hours holding an object `archived` picks (lib/facts/storage-tiers.ts): no query may read them */
  archived: Set<number>;
}

/** factsBytesByHour, with the hours that hold an object `archived` picks set apart (their bytes left out). */
export async function listFactsByHour(objects: ObjectStore, startTs: number, endTs: number, archived: (object: ObjectSize) => boolean = () => false): Promise<FactsListing | null> {
  if (!objects.listSizes) return null;
  const firstDay = Math.floor(startTs / DAY) * DAY;
  const lastDay = Math.floor(Math.max(startTs, endTs - 1) / DAY) * DAY;
  const prefixes = new Set<string>();
  for (let d = firstDay; d <= lastDay; d += DAY) prefixes.add(firstDay === lastDay ? `${FACTS_PREFIX}dt=${dayOf(d)}/` : `${FACTS_PREFIX}dt=${dayOf(d).slice(0, 8)}`);
  const bytes = new Map<number, number>();
  const archivedHours = new Set<number>();
  const listSizes = objects.listSizes.bind(objects);
  await forEachLimited([...prefixes], LIST_CONCURRENCY, async (prefix) => {
    for (const object of await listSizes(prefix)) {
      const partition = partitionFromKey(object.key);
      if (!partition || partition.start < firstDay || partition.start >= lastDay + DAY) continue;
      if (archived(object)) archivedHours.add(partition.start);
      bytes.set(partition.start, (bytes.get(partition.start) ?? 0) + object.bytes);
    }
  });
  for (const hour of archivedHours) bytes.delete(hour);
  return { bytes, archived: archivedHours };
}

/**
 * The bytes of the partitions a job statement over [startTs, endTs) reads, given a byte count per hour:
 * whole days, or only the window's hours when it lies inside one day (dedupedFacts' pruning).
 */
export function prunedBytes(bytesByHour: ReadonlyMap<number, number>, startTs: number, endTs: number): number {
  const { from, to } = prunedHours(startTs, endTs);
  let sum = 0;
  for (let hour = from; hour < to; hour += 3600) sum += bytesByHour.get(hour) ?? 0;
  return sum;
}

/** The hour partitions [from, to) a job statement over [startTs, endTs) prunes to (dedupedFacts with pruneHours). */
export function prunedHours(startTs: number, endTs: number): { from: number; to: number } {
  const last = Math.max(startTs, endTs - 1);
  const oneDay = Math.floor(startTs / DAY) === Math.floor(last / DAY);
  return {
    from: oneDay ? Math.floor(startTs / 3600) * 3600 : Math.floor(startTs / DAY) * DAY,
    to: oneDay ? Math.floor(last / 3600) * 3600 + 3600 : Math.floor(last / DAY) * DAY + DAY,
  };
}

/** Bytes as people read them: "2.50 GB (2,500,000,000 bytes)". */
export function formatBytes(bytes: number): string {
  const units: [number, string][] = [[1e12, 'TB'], [1e9, 'GB'], [1e6, 'MB'], [1e3, 'kB']];
  const [size, unit] = units.find(([size]) => bytes >= size) ?? [1, 'B'];
  return `${(bytes / size).toFixed(size === 1 ? 0 : 2)} ${unit} (${Math.round(bytes).toLocaleString('en-US')} bytes)`;
}
