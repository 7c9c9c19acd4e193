/**
 * Best hours, best days and the weekday × hour heat map: the one home of how engagement received is
 * laid out by local time and ranked. The counters' answer (drilldown.ts, from counter items) and a
 * job's (lib/jobs/parts.ts, from SQL rows) each fill a WeekHourGrid and answer with these, so both
 * shape and rank the same way. Pure: no store, no clock.
 */

export const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'] as const;

/** The drill-downs answered from engagement by local time. */
export const TIME_DRILLDOWNS = ['best-hours', 'best-days', 'heatmap'] as const;
export type TimeDrilldown = (typeof TIME_DRILLDOWNS)[number];
export const isTimeDrilldown = (drilldown: string | undefined): drilldown is TimeDrilldown => (TIME_DRILLDOWNS as readonly string[]).includes(drilldown ?? '');

/** How many hours, days or cells a ranking names at most. */
export const BEST_COUNT = 3;

/** The best-hours drill-down: engagement per local hour of day, and its busiest hours. */
export interface BestHours {
  hours: { hour: number; engagement: number }[];
  best: number[];
}

/** The best-days drill-down: engagement per local weekday (0 = Sunday), and the busiest days' names. */
export interface BestDays {
  days: { day: string; index: number; engagement: number }[];
  best: string[];
}

/** The heatmap drill-down: engagement received per weekday × hour of day, and its busiest cells. */
export interface Heatmap {
  days: { day: string; index: number; hours: number[]; engagement: number }[];
  best: { day: string; index: number; hour: number; engagement: number }[];
}

const wrap = (value: number, size: number) => ((value % size) + size) % size;

/** Engagement received per local weekday (0 = Sunday) × hour of day (0–23). */
export class WeekHourGrid {
  private readonly cells: number[] = Array.from({ length: 7 * 24 }, () => 0);

  /** Adds engagement at a local weekday and hour; values outside the ranges wrap (SQL's % keeps a negative sign). */
  add(weekday: number, hour: number, engagement: number): void {
    this.cells[wrap(weekday, 7) * 24 + wrap(hour, 24)]! += engagement;
  }

  /** Adds engagement received at a UTC instant (unix seconds), placed by its local time at the tz offset. */
  addAt(utcSeconds: number, tzOffsetMinutes: number, engagement: number): void {
    const local = new Date((utcSeconds + tzOffsetMinutes * 60) * 1000);
    this.add(local.getUTCDay(), local.getUTCHours(), engagement);
  }

  at(weekday: number, hour: number): number {
    return this.cells[weekday * 24 + hour]!;
  }
}

/**
 * The ranking every one of these answers uses: the entries with engagement, most first, ties in the
 * entries' own order (hour, weekday, weekday then hour), at most BEST_COUNT.
 */
function best<T extends { engagement: number }>(entries: readonly T[]): T[] {
  return entries
    .map((entry, order) => ({ entry, order }))
    .filter(({ entry }) => entry.engagement > 0)
    .sort((a, b) => b.entry.engagement - a.entry.engagement || a.order - b.order)
    .slice(0, BEST_COUNT)
    .map(({ entry }) => entry);
}

export function bestHours(grid: WeekHourGrid): BestHours {
  const hours = Array.from({ length: 24 }, (_, hour) => ({ hour, engagement: WEEKDAYS.reduce((sum, _day, weekday) => sum + grid.at(weekday, hour), 0) }));
  return { hours, best: best(hours).map((h) => h.hour) };
}

export function bestDays(grid: WeekHourGrid): BestDays {
  const days = WEEKDAYS.map((day, index) => ({ day, index, engagement: hoursOf(grid, index).reduce((a, b) => a + b, 0) }));
  return { days, best: best(days).map((d) => d.day) };
}

const hoursOf = (grid: WeekHourGrid, weekday: number) => Array.from({ length: 24 }, (_, hour) => grid.at(weekday, hour));

/** The weekday × hour matrix from a cell reader (weekday 0 = Sunday, hour 0–23, both local to the tz offset). */
export function heatmapOf(cell: (weekday: number, hour: number) => number): Heatmap {
  const days = WEEKDAYS.map((day, index) => {
    const hours = Array.from({ length: 24 }, (_, hour) => cell(index, hour));
    return { day, index, hours, engagement: hours.reduce((a, b) => a + b, 0) };
  });
  const cells = days.flatMap(({ day, index, hours }) => hours.map((engagement, hour) => ({ day, index, hour, engagement })));
  return { days, best: best(cells) };
}

/** A time drill-down's data from the grid: what the counters' route and a job both answer. */
export function timeDrilldown(drilldown: TimeDrilldown, grid: WeekHourGrid): BestHours | BestDays | Heatmap {
  switch (drilldown) {
    case 'best-hours':
      return bestHours(grid);
    case 'best-days':
      return bestDays(grid);
    case 'heatmap':
      return heatmapOf((weekday, hour) => grid.at(weekday, hour));
  }
}
