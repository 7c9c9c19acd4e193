/** Hive-style partitions by the event's created_at, UTC: facts/dt=YYYY-MM-DD/hour=HH/. */
export const FACTS_PREFIX = 'facts/';

/**
 * The created_at a fact may have (docs/metrics.md, "Valid created_at"). The floor is the first day the
 * Athena table's partition projection covers (Nostr itself began in November 2020), so every stored
 * fact is visible to analysts; the ceiling allows clock skew but not events dated into the future,
 * which would sit in hours the compactor cannot settle yet and break time ranges.
 */
export const MIN_CREATED_AT = Date.UTC(2020, 0, 1) / 1000;
export const MAX_CREATED_AT_AHEAD_SECONDS = 15 * 60;

export function createdAtInRange(createdAt: number, nowSeconds: number): boolean {
  return Number.isSafeInteger(createdAt) && createdAt >= MIN_CREATED_AT && createdAt <= nowSeconds + MAX_CREATED_AT_AHEAD_SECONDS;
}

export interface HourPartition {
  dt: string;
  hour: string;
  /** unix seconds of the hour's start */
  start: number;
}

export function hourStart(unixSeconds: number): number {
  return Math.floor(unixSeconds / 3600) * 3600;
}

export function partitionOf(unixSeconds: number): HourPartition {
  const start = hourStart(unixSeconds);
  const iso = new Date(start * 1000).toISOString();
  return { dt: iso.slice(0, 10), hour: iso.slice(11, 13), start };
}

export function partitionPrefix(p: { dt: string; hour: string }): string {
  return `${FACTS_PREFIX}dt=${p.dt}/hour=${p.hour}/`;
}

export function partitionFromKey(key: string): HourPartition | null {
  const match = /facts\/dt=(\d{4}-\d{2}-\d{2})\/hour=(\d{2})\//.exec(key);
  if (!match) return null;
  const start = Date.parse(`${match[1]}T${match[2]}:00:00Z`) / 1000;
  if (Number.isNaN(start)) return null;
  return { dt: match[1]!, hour: match[2]!, start };
}
