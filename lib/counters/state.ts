import type { CounterStore } from '../ports.js';

/** Namespaces of the small state records kept in the counters table. */
export const DIRTY_HOURS = 'dirty-hour';
export const INGEST_HEARTBEAT = 'ingest';

/** Marks hour partitions as needing compaction; `markedAt` lets the compactor clear only what it saw. */
export async function markDirty(counters: CounterStore, hourStarts: number[], nowMs: number): Promise<void> {
  await Promise.all(hourStarts.map((hour) => counters.putState(DIRTY_HOURS, hour, { markedAt: nowMs })));
}

export async function recordIngestHeartbeat(counters: CounterStore, nowMs: number, accepted: number): Promise<void> {
  if (accepted === 0) return;
  await counters.putState(INGEST_HEARTBEAT, 0, { lastIngestAt: nowMs });
}

export async function lastIngestAt(counters: CounterStore): Promise<number | null> {
  const state = await counters.getState(INGEST_HEARTBEAT, 0);
  return typeof state?.lastIngestAt === 'number' ? state.lastIngestAt : null;
}

export const WATERMARK = 'watermark';
export const DIRTY_DAYS = 'dirty-day';

/** Counters are settled (hour and day items exact) for every hour before this time (unix seconds). */
export async function readWatermark(counters: CounterStore): Promise<number> {
  const state = await counters.getState(WATERMARK, 0);
  return typeof state?.settledThrough === 'number' ? state.settledThrough : 0;
}
