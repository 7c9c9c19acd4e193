import { firstEntries } from '../counters/topn.js';

/**
 * The top-list drill-downs (top posts, top hashtags, top zappers): the one home of which counter top
 * list each is, what its route is called, and how its entries read in an answer. The counters' answers
 * (summary.ts, drilldown.ts, from a merged BucketState) and a job's (lib/jobs/parts.ts, from its merged
 * amounts) both build them here.
 */

export interface SummaryDrilldowns {
  topPosts: { id: string; engagement: number }[];
  topHashtags: { tag: string; count: number }[];
  topZappers: { pubkey: string; sats: number }[];
}
export type TopListField = keyof SummaryDrilldowns;
/** The counter top lists behind them (lib/counters/topn.ts), which the jobs' SQL computes too. */
export type TopListName = 'top_posts' | 'top_tags' | 'top_zappers';

/** Each field's counter list and drill-down route, in the order a summary lists them. */
export const TOP_LISTS: readonly { field: TopListField; list: TopListName; drilldown: 'top-posts' | 'top-hashtags' | 'zappers' }[] = [
  { field: 'topPosts', list: 'top_posts', drilldown: 'top-posts' },
  { field: 'topHashtags', list: 'top_tags', drilldown: 'top-hashtags' },
  { field: 'topZappers', list: 'top_zappers', drilldown: 'zappers' },
];

/** The top list a drill-down reads, if it is one of them. */
export const topListOfDrilldown = (drilldown: string | undefined) => TOP_LISTS.find((t) => t.drilldown === drilldown);

/** How many entries each list has in a summary, and in a drill-down unless the request says. */
export const SUMMARY_TOP_COUNT = 5;
export const DRILLDOWN_TOP_COUNT = 10;

/** Amounts by key of each top list: a merged BucketState's `tops`, or a job's merged candidates. */
export interface TopAmounts {
  tops: Partial<Record<string, Iterable<[key: string, amount: number]>>>;
}

/**
 * The three lists' first `n` entries (larger amounts first, ties by key: topn.ts), as the answers
 * carry them: posts by engagement, hashtags by count, zappers by whole sats (summed in msats, floored once).
 */
export function drilldownsOf(state: TopAmounts, n: number): SummaryDrilldowns {
  const top = (list: TopListName) => firstEntries(state.tops[list] ?? [], n);
  return {
    topPosts: top('top_posts').map(([id, engagement]) => ({ id, engagement })),
    topHashtags: top('top_tags').map(([tag, count]) => ({ tag, count })),
    topZappers: top('top_zappers').map(([pubkey, msats]) => ({ pubkey, sats: Math.floor(msats / 1000) })),
  };
}
