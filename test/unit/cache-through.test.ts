import { describe, expect, it } from 'vitest';
import { ResponseCache } from '../../lib/api/cache.js';
import type { ApiDeps } from '../../lib/api/deps.js';
import { cachedJson, cachedValue, throughCache } from '../../lib/api/read-policy.js';
import { STALE_CACHE_CONTROL, STALE_PARTIAL_REASON } from '../../lib/api/stale-answers.js';
import { METRIC } from '../../lib/metrics/names.js';

/**
 * Cache-through, the one helper every cached route answers with (throughCache in lib/api/read-policy.ts;
 * cachedValue and cachedJson are it with the value alone, or as a 200 with the window's Cache-Control):
 * read the key, else compute and store it, and while a store does not answer, the last good copy of an
 * answer that carries its freshness, marked stale.
 */

const unavailable = () => Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
const answer = (n: number) => ({ data: { n }, meta: { freshness: { stalenessMs: 100, isPartial: false }, partialReason: null } });

function setup() {
  let now = 1_000_000;
  const counted: string[] = [];
  const cache = new ResponseCache<unknown>({ maxEntries: 10, now: () => now, random: () => 0.5 });
  const deps = { cache, metrics: { count: (name: string) => counted.push(name) } } as unknown as ApiDeps;
  return { deps, counted, advance: (ms: number) => (now += ms) };
}

describe('throughCache: read, else compute and store', () => {
  it('computes on a miss, answers the stored copy within the TTL, and computes again after it', async () => {
    const { deps, counted, advance } = setup();
    let runs = 0;
    const compute = async () => answer(++runs);
    expect(await throughCache(deps, 'k', 1_000, compute)).toEqual({ value: answer(1), cached: false });
    expect(await throughCache(deps, 'k', 1_000, compute)).toEqual({ value: answer(1), cached: true });
    advance(1_001);
    expect(await throughCache(deps, 'k', 1_000, compute)).toEqual({ value: answer(2), cached: false });
    expect(counted).toEqual([METRIC.cacheMisses, METRIC.cacheHits, METRIC.cacheMisses]);
  });

  it('concurrent requests for a key share one computation', async () => {
    const { deps } = setup();
    let runs = 0;
    // The computation is held until every caller has asked: they all ask while it runs.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const compute = async () => {
      runs++;
      await held;
      return answer(runs);
    };
    const asked = Promise.all([1, 2, 3].map(() => throughCache(deps, 'k', 1_000, compute)));
    release();
    const reads = await asked;
    expect(runs).toBe(1);
    expect(reads.map((r) => r.cached)).toEqual([false, true, true]);
  });

  it('without a cache, computes every time', async () => {
    let runs = 0;
    const deps = {} as ApiDeps;
    expect(await throughCache(deps, 'k', 1_000, async () => ++runs)).toEqual({ value: 1, cached: false });
    expect(await cachedValue(deps, 'k', 1_000, async () => ++runs)).toBe(2);
  });
});

describe('throughCache: stale answers while a store does not answer', () => {
  it('answers the last good copy, marked stale and aged, and counts it; the stored copy stays as it was', async () => {
    const { deps, counted, advance } = setup();
    await throughCache(deps, 'k', 1_000, async () => answer(1));
    advance(5_000);
    const stale = await throughCache(deps, 'k', 1_000, async () => {
      throw unavailable();
    });
    expect(stale.cached).toBe(true);
    expect(stale.value).toEqual({ data: { n: 1 }, meta: { freshness: { stalenessMs: 5_100, isPartial: true }, partialReason: STALE_PARTIAL_REASON } });
    expect(counted.at(-1)).toBe(METRIC.staleAnswers);
    // within the retry pause the copy answers again without computing, aged from when it was computed
    advance(500);
    const again = await throughCache(deps, 'k', 1_000, async () => answer(99));
    expect((again.value as ReturnType<typeof answer>).meta.freshness.stalenessMs).toBe(5_600);
    // once the store answers, the fresh answer replaces it
    advance(1_000);
    expect(await throughCache(deps, 'k', 1_000, async () => answer(2))).toEqual({ value: answer(2), cached: false });
  });

  it('the error stands: for a failure that is not a store not answering, with no copy, or a copy that cannot say it is stale', async () => {
    const { deps, advance } = setup();
    await throughCache(deps, 'answer', 1_000, async () => answer(1));
    await throughCache(deps, 'page', 1_000, async () => ({ rows: [1, 2] }));
    advance(2_000);
    await expect(throughCache(deps, 'answer', 1_000, async () => Promise.reject(new Error('a bug')))).rejects.toThrow('a bug');
    await expect(throughCache(deps, 'none', 1_000, async () => Promise.reject(unavailable()))).rejects.toThrow('ECONNREFUSED');
    await expect(throughCache(deps, 'page', 1_000, async () => Promise.reject(unavailable()))).rejects.toThrow('ECONNREFUSED');
  });
});

describe('cachedJson: an answer through the cache as a 200', () => {
  it('the window picks the TTL and the Cache-Control; a stale answer is reused for a second at most', async () => {
    const { deps, advance } = setup();
    const fresh = await cachedJson(deps, 'w', 7 * 86400, async () => answer(1));
    expect(fresh.statusCode).toBe(200);
    expect(fresh.headers['cache-control']).toBe('public, max-age=30');
    expect(JSON.parse(fresh.body)).toEqual(answer(1));
    advance(29_000); // inside 30 s ±20 %: the stored copy
    expect(JSON.parse((await cachedJson(deps, 'w', 7 * 86400, async () => answer(2))).body)).toEqual(answer(1));
    advance(10_000);
    const stale = await cachedJson(deps, 'w', 7 * 86400, async () => Promise.reject(unavailable()));
    expect(stale.headers['cache-control']).toBe(STALE_CACHE_CONTROL);
    expect(JSON.parse(stale.body).meta.partialReason).toBe(STALE_PARTIAL_REASON);
  });
});
