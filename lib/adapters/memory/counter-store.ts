import { ENGAGER_ROW_MAX_TOKENS, type CounterDelta, type CounterItem, type CounterStore, type EngagerRow, type EngagerWrite, type Granularity, type StateRecord } from '../../ports.js';
import { assertTopListNames } from '../../counters/topn.js';
import { sketchCodes } from '../../counters/hll.js';
import { engagerRowId, mergeEngagerWrites } from '../../counters/engager-lists.js';

/*
 * The in-memory CounterStore: the third adapter beside lib/adapters/aws (DynamoDB) and the local stack's
 * dynalite (lib/adapters/local). It does the work the store does (applies each delta as one UpdateItem
 * would, replaces items whole, keeps state records and engager rows) and counts the writes, in Maps.
 * It makes no promise about durability, concurrency or DynamoDB's exact semantics beyond what the
 * CounterStore port states; test/adapters/counter-store-contract.test.ts holds it to the same
 * behaviours as the DynamoDB adapter.
 */

interface StoredItem extends CounterItem {
  expiresAt?: number;
}

/** Counter items and state records in Maps; add() applies each delta as one UpdateItem would and counts it. */
export class MemoryCounterStore implements CounterStore {
  private readonly items = new Map<string, StoredItem>();
  /** state values as JSON text, as the DynamoDB store keeps them (so a caller's later mutation cannot leak in) */
  private readonly state = new Map<string, Map<number, string>>();
  /** add() calls (one per ingest batch) */
  addCalls = 0;
  /** deltas applied by add(): one DynamoDB UpdateItem each (deltas with nothing to add are skipped, as the DynamoDB store does) */
  updateItems = 0;
  /** items replaced by put() (BatchWriteItem puts) */
  putItems = 0;
  /** state records written by putState() (PutItem) and putStates() (BatchWriteItem puts), one write each */
  statePuts = 0;

  async add(deltas: CounterDelta[]): Promise<void> {
    this.addCalls++;
    for (const delta of deltas) {
      const union = Object.entries(delta.union ?? {}).filter(([, members]) => members.length > 0);
      if (!Object.keys(delta.add).length && !union.length) continue;
      for (const [metric, amount] of Object.entries(delta.add)) {
        if (!Number.isFinite(amount)) throw new Error(`counter ${delta.scope}/${metric}: amount must be finite, got ${amount}`);
      }
      this.updateItems++;
      const key = itemKey(delta.scope, delta.granularity, delta.bucket);
      let item = this.items.get(key);
      if (!item) {
        item = { scope: delta.scope, granularity: delta.granularity, bucket: delta.bucket, values: {} };
        this.items.set(key, item);
      }
      for (const [metric, amount] of Object.entries(delta.add)) item.values[metric] = (item.values[metric] ?? 0) + amount;
      for (const [attribute, members] of union) {
        const sets = (item.sets ??= {});
        sets[attribute] = [...new Set([...(sets[attribute] ?? []), ...members])];
      }
      if (delta.expiresAt !== undefined) item.expiresAt = delta.expiresAt;
    }
  }

  async put(items: (CounterItem & { expiresAt?: number })[]): Promise<void> {
    for (const item of items) {
      assertTopListNames(item);
      this.putItems++;
      const stored: StoredItem = { scope: item.scope, granularity: item.granularity, bucket: item.bucket, values: { ...item.values } };
      const sets = Object.entries(item.sets ?? {}).map(([name, sketch]) => [name, sketchCodes(sketch)] as const).filter(([, members]) => members.length > 0);
      if (sets.length) stored.sets = Object.fromEntries(sets.map(([name, members]) => [name, [...new Set(members)]]));
      // copies, as a store's bytes are its own: a caller's later change to its array cannot leak in
      if (item.tops && Object.keys(item.tops).length) stored.tops = Object.fromEntries(Object.entries(item.tops).map(([name, bytes]) => [name, bytes.slice()]));
      if (item.expiresAt !== undefined) stored.expiresAt = item.expiresAt;
      this.items.set(itemKey(item.scope, item.granularity, item.bucket), stored);
    }
  }

  async range(scope: string, granularity: Granularity, fromBucket: number, toBucket: number): Promise<CounterItem[]> {
    const out: CounterItem[] = [];
    for (const item of this.items.values()) {
      if (item.scope !== scope || item.granularity !== granularity || item.bucket < fromBucket || item.bucket > toBucket) continue;
      const copy: CounterItem = { scope, granularity, bucket: item.bucket, values: { ...item.values } };
      if (item.sets) copy.sets = Object.fromEntries(Object.entries(item.sets).map(([name, members]) => [name, [...members]]));
      if (item.tops) copy.tops = Object.fromEntries(Object.entries(item.tops).map(([name, bytes]) => [name, bytes.slice()]));
      out.push(copy);
    }
    return out.sort((a, b) => a.bucket - b.bucket);
  }

  /** engager rows by list, then row id, as the DynamoDB store keys them */
  private readonly engagers = new Map<string, Map<number, { pubkey: string; ref: string | null; tokens: Set<number> }>>();
  /** engager-row writes (UpdateItem each), dropped ones included */
  engagerWrites = 0;

  async addEngagers(rows: EngagerWrite[]): Promise<{ dropped: number }> {
    let dropped = 0;
    for (const row of mergeEngagerWrites(rows)) {
      this.engagerWrites++;
      let list = this.engagers.get(row.list);
      if (!list) this.engagers.set(row.list, (list = new Map()));
      const id = engagerRowId(row.pubkey);
      const stored = list.get(id);
      if (row.tokens?.length && stored && stored.tokens.size + row.tokens.length > ENGAGER_ROW_MAX_TOKENS) {
        dropped++;
        continue;
      }
      const next = stored ?? { pubkey: row.pubkey, ref: null, tokens: new Set<number>() };
      next.pubkey = row.pubkey;
      if (row.ref !== undefined) next.ref = row.ref;
      for (const token of row.tokens ?? []) next.tokens.add(token);
      list.set(id, next);
    }
    return { dropped };
  }

  async engagerPage(list: string, options: { after?: string; limit: number }): Promise<EngagerRow[]> {
    const after = options.after === undefined ? -1 : engagerRowId(options.after);
    return [...(this.engagers.get(list) ?? new Map<number, never>())]
      .filter(([id]) => id > after)
      .sort((a, b) => a[0] - b[0])
      .slice(0, options.limit)
      .map(([, row]) => ({ pubkey: row.pubkey, ref: row.ref, tokens: [...row.tokens] }));
  }

  async getState(namespace: string, id: number): Promise<Record<string, unknown> | null> {
    const value = this.state.get(namespace)?.get(id);
    return value === undefined ? null : (JSON.parse(value) as Record<string, unknown>);
  }

  async putState(namespace: string, id: number, value: Record<string, unknown>): Promise<void> {
    this.statePuts++;
    let records = this.state.get(namespace);
    if (!records) this.state.set(namespace, (records = new Map()));
    records.set(id, JSON.stringify(value));
  }

  async putStateIfAbsent(namespace: string, id: number, value: Record<string, unknown>): Promise<boolean> {
    if (this.state.get(namespace)?.has(id)) return false;
    await this.putState(namespace, id, value);
    return true;
  }

  async putStates(records: StateRecord[]): Promise<void> {
    for (const { namespace, id, value } of records) await this.putState(namespace, id, value);
  }

  async listState(namespace: string): Promise<{ id: number; value: Record<string, unknown> }[]> {
    return [...(this.state.get(namespace) ?? new Map<number, string>())]
      .sort(([a], [b]) => a - b)
      .map(([id, value]) => ({ id, value: JSON.parse(value) as Record<string, unknown> }));
  }

  async deleteStateIf(namespace: string, id: number, field: string, expected: string | number): Promise<boolean> {
    const records = this.state.get(namespace);
    const value = records?.get(id);
    if (value === undefined || (JSON.parse(value) as Record<string, unknown>)[field] !== expected) return false;
    records!.delete(id);
    return true;
  }

  /** number of counter items held */
  get itemCount(): number {
    return this.items.size;
  }
}

function itemKey(scope: string, granularity: Granularity, bucket: number): string {
  return `${scope}#${granularity}#${bucket}`;
}
