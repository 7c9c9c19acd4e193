import type { CounterItem } from '../ports.js';
import { GLOBAL_SCOPE, isUserScope, USER_METRICS } from './contributions.js';
import { ZAP_AMOUNT_METRICS } from './zap-amounts.js';

/**
 * Week items (granularity `w`, seven days from a Thursday, the unix epoch's weeks): what a day item
 * holds over the week (counts, sketches, top lists, no `eng_hHH`), for the user and network scopes
 * only, plus, for a user, each day's counts of what a timeline point shows (`d<0-6>.<metric>`). So a
 * 30-day summary reads four or five week items where it read 29 day items, and its daily timeline,
 * totals and top lists stay what the days would give (the lists are the week's own top N, from its
 * facts). They are settled from the week's facts whenever one of its days is rolled (compact.ts):
 * to date while the week is the watermark's, whole once it is over; the watermark record says how far
 * (`weeksThrough`), and reads plan weeks only before it. A week without its item is read from its days (read.ts).
 */
export const WEEK_SECONDS = 7 * 86400;

/** Scopes with week items: users (summary, top lists) and the network (its summary, top authors). */
export const hasWeekItems = (scope: string) => isUserScope(scope) || scope === GLOBAL_SCOPE;
/** `hasWeekItems` in SQL. */
export const hasWeekItemsSql = (scope: string) => `(substr(${scope}, 1, 2) = 'u:' OR ${scope} = '${GLOBAL_SCOPE}')`;

/** The user metrics a week item also carries per day: a timeline point's (summary.ts), not the zap-amount bins. */
export const WEEK_DAY_METRICS: readonly string[] = USER_METRICS.filter((metric) => !(ZAP_AMOUNT_METRICS as readonly string[]).includes(metric));

/** The name of a metric's count on day `day` (0–6) of a week item. */
export const weekDayMetric = (day: number, metric: string) => `d${day}.${metric}`;

/** Whether a week item's value is a day's count (weekDayMetric), not the week's. */
export const isWeekDayMetric = (name: string) => name.charCodeAt(0) === 100 /* d */ && name.charCodeAt(2) === 46 /* . */;

/** A week item's days: each day's start and its counts (weekDayMetric), the days without counts left out. */
export function weekDays(item: CounterItem): Map<number, Record<string, number>> {
  const days = new Map<number, Record<string, number>>();
  for (const name in item.values) {
    if (!isWeekDayMetric(name)) continue;
    const dayStart = item.bucket + Number(name[1]) * 86400;
    let values = days.get(dayStart);
    if (!values) days.set(dayStart, (values = {}));
    values[name.slice(3)] = item.values[name]!;
  }
  return days;
}
