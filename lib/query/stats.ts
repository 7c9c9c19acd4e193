import type { CounterStore } from '../ports.js';
import { GLOBAL_SCOPE } from '../counters/contributions.js';

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
