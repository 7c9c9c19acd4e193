import type { CounterItem, CounterStore } from '../ports.js';
import type { WindowPlan } from './planner.js';

const SIZES = { m: 60, h: 3600, d: 86400 } as const;

/** Reads every item of a plan for one scope: one Query per segment, all in parallel. */
export async function readPlan(counters: CounterStore, scope: string, plan: WindowPlan): Promise<CounterItem[]> {
  const pages = await Promise.all(
    plan.segments.map((s) => counters.range(scope, s.granularity, s.from, s.to - SIZES[s.granularity])),
  );
  return pages.flat();
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
