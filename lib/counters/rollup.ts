import type { CounterDelta, Granularity } from '../ports.js';
import type { Fact } from '../facts/schema.js';
import { bucketStart } from './buckets.js';
import { contributionsOf, GLOBAL_SCOPE, REJECTIONS_SCOPE } from './contributions.js';
import { capTopEntries, TOP_PREFIX } from './topn.js';

export interface RollupOptions {
  /** seconds a live minute item is kept (TTL) */
  minuteTtlSeconds: number;
}

/**
 * Pre-aggregates a batch into one delta per counter item: the write cost is one UpdateItem per
 * (scope, minute) the batch touches, not one per event or per metric. Live items carry counts and
 * per-user engager sketches; the global author sketch and the top-N lists exist only in settled items,
 * so the hot global minute item stays a handful of numbers.
 */
const LIVE_TOP_ENTRIES_PER_BATCH = 5;

export class DeltaRollup {
  private readonly items = new Map<string, CounterDelta & { union: Record<string, number[]> }>();

  constructor(private readonly options: RollupOptions) {}

  addFact(fact: Fact): void {
    const minute = bucketStart(fact.created_at, 'm');
    const c = contributionsOf(fact);
    // All-time totals are not added here: they are settled from the facts (all-time.ts), so a
    // redelivered batch or a copy from a second relay never inflates them.
    for (const { scope, metric, amount } of c.counts) this.bump(scope, 'm', minute, metric, amount);
    for (const { scope, sketch, code } of c.distinct) {
      if (scope !== GLOBAL_SCOPE) (this.item(scope, 'm', minute).union[sketch] ??= []).push(code);
    }
    // Top-N entries ride in live items as plain numeric attributes (`<list prefix><key>`), which ADD
    // merges atomically; they are cut to N per item per batch (see deltas()).
    for (const { scope, list, key, amount } of c.tops) {
      if (scope !== GLOBAL_SCOPE) this.bump(scope, 'm', minute, `${TOP_PREFIX[list as keyof typeof TOP_PREFIX]}${key}`, amount);
    }
  }

  /**
   * Counts a rejected event by reason, all-time and per minute of ingestion (per delivery: a rejection
   * has no fact to deduplicate by). The per-minute counts live
   * in their own scope: settling rewrites `g` minute items from facts, and rejections have no facts.
   */
  addRejection(reason: string, atSeconds: number, count = 1): void {
    this.bump(REJECTIONS_SCOPE, 'm', bucketStart(atSeconds, 'm'), reason, count);
    this.bump(GLOBAL_SCOPE, 'all', 0, `rejected:${reason}`, count);
  }

  private item(scope: string, granularity: Granularity, bucket: number) {
    const key = `${scope}|${granularity}|${bucket}`;
    let item = this.items.get(key);
    if (!item) {
      const expiresAt = granularity === 'm' ? bucket + this.options.minuteTtlSeconds : undefined;
      item = { scope, granularity, bucket, add: {}, union: {}, expiresAt };
      this.items.set(key, item);
    }
    return item;
  }

  private bump(scope: string, granularity: Granularity, bucket: number, metric: string, amount: number): void {
    const item = this.item(scope, granularity, bucket);
    item.add[metric] = (item.add[metric] ?? 0) + amount;
  }

  deltas(): CounterDelta[] {
    // 5 entries per list per batch bound a hot user's minute item: at most batches-per-minute × 15
    // attributes (~20 KB at a 5 s batching window with several concurrent batches).
    for (const item of this.items.values()) capTopEntries(item.add, LIVE_TOP_ENTRIES_PER_BATCH);
    return [...this.items.values()];
  }
}
