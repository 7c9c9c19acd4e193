import { userScope } from '../counters/contributions.js';
import { mergeItems } from '../counters/aggregate.js';
import { engagementReceived } from '../counters/read.js';
import type { CounterItem } from '../ports.js';
import { drilldownsOf, timelineOf, toTotals } from './summary.js';
import { timelineStep, type QueryWindow } from './window.js';
import { readWindow, type Meta, type QueryDeps } from './window-read.js';

export const DRILLDOWNS = ['top-posts', 'top-hashtags', 'zappers', 'best-hours', 'best-days', 'heatmap', 'timeline'] as const;
export type Drilldown = (typeof DRILLDOWNS)[number];

const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

/** The heatmap drill-down: engagement received per weekday × hour of day, and its three busiest cells. */
export interface Heatmap {
  days: { day: string; index: number; hours: number[]; engagement: number }[];
  best: { day: string; index: number; hour: number; engagement: number }[];
}

/**
 * The weekday × hour matrix from a cell reader (weekday 0 = Sunday, hour 0–23, both local to the tz
 * offset), shared by the counters' answer and a job's so both rank ties the same way.
 */
export function heatmapOf(cell: (weekday: number, hour: number) => number): Heatmap {
  const days = WEEKDAYS.map((day, index) => {
    const hours = Array.from({ length: 24 }, (_, hour) => cell(index, hour));
    return { day, index, hours, engagement: hours.reduce((a, b) => a + b, 0) };
  });
  const cells = days.flatMap(({ day, index, hours }) => hours.map((engagement, hour) => ({ day, index, hour, engagement })));
  const best = cells
    .filter((c) => c.engagement > 0)
    .sort((a, b) => b.engagement - a.engagement || a.index - b.index || a.hour - b.hour)
    .slice(0, 3);
  return { days, best };
}

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
  const read = await readWindow(userScope(pubkey), window, deps);
  const state = mergeItems(read.items);
  const tops = drilldownsOf(state, options.limit);
  const shift = options.tzOffsetMinutes * 60;
  // A top list is one page: the window's top `limit` (its buckets keep their top entries only, so there is no next page to walk).
  const onePage = { ...read.meta, pagination: { cursor: null, nextCursor: null, limit: options.limit } };
  switch (drilldown) {
    case 'top-posts':
      return { data: tops.topPosts, meta: onePage };
    case 'top-hashtags':
      return { data: tops.topHashtags, meta: onePage };
    case 'zappers':
      return { data: tops.topZappers, meta: onePage };
    case 'best-hours': {
      const byHour = Array.from({ length: 24 }, (_, hour) => ({ hour, engagement: 0 }));
      for (const [ts, engaged] of engagementByHour(read.items)) byHour[new Date((ts + shift) * 1000).getUTCHours()]!.engagement += engaged;
      const ranked = [...byHour].sort((a, b) => b.engagement - a.engagement || a.hour - b.hour);
      return { data: { hours: byHour, best: ranked.filter((h) => h.engagement > 0).slice(0, 3).map((h) => h.hour) }, meta: { ...read.meta, tzOffsetMinutes: options.tzOffsetMinutes } };
    }
    case 'best-days': {
      const byDay = WEEKDAYS.map((day, index) => ({ day, index, engagement: 0 }));
      for (const [ts, engaged] of engagementByHour(read.items)) byDay[new Date((ts + shift) * 1000).getUTCDay()]!.engagement += engaged;
      const ranked = [...byDay].sort((a, b) => b.engagement - a.engagement || a.index - b.index);
      return { data: { days: byDay, best: ranked.filter((d) => d.engagement > 0).slice(0, 3).map((d) => d.day) }, meta: { ...read.meta, tzOffsetMinutes: options.tzOffsetMinutes } };
    }
    case 'heatmap': {
      const cells = Array.from({ length: 7 * 24 }, () => 0);
      for (const [ts, engaged] of engagementByHour(read.items)) {
        const local = new Date((ts + shift) * 1000);
        cells[local.getUTCDay() * 24 + local.getUTCHours()]! += engaged;
      }
      return { data: heatmapOf((weekday, hour) => cells[weekday * 24 + hour]!), meta: { ...read.meta, tzOffsetMinutes: options.tzOffsetMinutes } };
    }
    case 'timeline':
      return {
        data: timelineOf(read.items, window, timelineStep(window)).map(({ ts, state: s }) => ({ ts, ...toTotals(s) })),
        meta: read.meta,
      };
  }
}
