import { describe, expect, it } from 'vitest';
import { bestDays, bestHours, heatmapOf, isTimeDrilldown, timeDrilldown, WeekHourGrid, WEEKDAYS, type BestDays, type BestHours, type Heatmap } from '../../lib/query/best-times.js';
import { drilldownsOf, topListOfDrilldown, TOP_LISTS } from '../../lib/query/top-lists.js';
import { JobMerge, partData, partsOf } from '../../lib/jobs/parts.js';
import type { UserJobRequest } from '../../lib/jobs/jobs.js';
import type { Meta } from '../../lib/query/window-read.js';

const PUBKEY = 'a'.repeat(64);
/** Sunday 7 January 2024, 00:00 UTC. */
const SUNDAY = Date.UTC(2024, 0, 7) / 1000;
const window = { type: 'custom' as const, startTs: SUNDAY - 400 * 86400, endTs: SUNDAY };
const meta = { window, freshness: { snapshotAsOf: null, deltaAsOf: null, stalenessMs: null, isPartial: false }, source: 'fallback', partialReason: null, plan: { maxItems: 0, itemsRead: 0, segments: [] } } as unknown as Meta;

const gridOf = (cells: [weekday: number, hour: number, engagement: number][]) => {
  const grid = new WeekHourGrid();
  for (const [weekday, hour, engagement] of cells) grid.add(weekday, hour, engagement);
  return grid;
};

describe('WeekHourGrid: engagement by local weekday × hour', () => {
  it('adds into a cell; weekdays and hours out of range wrap (SQL % keeps a negative sign)', () => {
    const grid = gridOf([[2, 9, 4], [2, 9, 1], [-1, -1, 5], [7, 24, 2]]);
    expect(grid.at(2, 9)).toBe(5);
    expect(grid.at(6, 23)).toBe(5);
    expect(grid.at(0, 0)).toBe(2);
  });

  it('places a UTC instant by its local time at the tz offset (weekday 0 = Sunday)', () => {
    const grid = new WeekHourGrid();
    grid.addAt(SUNDAY + 3 * 3600, 0, 2); // Sunday 03:00 UTC
    grid.addAt(SUNDAY + 3 * 3600, -240, 3); // Saturday 23:00 at UTC-4
    grid.addAt(SUNDAY + 22 * 3600 + 59 * 60, 330, 7); // Monday 04:29 at UTC+5:30
    expect(grid.at(0, 3)).toBe(2);
    expect(grid.at(6, 23)).toBe(3);
    expect(grid.at(1, 4)).toBe(7);
  });
});

describe('the rankings: most engagement first, ties in order, none without engagement, at most three', () => {
  it('best hours: 24 hours summed over the weekdays; ties by the earlier hour', () => {
    const hours = bestHours(gridOf([[0, 5, 2], [3, 5, 2], [1, 17, 4], [2, 1, 4], [6, 8, 1], [4, 20, 1]]));
    expect(hours.hours).toHaveLength(24);
    expect(hours.hours[5]).toEqual({ hour: 5, engagement: 4 });
    expect(hours.hours.reduce((sum, h) => sum + h.engagement, 0)).toBe(14);
    expect(hours.best).toEqual([1, 5, 17]);
    expect(bestHours(gridOf([[0, 4, 1]])).best).toEqual([4]);
    expect(bestHours(new WeekHourGrid()).best).toEqual([]);
  });

  it('best days: seven days by name from Sunday; ties by the earlier weekday', () => {
    const days = bestDays(gridOf([[5, 1, 3], [2, 0, 1], [2, 23, 2], [0, 12, 1], [6, 6, 1]]));
    expect(days.days.map((d) => d.day)).toEqual([...WEEKDAYS]);
    expect(days.days.map((d) => d.engagement)).toEqual([1, 0, 3, 0, 0, 3, 1]);
    expect(days.best).toEqual(['Tuesday', 'Friday', 'Sunday']);
    expect(bestDays(new WeekHourGrid()).best).toEqual([]);
  });

  it('heat map: the matrix and its three busiest cells, ties by weekday then hour', () => {
    const heat = heatmapOf((weekday, hour) => gridOf([[3, 9, 5], [1, 14, 2], [1, 2, 2], [0, 20, 2]]).at(weekday, hour));
    expect(heat.days[3]!.hours[9]).toBe(5);
    expect(heat.days[1]!.engagement).toBe(4);
    expect(heat.best.map((b) => `${b.day} ${b.hour} ${b.engagement}`)).toEqual(['Wednesday 9 5', 'Sunday 20 2', 'Monday 2 2']);
  });

  it('the three answers agree with one another', () => {
    const cells: [number, number, number][] = Array.from({ length: 40 }, (_, i) => [(i * 3) % 7, (i * 5) % 24, (i % 4) + 1]);
    const grid = gridOf(cells);
    const heat = timeDrilldown('heatmap', grid) as Heatmap;
    const hours = timeDrilldown('best-hours', grid) as BestHours;
    const days = timeDrilldown('best-days', grid) as BestDays;
    expect(hours.hours.map((h) => h.engagement)).toEqual(Array.from({ length: 24 }, (_, hour) => heat.days.reduce((sum, d) => sum + d.hours[hour]!, 0)));
    expect(days.days.map((d) => d.engagement)).toEqual(heat.days.map((d) => d.engagement));
  });

  it('names the time drill-downs', () => {
    expect(['best-hours', 'best-days', 'heatmap'].every(isTimeDrilldown)).toBe(true);
    expect(['top-posts', 'timeline', undefined].some(isTimeDrilldown)).toBe(false);
  });
});

describe('a job answers the time drill-downs with the same rule as the counters', () => {
  const rows = [
    { hour_of_day: 9, weekday: 2, engagement: 4 },
    { hour_of_day: -1, weekday: -3, engagement: 2 }, // SQL's % of a time before 1970 at a negative offset
    { hour_of_day: 9, weekday: 5, engagement: 1 },
  ];
  const job = (drilldown: 'best-hours' | 'best-days' | 'heatmap') => {
    const request: UserJobRequest = { kind: 'drilldown', drilldown, pubkey: PUBKEY, window, tzOffsetMinutes: -60 };
    expect(partsOf(request)).toEqual(['by_hour']);
    const merge = new JobMerge(request);
    merge.add(partData('by_hour', rows.slice(0, 2)));
    merge.add(partData('by_hour', rows.slice(2)));
    return merge.result(meta) as { data: unknown; meta: Record<string, unknown> };
  };

  it('from the merged chunks, as the grid would', () => {
    const grid = gridOf([[2, 9, 4], [4, 23, 2], [5, 9, 1]]);
    for (const drilldown of ['best-hours', 'best-days', 'heatmap'] as const) {
      const answer = job(drilldown);
      expect(answer.data).toEqual(timeDrilldown(drilldown, grid));
      expect(answer.meta.tzOffsetMinutes).toBe(-60);
    }
    expect((job('best-hours').data as BestHours).best).toEqual([9, 23]);
    expect((job('best-days').data as BestDays).best).toEqual(['Tuesday', 'Thursday', 'Friday']);
  });
});

describe('the top-list drill-downs (lib/query/top-lists.ts)', () => {
  const tops = {
    top_posts: new Map([['p2', 3], ['p1', 3], ['p3', 9], ['p4', 1]]),
    top_tags: new Map([['nostr', 2], ['art', 2]]),
    top_zappers: new Map([[PUBKEY, 1_999], ['b'.repeat(64), 21_000]]),
  };

  it('larger amounts first, ties by key, the first n; zaps in whole sats, floored', () => {
    expect(drilldownsOf({ tops }, 3)).toEqual({
      topPosts: [{ id: 'p3', engagement: 9 }, { id: 'p1', engagement: 3 }, { id: 'p2', engagement: 3 }],
      topHashtags: [{ tag: 'art', count: 2 }, { tag: 'nostr', count: 2 }],
      topZappers: [{ pubkey: 'b'.repeat(64), sats: 21 }, { pubkey: PUBKEY, sats: 1 }],
    });
    expect(drilldownsOf({ tops: {} }, 5)).toEqual({ topPosts: [], topHashtags: [], topZappers: [] });
    expect(drilldownsOf({ tops }, 0).topPosts).toEqual([]);
  });

  it('maps each drill-down route to its counter list and answer field', () => {
    expect(TOP_LISTS.map((t) => [t.drilldown, t.list, t.field])).toEqual([
      ['top-posts', 'top_posts', 'topPosts'],
      ['top-hashtags', 'top_tags', 'topHashtags'],
      ['zappers', 'top_zappers', 'topZappers'],
    ]);
    expect(topListOfDrilldown('heatmap')).toBeUndefined();
  });

  it('a job merges its chunks\' candidates into the same lists, and says which may be approximate', () => {
    const request: UserJobRequest = { kind: 'drilldown', drilldown: 'top-posts', pubkey: PUBKEY, window, limit: 2 };
    expect(partsOf(request)).toEqual(['top_posts']);
    const merge = new JobMerge(request);
    merge.add({ part: 'top_posts', items: [['p1', 2], ['p2', 3]], complete: true });
    merge.add({ part: 'top_posts', items: [['p1', 1], ['p3', 3]], complete: false });
    const answer = merge.result(meta) as { data: unknown; meta: { approximate: string[] } };
    expect(answer.data).toEqual(drilldownsOf({ tops: { top_posts: new Map([['p1', 3], ['p2', 3], ['p3', 3]]) } }, 2).topPosts);
    expect(answer.data).toEqual([{ id: 'p1', engagement: 3 }, { id: 'p2', engagement: 3 }]);
    expect(answer.meta.approximate).toEqual(['topPosts']);
  });

  it('a summary job carries all three lists, five each unless asked', () => {
    const request: UserJobRequest = { kind: 'summary', pubkey: PUBKEY, window };
    expect(partsOf(request)).toEqual(['daily', 'engagers', 'top_posts', 'top_tags', 'top_zappers']);
    const merge = new JobMerge(request);
    merge.add({ part: 'top_tags', items: Array.from({ length: 8 }, (_, i) => [`tag${i}`, 10 - i] as [string, number]), complete: true });
    merge.add({ part: 'top_zappers', items: [[PUBKEY, 5_500]], complete: true });
    const answer = merge.result(meta) as { data: { drilldowns: unknown }; drilldowns: unknown; meta: { approximate: string[] } };
    expect(answer.data.drilldowns).toEqual({
      topPosts: [],
      topHashtags: Array.from({ length: 5 }, (_, i) => ({ tag: `tag${i}`, count: 10 - i })),
      topZappers: [{ pubkey: PUBKEY, sats: 5 }],
    });
    expect(answer.drilldowns).toEqual(answer.data.drilldowns);
    expect(answer.meta.approximate).toEqual([]);
  });
});
