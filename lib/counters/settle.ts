import type { CounterItem } from '../ports.js';
import type { Fact } from '../facts/schema.js';
import { aggregateFacts, mergeItems, toItem, type BucketState } from './aggregate.js';
import { contributionsOf, GLOBAL_SCOPE, isTargetScope, isUserScope, SPARSE_HOUR_EVENTS } from './contributions.js';
import { topEntryMetric } from './topn.js';
import { engagementReceived } from './read.js';
import type { Retention } from './retention.js';
import { GRANULARITY_SECONDS } from './buckets.js';
import { hasWeekItems, WEEK_DAY_METRICS, WEEK_SECONDS, weekDayMetric } from './weeks.js';

/**
 * What an hour and a day settle into, computed in memory from facts: the reference the settle SQL
 * (settle-sql.ts) is held to item for item, and the model the counters bench prices. The compactor
 * itself settles through the SQL engine (settle-run.ts), so no process holds an hour.
 */
/** Where each settled hour's and day's manifest lives in the bucket (the compactor's IAM grant names it too). */
export const MANIFESTS_PREFIX = 'counters/manifests/';
/**
 * The items an hour settles into, from its deduplicated facts: one hour item per scope but a sparse
 * user hour (SPARSE_HOUR_EVENTS), ten-minute items where they stand for two minute items or more, and
 * the hour's minute items, rewritten exactly too: they serve the
 * sub-hour edges of custom windows and stand in for sparse hours, and a redelivered batch may have
 * over-counted them while they were live. `sparse` are the hour items not written (a model's day
 * roll-up needs them). Pure: the compactor's SQL is held to these, the benchmark measures them.
 */
export function settledHourItems(
  hourStart: number,
  facts: readonly Fact[],
  retention: Retention,
): { scopes: string[]; items: (CounterItem & { expiresAt?: number })[]; sparse: CounterItem[] } {
  const states = aggregateFacts(facts);
  const expiresAt = hourStart + retention.hourSeconds;
  const sparse = sparseUserScopes(facts);
  const items: (CounterItem & { expiresAt?: number })[] = [];
  const notWritten: CounterItem[] = [];
  for (const [scope, state] of states) (sparse.has(scope) ? notWritten : items).push(toItem(scope, 'h', hourStart, state, expiresAt));
  for (const [tenMinutes, tenMinuteFacts] of factsByBucket(facts, GRANULARITY_SECONDS.t)) {
    // A ten-minute item only where it stands for two minute items or more (settle-sql.ts).
    const minutes = new Map<string, Set<number>>();
    for (const fact of tenMinuteFacts) for (const { scope } of contributionsOf(fact).counts) (minutes.get(scope) ?? minutes.set(scope, new Set()).get(scope)!).add(Math.floor(fact.created_at / 60));
    for (const [scope, state] of aggregateFacts(tenMinuteFacts)) {
      if (isTargetScope(scope) || (minutes.get(scope)?.size ?? 0) < 2) continue;
      // Counts and a project's users sketch, as minute items hold.
      for (const name of Object.keys(state.sets)) if (name !== 'users') delete state.sets[name];
      state.tops = {};
      items.push(toItem(scope, 't', tenMinutes, state, tenMinutes + retention.minuteSeconds));
    }
  }
  for (const [minute, minuteFacts] of factsByBucket(facts, 60)) {
    for (const [scope, state] of aggregateFacts(minuteFacts)) {
      // Per-event and per-address scopes have no minute items: they are counted live per hour.
      if (isTargetScope(scope)) continue;
      // Minute items hold what live ones hold, settled or not: counts and a project's users sketch,
      // and a sparse user hour's details (its hour item is not written).
      if (sparse.has(scope)) {
        for (const [list, entries] of Object.entries(state.tops)) for (const [key, amount] of entries) state.values[topEntryMetric(list, key)] = amount;
      } else {
        for (const name of Object.keys(state.sets)) if (name !== 'users') delete state.sets[name];
      }
      state.tops = {};
      items.push(toItem(scope, 'm', minute, state, minute + retention.minuteSeconds));
    }
  }
  return { scopes: [...states.keys()], items, sparse: notWritten };
}

/** Facts by the start of their bucket of `seconds`. */
function factsByBucket(facts: readonly Fact[], seconds: number): Map<number, Fact[]> {
  const byBucket = new Map<number, Fact[]>();
  for (const fact of facts) {
    const bucket = Math.floor(fact.created_at / seconds) * seconds;
    let list = byBucket.get(bucket);
    if (!list) byBucket.set(bucket, (list = []));
    list.push(fact);
  }
  return byBucket;
}

/**
 * The quarter-day items of a day, from its deduplicated facts: one per scope with two hour items or
 * more in the quarter (a user's sparse hours have none; per-event and per-address scopes none at all),
 * holding what a day item holds over those six hours, a user's `eng_hHH` included (settle-sql.ts).
 */
export function settledQuarterItems(dayStart: number, facts: readonly Fact[], retention: Retention): (CounterItem & { expiresAt?: number })[] {
  const items: (CounterItem & { expiresAt?: number })[] = [];
  for (const [quarter, quarterFacts] of factsByBucket(facts, GRANULARITY_SECONDS.q)) {
    if (quarter < dayStart || quarter >= dayStart + 86400) continue;
    const hourItems = new Map<string, number>();
    const engaged = new Map<string, Record<string, number>>();
    for (const [hour, hourFacts] of factsByBucket(quarterFacts, 3600)) {
      const sparse = sparseUserScopes(hourFacts);
      for (const [scope, state] of aggregateFacts(hourFacts)) {
        if (!sparse.has(scope)) hourItems.set(scope, (hourItems.get(scope) ?? 0) + 1);
        const engagement = isUserScope(scope) ? engagementReceived(state.values) : 0;
        if (engagement) (engaged.get(scope) ?? engaged.set(scope, {}).get(scope)!)[`eng_h${String((hour - dayStart) / 3600).padStart(2, '0')}`] = engagement;
      }
    }
    for (const [scope, state] of aggregateFacts(quarterFacts)) {
      if (isTargetScope(scope) || (hourItems.get(scope) ?? 0) < 2) continue;
      Object.assign(state.values, engaged.get(scope));
      items.push(toItem(scope, 'q', quarter, state, quarter + retention.hourSeconds));
    }
  }
  return items;
}

/** The user scopes with at most SPARSE_HOUR_EVENTS events among an hour's facts. */
function sparseUserScopes(facts: readonly Fact[]): Set<string> {
  const events = new Map<string, number>();
  for (const fact of facts) {
    const users = new Set(contributionsOf(fact).counts.map((c) => c.scope).filter(isUserScope));
    for (const scope of users) events.set(scope, (events.get(scope) ?? 0) + 1);
  }
  return new Set([...events].filter(([, n]) => n <= SPARSE_HOUR_EVENTS).map(([scope]) => scope));
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

/**
 * The week items of a week, from its deduplicated facts (weeks.ts): per user and network scope, what
 * its facts add up to before `through` (the week to date, or all of it), and a user's per-day
 * timeline counts. The settle SQL is held to these.
 */
export function settledWeekItems(weekStart: number, facts: readonly Fact[], retention: Retention, through = weekStart + WEEK_SECONDS): (CounterItem & { expiresAt?: number })[] {
  const week = new WeekToDate(weekStart, retention);
  week.add(facts.filter((fact) => fact.created_at >= weekStart && fact.created_at < through));
  return week.items();
}

/** A week's states built up a day at a time, as its settles to date see it (the counters bench prices each). */
export class WeekToDate {
  private readonly states = new Map<string, BucketState>();
  private static readonly daily = new Set(WEEK_DAY_METRICS);

  constructor(
    private readonly weekStart: number,
    private readonly retention: Retention,
  ) {}

  /** Adds facts of the week: to the week's counts, sketches and lists, and a user's to their day's counts. */
  add(facts: readonly Fact[]): void {
    aggregateFacts(facts, this.states);
    for (const fact of facts) {
      const day = Math.floor((fact.created_at - this.weekStart) / 86400);
      for (const { scope, metric, amount } of contributionsOf(fact).counts) {
        if (!isUserScope(scope) || !WeekToDate.daily.has(metric)) continue;
        const values = this.states.get(scope)!.values;
        const name = weekDayMetric(day, metric);
        values[name] = (values[name] ?? 0) + amount;
      }
    }
  }

  /** The week items so far, of every scope with them or of `scopes` only. */
  items(scopes?: Iterable<string>): (CounterItem & { expiresAt?: number })[] {
    const wanted = scopes ? [...scopes].filter((scope) => this.states.has(scope)) : [...this.states.keys()];
    // values copied: a later add() must not change an item handed out
    return wanted.filter(hasWeekItems).map((scope) => {
      const state = this.states.get(scope)!;
      return toItem(scope, 'w', this.weekStart, { ...state, values: { ...state.values } }, this.weekStart + this.retention.daySeconds);
    });
  }
}
