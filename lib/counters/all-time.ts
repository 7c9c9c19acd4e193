import type { CounterItem, CounterStore } from '../ports.js';
import { GLOBAL_SCOPE } from './contributions.js';

/**
 * Exact all-time network totals (GET /api/stats), settled like every other number: recomputed from
 * settled items with idempotent Puts, never incremented, so a redelivery or a duplicate from a second
 * relay cannot inflate them.
 *
 * - a month item (`g:month`, bucket = the month's first day) sums that month's settled global day items
 *   (≤ 31 reads, when one of its days is rolled);
 * - the all-time item (`g:total`, bucket 0) sums the month items (12 reads per year of history, once
 *   per compactor run) and records `settled_through`, the first day it does not cover;
 * - a read adds the settled hours and live minutes after `settled_through` (the window planner's usual
 *   plan), so the answer is one item plus a window of at most a day and the live tail.
 *
 * Global day items are kept for good (about 2 KB a day) so a month can always be recomputed.
 */
export const MONTH_TOTALS_SCOPE = 'g:month';
export const ALL_TIME_SCOPE = 'g:total';
const SETTLED_THROUGH = 'settled_through';

export const monthStartOf = (dayStart: number) => {
  const d = new Date(dayStart * 1000);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1) / 1000;
};
const nextMonthStart = (monthStart: number) => {
  const d = new Date(monthStart * 1000);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) / 1000;
};

function sumValues(items: readonly CounterItem[]): Record<string, number> {
  const values: Record<string, number> = {};
  for (const item of items) for (const [name, n] of Object.entries(item.values)) values[name] = (values[name] ?? 0) + n;
  return values;
}

/** Recomputes the month containing `dayStart` from its settled global day items. */
export async function rollMonthTotals(dayStart: number, counters: CounterStore): Promise<void> {
  const month = monthStartOf(dayStart);
  const days = await counters.range(GLOBAL_SCOPE, 'd', month, nextMonthStart(month) - 86400);
  await counters.put([{ scope: MONTH_TOTALS_SCOPE, granularity: 'all', bucket: month, values: sumValues(days) }]);
}

/** Recomputes the all-time item from the month items; `settledThrough` is a day start every rolled day precedes. */
export async function settleAllTimeTotals(counters: CounterStore, settledThrough: number): Promise<void> {
  const months = await counters.range(MONTH_TOTALS_SCOPE, 'all', 0, Number.MAX_SAFE_INTEGER);
  await counters.put([{ scope: ALL_TIME_SCOPE, granularity: 'all', bucket: 0, values: { ...sumValues(months), [SETTLED_THROUGH]: settledThrough } }]);
}

/** The settled all-time counts and the first second they do not cover (0 before the first settle). */
export async function readAllTimeTotals(counters: CounterStore): Promise<{ values: Record<string, number>; settledThrough: number }> {
  const [item] = await counters.range(ALL_TIME_SCOPE, 'all', 0, 0);
  const { [SETTLED_THROUGH]: settledThrough = 0, ...values } = item?.values ?? {};
  return { values, settledThrough };
}
