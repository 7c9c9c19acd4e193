import type { CounterItem, CounterStore, ObjectStore } from '../ports.js';
import type { Fact } from '../facts/schema.js';
import { forEachLimited } from '../util/concurrency.js';
import { aggregateFacts, mergeItems, toItem, type BucketState } from './aggregate.js';
import { GLOBAL_SCOPE } from './contributions.js';
import { engagementReceived } from './read.js';
import type { Retention } from './retention.js';

/**
 * Settling: an hour's counters recomputed from its deduplicated facts and Put whole (idempotent: a
 * redelivered batch, a re-run or a crash changes nothing). Each settled hour leaves a manifest of the
 * scopes it wrote, so a re-settle can clear scopes that no longer have facts in that hour.
 */
/** Where each settled hour's and day's scope manifest lives in the bucket (the compactor's IAM grant names it too). */
export const MANIFESTS_PREFIX = 'counters/manifests/';
const manifestKey = (granularity: 'h' | 'd', bucket: number) => `${MANIFESTS_PREFIX}${granularity}/${bucket}.json`;

async function readManifest(objects: ObjectStore, key: string): Promise<string[]> {
  const bytes = await objects.get(key);
  return bytes ? (JSON.parse(new TextDecoder().decode(bytes)) as { scopes: string[] }).scopes : [];
}

/**
 * The items an hour settles into, from its deduplicated facts: one hour item per scope, and the hour's
 * minute items, rewritten exactly too: they serve the sub-hour edges of custom windows, and a
 * redelivered batch may have over-counted them while they were live. Pure: the compactor Puts these,
 * the benchmark measures them.
 */
export function settledHourItems(hourStart: number, facts: readonly Fact[], retention: Retention): { scopes: string[]; items: (CounterItem & { expiresAt?: number })[] } {
  const states = aggregateFacts(facts);
  const expiresAt = hourStart + retention.hourSeconds;
  const items: (CounterItem & { expiresAt?: number })[] = [...states].map(([scope, state]) => toItem(scope, 'h', hourStart, state, expiresAt));
  const byMinute = new Map<number, Fact[]>();
  for (const fact of facts) {
    const minute = Math.floor(fact.created_at / 60) * 60;
    let list = byMinute.get(minute);
    if (!list) byMinute.set(minute, (list = []));
    list.push(fact);
  }
  for (const [minute, minuteFacts] of byMinute) {
    for (const [scope, state] of aggregateFacts(minuteFacts)) {
      // Per-event and per-address reads run from 0 to now: their settled part ends on the (hour-aligned)
      // watermark, so they never read settled minutes; rewriting them would only cost writes.
      if (keepsDaysForever(scope)) continue;
      if (scope === GLOBAL_SCOPE) {
        // Global minutes stay a handful of numbers, settled or live: no author sketch, no top list.
        delete state.sets.authors;
        delete state.tops.top_authors;
      }
      items.push(toItem(scope, 'm', minute, state, minute + retention.minuteSeconds));
    }
  }
  return { scopes: [...states.keys()], items };
}

/**
 * A scope's day item from its settled hour items, plus a user's engagement received by UTC hour of day
 * (`eng_h00`…`eng_h23`), so best-hours and best-days work on day items too.
 */
export function settledDayItem(scope: string, dayStart: number, hourItems: readonly CounterItem[], retention: Retention): CounterItem & { expiresAt?: number } {
  const state: BucketState = mergeItems(hourItems);
  if (scope.startsWith('u:')) {
    for (const item of hourItems) {
      const engaged = engagementReceived(item.values);
      if (engaged) state.values[`eng_h${String((item.bucket - dayStart) / 3600).padStart(2, '0')}`] = engaged;
    }
  }
  // Global day items stay too: the exact all-time totals are recomputed from them (all-time.ts).
  return toItem(scope, 'd', dayStart, state, keepsDaysForever(scope) || scope === GLOBAL_SCOPE ? undefined : dayStart + retention.daySeconds);
}

export async function settleHour(
  hourStart: number,
  facts: Iterable<Fact>,
  deps: { objects: ObjectStore; counters: CounterStore; retention: Retention },
): Promise<{ scopes: number; items: number }> {
  const { scopes, items } = settledHourItems(hourStart, [...facts], deps.retention);
  const key = manifestKey('h', hourStart);
  const current = new Set(scopes);
  for (const scope of await readManifest(deps.objects, key)) {
    if (!current.has(scope)) items.push({ scope, granularity: 'h', bucket: hourStart, values: {}, expiresAt: hourStart + deps.retention.hourSeconds });
  }
  await deps.counters.put(items);
  await deps.objects.put(key, JSON.stringify({ scopes }), 'application/json');
  return { scopes: scopes.length, items: items.length };
}

/** Per-event and per-address day items never expire: an event's all-time stats are the sum of its days. */
export const keepsDaysForever = (scope: string) => scope.startsWith('e:') || scope.startsWith('a:');

/** Rolls a completed day's settled hours into one day item per scope (see settledDayItem). */
export async function rollDay(
  dayStart: number,
  deps: { objects: ObjectStore; counters: CounterStore; retention: Retention },
): Promise<{ scopes: number }> {
  const hours = Array.from({ length: 24 }, (_, i) => dayStart + i * 3600);
  const scopes = new Set<string>();
  for (const scopeList of await Promise.all(hours.map((h) => readManifest(deps.objects, manifestKey('h', h))))) for (const s of scopeList) scopes.add(s);
  const dayKey = manifestKey('d', dayStart);
  const previous = await readManifest(deps.objects, dayKey);
  const expiresAt = dayStart + deps.retention.daySeconds;
  const items: (CounterItem & { expiresAt?: number })[] = [];
  await forEachLimited([...scopes], 16, async (scope) => {
    items.push(settledDayItem(scope, dayStart, await deps.counters.range(scope, 'h', dayStart, dayStart + 23 * 3600), deps.retention));
  });
  for (const scope of previous) if (!scopes.has(scope)) items.push({ scope, granularity: 'd', bucket: dayStart, values: {}, expiresAt });
  await deps.counters.put(items);
  await deps.objects.put(dayKey, JSON.stringify({ scopes: [...scopes] }), 'application/json');
  return { scopes: scopes.size };
}
