/**
 * Stale answers: when a store does not answer, a read is answered from the last good copy of its
 * answer (the response cache keeps it past its TTL, lib/api/cache.ts), and says so. This is the one
 * home of what "says so" means: the marks on the answer, and the Cache-Control it travels with.
 */

/** `meta.partialReason` of an answer that is the last good copy, served because the counters did not answer. */
export const STALE_PARTIAL_REASON = 'stale: counters unavailable';

/** A browser or CDN may reuse a stale answer for a second at most: fresh answers return as soon as the store does. */
export const STALE_CACHE_CONTROL = 'public, max-age=1';

/** An answer that carries its freshness (`meta.freshness`, `meta.partialReason`), so it can say it is stale. */
export interface FreshnessAnswer {
  meta: { freshness: { stalenessMs: number | null; isPartial: boolean }; partialReason: string | null };
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;

/**
 * Whether a cached value is an answer that can be marked stale. Feed and ranking records and list pages
 * are not: their routes build `meta` afresh, so a stale copy of them would pass for a fresh one.
 */
export function hasFreshness(value: unknown): value is FreshnessAnswer {
  if (!isRecord(value) || !isRecord(value.meta) || !('partialReason' in value.meta)) return false;
  const freshness = value.meta.freshness;
  return isRecord(freshness) && typeof freshness.isPartial === 'boolean' && (freshness.stalenessMs === null || typeof freshness.stalenessMs === 'number');
}

/**
 * The last good copy of an answer, `ageMs` after it was computed, marked: partial, the stale reason,
 * and `stalenessMs` grown by its age (an answer with no data yet says its age). A copy: the cached
 * original stays as it was, for the next stale answer and its own age.
 */
export function markedStale<T extends FreshnessAnswer>(answer: T, ageMs: number): T {
  const { meta } = answer;
  const age = Math.max(0, Math.round(ageMs));
  return {
    ...answer,
    meta: { ...meta, freshness: { ...meta.freshness, stalenessMs: (meta.freshness.stalenessMs ?? 0) + age, isPartial: true }, partialReason: STALE_PARTIAL_REASON },
  };
}

/** Whether a body about to be sent is a stale answer (its route's Cache-Control then gives way to STALE_CACHE_CONTROL). */
export function isStaleAnswer(body: unknown): boolean {
  return isRecord(body) && isRecord(body.meta) && body.meta.partialReason === STALE_PARTIAL_REASON;
}
