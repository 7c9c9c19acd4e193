import type { CounterItem } from '../ports.js';
import { userScope, type UserMetric } from '../counters/contributions.js';
import { emptyState, mergeItem, mergeItems, type BucketState } from '../counters/aggregate.js';
import { hllEstimate } from '../counters/hll.js';
import { timelineStep, type QueryWindow } from './window.js';
import { readWindow, type Meta, type QueryDeps } from './window-read.js';
import { zapAmountHistogram } from '../counters/zap-amounts.js';
import { weekDays } from '../counters/weeks.js';
import { drilldownsOf, SUMMARY_TOP_COUNT, type SummaryDrilldowns } from './top-lists.js';

/** The top lists' mapping lives in top-lists.ts; re-exported for summary's callers. */
export { drilldownsOf, type SummaryDrilldowns } from './top-lists.js';

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
  /** zaps received by amount, in decades of sats (zap-amounts.ts); the bins sum to zapsReceived */
  zapAmounts: { minSats: number; maxSats: number | null; zaps: number }[];
  uniqueEngagers: number;
  /** distinct zap senders (a sketch, like uniqueEngagers) */
  uniqueZappers: number;
}

/** What a timeline point carries: the totals without the distinct counts and the histogram (per point they would cost more than the summary). */
export type TimelineTotals = Omit<UserTotals, 'uniqueEngagers' | 'uniqueZappers' | 'zapAmounts'>;

/** A timeline point's totals from a bucket's full totals. */
export function timelineTotals(totals: UserTotals): TimelineTotals {
  const { uniqueEngagers: _engagers, uniqueZappers: _zappers, zapAmounts: _amounts, ...rest } = totals;
  return rest;
}

export interface SummaryResponse {
  data: { pubkey: string; totals: UserTotals; timeline: ({ ts: number } & TimelineTotals)[]; drilldowns: SummaryDrilldowns };
  /** the seed's v2 envelope had the drill-downs beside `data`: kept there too (DESIGN §6), the same lists */
  drilldowns: SummaryDrilldowns;
  meta: Meta;
}

const metric = (state: BucketState, name: UserMetric) => state.values[name] ?? 0;

export function toTotals(state: BucketState): UserTotals {
  const reactions = { likes: metric(state, 'likes_rcv'), dislikes: metric(state, 'dislikes_rcv'), emoji: metric(state, 'emoji_rcv') };
  return {
    posts: metric(state, 'posts'),
    replies: metric(state, 'replies'),
    comments: metric(state, 'comments'),
    videos: metric(state, 'videos'),
    reactionsReceived: { total: reactions.likes + reactions.dislikes + reactions.emoji, ...reactions },
    repostsReceived: metric(state, 'reposts_rcv'),
    repliesReceived: metric(state, 'replies_rcv'),
    zapsReceived: metric(state, 'zaps_rcv'),
    // Summed in msats, floored once: per-zap rounding would lose sub-sat amounts.
    zapSatsReceived: Math.floor(metric(state, 'zap_msats_rcv') / 1000),
    zapAmounts: zapAmountHistogram(state.values),
    uniqueEngagers: hllEstimate(state.sets.engagers ?? []),
    uniqueZappers: hllEstimate(state.sets.zappers ?? []),
  };
}

/** Dense timeline points at `step`, summing every item (minute, hour or day) into its point. */
export function timelineOf(items: CounterItem[], window: QueryWindow, step: number, options: { countsOnly?: boolean } = {}): { ts: number; state: BucketState }[] {
  const points = new Map<number, BucketState>();
  for (let ts = Math.floor(window.startTs / step) * step; ts < window.endTs; ts += step) points.set(ts, emptyState());
  // Each item is merged straight into its point. Timeline points of a summary need counts only:
  // skipping sketches and lists halves the merge work.
  for (const item of items) {
    if (item.granularity === 'w') {
      // A week item's days are counts: its planner only reads it for a daily timeline (weeks.ts).
      if (step !== 86400 || !options.countsOnly) throw new Error('a week item serves daily timelines of counts only');
      for (const [dayStart, values] of weekDays(item)) {
        const point = points.get(dayStart);
        if (point) mergeItem(point, { ...item, granularity: 'd', bucket: dayStart, values }, true);
      }
      continue;
    }
    const point = points.get(Math.floor(item.bucket / step) * step);
    if (point) mergeItem(point, item, options.countsOnly);
  }
  return [...points].map(([ts, state]) => ({ ts, state }));
}

/** The items a user summary reads: whole weeks from week items (its timeline is daily counts beyond two days). */
export const readSummaryWindow = (pubkey: string, window: QueryWindow, deps: QueryDeps) => readWindow(userScope(pubkey), window, deps, { useWeeks: true });

/**
 * A user's totals, timeline and small drill-downs over the window: settled day/hour items up to the
 * watermark plus live minute items after it, read with one Query per plan segment.
 */
export async function userSummary(pubkey: string, window: QueryWindow, deps: QueryDeps): Promise<SummaryResponse> {
  const read = await readSummaryWindow(pubkey, window, deps);
  const state = mergeItems(read.items);
  const step = timelineStep(window);
  const drilldowns = drilldownsOf(state, SUMMARY_TOP_COUNT);
  return {
    data: {
      pubkey,
      totals: toTotals(state),
      // Points carry counts only: a sketch estimate per point would cost more than the whole summary.
      timeline: timelineOf(read.items, window, step, { countsOnly: true }).map(({ ts, state: s }) => ({ ts, ...timelineTotals(toTotals(s)) })),
      drilldowns,
    },
    drilldowns,
    meta: read.meta,
  };
}


/** The change of one total against the previous window: the difference, and as a percentage (null from 0). */
export interface Change {
  previous: number;
  delta: number;
  percent: number | null;
}

/** The totals as flat numbers (reactionsReceived as its total and its parts; the histogram left out), the keys a comparison uses. */
function flatTotals(totals: UserTotals): Record<string, number> {
  const { reactionsReceived, zapAmounts: _histogram, ...rest } = totals;
  return { ...rest, reactionsReceived: reactionsReceived.total, likesReceived: reactionsReceived.likes, dislikesReceived: reactionsReceived.dislikes, emojiReceived: reactionsReceived.emoji };
}

/**
 * `compare=previous`: the window of the same length just before this one, its totals, and each
 * total's change. The previous window is read like any other (its own plan and freshness).
 */
export async function previousWindowComparison(pubkey: string, window: QueryWindow, current: UserTotals, deps: QueryDeps) {
  const length = window.endTs - window.startTs;
  const previous: QueryWindow = { type: 'custom', startTs: window.startTs - length, endTs: window.startTs };
  const read = await readSummaryWindow(pubkey, previous, deps);
  const totals = toTotals(mergeItems(read.items));
  const before = flatTotals(totals);
  const change: Record<string, Change> = {};
  for (const [name, now] of Object.entries(flatTotals(current))) {
    const was = before[name] ?? 0;
    change[name] = { previous: was, delta: now - was, percent: was === 0 ? null : Math.round(((now - was) / was) * 1000) / 10 };
  }
  return { window: { startTs: previous.startTs, endTs: previous.endTs }, totals, change, partialReason: read.meta.partialReason };
}
