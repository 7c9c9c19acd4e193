import { carriesDetails } from '../counters/planner.js';
import { GLOBAL_SCOPE } from '../counters/contributions.js';
import { mergeItems } from '../counters/aggregate.js';
import { hllEstimate } from '../counters/hll.js';
import type { QueryWindow } from './window.js';
import { readWindow, type Meta, type QueryDeps } from './window-read.js';

export interface GlobalSummary {
  totalEvents: number;
  uniqueUsers: number;
  eventsByType: Record<string, number>;
  eventsByKind: Record<string, number>;
}

/**
 * Network-wide totals over a window (the seed's /api/analytics/summary). Unique users is a HyperLogLog
 * estimate over settled buckets only: the global author sketch is not kept in live minute items (it
 * would make the hottest item in the table the largest), so a live tail is reported as partial.
 */
export async function globalSummary(window: QueryWindow, deps: QueryDeps): Promise<{ data: GlobalSummary; meta: Meta }> {
  const read = await readWindow(GLOBAL_SCOPE, window, deps, { hourly: false, useWeeks: true });
  const state = mergeItems(read.items);
  const eventsByType: Record<string, number> = {};
  const eventsByKind: Record<string, number> = {};
  for (const [name, value] of Object.entries(state.values)) {
    if (name.startsWith('type:')) eventsByType[name.slice(5)] = value;
    else if (name.startsWith('kind:')) eventsByKind[name.slice(5)] = value;
  }
  const meta = { ...read.meta };
  if (read.plan.segments.some((s) => !carriesDetails(s))) {
    const reason = 'uniqueUsers counts settled hours only; events after the watermark are in the totals but not in uniqueUsers';
    meta.partialReason = meta.partialReason ? `${meta.partialReason}; ${reason}` : reason;
    meta.freshness = { ...meta.freshness, isPartial: true };
  }
  return { data: { totalEvents: state.values.events ?? 0, uniqueUsers: hllEstimate(state.sets.authors ?? []), eventsByType, eventsByKind }, meta };
}
