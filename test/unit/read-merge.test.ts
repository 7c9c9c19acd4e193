import { describe, expect, it } from 'vitest';
import { codesOfRegisters, emptyRegisters, foldSketch, hllEstimate, HLL_REGISTERS, reduceCodes } from '../../lib/counters/hll.js';
import { emptyState, mergeItem, mergeItems, toItem } from '../../lib/counters/aggregate.js';
import type { CounterItem, Sketch } from '../../lib/ports.js';
import { timelineOf } from '../../lib/query/summary.js';
import { seededRandom } from '../../lib/local/stack/simulator.js';
import { decodeTopList, encodeTopList, firstEntries, mergeTop, type TopList } from '../../lib/counters/topn.js';

/** A small seeded generator, so a failure names a case that can be run again. */
function random(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * A code as hllCode makes them: a register, and a rank of 1 + leading zeros (geometric, up to 63);
 * now and then a rank far up, where sums of 2^-rank run out of mantissa and their order shows.
 */
function randomCode(next: () => number): number {
  const register = Math.floor(next() * HLL_REGISTERS);
  if (next() < 0.01) return (register << 6) | (40 + Math.floor(next() * 24));
  let rank = 1;
  while (rank < 63 && next() < 0.5) rank++;
  return (register << 6) | rank;
}

/** The estimate as it was computed before sketches were register arrays: reduced codes, summed in code order. */
function estimateOfCodes(codes: Iterable<number>): number {
  const reduced = reduceCodes(codes);
  if (!reduced.length) return 0;
  let sum = HLL_REGISTERS - reduced.length;
  for (const code of reduced) sum += 2 ** -(code & 63);
  const alpha = 0.7213 / (1 + 1.079 / HLL_REGISTERS);
  const raw = (alpha * HLL_REGISTERS * HLL_REGISTERS) / sum;
  const empty = HLL_REGISTERS - reduced.length;
  if (raw <= 2.5 * HLL_REGISTERS && empty > 0) return Math.round(HLL_REGISTERS * Math.log(HLL_REGISTERS / empty));
  return Math.round(raw);
}

const item = (bucket: number, sets: Record<string, Sketch>, values: Record<string, number> = { posts: 1 }): CounterItem => ({ scope: 'u:ab', granularity: 'h', bucket, values, sets });

describe('sketches merged as register arrays', () => {
  it('give the estimates the code sets gave, on random mixes of sparse and dense sketches', () => {
    for (let seed = 1; seed <= 60; seed++) {
      const next = random(seed);
      const items: CounterItem[] = [];
      const every: number[] = [];
      const count = 1 + Math.floor(next() * 30);
      for (let i = 0; i < count; i++) {
        // from a handful of codes (a minute item) to tens of thousands (a busy day's dense sketch)
        const size = Math.floor(next() ** 3 * 20_000);
        const codes = Array.from({ length: size }, () => randomCode(next));
        every.push(...codes);
        const dense = next() < 0.5;
        items.push(item(i * 3600, { engagers: dense ? foldSketch(emptyRegisters(), codes) : reduceCodes(codes) }));
      }
      const merged = mergeItems(items).sets.engagers ?? emptyRegisters();
      expect(codesOfRegisters(merged), `seed ${seed}`).toEqual(reduceCodes(every));
      expect(hllEstimate(merged), `seed ${seed}`).toBe(estimateOfCodes(every));
      // codes straight into the estimate: the same number too
      expect(hllEstimate(every), `seed ${seed}`).toBe(estimateOfCodes(every));
    }
  });

  it('are exact for small sets and empty for none', () => {
    expect(hllEstimate(emptyRegisters())).toBe(0);
    expect(hllEstimate([])).toBe(0);
    const registers = mergeItems([item(0, { engagers: [65, 130] }), item(3600, { engagers: [65, 200] })]).sets.engagers!;
    expect(hllEstimate(registers)).toBe(3);
    expect(codesOfRegisters(registers)).toEqual([65, 130, 200]);
  });

  it('leave the items they merge as they were (a read hands over its dense sketches as stored)', () => {
    const dense = foldSketch(emptyRegisters(), [65, 130, 4000]);
    const before = Uint8Array.from(dense);
    const sparse = [66, 131];
    const state = mergeItems([item(0, { engagers: dense }), item(3600, { engagers: sparse })]);
    expect(dense).toEqual(before);
    expect(sparse).toEqual([66, 131]);
    expect(state.sets.engagers).not.toBe(dense);
    expect(codesOfRegisters(state.sets.engagers!)).toEqual([66, 131, 4000]);
  });

  it('are written as the codes of their registers, one per register in order, as before', () => {
    const next = random(7);
    const codes = Array.from({ length: 5000 }, () => randomCode(next));
    const state = emptyState();
    for (const code of codes) mergeItem(state, item(0, { engagers: [code] }));
    const written = toItem('u:ab', 'd', 0, state);
    expect(written.sets).toEqual({ engagers: reduceCodes(codes) });
    // nothing seen, nothing written
    expect(toItem('u:ab', 'd', 0, { values: { posts: 1 }, sets: { engagers: emptyRegisters() }, tops: {} }).sets).toBeUndefined();
  });

  it('are merged into each timeline point, and counts-only points carry none of them, nor the top lists', () => {
    const items = [
      item(0, { engagers: [65] }, { posts: 1, 'tp:abc': 3 }),
      item(1800, { engagers: foldSketch(emptyRegisters(), [130]) }, { posts: 2 }),
      { ...item(3600, { engagers: [200] }, { posts: 4 }), tops: { top_posts: encodeTopList([['abc', 2]]) } },
    ];
    const window = { type: 'custom' as const, startTs: 0, endTs: 7200 };
    const full = timelineOf(items, window, 3600);
    expect(full.map((p) => p.state.values)).toEqual([{ posts: 3 }, { posts: 4 }]);
    expect(full.map((p) => codesOfRegisters(p.state.sets.engagers!))).toEqual([[65, 130], [200]]);
    expect(full.map((p) => [...(p.state.tops.top_posts ?? [])])).toEqual([[['abc', 3]], [['abc', 2]]]);
    const counts = timelineOf(items, window, 3600, { countsOnly: true });
    expect(counts.map((p) => p.state)).toEqual([
      { values: { posts: 3 }, sets: {}, tops: {} },
      { values: { posts: 4 }, sets: {}, tops: {} },
    ]);
  });
});

describe('top lists of a merge', () => {
  it('pick the first N entries as a full sort would, ties by key', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const next = random(seed);
      const entries = new Map<string, number>();
      const size = Math.floor(next() * 400);
      // few distinct amounts, so ties are common
      for (let i = 0; i < size; i++) entries.set(`k${Math.floor(next() * 1000)}`, Math.floor(next() * 8));
      const sorted = [...entries].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
      for (const n of [0, 1, 5, 10, 40]) expect(firstEntries(entries, n), `seed ${seed}, n ${n}`).toEqual(sorted.slice(0, n));
    }
  });

  it('merge lists by summing their amounts', () => {
    const lists: TopList[] = [
      [['a', 3], ['b', 1]],
      [['b', 3], ['c', 2]],
    ];
    expect(mergeTop(lists, 2)).toEqual([['b', 4], ['a', 3]]);
    const state = mergeItems([{ ...item(0, {}), tops: { top_posts: encodeTopList(lists[0]!) } }, { ...item(3600, {}), tops: { top_posts: encodeTopList(lists[1]!) } }]);
    expect([...state.tops.top_posts!]).toEqual([['a', 3], ['b', 4], ['c', 2]]);
  });
});

describe('top lists as items store them (binary)', () => {
  const random = seededRandom(11);
  const hex = () => Array.from({ length: 64 }, () => '0123456789abcdef'[Math.floor(random() * 16)]).join('');
  const keys = () => [hex(), `#${Math.floor(random() * 1e6)}`, 'ünïcode ✓', '', 'A'.repeat(64), `30023:${hex()}:d-tag`];

  it('decode to the lists they encode: hex ids and pubkeys, any text, integer and fractional amounts', () => {
    for (let round = 0; round < 200; round++) {
      const list: TopList = keys().map((key, i) => [key, i % 3 === 0 ? Math.floor(random() * 2 ** 53) : i % 3 === 1 ? Math.floor(random() * 300) : random() * 1e6 - 5e5]);
      expect(decodeTopList(encodeTopList(list))).toEqual(list);
    }
  });

  it('take 33 bytes a hex key and 1–3 bytes a usual amount, about half of JSON', () => {
    const list: TopList = Array.from({ length: 10 }, (_, i) => [hex(), 1000 + i]);
    expect(encodeTopList(list)).toHaveLength(1 + 10 * (1 + 32 + 2));
    expect(encodeTopList(list).length).toBeLessThan(JSON.stringify(list).length / 2);
  });

  it('a damaged list yields the entries before the damage, and never throws', () => {
    const list: TopList = [[hex(), 5], ['nostr', 3], [hex(), 1]];
    const bytes = encodeTopList(list);
    for (let cut = 0; cut < bytes.length; cut++) {
      const decoded = decodeTopList(bytes.subarray(0, cut));
      expect(list.slice(0, decoded.length)).toEqual(decoded);
    }
    expect(decodeTopList(Uint8Array.from([2, 0, 1]))).toEqual([]);
    expect(decodeTopList(Uint8Array.from([1, 7, 1]))).toEqual([]);
    expect(decodeTopList(new Uint8Array(0))).toEqual([]);
  });
});
