/** Bounded top-N lists kept per bucket: drill-downs read a few small lists, never raw events. */
export const TOP_N = 10;

export type TopList = [key: string, amount: number][];

/** Adds lists together and keeps the N largest (ties by key, so the result is deterministic). */
export function mergeTop(lists: Iterable<TopList>, n = TOP_N): TopList {
  const totals = new Map<string, number>();
  for (const list of lists) for (const [key, amount] of list) totals.set(key, (totals.get(key) ?? 0) + amount);
  return [...totals].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, n);
}

export function parseTop(text: string | undefined): TopList {
  if (!text) return [];
  try {
    const value = JSON.parse(text) as unknown;
    return Array.isArray(value) ? (value.filter((e) => Array.isArray(e) && typeof e[0] === 'string' && typeof e[1] === 'number') as TopList) : [];
  } catch {
    return [];
  }
}

/**
 * Top-list entries stored as numeric attributes of a user's minute item (`tp:<post>`, `tt:<tag>`,
 * `tz:<zapper>`): the minutes of a sparse hour carry them in place of the hour item's lists
 * (contributions.ts, SPARSE_HOUR_EVENTS); reads merge them into the lists.
 */
export const TOP_LIST_BY_PREFIX: Record<string, 'top_posts' | 'top_tags' | 'top_zappers'> = { 'tp:': 'top_posts', 'tt:': 'top_tags', 'tz:': 'top_zappers' };
export const TOP_PREFIX_BY_LIST: Record<string, string> = Object.fromEntries(Object.entries(TOP_LIST_BY_PREFIX).map(([prefix, list]) => [list, prefix]));
/** the top-list entry's attribute name */
export const topEntryMetric = (list: string, key: string) => `${TOP_PREFIX_BY_LIST[list]}${key}`;
/** True for a minute item's detail attributes (top-list entries), which only sparse hours' reads use. */
export const isTopEntryMetric = (metric: string) => metric.slice(0, 3) in TOP_LIST_BY_PREFIX;
