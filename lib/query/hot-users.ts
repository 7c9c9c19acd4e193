import { GLOBAL_SCOPE } from '../counters/contributions.js';
import { mergeItems, topOf } from '../counters/aggregate.js';
import type { CounterStore } from '../ports.js';

/** The most active authors of the last settled day, from the global hour items' top lists. */
export async function hotUsers(counters: CounterStore, watermark: number, n: number): Promise<string[]> {
  if (!watermark) return [];
  const items = await counters.range(GLOBAL_SCOPE, 'h', watermark - 86400, watermark - 3600);
  return topOf(mergeItems(items), 'top_authors', n).map(([pubkey]) => pubkey);
}

/** The windows a frontend asks for most: computed ahead after each compaction for the hot users. */
export const HOT_INTERVALS = ['24h', '7d', '30d'] as const;
