import type { CounterStore } from '../ports.js';
import { GLOBAL_SCOPE } from '../counters/contributions.js';
import { mergeItems } from '../counters/aggregate.js';
import { readAllTimeTotals } from '../counters/all-time.js';
import { readWindow, type Meta, type QueryDeps } from './window-read.js';

export interface GlobalStats {
  totalEvents: number;
  eventsByKind: Record<string, number>;
  rejectedByReason: Record<string, number>;
}

/** Rejections are counted per delivery (they have no fact to deduplicate by) in the global `all` item. */
async function rejectedByReason(counters: CounterStore): Promise<Record<string, number>> {
  const [item] = await counters.range(GLOBAL_SCOPE, 'all', 0, 0);
  const out: Record<string, number> = {};
  for (const [name, value] of Object.entries(item?.values ?? {})) if (name.startsWith('rejected:')) out[name.slice(9)] = value;
  return out;
}

/**
 * GET /api/stats: all-time totals, exact once settled. The settled all-time item covers every day
 * before its `settled_through`; the settled hours and live minutes after it come from the usual window
 * plan. Reads: two items plus at most a day of hour items and the live tail, whatever the history.
 */
export async function globalStatsResponse(deps: QueryDeps): Promise<{ data: GlobalStats; meta: Meta }> {
  const nowSeconds = Math.floor(deps.clock.now() / 1000);
  const [settled, rejected] = await Promise.all([readAllTimeTotals(deps.counters), rejectedByReason(deps.counters)]);
  const endTs = Math.ceil((nowSeconds + 1) / 60) * 60;
  // Before the first settle everything is live; minutes older than their retention are gone (flagged partial).
  const startTs = Math.max(settled.settledThrough, Math.ceil((nowSeconds - deps.retention.minuteSeconds) / 60) * 60 + 60);
  const tail = await readWindow(GLOBAL_SCOPE, { type: 'custom', startTs: Math.min(startTs, endTs - 60), endTs }, deps, { hourly: true });
  const totals = mergeItems(tail.items).values;
  for (const [name, n] of Object.entries(settled.values)) totals[name] = (totals[name] ?? 0) + n;
  const eventsByKind: Record<string, number> = {};
  for (const [name, value] of Object.entries(totals)) if (name.startsWith('kind:')) eventsByKind[name.slice(5)] = value;
  const partialReason = settled.settledThrough < startTs && settled.settledThrough > 0 ? 'the settled totals lag behind minute retention; some events are missing until the compactor catches up' : tail.meta.partialReason;
  return {
    data: { totalEvents: totals.events ?? 0, eventsByKind, rejectedByReason: rejected },
    meta: {
      ...tail.meta,
      window: { type: 'custom', startTs: 0, endTs },
      partialReason,
      freshness: { ...tail.meta.freshness, isPartial: partialReason !== null },
    },
  };
}
