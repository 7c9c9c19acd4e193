import type { Clock, CounterItem, CounterStore } from '../ports.js';
import { planWindow, type WindowPlan } from '../counters/planner.js';
import { readPlan } from '../counters/read.js';
import { lastIngestAt, readWatermark } from '../counters/state.js';
import type { Retention } from '../counters/retention.js';
import { isTargetScope, isUserScope } from '../counters/contributions.js';
import { timelineStep, type QueryWindow } from './window.js';

export interface QueryDeps {
  counters: CounterStore;
  clock: Clock;
  retention: Retention;
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
  plan: { maxItems: number; itemsRead: number; segments: { granularity: string; from: number; to: number; live: boolean }[] };
}

export interface WindowRead {
  items: CounterItem[];
  plan: WindowPlan;
  meta: Meta;
}

/** The plan the counters would use for one scope's window: whether they can answer it at all. */
export async function planFor(scope: string, window: QueryWindow, deps: QueryDeps, hourly = timelineStep(window) === 3600): Promise<WindowPlan> {
  return planScopeWindow(scope, window, await readWatermark(deps.counters), deps.clock.now(), deps.retention, hourly);
}

function planScopeWindow(scope: string, window: QueryWindow, watermark: number, nowMs: number, retention: Retention, hourly: boolean, minutesOnly = false): WindowPlan {
  return planWindow(window.startTs, window.endTs, {
    watermark,
    nowSeconds: Math.floor(nowMs / 1000),
    retention,
    useDays: !hourly,
    minutesOnly,
    liveGranularity: isTargetScope(scope) ? 'h' : 'm',
    sparseHours: isUserScope(scope),
  });
}

/** Plans the window against the watermark and reads one scope's items, with the freshness metadata. */
export async function readWindow(scope: string, window: QueryWindow, deps: QueryDeps, options: { hourly?: boolean; minutesOnly?: boolean } = {}): Promise<WindowRead> {
  const [watermark, ingestAt] = await Promise.all([readWatermark(deps.counters), lastIngestAt(deps.counters)]);
  const nowMs = deps.clock.now();
  const hourly = options.hourly ?? timelineStep(window) === 3600;
  const plan = planScopeWindow(scope, window, watermark, nowMs, deps.retention, hourly, options.minutesOnly);
  const items = await readPlan(deps.counters, scope, plan);
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
