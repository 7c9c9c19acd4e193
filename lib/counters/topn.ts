/** Bounded top-N lists kept per bucket: drill-downs read a few small lists, never raw events. */
export const TOP_N = 10;

export type TopList = [key: string, amount: number][];

/** Adds lists together and keeps the N largest (ties by key, so the result is deterministic). */
export function mergeTop(lists: Iterable<TopList>, n = TOP_N): TopList {
  const totals = new Map<string, number>();
  for (const list of lists) for (const [key, amount] of list) totals.set(key, (totals.get(key) ?? 0) + amount);
  return firstEntries(totals, n);
}

/** The order of every top list: larger amounts first, ties by key. */
const ranksBefore = (a: [string, number], b: [string, number]) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1);

/**
 * The first n of distinct keys' entries in top-list order. A short list is picked in one pass over
 * the entries (a merged list holds every key of every bucket), without sorting them all.
 */
export function firstEntries(entries: Iterable<[string, number]>, n: number): TopList {
  if (n > 32) return [...entries].sort(ranksBefore).slice(0, n);
  const top: TopList = [];
  if (n <= 0) return top;
  for (const entry of entries) {
    if (top.length === n && ranksBefore(entry, top[n - 1]!) > 0) continue;
    let i = top.length;
    while (i > 0 && ranksBefore(entry, top[i - 1]!) < 0) i--;
    top.splice(i, 0, entry);
    if (top.length > n) top.pop();
  }
  return top;
}

const isTopEntry = (e: unknown) => Array.isArray(e) && typeof e[0] === 'string' && typeof e[1] === 'number';

export function parseTop(text: string | undefined): TopList {
  if (!text) return [];
  try {
    const value = JSON.parse(text) as unknown;
    if (!Array.isArray(value)) return [];
    // Stored lists are well formed: copy only one that is not.
    return (value.every(isTopEntry) ? value : value.filter(isTopEntry)) as TopList;
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
/** The list a minute item's top-list entry attribute belongs to; undefined for any other attribute. */
export function topListOfMetric(metric: string): 'top_posts' | 'top_tags' | 'top_zappers' | undefined {
  // Every prefix is `t?:`: most attributes are told apart without cutting a string.
  if (metric.charCodeAt(2) !== 58 /* : */ || metric.charCodeAt(0) !== 116 /* t */) return undefined;
  return TOP_LIST_BY_PREFIX[metric.slice(0, 3)];
}
/** True for a minute item's detail attributes (top-list entries), which only sparse hours' reads use. */
export const isTopEntryMetric = (metric: string) => topListOfMetric(metric) !== undefined;
