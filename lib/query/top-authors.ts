import { carriesDetails } from '../counters/planner.js';
import { GLOBAL_SCOPE } from '../counters/contributions.js';
import { mergeItems, topOf } from '../counters/aggregate.js';
import type { QueryWindow } from './window.js';
import { readWindow, type Meta, type QueryDeps } from './window-read.js';

export interface TopAuthor {
  rank: number;
  pubkey: string;
  /** Nostr events the author published in the window (every kind; retracted ones left out) */
  events: number;
}

/**
 * The most active authors of the network over a window, from the global items' `top_authors` lists.
 * Those lists are kept in settled hour and day items only (a live one would make the hottest item in
 * the table the largest), and each bucket keeps its top entries only: so the ranking covers the settled
 * part of the window, and is exact while no bucket has more authors than its list holds.
 */
export async function topAuthors(window: QueryWindow, deps: QueryDeps, limit: number): Promise<{ data: TopAuthor[]; meta: Meta }> {
  const read = await readWindow(GLOBAL_SCOPE, window, deps, { hourly: false, useWeeks: true });
  const data = topOf(mergeItems(read.items), 'top_authors', limit).map(([pubkey, events], i) => ({ rank: i + 1, pubkey, events }));
  const meta = { ...read.meta };
  if (read.plan.segments.some((s) => !carriesDetails(s))) {
    const reason = 'authors are ranked over settled hours only; events after the watermark are not ranked yet';
    meta.partialReason = meta.partialReason ? `${meta.partialReason}; ${reason}` : reason;
    meta.freshness = { ...meta.freshness, isPartial: true };
  }
  return { data, meta };
}
