import { randomUUID } from 'node:crypto';
import type { CounterStore } from '../ports.js';

/** Namespaces of the small state records kept in the counters table. */
export const DIRTY_HOURS = 'dirty-hour';
export const INGEST_HEARTBEAT = 'ingest';

/**
 * Marks hour (or day) buckets as needing compaction. Each mark carries a fresh token: the compactor
 * clears a mark only while it still holds the token it read, so a batch that re-marks the hour in the
 * meantime (even in the same millisecond) keeps it dirty.
 */
export async function markDirty(counters: CounterStore, hourStarts: number[], nowMs: number, namespace = DIRTY_HOURS): Promise<void> {
  await Promise.all(hourStarts.map((hour) => counters.putState(namespace, hour, { markedAt: nowMs, mark: randomUUID() })));
}

/**
 * Marks hours whose live minutes may count an event twice (a redelivered message): dirty, so the
 * compactor settles them, and drifted, so it rewrites their minute items from the facts (it reads
 * drift marks only for the hours it settles).
 */
export async function markDrifted(counters: CounterStore, hourStarts: number[], nowMs: number): Promise<void> {
  await Promise.all([markDirty(counters, hourStarts, nowMs), markDirty(counters, hourStarts, nowMs, DRIFT_HOURS)]);
}

/** Clears a dirty mark read earlier, unless it was re-marked since (see markDirty). */
export async function clearDirty(counters: CounterStore, namespace: string, id: number, value: Record<string, unknown>): Promise<boolean> {
  if (typeof value.mark === 'string') return counters.deleteStateIf(namespace, id, 'mark', value.mark);
  // Marks written before tokens existed carry only markedAt.
  if (typeof value.markedAt === 'number') return counters.deleteStateIf(namespace, id, 'markedAt', value.markedAt);
  return false;
}

/**
 * How many times this process has written the state queries plan on (the watermark, the ingest
 * heartbeat) per store: a query's short-lived cache of that state (window-read.ts) is void once it
 * moved, so in one process a read after a settle or a batch sees it. Other processes' writes reach a
 * cache when it expires.
 */
const stateVersions = new WeakMap<CounterStore, number>();
export const stateVersion = (counters: CounterStore): number => stateVersions.get(counters) ?? 0;
const stateChanged = (counters: CounterStore) => stateVersions.set(counters, stateVersion(counters) + 1);

export async function recordIngestHeartbeat(counters: CounterStore, nowMs: number, accepted: number): Promise<void> {
  if (accepted === 0) return;
  await counters.putState(INGEST_HEARTBEAT, 0, { lastIngestAt: nowMs });
  stateChanged(counters);
}

/**
 * Moves the watermark (compact.ts): counters are settled before `settledThrough`, and week items
 * (weeks.ts) before `weeksThrough` (a day boundary, at most the watermark's day), in one record so a
 * read plans on both with one GetItem.
 */
export async function writeWatermark(counters: CounterStore, settledThrough: number, nowMs: number, weeksThrough = 0): Promise<void> {
  await counters.putState(WATERMARK, 0, { settledThrough, weeksThrough, updatedAt: nowMs });
  stateChanged(counters);
}

export async function lastIngestAt(counters: CounterStore): Promise<number | null> {
  const state = await counters.getState(INGEST_HEARTBEAT, 0);
  return typeof state?.lastIngestAt === 'number' ? state.lastIngestAt : null;
}

export const WATERMARK = 'watermark';
export const DIRTY_DAYS = 'dirty-day';
/** Weeks (bucket starts) with a day rolled since their week items were settled (compact.ts). */
export const DIRTY_WEEKS = 'dirty-week';
/**
 * Hours whose live minute items may count an event twice (ingest saw a redelivered message for them):
 * the compactor rewrites their minute items from the facts, and only theirs.
 */
export const DRIFT_HOURS = 'drift-hour';

/**
 * How this table's counts are laid out. Absent: written before per-event and per-address scopes were
 * counted live per hour (their live counts went to minute items, which nothing reads now) and before
 * sparse user hours were kept in their minute items (settled hours have hour items; live minutes have
 * no details).
 */
export const COUNTING_LAYOUT = 'counting-layout';

/**
 * Once per table, before the first settle under hourly per-event counting: in a table settled before
 * (it has a watermark), every hour not settled since (a dirty mark) may hold live per-event counts in
 * minute items only, so it is marked drifted too, and its settle writes those scopes' hour items from
 * the facts. A new table just records the layout. Returns the hours it marked now, and since when the
 * table has this layout (hours settled before then are settled again under it: compact.ts).
 */
export async function adoptHourlyTargetCounting(counters: CounterStore, nowMs: number): Promise<{ hours: number[]; adoptedAt: number }> {
  const layout = await counters.getState(COUNTING_LAYOUT, 0);
  if (layout) return { hours: [], adoptedAt: Number(layout.adoptedAt ?? 0) };
  const settledBefore = (await counters.getState(WATERMARK, 0)) !== null;
  const hours = settledBefore ? (await counters.listState(DIRTY_HOURS)).map((mark) => mark.id) : [];
  if (hours.length) await markDirty(counters, hours, nowMs, DRIFT_HOURS);
  await counters.putState(COUNTING_LAYOUT, 0, { targetScopes: 'hourly', sparseUserHours: 'minutes', adoptedAt: nowMs });
  return { hours, adoptedAt: nowMs };
}

/** Counters are settled (hour and day items exact) for every hour before this time (unix seconds). */
export async function readWatermark(counters: CounterStore): Promise<number> {
  return (await readSettledThrough(counters)).watermark;
}

/** The watermark, and the time week items are settled through (writeWatermark): 0 where never written. */
export async function readSettledThrough(counters: CounterStore): Promise<{ watermark: number; weeksThrough: number }> {
  const state = await counters.getState(WATERMARK, 0);
  const number = (value: unknown) => (typeof value === 'number' ? value : 0);
  return { watermark: number(state?.settledThrough), weeksThrough: number(state?.weeksThrough) };
}
