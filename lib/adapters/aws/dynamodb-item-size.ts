import { STATE_GUARD_FIELDS, type CounterDelta, type CounterItem } from '../../ports.js';
import { DENSE_SKETCH_FROM, engagerPartitionKey } from './dynamodb-counter-store.js';
import { emptyRegisters, foldSketch, packRegisters, sketchCodes } from '../../counters/hll.js';
import { engagerRowId } from '../../counters/engager-lists.js';

/*
 * DynamoDB item sizes and write units, as DynamoCounterStore lays its items out
 * (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html):
 * attribute name bytes + value bytes; strings UTF-8; numbers 1 byte per two significant digits + 1;
 * number sets the sum of their members. A write costs ceil(item size / 1 KB) WCU, at least 1 (an
 * UpdateItem, and a Put that replaces an item, the larger of the item before and after).
 */

const nameBytesCache = new Map<string, number>();
export function nameBytes(name: string): number {
  // Short names (metrics, `kind:<k>`, `eng_hHH`) repeat; long ones (`tp:<event id>`) rarely do.
  if (name.length > 24) return Buffer.byteLength(name);
  let n = nameBytesCache.get(name);
  if (n === undefined) nameBytesCache.set(name, (n = Buffer.byteLength(name)));
  return n;
}

export function numberBytes(value: number): number {
  let n = Math.abs(value);
  if (n === 0) return 2;
  if (!Number.isInteger(n)) {
    const digits = String(n).replace('.', '').replace(/^0+/, '').replace(/0+$/, '').replace(/e.*$/, '');
    return Math.ceil(digits.length / 2) + 1;
  }
  while (n % 10 === 0) n /= 10;
  let digits = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    digits++;
  }
  return Math.ceil(digits / 2) + 1;
}

const KEY_NAMES = 2 + 2; // 'pk', 'sk'
const TTL_NAME = 3; // 'ttl'

/** pk (`<scope>#<granularity>`) and sk (the bucket) of a counter item. */
export function counterKeyBytes(scope: string, granularity: string, bucket: number): number {
  return KEY_NAMES + Buffer.byteLength(`${scope}#${granularity}`) + numberBytes(bucket);
}

/** Size of a counter item as DynamoCounterStore writes it (pk, sk, ttl, numbers, number sets, strings). */
export function counterItemBytes(item: CounterItem & { expiresAt?: number }): number {
  let bytes = counterKeyBytes(item.scope, item.granularity, item.bucket);
  if (item.expiresAt !== undefined) bytes += TTL_NAME + numberBytes(item.expiresAt);
  for (const metric in item.values) bytes += nameBytes(metric) + numberBytes(item.values[metric]!);
  if (item.sets) {
    for (const name in item.sets) {
      const members = sketchCodes(item.sets[name]!);
      if (!members.length) continue;
      bytes += nameBytes(name);
      // Large sketches in settled items are stored as a packed register array (binary, ≈ 515 bytes).
      if (item.granularity !== 'm' && members.length > DENSE_SKETCH_FROM) bytes += packRegisters(foldSketch(emptyRegisters(), members)).length;
      else for (const m of members) bytes += numberBytes(m);
    }
  }
  if (item.tops) for (const name in item.tops) bytes += nameBytes(name) + item.tops[name]!.length;
  return bytes;
}

/** An engager row without tokens: pk `l:<list>`, sk, the pubkey in `p`, the ref in `r`. */
export function engagerRowBytes(list: string, pubkey: string, ref?: string): number {
  return KEY_NAMES + Buffer.byteLength(engagerPartitionKey(list)) + numberBytes(engagerRowId(pubkey)) + 1 + pubkey.length + (ref === undefined ? 0 : 1 + ref.length) + 1;
}

export const wcu = (bytes: number) => Math.max(1, Math.ceil(bytes / 1024));

/** A state record as DynamoCounterStore writes it: pk, sk, the JSON value in `v`, its guard fields mirrored as `f_` attributes. */
export function stateRecordBytes(namespace: string, id: number, value: Record<string, unknown>, expiresAt?: number): number {
  let bytes = KEY_NAMES + Buffer.byteLength(`s:${namespace}`) + numberBytes(id) + 1 + Buffer.byteLength(JSON.stringify(value));
  if (expiresAt !== undefined) bytes += nameBytes('ttl') + numberBytes(expiresAt);
  for (const field of STATE_GUARD_FIELDS) {
    const v = value[field];
    if (typeof v === 'number') bytes += 2 + nameBytes(field) + numberBytes(v);
    else if (typeof v === 'string' && v.length <= 1024) bytes += 2 + nameBytes(field) + Buffer.byteLength(v);
  }
  return bytes;
}

/**
 * A counter item's size, kept current as ADDs land on it: what an UpdateItem needs to be priced
 * (the item before and after). It holds the numbers and set members (an ADD's effect on the size
 * depends on them) but no key strings or top lists, which only count as fixed bytes.
 */
export class ItemSize {
  bytes: number;
  private values: Map<string, number> | undefined;
  private sets: Map<string, Set<number>> | undefined;
  private ttl: number | undefined;

  private constructor(bytes: number) {
    this.bytes = bytes;
  }

  /** An item that does not exist yet (an UpdateItem creates it). */
  static empty(scope: string, granularity: string, bucket: number): ItemSize {
    return new ItemSize(counterKeyBytes(scope, granularity, bucket));
  }

  /** An item as a Put writes it; `keepContents` when later ADDs may land on it (minute items). */
  static of(item: CounterItem & { expiresAt?: number }, keepContents: boolean): ItemSize {
    const size = new ItemSize(counterItemBytes(item));
    if (keepContents) {
      size.ttl = item.expiresAt;
      size.values = new Map(Object.entries(item.values));
      for (const [name, sketch] of Object.entries(item.sets ?? {})) {
        const members = sketchCodes(sketch);
        if (members.length) (size.sets ??= new Map()).set(name, new Set(members));
      }
    }
    return size;
  }

  /** Applies an ADD (and its SET ttl) as DynamoDB does; returns the size before. */
  add(delta: CounterDelta): number {
    const before = this.bytes;
    let bytes = before;
    if (delta.expiresAt !== undefined && delta.expiresAt !== this.ttl) {
      bytes += this.ttl === undefined ? TTL_NAME + numberBytes(delta.expiresAt) : numberBytes(delta.expiresAt) - numberBytes(this.ttl);
      this.ttl = delta.expiresAt;
    }
    const values = (this.values ??= new Map());
    for (const metric in delta.add) {
      const amount = delta.add[metric]!;
      const old = values.get(metric);
      if (old === undefined) bytes += nameBytes(metric) + numberBytes(amount);
      else bytes += numberBytes(old + amount) - numberBytes(old);
      values.set(metric, (old ?? 0) + amount);
    }
    for (const name in delta.union ?? {}) {
      const members = delta.union![name]!;
      if (!members.length) continue;
      const sets = (this.sets ??= new Map());
      let set = sets.get(name);
      if (!set) {
        sets.set(name, (set = new Set()));
        bytes += nameBytes(name);
      }
      for (const m of members) {
        if (set.has(m)) continue;
        set.add(m);
        bytes += numberBytes(m);
      }
    }
    this.bytes = bytes;
    return before;
  }
}
