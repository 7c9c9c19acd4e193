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

/** Prefixes of top-N entries stored as numeric attributes in live minute items. */
export const TOP_PREFIX = { top_posts: 'tp:', top_tags: 'tt:', top_zappers: 'tz:' } as const;
export const TOP_LIST_BY_PREFIX: Record<string, keyof typeof TOP_PREFIX> = { 'tp:': 'top_posts', 'tt:': 'top_tags', 'tz:': 'top_zappers' };

/** Keeps each list's N largest entries in one delta, so a hot user's minute item stays small. */
export function capTopEntries(values: Record<string, number>, n = TOP_N): void {
  for (const prefix of Object.values(TOP_PREFIX)) {
    const entries = Object.entries(values).filter(([name]) => name.startsWith(prefix));
    if (entries.length <= n) continue;
    entries.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    for (const [name] of entries.slice(n)) delete values[name];
  }
}
