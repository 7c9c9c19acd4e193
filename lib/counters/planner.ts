import type { Granularity } from '../ports.js';
import type { Retention } from './retention.js';
import { SPARSE_HOUR_EVENTS } from './contributions.js';

/** A contiguous run of buckets of one granularity: one Query. */
export interface PlanSegment {
  granularity: Exclude<Granularity, 'all'>;
  /** first bucket start (inclusive) */
  from: number;
  /** end of the segment (exclusive) */
  to: number;
  /** settled (hour/day items) or live (minute items after the watermark) */
  live: boolean;
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
 * Decomposes [start, end) into the fewest items: maximal day buckets, hour buckets at the edges, and
 * minute buckets for sub-hour edges and for the live tail after the watermark (DESIGN §4).
 * `useDays: false` keeps hourly resolution (hourly timelines). Times are unix seconds, minute-aligned.
 * `liveGranularity: 'h'` is for scopes counted live per hour (per-event and per-address scopes): they
 * have no minute items, so their windows start on an hour and their live tail is read from hour items
 * up to the end of the hour `end` falls in (it holds the events dated up to then, a few minutes ahead
 * at most: createdAtInRange). `sparseHours` is for user scopes: a sparse hour of theirs is read from its
 * minute items (read.ts), so their settled hours count SPARSE_HOUR_EVENTS items each at most, and need
 * minute items still kept. `minutesOnly` reads minute items throughout (per-minute timelines; the
 * caller bounds the window).
 */
export function planWindow(
  start: number,
  end: number,
  options: { watermark: number; nowSeconds: number; retention: Retention; useDays?: boolean; liveGranularity?: 'm' | 'h'; sparseHours?: boolean; minutesOnly?: boolean },
): WindowPlan {
  const segments: PlanSegment[] = [];
  const problems: string[] = [];
  const { watermark, nowSeconds, retention } = options;
  const useDays = options.useDays ?? true;
  const liveHourly = options.liveGranularity === 'h';
  if (liveHourly && (start % HOUR !== 0 || (end < watermark && end % HOUR !== 0))) throw new Error('a scope counted per hour has no minute items: its window must start on an hour and end on one or after the watermark');
  const push = (granularity: PlanSegment['granularity'], from: number, to: number, live: boolean) => {
    if (to > from) segments.push({ granularity, from, to, live });
  };
  const need = (granularity: 'm' | 'h' | 'd', from: number) => {
    const kept = granularity === 'm' ? retention.minuteSeconds : granularity === 'h' ? retention.hourSeconds : retention.daySeconds;
    const name = granularity === 'm' ? 'minute' : granularity === 'h' ? 'hour' : 'day';
    if (from < nowSeconds - kept) problems.push(`${name} counters are kept ${Math.round(kept / DAY)} days; the window needs them from ${new Date(from * 1000).toISOString()}`);
  };

  const settledEnd = Math.min(end, watermark);
  if (start < settledEnd) {
    const firstHour = ceilTo(start, HOUR);
    const lastHour = floorTo(settledEnd, HOUR);
    if (firstHour > lastHour || options.minutesOnly) {
      // The settled part sits inside one hour (or a per-minute timeline is asked for): minutes only.
      push('m', start, settledEnd, false);
      need('m', start);
    } else {
      push('m', start, firstHour, false);
      if (start < firstHour) need('m', start);
      const firstDay = useDays ? ceilTo(firstHour, DAY) : Infinity;
      const lastDay = useDays ? floorTo(lastHour, DAY) : -Infinity;
      if (firstDay < lastDay) {
        push('h', firstHour, firstDay, false);
        push('d', firstDay, lastDay, false);
        push('h', lastDay, lastHour, false);
        if (firstHour < firstDay) need('h', firstHour);
        need('d', firstDay);
      } else {
        push('h', firstHour, lastHour, false);
        if (firstHour < lastHour) need('h', firstHour);
      }
      push('m', lastHour, settledEnd, false);
      if (lastHour < settledEnd) need('m', lastHour);
    }
  }
  const liveStart = Math.max(start, watermark);
  if (liveStart < end && liveHourly) {
    push('h', liveStart, ceilTo(end, HOUR), true);
    need('h', liveStart);
  } else if (liveStart < end) {
    push('m', liveStart, end, true);
    need('m', liveStart);
  }
  const sizes = { m: 60, h: HOUR, d: DAY };
  const perHour = options.sparseHours ? SPARSE_HOUR_EVENTS : 1;
  for (const s of segments) if (options.sparseHours && s.granularity === 'h' && !s.live) need('m', s.from);
  const maxItems = segments.reduce((n, s) => n + ((s.to - s.from) / sizes[s.granularity]) * (s.granularity === 'h' && !s.live ? perHour : 1), 0);
  return { segments, unanswerable: problems.length ? [...new Set(problems)].join('; ') : null, maxItems };
}
