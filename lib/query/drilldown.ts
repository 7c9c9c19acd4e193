import { userScope } from '../counters/contributions.js';
import { mergeItems } from '../counters/aggregate.js';
import { engagementReceived } from '../counters/read.js';
import type { CounterItem } from '../ports.js';
import { timelineOf, toTotals } from './summary.js';
import { drilldownsOf, topListOfDrilldown } from './top-lists.js';
import { isTimeDrilldown, timeDrilldown, WeekHourGrid } from './best-times.js';
import { timelineStep, type QueryWindow } from './window.js';
import { readWindow, type Meta, type QueryDeps } from './window-read.js';

export const DRILLDOWNS = ['top-posts', 'top-hashtags', 'zappers', 'best-hours', 'best-days', 'heatmap', 'timeline'] as const;
export type Drilldown = (typeof DRILLDOWNS)[number];

/** Best hours, best days and the heat map are ranked in best-times.ts (with a job's); re-exported for drilldown's callers. */
export { heatmapOf, type Heatmap } from './best-times.js';

/**
 * Engagement received per UTC instant at hour resolution: hour, ten-minute and minute items by their
 * bucket, day and quarter-day items by their `eng_hHH` histogram (hour of the UTC day), so best-hours
 * works on windows answered with them.
 */
function engagementByHour(items: CounterItem[]): [hourStartUtc: number, engagement: number][] {
  const out: [number, number][] = [];
  for (const item of items) {
    if (item.granularity === 'd' || item.granularity === 'q') {
      const dayStart = Math.floor(item.bucket / 86400) * 86400;
      for (let h = 0; h < 24; h++) {
        const value = item.values[`eng_h${String(h).padStart(2, '0')}`];
        if (value) out.push([dayStart + h * 3600, value]);
      }
    } else {
      const engaged = engagementReceived(item.values);
      if (engaged) out.push([item.bucket, engaged]);
    }
  }
  return out;
}

export async function userDrilldown(
  pubkey: string,
  drilldown: Drilldown,
  window: QueryWindow,
  deps: QueryDeps,
  options: { tzOffsetMinutes: number; limit: number },
): Promise<{ data: unknown; meta: Meta & { tzOffsetMinutes?: number; pagination?: { cursor: null; nextCursor: null; limit: number } } }> {
  const topList = topListOfDrilldown(drilldown);
  // A top list needs no day's details: whole weeks come from week items. The time drill-downs and
  // the timeline need each day's hours or sketches.
  const read = await readWindow(userScope(pubkey), window, deps, { useWeeks: topList !== undefined });
  if (topList) {
    // A top list is one page: the window's top `limit` (its buckets keep their top entries only, so there is no next page to walk).
    const onePage = { ...read.meta, pagination: { cursor: null, nextCursor: null, limit: options.limit } };
    return { data: drilldownsOf(mergeItems(read.items), options.limit)[topList.field], meta: onePage };
  }
  if (isTimeDrilldown(drilldown)) {
    const grid = new WeekHourGrid();
    for (const [ts, engaged] of engagementByHour(read.items)) grid.addAt(ts, options.tzOffsetMinutes, engaged);
    return { data: timeDrilldown(drilldown, grid), meta: { ...read.meta, tzOffsetMinutes: options.tzOffsetMinutes } };
  }
  return {
    data: timelineOf(read.items, window, timelineStep(window)).map(({ ts, state: s }) => ({ ts, ...toTotals(s) })),
    meta: read.meta,
  };
}
