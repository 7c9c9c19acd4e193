import type { Clock, CounterStore } from '../ports.js';
import { GLOBAL_SCOPE } from '../counters/contributions.js';
import { lastIngestAt } from '../counters/state.js';
import type { Freshness } from './window-read.js';

export interface GlobalStats {
  totalEvents: number;
  eventsByKind: Record<string, number>;
  rejectedByReason: Record<string, number>;
}

/** All-time totals from the single global `all` counter item: one read, whatever the history. */
export async function globalStats(counters: CounterStore): Promise<GlobalStats> {
  const [item] = await counters.range(GLOBAL_SCOPE, 'all', 0, 0);
  const values = item?.values ?? {};
  const eventsByKind: Record<string, number> = {};
  const rejectedByReason: Record<string, number> = {};
  for (const [name, value] of Object.entries(values)) {
    if (name.startsWith('kind:')) eventsByKind[name.slice(5)] = value;
    else if (name.startsWith('rejected:')) rejectedByReason[name.slice(9)] = value;
  }
  return { totalEvents: values.events ?? 0, eventsByKind, rejectedByReason };
}

/**
 * GET /api/stats with its freshness: the all-time item is live (added per batch, at least once), so it
 * has no snapshot; deltaAsOf is the last ingest.
 */
export async function globalStatsResponse(deps: { counters: CounterStore; clock: Clock }): Promise<{ data: GlobalStats; meta: { freshness: Freshness; source: 'canonical+delta' } }> {
  const [data, ingestAt] = await Promise.all([globalStats(deps.counters), lastIngestAt(deps.counters)]);
  return {
    data,
    meta: {
      freshness: {
        snapshotAsOf: null,
        deltaAsOf: ingestAt === null ? null : new Date(ingestAt).toISOString(),
        stalenessMs: ingestAt === null ? null : Math.max(0, deps.clock.now() - ingestAt),
        isPartial: false,
      },
      source: 'canonical+delta',
    },
  };
}
