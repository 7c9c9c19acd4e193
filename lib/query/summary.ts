import type { Clock, CounterStore } from '../ports.js';
import { USER_METRICS, userScope, type UserMetric } from '../counters/contributions.js';
import { lastIngestAt } from '../counters/state.js';
import { timelineStep, type QueryWindow } from './window.js';

export type MetricValues = Record<UserMetric, number>;

export interface UserTotals {
  posts: number;
  replies: number;
  comments: number;
  videos: number;
  reactionsReceived: { total: number; likes: number; dislikes: number; emoji: number };
  repostsReceived: number;
  repliesReceived: number;
  zapsReceived: number;
  zapSatsReceived: number;
}

export interface Freshness {
  snapshotAsOf: string | null;
  deltaAsOf: string | null;
  stalenessMs: number | null;
  isPartial: boolean;
}

export interface SummaryResponse {
  data: { pubkey: string; totals: UserTotals; timeline: ({ ts: number } & UserTotals)[] };
  drilldowns: Record<string, unknown>;
  meta: {
    window: { type: QueryWindow['type']; startTs: number; endTs: number; interval?: string };
    freshness: Freshness;
    source: 'canonical' | 'canonical+delta' | 'fallback';
    partialReason: string | null;
  };
}

const zero = (): MetricValues => Object.fromEntries(USER_METRICS.map((m) => [m, 0])) as MetricValues;

export function toTotals(v: MetricValues): UserTotals {
  const reactions = { likes: v.likes_rcv, dislikes: v.dislikes_rcv, emoji: v.emoji_rcv };
  return {
    posts: v.posts,
    replies: v.replies,
    comments: v.comments,
    videos: v.videos,
    reactionsReceived: { total: reactions.likes + reactions.dislikes + reactions.emoji, ...reactions },
    repostsReceived: v.reposts_rcv,
    repliesReceived: v.replies_rcv,
    zapsReceived: v.zaps_rcv,
    // Summed in msats, floored once: per-zap rounding would lose sub-sat amounts.
    zapSatsReceived: Math.floor(v.zap_msats_rcv / 1000),
  };
}

/**
 * A user's totals and timeline over the window, from the live minute counters. Reads one Query
 * per window; items exist only for minutes in which the user had activity.
 */
export async function userSummary(pubkey: string, window: QueryWindow, deps: { counters: CounterStore; clock: Clock }): Promise<SummaryResponse> {
  const [items, ingestAt] = await Promise.all([
    deps.counters.range(userScope(pubkey), 'm', window.startTs, window.endTs - 60),
    lastIngestAt(deps.counters),
  ]);
  const step = timelineStep(window);
  const firstStep = Math.floor(window.startTs / step) * step;
  const totals = zero();
  const timeline = new Map<number, MetricValues>();
  for (let ts = firstStep; ts < window.endTs; ts += step) timeline.set(ts, zero());
  for (const item of items) {
    const point = timeline.get(Math.floor(item.bucket / step) * step)!;
    for (const metric of USER_METRICS) {
      const value = item.values[metric] ?? 0;
      totals[metric] += value;
      point[metric] += value;
    }
  }
  const now = deps.clock.now();
  return {
    data: { pubkey, totals: toTotals(totals), timeline: [...timeline].map(([ts, v]) => ({ ts, ...toTotals(v) })) },
    drilldowns: {},
    meta: {
      window: { type: window.type, startTs: window.startTs, endTs: window.endTs, ...(window.interval ? { interval: window.interval } : {}) },
      freshness: {
        snapshotAsOf: null,
        deltaAsOf: ingestAt === null ? null : new Date(ingestAt).toISOString(),
        stalenessMs: ingestAt === null ? null : Math.max(0, now - ingestAt),
        isPartial: false,
      },
      source: 'canonical+delta',
      partialReason: null,
    },
  };
}
