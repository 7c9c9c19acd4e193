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
 * Prefixes of top-N entries stored as numeric attributes in live minute items by versions before live
 * items became counts only; reads still merge them, so those items count until they expire.
 */
export const TOP_LIST_BY_PREFIX: Record<string, 'top_posts' | 'top_tags' | 'top_zappers'> = { 'tp:': 'top_posts', 'tt:': 'top_tags', 'tz:': 'top_zappers' };
