import type { Granularity } from '../ports.js';
import { keptSeconds, RETENTION_CLASS, type Retention } from './retention.js';
import { SPARSE_HOUR_EVENTS } from './contributions.js';
import { GRANULARITY_SECONDS } from './buckets.js';

export type BucketGranularity = Exclude<Granularity, 'all'>;

/** A contiguous run of buckets of one granularity: one Query. */
export interface PlanSegment {
  granularity: BucketGranularity;
  /** first bucket start (inclusive) */
  from: number;
  /** end of the segment (exclusive) */
  to: number;
  /** settled (ten-minute, hour, quarter-day, day items) or live (minute items after the watermark) */
  live: boolean;
  /**
   * One week's item covering its days before `to` only (a week-to-date item, weeks.ts): the days of
   * the watermark's week, planned only while weeks are settled through its day (planWindow).
   */
  weekToDate?: boolean;
}

export interface WindowPlan {
  segments: PlanSegment[];
  /** why the plan cannot answer the window exactly, if it cannot */
  unanswerable: string | null;
  /** the largest number of items the plan can read (bounded by the window, not by activity) */
  maxItems: number;
}

const HOUR = 3600;
const DAY = 86400;
const floorTo = (t: number, size: number) => Math.floor(t / size) * size;
const ceilTo = (t: number, size: number) => Math.ceil(t / size) * size;

/**
 * Which granularity a settled bucket falls back to where its item is missing: ten-minute and
 * quarter-day items are written only where they stand for more than one finer item (settle-sql.ts),
 * and a user's sparse hour has no hour item (SPARSE_HOUR_EVENTS). read.ts reads these in its place.
 */
export const FALLBACK_GRANULARITY: Partial<Record<BucketGranularity, BucketGranularity>> = { t: 'm', q: 'h', w: 'd' };

/** Whether a segment's items carry sketches and top lists (settled hours and coarser); minute and ten-minute items hold counts. */
export const carriesDetails = (segment: PlanSegment) => !segment.live && (segment.granularity === 'h' || segment.granularity === 'q' || segment.granularity === 'd' || segment.granularity === 'w');


/**
 * Decomposes [start, end) into the fewest items: the coarsest buckets that fit, from days down
 * through quarter days, hours and ten minutes to minutes at the edges, and minute buckets for the
 * live tail after the watermark (DESIGN §4). So a settled edge is at most 3 quarter days, 5 hours,
 * 5 ten-minute and 9 minute items. `useDays: false` keeps hourly resolution (hourly timelines: no
 * quarter days or days). Times are unix seconds, minute-aligned.
 * `useWeeks` reads whole weeks from week items (user and network scopes only: hasWeekItems), and
 * the days of the last week from its week-to-date item where the window has them all, for answers
 * that need no more than a day's counts from inside a week (a daily timeline, totals, top lists), not
 * a day's sketches or hour-of-day histogram; only before `weeksThrough` (the watermark record's: week
 * items are settled through it), days after it.
 * `liveGranularity: 'h'` is for scopes counted live per hour (per-event and per-address scopes): they
 * have no minute, ten-minute or quarter-day items, so their windows start on an hour and their live
 * tail is read from hour items up to the end of the hour `end` falls in (it holds the events dated up
 * to then, a few minutes ahead at most: createdAtInRange). `sparseHours` is for user scopes: a sparse
 * hour of theirs is read from its minute items (read.ts), so their settled hours count
 * SPARSE_HOUR_EVENTS items each at most, and need minute items still kept. `minutesOnly` reads minute
 * items throughout (per-minute timelines; the caller bounds the window).
 */
export function planWindow(
  start: number,
  end: number,
  options: { watermark: number; nowSeconds: number; retention: Retention; useDays?: boolean; useWeeks?: boolean; weeksThrough?: number; liveGranularity?: 'm' | 'h'; sparseHours?: boolean; minutesOnly?: boolean },
): WindowPlan {
  const segments: PlanSegment[] = [];
  const problems: string[] = [];
  const { watermark, nowSeconds, retention } = options;
  const useDays = options.useDays ?? true;
  const liveHourly = options.liveGranularity === 'h';
  if (liveHourly && (start % HOUR !== 0 || (end < watermark && end % HOUR !== 0))) throw new Error('a scope counted per hour has no minute items: its window must start on an hour and end on one or after the watermark');
  const push = (granularity: BucketGranularity, from: number, to: number, live: boolean, weekToDate = false) => {
    if (to > from) segments.push({ granularity, from, to, live, ...(weekToDate ? { weekToDate } : {}) });
  };
  const need = (granularity: BucketGranularity, from: number) => {
    const kept = keptSeconds(granularity, retention);
    if (from < nowSeconds - kept) problems.push(`${RETENTION_CLASS[granularity]} counters are kept ${Math.round(kept / DAY)} days; the window needs them from ${new Date(from * 1000).toISOString()}`);
  };
  // The settled part: the coarsest level whose aligned buckets fit, then the edges on either side
  // with the next finer levels. Minutes come last and fit any minute-aligned range.
  if (options.useWeeks && (!useDays || liveHourly || options.minutesOnly)) throw new Error('week items are read only with days, for scopes counted live per minute');
  const ladder: BucketGranularity[] = options.minutesOnly
    ? ['m']
    : liveHourly
      ? useDays
        ? ['d', 'h', 'm']
        : ['h', 'm']
      : useDays
        ? ['d', 'q', 'h', 't', 'm']
        : ['h', 't', 'm'];
  const cover = (from: number, to: number, levels: readonly BucketGranularity[]) => {
    if (from >= to) return;
    const [level, ...finer] = levels as [BucketGranularity, ...BucketGranularity[]];
    if (!finer.length) return void push(level, from, to, false);
    const size = GRANULARITY_SECONDS[level];
    const first = ceilTo(from, size);
    const last = floorTo(to, size);
    // The days of the last week settled to date, when the window has them from the week's start: its week-to-date item.
    if (level === 'w' && first <= last && to > last && to === weekToDateThrough) {
      cover(from, first, finer);
      push('w', first, last, false);
      return push('w', last, to, false, true);
    }
    if (first >= last) return cover(from, to, finer);
    cover(from, first, finer);
    push(level, first, last, false);
    cover(last, to, finer);
  };
  const settledEnd = Math.min(end, watermark);
  // Weeks where their items are settled: from the start to the last day boundary they are settled through.
  const weeksThrough = options.useWeeks ? floorTo(options.weeksThrough ?? 0, DAY) : 0;
  const weeksEnd = Math.max(start, Math.min(floorTo(settledEnd, DAY), weeksThrough));
  // A week-to-date item covers the days before the watermark's day when it was settled: it answers
  // for exactly those only while weeks are settled through that day (weeksThrough lags otherwise).
  const weekToDateThrough = weeksThrough === floorTo(watermark, DAY) ? weeksThrough : -1;
  cover(start, weeksEnd, ['w', ...ladder]);
  cover(weeksEnd, settledEnd, ladder);
  const liveStart = Math.max(start, watermark);
  if (liveStart < end && liveHourly) push('h', liveStart, ceilTo(end, HOUR), true);
  else if (liveStart < end) push('m', liveStart, end, true);

  const perHour = options.sparseHours ? SPARSE_HOUR_EVENTS : 1;
  // Items a settled bucket can cost at most: itself, or (missing or emptied) what stands in for it.
  // A missing week is read from its days (a week not settled yet, or a scope without one).
  const perBucket = (s: PlanSegment) => (s.live ? 1 : s.granularity === 't' ? 2 : s.granularity === 'h' ? perHour : s.granularity === 'q' ? 1 + 6 * perHour : s.granularity === 'w' ? 1 + 7 : 1);
  for (const s of segments) {
    need(s.granularity, s.from);
    // A user's sparse hours are read from minute items, so a settled hour or quarter day needs those kept.
    if (options.sparseHours && !s.live && (s.granularity === 'h' || s.granularity === 'q')) need('m', s.from);
  }
  const maxItems = segments.reduce((n, s) => n + (s.weekToDate ? 1 + (s.to - s.from) / DAY : ((s.to - s.from) / GRANULARITY_SECONDS[s.granularity]) * perBucket(s)), 0);
  return { segments, unanswerable: problems.length ? [...new Set(problems)].join('; ') : null, maxItems };
}
