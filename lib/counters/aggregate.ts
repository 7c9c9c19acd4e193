import type { CounterItem, Granularity } from '../ports.js';
import type { Fact } from '../facts/schema.js';
import { contributionsOf } from './contributions.js';
import { reduceCodes } from './hll.js';
import { mergeTop, parseTop, TOP_LIST_BY_PREFIX, TOP_N, type TopList } from './topn.js';

/** One bucket of one scope while it is being computed: counts, sketches and top-N lists. */
export interface BucketState {
  values: Record<string, number>;
  sets: Record<string, Set<number>>;
  tops: Record<string, Map<string, number>>;
}

const emptyState = (): BucketState => ({ values: {}, sets: {}, tops: {} });

/**
 * Exact counters for a set of facts, per scope: what the compactor Puts for a settled hour. The same
 * `contributionsOf` drives the live minute deltas, so settled and live numbers mean the same thing.
 */
export function aggregateFacts(facts: Iterable<Fact>): Map<string, BucketState> {
  const scopes = new Map<string, BucketState>();
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
    for (const { scope, sketch, code } of c.distinct) (state(scope).sets[sketch] ??= new Set()).add(code);
    for (const { scope, list, key, amount } of c.tops) {
      const top = (state(scope).tops[list] ??= new Map());
      top.set(key, (top.get(key) ?? 0) + amount);
    }
  }
  return scopes;
}

/** A bucket state as a stored item: sketches reduced to one code per register, lists cut to N. */
export function toItem(scope: string, granularity: Granularity, bucket: number, state: BucketState, expiresAt?: number): CounterItem & { expiresAt?: number } {
  const item: CounterItem & { expiresAt?: number } = { scope, granularity, bucket, values: state.values };
  const sets = Object.entries(state.sets).filter(([, codes]) => codes.size);
  if (sets.length) item.sets = Object.fromEntries(sets.map(([name, codes]) => [name, reduceCodes(codes)]));
  const tops = Object.entries(state.tops).filter(([, entries]) => entries.size);
  if (tops.length) item.texts = Object.fromEntries(tops.map(([name, entries]) => [name, JSON.stringify(mergeTop([[...entries]], TOP_N))]));
  if (expiresAt !== undefined) item.expiresAt = expiresAt;
  return item;
}

/** Merges stored items (any granularity) into one state: sums, sketch unions, top-N merges. */
export function mergeItems(items: Iterable<CounterItem>, into: BucketState = emptyState()): BucketState {
  for (const item of items) {
    for (const [metric, value] of Object.entries(item.values)) {
      const list = TOP_LIST_BY_PREFIX[metric.slice(0, 3)];
      if (list) {
        const top = (into.tops[list] ??= new Map());
        const key = metric.slice(3);
        top.set(key, (top.get(key) ?? 0) + value);
      } else into.values[metric] = (into.values[metric] ?? 0) + value;
    }
    for (const [name, codes] of Object.entries(item.sets ?? {})) {
      const set = (into.sets[name] ??= new Set());
      for (const code of codes) set.add(code);
    }
    for (const [name, text] of Object.entries(item.texts ?? {})) {
      const top = (into.tops[name] ??= new Map());
      for (const [key, amount] of parseTop(text)) top.set(key, (top.get(key) ?? 0) + amount);
    }
  }
  return into;
}

export function topOf(state: BucketState, list: string, n = TOP_N): TopList {
  const entries = state.tops[list];
  return entries ? mergeTop([[...entries]], n) : [];
}
