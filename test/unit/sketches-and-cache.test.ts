import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { emptyRegisters, foldSketch, hllCode, hllEstimate, packRegisters, reduceCodes, unpackRegisters } from '../../lib/counters/hll.js';
import { mergeTop } from '../../lib/counters/topn.js';
import { ResponseCache, STALE_IF_ERROR_MS, STALE_RETRY_MS, ttlForWindow } from '../../lib/api/cache.js';

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

  it('packs a dense register array into 4 bits a register, exceptions listed, and unpacks it exactly', () => {
    for (const n of [300, 7_000, 200_000]) {
      const registers = foldSketch(emptyRegisters(), Array.from({ length: n }, (_, i) => hllCode(key(i))));
      const packed = packRegisters(registers);
      expect(packed.length, `${n} members`).toBeLessThan(560);
      expect(unpackRegisters(packed)).toEqual(registers);
    }
    // ranks beyond the base's 14: listed after the nibbles; and as many as would make it no smaller, kept raw
    const wide = emptyRegisters().fill(2);
    wide[7] = 40;
    wide[1023] = 17;
    const packed = packRegisters(wide);
    expect(packed.length).toBe(2 + 512 + 2 * 3);
    expect(unpackRegisters(packed)).toEqual(wide);
    const spread = Uint8Array.from({ length: 1024 }, (_, r) => 1 + (r % 40));
    expect(packRegisters(spread)).toEqual(spread);
    expect(unpackRegisters(packRegisters(spread))).toEqual(spread);
    expect(unpackRegisters(packRegisters(emptyRegisters()))).toEqual(emptyRegisters());
    expect(() => unpackRegisters(new Uint8Array([1, 2, 3]))).toThrow(/stored sketch/);
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
    // The computation is held until every caller has asked: they all ask while it runs.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const compute = async () => {
      computations++;
      await held;
      return 42;
    };
    const asked = Promise.all([cache.get('k', 1000, compute), cache.get('k', 1000, compute), cache.get('k', 1000, compute)]);
    release();
    const results = await asked;
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

  it('answers the last good copy with its age when a refresh fails and the caller allows it, one refresh for concurrent callers, at most one a second', async () => {
    let now = 0;
    const cache = new ResponseCache<number>({ maxEntries: 10, now: () => now, random: () => 0.5 });
    await cache.get('k', 1000, async () => 42);
    let refreshes = 0;
    // The refresh is held until every caller has asked, then fails.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const failing = async (): Promise<number> => {
      refreshes++;
      await held;
      throw new Error('throttled');
    };
    const always = () => true;
    now = 5_000;
    const asked = Promise.all([cache.get('k', 1000, failing, always), cache.get('k', 1000, failing, always), cache.get('k', 1000, failing, always)]);
    release();
    const stale = await asked;
    expect(refreshes).toBe(1);
    expect(stale.map((r) => [r.value, r.cached, r.staleMs])).toEqual([
      [42, true, 5_000],
      [42, true, 5_000],
      [42, true, 5_000],
    ]);
    // Within the retry interval the copy answers without asking the store again.
    now += STALE_RETRY_MS - 1;
    expect(await cache.get('k', 1000, failing, always)).toEqual({ value: 42, cached: true, staleMs: 5_000 + STALE_RETRY_MS - 1 });
    expect(refreshes).toBe(1);
    now += 1;
    expect((await cache.get('k', 1000, failing, always)).staleMs).toBe(5_000 + STALE_RETRY_MS);
    expect(refreshes).toBe(2);
    // The caller decides which failures a copy may answer; without its leave, the error stands.
    now += STALE_RETRY_MS;
    await expect(cache.get('k', 1000, failing, (error) => (error as Error).message !== 'throttled')).rejects.toThrow('throttled');
    await expect(cache.get('k', 1000, failing)).rejects.toThrow('throttled');
    // Once the store answers, so does a fresh value (and the next read hits it).
    expect(await cache.get('k', 1000, async () => 43, always)).toEqual({ value: 43, cached: false });
    expect(await cache.get('k', 1000, failing, always)).toEqual({ value: 43, cached: true });
  });

  it('drops a copy older than the stale-if-error window, and keeps every copy within maxEntries', async () => {
    let now = 0;
    const cache = new ResponseCache<number>({ maxEntries: 2, now: () => now });
    const failing = async (): Promise<number> => Promise.reject(new Error('throttled'));
    await cache.get('old', 1000, async () => 1);
    now = STALE_IF_ERROR_MS;
    expect((await cache.get('old', 1000, failing, () => true)).staleMs).toBe(STALE_IF_ERROR_MS);
    now = STALE_IF_ERROR_MS + STALE_RETRY_MS + 1;
    await expect(cache.get('old', 1000, failing, () => true)).rejects.toThrow('throttled');
    expect(cache.size).toBe(0);
    // Expired copies count against the bound like live entries, least recently used out first; a
    // key computed again becomes the most recent.
    await cache.get('a', 1000, async () => 1);
    await cache.get('b', 1000, async () => 2);
    now += 2000;
    await cache.get('a', 1000, async () => 10);
    await cache.get('c', 1000, async () => 3);
    expect(cache.size).toBe(2);
    expect((await cache.get('a', 1000, failing, () => true)).value).toBe(10);
    await expect(cache.get('b', 1000, failing, () => true)).rejects.toThrow('throttled');
  });

  it('keeps short windows for seconds and long ones for minutes', () => {
    expect(ttlForWindow(3600)).toBe(2_000);
    expect(ttlForWindow(7 * 86400)).toBe(30_000);
    expect(ttlForWindow(30 * 86400)).toBe(300_000);
  });
});
