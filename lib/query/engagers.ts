import type { EngagerRow } from '../ports.js';
import { addressScope, eventScope } from '../counters/contributions.js';
import { deletedNamespace, lookupEvent } from '../counters/event-index.js';
import { engagerRowId, likersList, tokenSats, zappersList } from '../counters/engager-lists.js';
import { forEachMapped } from '../util/concurrency.js';
import { DeletedError, videoVersions } from './event-stats.js';
import type { QueryDeps } from './window-read.js';

/** Revisions of an addressable video whose own likers a page merges at most (the newest ones), beside the address's. */
export const MAX_REVISION_LISTS = 16;
/** Retraction checks (GetItem of `del:<reaction>`) a likers page keeps in flight. */
const RETRACTION_CHECKS_IN_PARALLEL = 16;

export interface EngagerPage<Row> {
  rows: Row[];
  /** the pubkey the next page starts after; null on the last page */
  next: string | null;
}

/**
 * One page of the union of several engager lists, in pubkey order, one row per pubkey: each list is
 * read from `after` for `limit` rows, so the smallest `limit` row keys of the union are all among them
 * (any row left unread sorts after the last one taken). Reads at most lists × limit rows.
 */
async function unionPage(lists: readonly string[], deps: QueryDeps, limit: number, after: string | undefined): Promise<EngagerPage<EngagerRow & { lists: number }>> {
  const pages = await Promise.all(lists.map((list) => deps.counters.engagerPage(list, { after, limit })));
  const byKey = new Map<number, EngagerRow & { lists: number }>();
  for (const row of pages.flat()) {
    const key = engagerRowId(row.pubkey);
    const seen = byKey.get(key);
    if (seen) byKey.set(key, { ...seen, ref: seen.ref ?? row.ref, tokens: [...new Set([...seen.tokens, ...row.tokens])], lists: seen.lists + 1 });
    else byKey.set(key, { ...row, lists: 1 });
  }
  const sorted = [...byKey].sort((a, b) => a[0] - b[0]).map(([, row]) => row);
  const rows = sorted.slice(0, limit);
  const more = sorted.length > limit || pages.some((page) => page.length === limit);
  return { rows, next: more && rows.length ? rows.at(-1)!.pubkey : null };
}

/**
 * A video's likers (docs/metrics.md, "Likers and zappers"): the pubkeys whose like (NIP-25 `+` or
 * empty; dislikes and emoji left out) names the video — its address and its revisions' ids for an
 * addressable one — in pubkey order. A like whose author deleted it (NIP-09) is left out, checked per
 * row at read (`del:<reaction id>`), so a page may hold fewer rows than `limit` while more follow.
 * Null when the id names an event that is not a video.
 */
export async function videoLikers(idOrAddress: string, deps: QueryDeps, page: { limit: number; after?: string }): Promise<(EngagerPage<{ pubkey: string }> & { id: string; address: string | null }) | null> {
  const video = await videoVersions(idOrAddress, deps);
  if (!video) return null;
  const { address } = video;
  // the id asked for, and the newest revisions (their own likes, by id), at most MAX_REVISION_LISTS
  const ids = [...new Set([...(idOrAddress.includes(':') ? [] : [idOrAddress]), ...video.revisions.slice(0, MAX_REVISION_LISTS).map((r) => r.id)])];
  const lists = [...(address ? [likersList(addressScope(address))] : []), ...ids.map((id) => likersList(eventScope(id)))];
  const union = await unionPage(lists, deps, page.limit, page.after);
  const retracted = await forEachMapped(union.rows, RETRACTION_CHECKS_IN_PARALLEL, async (row) => {
    if (!row.ref) return false;
    const deletion = await deps.counters.getState(deletedNamespace(row.ref), 0);
    return deletion?.by === row.pubkey;
  });
  return { id: idOrAddress, address, rows: union.rows.filter((_, i) => !retracted[i]).map((row) => ({ pubkey: row.pubkey })), next: union.next };
}

/**
 * An event's zappers (docs/metrics.md, "Likers and zappers"): one row per zap sender, with their zaps
 * and total sats to the event (an address's, for an address), in pubkey order.
 */
export async function eventZappers(idOrAddress: string, deps: QueryDeps, page: { limit: number; after?: string }): Promise<EngagerPage<{ pubkey: string; zaps: number; sats: number }> & { id: string }> {
  if (!idOrAddress.includes(':')) {
    const { deleted } = await lookupEvent(deps.counters, idOrAddress);
    if (deleted) throw new DeletedError(`event ${idOrAddress} was deleted by its author`);
  }
  const scope = idOrAddress.includes(':') ? addressScope(idOrAddress) : eventScope(idOrAddress);
  const union = await unionPage([zappersList(scope)], deps, page.limit, page.after);
  return {
    id: idOrAddress,
    rows: union.rows.map((row) => ({ pubkey: row.pubkey, zaps: row.tokens.length, sats: row.tokens.reduce((sum, token) => sum + tokenSats(token), 0) })),
    next: union.next,
  };
}
