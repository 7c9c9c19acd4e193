import type { CounterItem, CounterStore } from '../ports.js';
import { isUserScope } from './contributions.js';
import type { PlanSegment, WindowPlan } from './planner.js';
import { isTopEntryMetric } from './topn.js';

const SIZES = { m: 60, h: 3600, d: 86400 } as const;

/**
 * Reads every item of a plan for one scope: one Query per segment, all in parallel. A user's sparse
 * hours (SPARSE_HOUR_EVENTS) have no hour item, so the hours a settled hour segment lacks are read
 * from their minute items (a second round of Queries, one per run of missing hours; an hour with no
 * events reads nothing). Minute items at a window's sub-hour edges count as counts only, as they
 * always have: the details some carry are for their sparse hour's reads.
 */
export async function readPlan(counters: CounterStore, scope: string, plan: WindowPlan): Promise<CounterItem[]> {
  const user = isUserScope(scope);
  const pages = await Promise.all(
    plan.segments.map(async (s) => {
      const items = await counters.range(scope, s.granularity, s.from, s.to - SIZES[s.granularity]);
      if (!user) return items;
      if (s.granularity === 'm') return items.map(countsOnly);
      if (s.granularity === 'h') return [...items, ...(await sparseHours(counters, scope, s, items))];
      return items;
    }),
  );
  return pages.flat();
}

/** The minute items of the hours of a segment that have no (or an emptied) hour item. */
async function sparseHours(counters: CounterStore, scope: string, segment: PlanSegment, hours: CounterItem[]): Promise<CounterItem[]> {
  const present = new Set(hours.filter((h) => Object.keys(h.values).length || Object.keys(h.sets ?? {}).length || Object.keys(h.texts ?? {}).length).map((h) => h.bucket));
  const runs: [number, number][] = [];
  for (let hour = segment.from; hour < segment.to; hour += SIZES.h) {
    if (present.has(hour)) continue;
    const last = runs.at(-1);
    if (last && last[1] === hour) last[1] = hour + SIZES.h;
    else runs.push([hour, hour + SIZES.h]);
  }
  const pages = await Promise.all(runs.map(([from, to]) => counters.range(scope, 'm', from, to - SIZES.m)));
  return pages.flat();
}

/** A user minute item's counts: every sketch and top-list entry a user's minute carries is a sparse hour's detail. */
function countsOnly(item: CounterItem): CounterItem {
  const details = Object.keys(item.values).some(isTopEntryMetric) || item.sets !== undefined;
  if (!details) return item;
  const { sets: _details, ...counts } = item;
  return { ...counts, values: Object.fromEntries(Object.entries(item.values).filter(([metric]) => !isTopEntryMetric(metric))) };
}

/** Total engagement a user received in a bucket (the basis of best-hours and best-days). */
export function engagementReceived(values: Record<string, number>): number {
  return (
    (values.likes_rcv ?? 0) +
    (values.dislikes_rcv ?? 0) +
    (values.emoji_rcv ?? 0) +
    (values.reposts_rcv ?? 0) +
    (values.replies_rcv ?? 0) +
    (values.zaps_rcv ?? 0)
  );
}
