import { projectScope } from '../counters/contributions.js';
import { mergeItems } from '../counters/aggregate.js';
import { hllEstimate } from '../counters/hll.js';
import type { QueryWindow } from './window.js';
import { timelineOf } from './summary.js';
import { readWindow, type Meta, type QueryDeps } from './window-read.js';

export const APP_METRICS = ['daily_active_users', 'events'] as const;
export type AppMetric = (typeof APP_METRICS)[number];

/** A project's metric per day (UTC) over the window, from the `p:<project>` counters. */
export async function appMetric(project: string, metric: AppMetric, window: QueryWindow, deps: QueryDeps): Promise<{ data: { metric: AppMetric; project: string; total: number; series: { day: string; value: number }[] }; meta: Meta }> {
  const read = await readWindow(projectScope(project), window, deps, { hourly: false });
  const points = timelineOf(read.items, window, 86400);
  const value = (state: ReturnType<typeof mergeItems>) => (metric === 'events' ? (state.values.events ?? 0) : hllEstimate(state.sets.users ?? []));
  return {
    data: {
      metric,
      project,
      // For users, the distinct users of the whole window (not the sum of the days).
      total: value(mergeItems(read.items)),
      series: points.map(({ ts, state }) => ({ day: new Date(ts * 1000).toISOString().slice(0, 10), value: value(state) })),
    },
    meta: read.meta,
  };
}
