import type { CounterItem, CounterStore } from '../ports.js';
import { GRANULARITY_SECONDS } from './buckets.js';
import { isUserScope } from './contributions.js';
import { FALLBACK_GRANULARITY, type BucketGranularity, type PlanSegment, type WindowPlan } from './planner.js';
import { isTopEntryMetric } from './topn.js';

/**
 * Reads every item of a plan for one scope: one Query per segment, all in parallel. A settled bucket
 * without its item (or with an emptied one) is read from what stands in for it, in a further round of
 * Queries, one per run of such buckets (a run with no events reads nothing): a ten-minute bucket from
 * its minutes, a quarter day from its hours, a week from its days, and a user's sparse hour (SPARSE_HOUR_EVENTS) from its
 * minutes. Minute items at a window's sub-hour edges count as counts only, as they always have: the
 * details some carry are for their sparse hour's reads.
 */
export async function readPlan(counters: CounterStore, scope: string, plan: WindowPlan): Promise<CounterItem[]> {
  const user = isUserScope(scope);
  const pages = await Promise.all(plan.segments.map((s) => readSegment(counters, scope, s, user, false)));
  return pages.flat();
}

/** One segment's items; `sparseHourMinutes`: minutes standing in for a user's sparse hour, read with their details. */
async function readSegment(counters: CounterStore, scope: string, segment: PlanSegment, user: boolean, sparseHourMinutes: boolean): Promise<CounterItem[]> {
  const size = GRANULARITY_SECONDS[segment.granularity];
  // A week to date is one item (planner.ts).
  const items = await counters.range(scope, segment.granularity, segment.from, segment.weekToDate ? segment.from : segment.to - size);
  if (segment.granularity === 'm') return user && !sparseHourMinutes ? items.map(countsOnly) : items;
  const fallback: BucketGranularity | undefined = segment.live ? undefined : (FALLBACK_GRANULARITY[segment.granularity] ?? (segment.granularity === 'h' && user ? 'm' : undefined));
  if (!fallback) return items;
  const present = new Set(items.filter(hasContent).map((item) => item.bucket));
  const runs: PlanSegment[] = [];
  for (let bucket = segment.from; bucket < segment.to; bucket += size) {
    if (present.has(bucket)) continue;
    const last = runs.at(-1);
    const to = Math.min(bucket + size, segment.to);
    if (last && last.to === bucket) last.to = to;
    else runs.push({ granularity: fallback, from: bucket, to, live: false });
  }
  const standIns = await Promise.all(runs.map((run) => readSegment(counters, scope, run, user, segment.granularity === 'h')));
  return [...items, ...standIns.flat()];
}

const hasContent = (item: CounterItem) => Object.keys(item.values).length > 0 || Object.keys(item.sets ?? {}).length > 0 || Object.keys(item.tops ?? {}).length > 0;

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
