import type { CounterItem } from '../ports.js';
import type { Fact } from '../facts/schema.js';
import { aggregateFacts, mergeItems, toItem, type BucketState } from './aggregate.js';
import { GLOBAL_SCOPE, isTargetScope } from './contributions.js';
import { engagementReceived } from './read.js';
import type { Retention } from './retention.js';

/**
 * What an hour and a day settle into, computed in memory from facts: the reference the settle SQL
 * (settle-sql.ts) is held to item for item, and the model the counters bench prices. The compactor
 * itself settles through the SQL engine (settle-run.ts), so no process holds an hour.
 */
/** Where each settled hour's and day's manifest lives in the bucket (the compactor's IAM grant names it too). */
export const MANIFESTS_PREFIX = 'counters/manifests/';
/**
 * The items an hour settles into, from its deduplicated facts: one hour item per scope, and the hour's
 * minute items, rewritten exactly too: they serve the sub-hour edges of custom windows, and a
 * redelivered batch may have over-counted them while they were live. Pure: the compactor Puts these,
 * the benchmark measures them.
 */
export function settledHourItems(hourStart: number, facts: readonly Fact[], retention: Retention): { scopes: string[]; items: (CounterItem & { expiresAt?: number })[] } {
  const states = aggregateFacts(facts);
  const expiresAt = hourStart + retention.hourSeconds;
  const items: (CounterItem & { expiresAt?: number })[] = [...states].map(([scope, state]) => toItem(scope, 'h', hourStart, state, expiresAt));
  const byMinute = new Map<number, Fact[]>();
  for (const fact of facts) {
    const minute = Math.floor(fact.created_at / 60) * 60;
    let list = byMinute.get(minute);
    if (!list) byMinute.set(minute, (list = []));
    list.push(fact);
  }
  for (const [minute, minuteFacts] of byMinute) {
    for (const [scope, state] of aggregateFacts(minuteFacts)) {
      // Per-event and per-address scopes have no minute items: they are counted live per hour.
      if (isTargetScope(scope)) continue;
      // Minute items hold what live ones hold, settled or not: counts and a project's users sketch.
      for (const name of Object.keys(state.sets)) if (name !== 'users') delete state.sets[name];
      state.tops = {};
      items.push(toItem(scope, 'm', minute, state, minute + retention.minuteSeconds));
    }
  }
  return { scopes: [...states.keys()], items };
}

/**
 * A scope's day item from its settled hour items, plus a user's engagement received by UTC hour of day
 * (`eng_h00`…`eng_h23`), so best-hours and best-days work on day items too.
 */
export function settledDayItem(scope: string, dayStart: number, hourItems: readonly CounterItem[], retention: Retention): CounterItem & { expiresAt?: number } {
  const state: BucketState = mergeItems(hourItems);
  if (scope.startsWith('u:')) {
    for (const item of hourItems) {
      const engaged = engagementReceived(item.values);
      if (engaged) state.values[`eng_h${String((item.bucket - dayStart) / 3600).padStart(2, '0')}`] = engaged;
    }
  }
  // Global day items stay too: the exact all-time totals are recomputed from them (all-time.ts).
  return toItem(scope, 'd', dayStart, state, isTargetScope(scope) || scope === GLOBAL_SCOPE ? undefined : dayStart + retention.daySeconds);
}
