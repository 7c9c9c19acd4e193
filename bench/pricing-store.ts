import type { CounterDelta, CounterItem, CounterStore, EngagerRow, EngagerWrite, Granularity, StateRecord } from '../lib/ports.js';
import { sketchCodes } from '../lib/counters/hll.js';
import { engagerRowId, mergeEngagerWrites } from '../lib/counters/engager-lists.js';
import { engagerPartitionKey } from '../lib/adapters/aws/dynamodb-counter-store.js';
import { ALL_TIME_SCOPE, MONTH_TOTALS_SCOPE } from '../lib/counters/all-time.js';
import { GLOBAL_SCOPE } from '../lib/counters/contributions.js';
import { COUNTING_LAYOUT, DIRTY_DAYS, DIRTY_WEEKS, DIRTY_HOURS, DRIFT_HOURS, INGEST_HEARTBEAT, WATERMARK } from '../lib/counters/state.js';
import { engagerRowBytes, ItemSize, numberBytes, stateRecordBytes, wcu } from '../lib/adapters/aws/dynamodb-item-size.js';

/*
 * A CounterStore that prices every write as DynamoDB would bill it, for the load bench.
 *
 * It keeps what a load of millions of events needs to price writes (each item's current size, and for
 * minute items the numbers and set members an ADD's size depends on), and keeps whole only what the
 * settle code reads back: global day items (month totals), the month and all-time items, the control
 * records (dirty and drift marks, watermark, heartbeat). A read of anything else fails loudly, so a compactor that starts reading
 * other items back cannot be priced silently wrong.
 */

export type WriteKind =
  | 'live_m'
  | 'live_h'
  | 'live_all'
  | 'settled_m'
  | 'settled_t'
  | 'settled_h'
  | 'settled_q'
  | 'settled_d'
  | 'settled_w'
  | 'settled_total'
  | 'ev'
  | 'rev'
  | 'del'
  | 'dela'
  | 'vday'
  | 'vuser'
  | 'vtag'
  | 'likers'
  | 'zappers'
  | 'dirty_hour'
  | 'dirty_day'
  | 'dirty_week'
  | 'drift_hour'
  | 'dirty_clear'
  | 'heartbeat'
  | 'watermark'
  | 'layout'
  | 'unclassified';

export const WRITE_KINDS: { kind: WriteKind; label: string; request: string }[] = [
  { kind: 'live_m', label: 'live minute counters (ADD)', request: 'UpdateItem' },
  { kind: 'live_h', label: 'live hour counters, e: and a: (ADD)', request: 'UpdateItem' },
  { kind: 'live_all', label: 'live all-time rejection counts (ADD)', request: 'UpdateItem' },
  { kind: 'settled_m', label: 'settled minute items', request: 'BatchWrite Put' },
  { kind: 'settled_t', label: 'settled ten-minute items', request: 'BatchWrite Put' },
  { kind: 'settled_h', label: 'settled hour items', request: 'BatchWrite Put' },
  { kind: 'settled_q', label: 'settled quarter-day items', request: 'BatchWrite Put' },
  { kind: 'settled_d', label: 'settled day items', request: 'BatchWrite Put' },
  { kind: 'settled_w', label: 'settled week items', request: 'BatchWrite Put' },
  { kind: 'settled_total', label: 'month + all-time totals (g:month, g:total)', request: 'BatchWrite Put' },
  { kind: 'ev', label: 'event index ev:', request: 'BatchWrite Put' },
  { kind: 'rev', label: 'revisions rev:', request: 'BatchWrite Put' },
  { kind: 'del', label: 'deletions del:', request: 'BatchWrite Put' },
  { kind: 'dela', label: 'address deletions dela:', request: 'BatchWrite Put' },
  { kind: 'vday', label: 'video list vday:', request: 'BatchWrite Put' },
  { kind: 'vuser', label: 'video list vuser:', request: 'BatchWrite Put' },
  { kind: 'vtag', label: 'video list vtag:', request: 'BatchWrite Put' },
  { kind: 'likers', label: 'engager rows: video likers lk:', request: 'UpdateItem' },
  { kind: 'zappers', label: 'engager rows: zappers zp:', request: 'UpdateItem' },
  { kind: 'dirty_hour', label: 'state: dirty-hour marks', request: 'PutItem' },
  { kind: 'dirty_day', label: 'state: dirty-day marks', request: 'PutItem' },
  { kind: 'dirty_week', label: 'state: dirty-week marks', request: 'PutItem' },
  { kind: 'drift_hour', label: 'state: drift-hour marks', request: 'PutItem' },
  { kind: 'dirty_clear', label: 'state: dirty/drift mark clears', request: 'DeleteItem (conditional)' },
  { kind: 'heartbeat', label: 'state: ingest heartbeat', request: 'PutItem' },
  { kind: 'watermark', label: 'state: watermark', request: 'PutItem' },
  { kind: 'layout', label: 'state: counting layout (once per table)', request: 'PutItem' },
  { kind: 'unclassified', label: 'unclassified', request: '-' },
];

const INDEX_PREFIXES: [string, WriteKind][] = [
  ['ev:', 'ev'],
  ['rev:', 'rev'],
  ['dela:', 'dela'],
  ['del:', 'del'],
  ['vday:', 'vday'],
  ['vuser:', 'vuser'],
  ['vtag:', 'vtag'],
];
const CONTROL: Record<string, WriteKind> = { [DIRTY_HOURS]: 'dirty_hour', [DIRTY_DAYS]: 'dirty_day', [DIRTY_WEEKS]: 'dirty_week', [DRIFT_HOURS]: 'drift_hour', [INGEST_HEARTBEAT]: 'heartbeat', [WATERMARK]: 'watermark', [COUNTING_LAYOUT]: 'layout' };

export function stateKindOf(namespace: string): WriteKind {
  const control = CONTROL[namespace];
  if (control) return control;
  for (const [prefix, kind] of INDEX_PREFIXES) if (namespace.startsWith(prefix)) return kind;
  return 'unclassified';
}

export function putKindOf(item: { scope: string; granularity: Granularity }): WriteKind {
  if (item.granularity === 'all') return item.scope === MONTH_TOTALS_SCOPE || item.scope === ALL_TIME_SCOPE ? 'settled_total' : 'unclassified';
  return ({ m: 'settled_m', t: 'settled_t', h: 'settled_h', q: 'settled_q', d: 'settled_d', w: 'settled_w' } as const)[item.granularity];
}

export interface KindTally {
  /** write requests (one per item, batched or not) */
  writes: number;
  writeUnits: number;
  /** sum of the items' sizes after each write */
  bytes: number;
  maxBytes: number;
  maxKey: string;
}

export interface PricingOptions {
  /**
   * Keep each item's size, so UpdateItems and replacing Puts are priced on the larger of before and
   * after (default). Off: every write is priced as if it created its item (a single settle run, where
   * no item is written twice), and the store holds nothing per item.
   */
  trackItems?: boolean;
}

export interface HotItem {
  key: string;
  writes: number;
  maxBytes: number;
}

interface Tracked {
  size: ItemSize;
  writes: number;
  maxBytes: number;
}

export class PricingCounterStore implements CounterStore {
  readonly tally = Object.fromEntries(WRITE_KINDS.map(({ kind }) => [kind, { writes: 0, writeUnits: 0, bytes: 0, maxBytes: 0, maxKey: '' }])) as Record<WriteKind, KindTally>;
  private readonly items = new Map<string, Tracked>();
  private readonly states = new Map<string, { bytes: number; writes: number; expires?: boolean }>();
  private readonly kept = new KeptItems();
  private readonly trackItems: boolean;

  constructor(options: PricingOptions = {}) {
    this.trackItems = options.trackItems ?? true;
  }

  private count(kind: WriteKind, key: string, before: number, after: number): void {
    const t = this.tally[kind];
    t.writes++;
    t.writeUnits += wcu(Math.max(before, after));
    t.bytes += after;
    if (after > t.maxBytes) {
      t.maxBytes = after;
      t.maxKey = key;
    }
  }

  async add(deltas: CounterDelta[]): Promise<void> {
    for (const delta of deltas) {
      // As DynamoCounterStore: a delta with nothing to add is not sent.
      if (!Object.keys(delta.add).length && !Object.values(delta.union ?? {}).some((m) => m.length)) continue;
      const kind: WriteKind = delta.granularity === 'm' ? 'live_m' : delta.granularity === 'h' ? 'live_h' : delta.granularity === 'all' ? 'live_all' : 'unclassified';
      const key = `${delta.scope}#${delta.granularity}#${delta.bucket}`;
      let tracked = this.trackItems ? this.items.get(key) : undefined;
      if (!tracked) {
        tracked = { size: ItemSize.empty(delta.scope, delta.granularity, delta.bucket), writes: 0, maxBytes: 0 };
        if (this.trackItems) this.items.set(key, tracked);
      }
      const before = tracked.size.add(delta);
      this.touch(tracked);
      this.count(kind, key, before, tracked.size.bytes);
    }
  }

  async put(items: (CounterItem & { expiresAt?: number })[]): Promise<void> {
    for (const item of items) {
      const key = `${item.scope}#${item.granularity}#${item.bucket}`;
      const old = this.trackItems ? this.items.get(key) : undefined;
      // Minute items keep their contents: live ADDs of late events land on settled minutes too.
      const tracked: Tracked = { size: ItemSize.of(item, item.granularity === 'm'), writes: old?.writes ?? 0, maxBytes: old?.maxBytes ?? 0 };
      if (this.trackItems) this.items.set(key, tracked);
      this.touch(tracked);
      this.count(putKindOf(item), key, old?.size.bytes ?? 0, tracked.size.bytes);
      if (this.keeps(item.scope, item.granularity)) this.kept.put(item);
    }
  }

  private touch(tracked: Tracked): void {
    tracked.writes++;
    tracked.maxBytes = Math.max(tracked.maxBytes, tracked.size.bytes);
  }

  private keeps(scope: string, granularity: Granularity): boolean {
    return (granularity === 'd' && scope === GLOBAL_SCOPE) || granularity === 'all';
  }

  /** Engager rows, priced as DynamoCounterStore writes them: one UpdateItem per (list, pubkey) of the batch, the row growing by its tokens. */
  async addEngagers(rows: EngagerWrite[]): Promise<{ dropped: number }> {
    for (const row of mergeEngagerWrites(rows)) {
      const key = `${engagerPartitionKey(row.list)}#${engagerRowId(row.pubkey)}`;
      const old = this.trackItems ? this.states.get(key) : undefined;
      const tokens = (row.tokens ?? []).reduce((n, t) => n + numberBytes(t), 0);
      const bytes = (old?.bytes ?? engagerRowBytes(row.list, row.pubkey, row.ref)) + tokens;
      if (this.trackItems) this.states.set(key, { bytes, writes: (old?.writes ?? 0) + 1 });
      this.count(row.list.startsWith('zp:') ? 'zappers' : 'likers', key, old?.bytes ?? 0, bytes);
    }
    return { dropped: 0 };
  }

  async engagerPage(): Promise<EngagerRow[]> {
    throw new Error('PricingCounterStore keeps no engager rows: the code under test read one back');
  }

  async range(scope: string, granularity: Granularity, fromBucket: number, toBucket: number): Promise<CounterItem[]> {
    if (!this.keeps(scope, granularity)) throw new Error(`PricingCounterStore keeps no ${granularity} items of ${scope}: the settle code read back an item the bench does not hold`);
    return this.kept.range(scope, granularity, fromBucket, toBucket);
  }

  private writeState(namespace: string, id: number, value: Record<string, unknown>, expiresAt?: number): void {
    const kind = stateKindOf(namespace);
    const key = `${namespace}\u0000${id}`;
    const bytes = stateRecordBytes(namespace, id, value, expiresAt);
    const old = this.trackItems ? this.states.get(key) : undefined;
    if (this.trackItems) this.states.set(key, { bytes, writes: (old?.writes ?? 0) + 1, expires: expiresAt !== undefined });
    this.count(kind, key, old?.bytes ?? 0, bytes);
    if (kind === 'unclassified' || CONTROL[namespace]) this.kept.putState(namespace, id, value);
  }

  private readsState(namespace: string): void {
    if (!CONTROL[namespace] && stateKindOf(namespace) !== 'unclassified') throw new Error(`PricingCounterStore keeps no ${namespace} records: the code under test read one back`);
  }

  /** A control record that exists before the run (not a write of it). */
  seedState(namespace: string, id: number, value: Record<string, unknown>): void {
    if (!CONTROL[namespace]) throw new Error(`seedState is for control records, not ${namespace}`);
    this.kept.putState(namespace, id, value);
  }

  async getState(namespace: string, id: number): Promise<Record<string, unknown> | null> {
    this.readsState(namespace);
    return this.kept.getState(namespace, id);
  }

  async putState(namespace: string, id: number, value: Record<string, unknown>): Promise<void> {
    this.writeState(namespace, id, value);
  }

  /** Priced as a PutItem (a refused conditional put costs the same); refused when the store tracks the record already. */
  async putStateIfAbsent(namespace: string, id: number, value: Record<string, unknown>): Promise<boolean> {
    if (this.states.has(`${namespace}\u0000${id}`)) return false;
    this.writeState(namespace, id, value);
    return true;
  }

  async putStates(records: StateRecord[]): Promise<void> {
    // As DynamoCounterStore: one BatchWriteItem request cannot write a key twice, the last record wins.
    const byKey = new Map(records.map((r) => [`${r.namespace}\u0000${r.id}`, r]));
    for (const { namespace, id, value, expiresAt } of byKey.values()) this.writeState(namespace, id, value, expiresAt);
  }

  async listState(namespace: string): Promise<{ id: number; value: Record<string, unknown> }[]> {
    this.readsState(namespace);
    return this.kept.listState(namespace);
  }

  async deleteStateIf(namespace: string, id: number, field: string, expected: string | number): Promise<boolean> {
    this.readsState(namespace);
    const key = `${namespace}\u0000${id}`;
    const current = this.kept.getState(namespace, id);
    const bytes = current ? stateRecordBytes(namespace, id, current) : 0;
    // A conditional delete is billed on the item's size whether or not the condition holds.
    this.count('dirty_clear', key, bytes, 0);
    const deleted = this.kept.deleteStateIf(namespace, id, field, expected);
    if (deleted) this.states.delete(key);
    return deleted;
  }

  /** All write tallies added up. */
  totals(): { writes: number; writeUnits: number } {
    let writes = 0;
    let writeUnits = 0;
    for (const t of Object.values(this.tally)) {
      writes += t.writes;
      writeUnits += t.writeUnits;
    }
    return { writes, writeUnits };
  }

  /** The counter items and the state records written most often (the hot items), with the largest size each reached. */
  hottest(n: number): { counters: HotItem[]; records: HotItem[] } {
    const top = (entries: Iterable<HotItem>) => {
      const out: HotItem[] = [];
      for (const entry of entries) {
        if (out.length === n && entry.writes <= out[n - 1]!.writes) continue;
        out.push(entry);
        out.sort((a, b) => b.writes - a.writes);
        if (out.length > n) out.pop();
      }
      return out;
    };
    const counters = function* (items: Map<string, Tracked>) {
      for (const [key, t] of items) yield { key, writes: t.writes, maxBytes: t.maxBytes };
    };
    const records = function* (states: Map<string, { bytes: number; writes: number }>) {
      for (const [key, s] of states) yield { key: key.replace('\u0000', '#'), writes: s.writes, maxBytes: s.bytes };
    };
    return { counters: top(counters(this.items)), records: top(records(this.states)) };
  }

  /**
   * The items written at least `minWrites` times (hot: a minute item written 60 times took a write a
   * second while it was live): how many, how many are over `limitBytes`, and the largest of them.
   */
  hotAbove(minWrites: number, limitBytes: number): { items: number; over: number; largest: HotItem | null } {
    const out = { items: 0, over: 0, largest: null as HotItem | null };
    const consider = (key: string, writes: number, maxBytes: number) => {
      if (writes < minWrites) return;
      out.items++;
      if (maxBytes > limitBytes) out.over++;
      if (!out.largest || maxBytes > out.largest.maxBytes) out.largest = { key, writes, maxBytes };
    };
    for (const [key, t] of this.items) consider(key, t.writes, t.maxBytes);
    for (const [key, s] of this.states) consider(key.replace('\u0000', '#'), s.writes, s.bytes);
    return out;
  }

  /** Every item and record the table holds now (what the writes left), by counter granularity or state kind. */
  *inventory(): Generator<{ key: string; group: Granularity | WriteKind | `${WriteKind}~ttl`; bytes: number }> {
    for (const [key, t] of this.items) yield { key, group: key.slice(key.lastIndexOf('#', key.lastIndexOf('#') - 1) + 1, key.lastIndexOf('#')) as Granularity, bytes: t.size.bytes };
    // Records written with a TTL are their own group: the table keeps them for their retention only.
    for (const [key, s] of this.states) yield { key, group: `${stateKindOf(key.slice(0, key.indexOf('\u0000')))}${s.expires ? '~ttl' : ''}` as WriteKind, bytes: s.bytes };
  }
}

/** What the settle code reads back, indexed by partition so a day roll's reads stay cheap. */
class KeptItems {
  private readonly partitions = new Map<string, Map<number, CounterItem>>();
  private readonly state = new Map<string, Map<number, string>>();

  put(item: CounterItem & { expiresAt?: number }): void {
    const pk = `${item.scope}#${item.granularity}`;
    let partition = this.partitions.get(pk);
    if (!partition) this.partitions.set(pk, (partition = new Map()));
    const stored: CounterItem = { scope: item.scope, granularity: item.granularity, bucket: item.bucket, values: { ...item.values } };
    const sets = Object.entries(item.sets ?? {}).map(([name, sketch]) => [name, sketchCodes(sketch)] as const).filter(([, members]) => members.length);
    if (sets.length) stored.sets = Object.fromEntries(sets.map(([name, members]) => [name, [...members]]));
    if (item.tops && Object.keys(item.tops).length) stored.tops = { ...item.tops };
    partition.set(item.bucket, stored);
  }

  range(scope: string, granularity: Granularity, fromBucket: number, toBucket: number): CounterItem[] {
    const partition = this.partitions.get(`${scope}#${granularity}`);
    if (!partition) return [];
    return [...partition.values()].filter((item) => item.bucket >= fromBucket && item.bucket <= toBucket).sort((a, b) => a.bucket - b.bucket);
  }

  putState(namespace: string, id: number, value: Record<string, unknown>): void {
    let records = this.state.get(namespace);
    if (!records) this.state.set(namespace, (records = new Map()));
    records.set(id, JSON.stringify(value));
  }

  getState(namespace: string, id: number): Record<string, unknown> | null {
    const value = this.state.get(namespace)?.get(id);
    return value === undefined ? null : (JSON.parse(value) as Record<string, unknown>);
  }

  listState(namespace: string): { id: number; value: Record<string, unknown> }[] {
    return [...(this.state.get(namespace) ?? new Map<number, string>())].sort(([a], [b]) => a - b).map(([id, value]) => ({ id, value: JSON.parse(value) as Record<string, unknown> }));
  }

  deleteStateIf(namespace: string, id: number, field: string, expected: string | number): boolean {
    const value = this.getState(namespace, id);
    if (!value || value[field] !== expected) return false;
    this.state.get(namespace)!.delete(id);
    return true;
  }
}
