import type { CounterDelta, Granularity } from '../ports.js';
import type { Fact } from '../facts/schema.js';
import { bucketStart } from './buckets.js';
import { contributionsOf, GLOBAL_SCOPE } from './contributions.js';

export interface RollupOptions {
  /** seconds a live minute item is kept (TTL) */
  minuteTtlSeconds: number;
}

/**
 * Pre-aggregates a batch into one delta per counter item: the write cost is one UpdateItem per
 * (scope, minute) the batch touches, not one per event or per metric.
 */
export class DeltaRollup {
  private readonly items = new Map<string, CounterDelta>();

  constructor(private readonly options: RollupOptions) {}

  addFact(fact: Fact): void {
    for (const c of contributionsOf(fact)) {
      this.bump(c.scope, 'm', bucketStart(fact.created_at, 'm'), c.metric, c.amount);
      // All-time global totals back /api/stats without scanning buckets.
      if (c.scope === GLOBAL_SCOPE) this.bump(GLOBAL_SCOPE, 'all', 0, c.metric, c.amount);
    }
  }

  /** Counts a rejected event by reason, all-time and per minute of ingestion. */
  addRejection(reason: string, atSeconds: number): void {
    this.bump(GLOBAL_SCOPE, 'm', bucketStart(atSeconds, 'm'), `rejected:${reason}`, 1);
    this.bump(GLOBAL_SCOPE, 'all', 0, `rejected:${reason}`, 1);
  }

  private bump(scope: string, granularity: Granularity, bucket: number, metric: string, amount: number): void {
    const key = `${scope}|${granularity}|${bucket}`;
    let item = this.items.get(key);
    if (!item) {
      const expiresAt = granularity === 'm' ? bucket + this.options.minuteTtlSeconds : undefined;
      item = { scope, granularity, bucket, add: {}, expiresAt };
      this.items.set(key, item);
    }
    item.add[metric] = (item.add[metric] ?? 0) + amount;
  }

  deltas(): CounterDelta[] {
    return [...this.items.values()];
  }
}
