import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { hllCode, hllEstimate, reduceCodes } from '../../lib/counters/hll.js';
import { mergeTop } from '../../lib/counters/topn.js';
import { ResponseCache, ttlForWindow } from '../../lib/api/cache.js';

const key = (i: number) => createHash('sha256').update(String(i)).digest('hex');

describe('HyperLogLog codes', () => {
  it('estimates within 3 standard errors and merges by set union', () => {
    for (const n of [10, 100, 1_000, 20_000]) {
      const a = new Set<number>();
      const b = new Set<number>();
      for (let i = 0; i < n; i++) (i % 2 ? a : b).add(hllCode(key(i)));
      const merged = hllEstimate([...a, ...b]);
      // 3 standard errors of 3.3%, and never off by more than a couple at small counts.
      expect(Math.abs(merged - n)).toBeLessThanOrEqual(Math.max(2, 0.1 * n));
    }
  });

  it('is exact for a handful of members and ignores repeats', () => {
    const codes = [1, 2, 3, 2, 1].map((i) => hllCode(key(i)));
    expect(hllEstimate(codes)).toBe(3);
    expect(hllEstimate([])).toBe(0);
  });

  it('reduces to one code per register, at most 1,024', () => {
    const codes = Array.from({ length: 50_000 }, (_, i) => hllCode(key(i)));
    const reduced = reduceCodes(codes);
    expect(reduced.length).toBeLessThanOrEqual(1024);
    expect(hllEstimate(reduced)).toBe(hllEstimate(codes));
  });
});

describe('top-N lists', () => {
  it('merge by summing and keep the N largest, ties by key', () => {
    expect(mergeTop([[['a', 3], ['b', 1]], [['b', 3], ['c', 2]]], 2)).toEqual([['b', 4], ['a', 3]]);
  });
});

describe('ResponseCache', () => {
  it('computes once for concurrent callers and serves hits until the jittered TTL ends', async () => {
    let now = 0;
    const cache = new ResponseCache<number>({ maxEntries: 10, now: () => now, random: () => 0.5 });
    let computations = 0;
    const compute = async () => {
      computations++;
      await new Promise((r) => setTimeout(r, 10));
      return 42;
    };
    const results = await Promise.all([cache.get('k', 1000, compute), cache.get('k', 1000, compute), cache.get('k', 1000, compute)]);
    expect(computations).toBe(1);
    expect(results.map((r) => r.value)).toEqual([42, 42, 42]);
    expect(results.filter((r) => r.cached)).toHaveLength(2);
    now = 999;
    expect((await cache.get('k', 1000, compute)).cached).toBe(true);
    now = 1001;
    expect((await cache.get('k', 1000, compute)).cached).toBe(false);
    expect(computations).toBe(2);
  });

  it('does not cache failures and evicts the least recently used', async () => {
    const cache = new ResponseCache<number>({ maxEntries: 2 });
    await expect(cache.get('bad', 1000, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(cache.size).toBe(0);
    await cache.get('a', 1000, async () => 1);
    await cache.get('b', 1000, async () => 2);
    await cache.get('a', 1000, async () => 1);
    await cache.get('c', 1000, async () => 3);
    expect((await cache.get('a', 1000, async () => -1)).cached).toBe(true);
    expect((await cache.get('b', 1000, async () => -1)).value).toBe(-1);
  });

  it('keeps short windows for seconds and long ones for minutes', () => {
    expect(ttlForWindow(3600)).toBe(2_000);
    expect(ttlForWindow(7 * 86400)).toBe(30_000);
    expect(ttlForWindow(30 * 86400)).toBe(300_000);
  });
});
