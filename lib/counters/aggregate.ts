import type { CounterItem, Granularity } from '../ports.js';
import type { Fact } from '../facts/schema.js';
import { contributionsOf } from './contributions.js';
import { codesOfRegisters, emptyRegisters, foldCode, foldSketch } from './hll.js';
import { isWeekDayMetric } from './weeks.js';
import { encodeTopList, firstEntries, forEachTopEntry, topListOfMetric, TOP_N, type TopList } from './topn.js';

/** One bucket of one scope while it is being computed: counts, sketches (register arrays) and top-N lists. */
export interface BucketState {
  values: Record<string, number>;
  sets: Record<string, Uint8Array>;
  tops: Record<string, Map<string, number>>;
}

export const emptyState = (): BucketState => ({ values: {}, sets: {}, tops: {} });

/**
 * Exact counters for a set of facts, per scope: what the compactor Puts for a settled hour. The same
 * `contributionsOf` drives the live minute deltas, so settled and live numbers mean the same thing.
 * `into`: states to add the facts to (a bucket built up a day at a time).
 */
export function aggregateFacts(facts: Iterable<Fact>, into?: Map<string, BucketState>): Map<string, BucketState> {
  const scopes = into ?? new Map<string, BucketState>();
  const state = (scope: string) => {
    let s = scopes.get(scope);
    if (!s) scopes.set(scope, (s = emptyState()));
    return s;
  };
  for (const fact of facts) {
    const c = contributionsOf(fact);
    for (const { scope, metric, amount } of c.counts) {
      const s = state(scope);
      s.values[metric] = (s.values[metric] ?? 0) + amount;
    }
    for (const { scope, sketch, code } of c.distinct) foldCode((state(scope).sets[sketch] ??= emptyRegisters()), code);
    for (const { scope, list, key, amount } of c.tops) {
      const top = (state(scope).tops[list] ??= new Map());
      top.set(key, (top.get(key) ?? 0) + amount);
    }
  }
  return scopes;
}

/** A bucket state as a stored item: sketches as one code per register, lists cut to N. */
export function toItem(scope: string, granularity: Granularity, bucket: number, state: BucketState, expiresAt?: number): CounterItem & { expiresAt?: number } {
  const item: CounterItem & { expiresAt?: number } = { scope, granularity, bucket, values: state.values };
  const sets = Object.entries(state.sets).map(([name, registers]) => [name, codesOfRegisters(registers)] as const).filter(([, codes]) => codes.length);
  if (sets.length) item.sets = Object.fromEntries(sets);
  const tops = Object.entries(state.tops).filter(([, entries]) => entries.size);
  if (tops.length) item.tops = Object.fromEntries(tops.map(([name, entries]) => [name, encodeTopList(firstEntries(entries, TOP_N))]));
  if (expiresAt !== undefined) item.expiresAt = expiresAt;
  return item;
}

/**
 * Merges stored items (any granularity) into one state: sums, sketch merges (byte-wise max into one
 * register array per sketch), top-N merges. It allocates per metric, sketch and list of the answer,
 * not per item. `countsOnly` merges the counts and leaves sketches and lists out (timeline points).
 */
export function mergeItems(items: Iterable<CounterItem>, into: BucketState = emptyState(), options: { countsOnly?: boolean } = {}): BucketState {
  for (const item of items) mergeItem(into, item, options.countsOnly ?? false);
  return into;
}

/** Merges one stored item into a state (mergeItems). */
export function mergeItem(into: BucketState, item: CounterItem, countsOnly = false): void {
  const { values } = item;
  const week = item.granularity === 'w';
  for (const metric in values) {
    // A week item's per-day counts are its timeline's (weeks.ts), already in its totals.
    if (week && isWeekDayMetric(metric)) continue;
    const value = values[metric]!;
    // A sparse hour's minute item carries its top-list entries as numbers (topn.ts).
    const list = topListOfMetric(metric);
    if (list === undefined) into.values[metric] = (into.values[metric] ?? 0) + value;
    else if (!countsOnly) {
      const top = (into.tops[list] ??= new Map());
      const key = metric.slice(3);
      top.set(key, (top.get(key) ?? 0) + value);
    }
  }
  if (countsOnly) return;
  const { sets, tops } = item;
  for (const name in sets) foldSketch((into.sets[name] ??= emptyRegisters()), sets[name]!);
  for (const name in tops) {
    const top = (into.tops[name] ??= new Map());
    forEachTopEntry(tops[name]!, (key, amount) => top.set(key, (top.get(key) ?? 0) + amount));
  }
}

export function topOf(state: BucketState, list: string, n = TOP_N): TopList {
  const entries = state.tops[list];
  return entries ? firstEntries(entries, n) : [];
}
