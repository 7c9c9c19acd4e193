import type { CounterDelta, Granularity } from '../ports.js';
import type { Fact } from '../facts/schema.js';
import { bucketStart } from './buckets.js';
import { contributionsOf, GLOBAL_SCOPE, isTargetScope, isUserScope, REJECTIONS_SCOPE, SPARSE_HOUR_EVENTS, type DistinctSketch } from './contributions.js';
import { reduceCodes } from './hll.js';
import { topEntryMetric } from './topn.js';

/** The only sketch live items carry (see DeltaRollup). */
const LIVE_SKETCH: DistinctSketch = 'users';

export interface RollupOptions {
  /** seconds a live minute item is kept (TTL) */
  minuteTtlSeconds: number;
  /** seconds a live hour item (per-event and per-address scopes) is kept (TTL) */
  hourTtlSeconds: number;
}

/**
 * Pre-aggregates a batch into one delta per counter item: the write cost is one UpdateItem per
 * (scope, minute) the batch touches — (scope, hour) for per-event and per-address scopes
 * (`isTargetScope`) — not one per event or per metric. Live items carry **counts**:
 * distinct-count sketches and top-N lists are computed when the hour settles, from the facts, into
 * settled hour and day items (minute items have this counts-only shape, settled or not).
 * A sketch or a list in a live item grows with every batch that touches it: the busiest users' minute
 * items reached 60 KB at the design load, each update billed by that size. The exceptions: a
 * project's users sketch (daily active users is the first-party metric people watch live): one item
 * per project per minute, each batch adding at most one code per register; and a user's delta of at
 * most SPARSE_HOUR_EVENTS events carries its details (engager codes, top-list entries), so the minutes
 * of a sparse hour hold what its hour item would (the settle writes none): a few entries per batch.
 */
export class DeltaRollup {
  private readonly items = new Map<string, CounterDelta & { union: Record<string, number[]>; events: number; details?: Details }>();

  constructor(private readonly options: RollupOptions) {}

  addFact(fact: Fact): void {
    const minute = bucketStart(fact.created_at, 'm');
    const hour = bucketStart(fact.created_at, 'h');
    const c = contributionsOf(fact);
    // All-time totals are not added here: they are settled from the facts (all-time.ts), so a
    // redelivered batch or a copy from a second relay never inflates them.
    for (const { scope, metric, amount } of c.counts) {
      if (isTargetScope(scope)) this.bump(scope, 'h', hour, metric, amount);
      else this.bump(scope, 'm', minute, metric, amount);
    }
    for (const { scope, sketch, code } of c.distinct) if (sketch === LIVE_SKETCH) (this.item(scope, 'm', minute).union[sketch] ??= []).push(code);
    // A user's details, kept while its delta is small enough to carry them (deltas()).
    const users = new Set<string>();
    for (const { scope } of c.counts) if (isUserScope(scope)) users.add(scope);
    for (const scope of users) this.item(scope, 'm', minute).events++;
    for (const { scope, sketch, code } of c.distinct) if (isUserScope(scope)) (this.details(scope, minute).codes[sketch] ??= []).push(code);
    for (const { scope, list, key, amount } of c.tops) {
      if (!isUserScope(scope)) continue;
      const add = this.details(scope, minute).add;
      const metric = topEntryMetric(list, key);
      add[metric] = (add[metric] ?? 0) + amount;
    }
  }

  private details(scope: string, minute: number): Details {
    return (this.item(scope, 'm', minute).details ??= { codes: {}, add: {} });
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
      const expiresAt = granularity === 'm' ? bucket + this.options.minuteTtlSeconds : granularity === 'h' ? bucket + this.options.hourTtlSeconds : undefined;
      item = { scope, granularity, bucket, add: {}, union: {}, events: 0, expiresAt };
      this.items.set(key, item);
    }
    return item;
  }

  private bump(scope: string, granularity: Granularity, bucket: number, metric: string, amount: number): void {
    const item = this.item(scope, granularity, bucket);
    item.add[metric] = (item.add[metric] ?? 0) + amount;
  }

  deltas(): CounterDelta[] {
    const out: CounterDelta[] = [];
    for (const { details, events, ...item } of this.items.values()) {
      if (details && events <= SPARSE_HOUR_EVENTS) {
        for (const [name, codes] of Object.entries(details.codes)) (item.union[name] ??= []).push(...codes);
        for (const [metric, amount] of Object.entries(details.add)) item.add[metric] = (item.add[metric] ?? 0) + amount;
      }
      // One code per register per batch: the union of two batches' sketches is the same sketch.
      for (const [name, codes] of Object.entries(item.union)) item.union[name] = reduceCodes(codes);
      out.push(item);
    }
    return out;
  }
}

/** A user's minute delta's details: sketch codes and top-list entries (topEntryMetric). */
interface Details {
  codes: Record<string, number[]>;
  add: Record<string, number>;
}
