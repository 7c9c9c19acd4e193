import type { Clock, CounterItem, CounterStore } from '../ports.js';
import { planWindow, type WindowPlan } from '../counters/planner.js';
import { readPlan } from '../counters/read.js';
import { lastIngestAt, readSettledThrough, stateVersion } from '../counters/state.js';
import type { Retention } from '../counters/retention.js';
import { isTargetScope, isUserScope } from '../counters/contributions.js';
import { hasWeekItems } from '../counters/weeks.js';
import { timelineStep, type QueryWindow } from './window.js';

export interface QueryDeps {
  counters: CounterStore;
  clock: Clock;
  retention: Retention;
  /** the state cache (default: this container's, counterStates) */
  stateReads?: CounterStateReads;
}

export interface Freshness {
  /** counters are settled (exact, recomputed from deduplicated facts) before this time */
  snapshotAsOf: string | null;
  /** the live minute counters include everything ingested up to this time */
  deltaAsOf: string | null;
  /** how old the newest data in the answer may be */
  stalenessMs: number | null;
  isPartial: boolean;
}

export interface Meta {
  window: { type: QueryWindow['type']; startTs: number; endTs: number; interval?: string };
  freshness: Freshness;
  source: 'canonical' | 'canonical+delta' | 'fallback';
  partialReason: string | null;
  /** items the plan may read at most, and items it did read */
  plan: { maxItems: number; itemsRead: number; segments: { granularity: string; from: number; to: number; live: boolean; weekToDate?: boolean }[] };
}

export interface WindowRead {
  items: CounterItem[];
  plan: WindowPlan;
  meta: Meta;
}

/** What a read plans against, read together: the watermark (with how far weeks are settled) and the ingest heartbeat (state.ts). */
export interface CounterState {
  /** counters are settled through this time (unix seconds; 0 before the first settle) */
  watermark: number;
  /** week items are settled through this time (a day boundary; 0 before the first week's settle) */
  weeksThrough: number;
  /** the last time ingest counted anything (ms), or null */
  ingestAt: number | null;
}

/**
 * How long a state read may still answer a query: the plan and its freshness. Safe: the watermark only
 * moves forward, and a plan on one a second old reads the minutes after it as live, which the settle
 * rewrote exactly and keeps for the minute retention; the answer states the watermark it is planned
 * on, and a heartbeat a second old only understates how fresh the live minutes are. So at most one
 * state read a second per container (two consistent GetItems, 2 read units) instead of one per
 * request. A state write of this process (stateVersion) voids the cache at once.
 */
export const STATE_CACHE_MS = 1_000;

/**
 * The counters' state per store, for this container: one read in flight at a time (callers that ask
 * meanwhile share it), the last state read, when that read started and the store's stateVersion then.
 * A failed read is not kept: the next caller reads again, and sees the failure itself if it persists.
 */
export class CounterStateReads {
  private readonly stores = new WeakMap<CounterStore, { inFlight?: Promise<CounterState>; last?: CounterState; lastStartedAt?: number; lastVersion?: number }>();

  constructor(
    private readonly maxAgeMs = STATE_CACHE_MS,
    /** a monotonic clock in ms: the cache ages in real time, whatever clock the queries answer for */
    private readonly monotonicNow: () => number = () => performance.now(),
  ) {}

  /** A read that starts now, or the one in flight. */
  fresh(counters: CounterStore): Promise<CounterState> {
    const entry = this.entryOf(counters);
    if (entry.inFlight) return entry.inFlight;
    const startedAt = this.monotonicNow();
    const version = stateVersion(counters);
    const read = Promise.all([readSettledThrough(counters), lastIngestAt(counters)]).then(([settled, ingestAt]) => ({ ...settled, ingestAt }));
    entry.inFlight = read;
    read.then(
      (state) => {
        if (entry.inFlight === read) entry.inFlight = undefined;
        if (entry.lastStartedAt === undefined || startedAt >= entry.lastStartedAt) Object.assign(entry, { last: state, lastStartedAt: startedAt, lastVersion: version });
      },
      () => {
        if (entry.inFlight === read) entry.inFlight = undefined;
      },
    );
    return read;
  }

  /** The last state read if it started within maxAgeMs and this process wrote no state since, else undefined. */
  cached(counters: CounterStore): CounterState | undefined {
    const entry = this.stores.get(counters);
    if (!entry?.last || entry.lastStartedAt === undefined || entry.lastVersion !== stateVersion(counters)) return undefined;
    return this.monotonicNow() - entry.lastStartedAt <= this.maxAgeMs ? entry.last : undefined;
  }

  /** The cached state (`cached`), or a fresh read. */
  recent(counters: CounterStore): Promise<CounterState> {
    const cached = this.cached(counters);
    return cached ? Promise.resolve(cached) : this.fresh(counters);
  }

  /** The last state read, however old: what a read plans on while it reads the state afresh. */
  lastKnown(counters: CounterStore): CounterState | undefined {
    return this.stores.get(counters)?.last;
  }

  private entryOf(counters: CounterStore) {
    let entry = this.stores.get(counters);
    if (!entry) this.stores.set(counters, (entry = {}));
    return entry;
  }
}

/**
 * The plan on a watermark seen before, if there is one and it can plan the window; otherwise the
 * window is planned once the state is in (and planWindow says why it cannot, if it cannot).
 */
function planAhead(state: CounterState | undefined, planOn: (state: CounterState) => WindowPlan): { state: CounterState; plan: WindowPlan } | undefined {
  if (state === undefined) return undefined;
  try {
    return { state, plan: planOn(state) };
  } catch {
    return undefined;
  }
}

/** This container's state reads, shared by every query. */
export const counterStates = new CounterStateReads();

/** The plan the counters would use for one scope's window: whether they can answer it at all. */
export async function planFor(scope: string, window: QueryWindow, deps: QueryDeps, hourly = timelineStep(window) === 3600): Promise<WindowPlan> {
  const state = await (deps.stateReads ?? counterStates).recent(deps.counters);
  return planScopeWindow(scope, window, state, deps.clock.now(), deps.retention, hourly);
}

function planScopeWindow(scope: string, window: QueryWindow, state: Pick<CounterState, 'watermark' | 'weeksThrough'>, nowMs: number, retention: Retention, hourly: boolean, minutesOnly = false, useWeeks = false): WindowPlan {
  return planWindow(window.startTs, window.endTs, {
    watermark: state.watermark,
    weeksThrough: state.weeksThrough,
    nowSeconds: Math.floor(nowMs / 1000),
    retention,
    useDays: !hourly,
    useWeeks: useWeeks && !hourly && !minutesOnly && hasWeekItems(scope),
    minutesOnly,
    liveGranularity: isTargetScope(scope) ? 'h' : 'm',
    sparseHours: isUserScope(scope),
  });
}

/**
 * Plans the window against the watermark and reads one scope's items, with the freshness metadata.
 * `useWeeks`: the caller needs no more than each day's counts from inside a week (planWindow), so
 * whole weeks are read from week items where the scope has them (weeks.ts).
 * The state comes from the cache (STATE_CACHE_MS) when it is there: one round trip, no state read.
 * Otherwise it is read afresh concurrently with the Queries, which are planned on the last watermark
 * this container saw: still one round trip, unless the watermark moved since (then the window is
 * planned and read again). So the plan always matches the watermark the answer states.
 */
export async function readWindow(scope: string, window: QueryWindow, deps: QueryDeps, options: { hourly?: boolean; minutesOnly?: boolean; useWeeks?: boolean } = {}): Promise<WindowRead> {
  const { counters } = deps;
  const states = deps.stateReads ?? counterStates;
  const nowMs = deps.clock.now();
  const hourly = options.hourly ?? timelineStep(window) === 3600;
  const planOn = (settled: CounterState) => planScopeWindow(scope, window, settled, nowMs, deps.retention, hourly, options.minutesOnly, options.useWeeks);
  let plan: WindowPlan;
  let items: CounterItem[];
  let state = states.cached(counters);
  if (state) {
    plan = planOn(state);
    items = await readPlan(counters, scope, plan);
  } else {
    const reading = states.fresh(counters);
    const ahead = planAhead(states.lastKnown(counters), planOn);
    const [read, itemsAhead] = await Promise.all([reading, ahead && readPlan(counters, scope, ahead.plan)]);
    state = read;
    if (ahead && itemsAhead && ahead.state.watermark === read.watermark && ahead.state.weeksThrough === read.weeksThrough) {
      plan = ahead.plan;
      items = itemsAhead;
    } else {
      plan = planOn(read);
      items = await readPlan(counters, scope, plan);
    }
  }
  const { watermark, ingestAt } = state;
  const live = plan.segments.some((s) => s.live);
  const newest = live ? ingestAt : watermark ? watermark * 1000 : null;
  return {
    items,
    plan,
    meta: {
      window: { type: window.type, startTs: window.startTs, endTs: window.endTs, ...(window.interval ? { interval: window.interval } : {}) },
      freshness: {
        snapshotAsOf: watermark ? new Date(watermark * 1000).toISOString() : null,
        deltaAsOf: ingestAt === null ? null : new Date(ingestAt).toISOString(),
        stalenessMs: newest === null ? null : Math.max(0, nowMs - newest),
        isPartial: plan.unanswerable !== null,
      },
      source: live ? 'canonical+delta' : 'canonical',
      partialReason: plan.unanswerable,
      plan: { maxItems: plan.maxItems, itemsRead: items.length, segments: plan.segments },
    },
  };
}
