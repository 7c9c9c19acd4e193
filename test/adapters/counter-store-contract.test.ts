import { createHash } from 'node:crypto';
import { decodeTopList, encodeTopList } from '../../lib/counters/topn.js';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { GetItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { LOCAL_TABLE, startDynalite, type LocalDynamo } from '../../lib/adapters/local/dynalite.js';
import { MemoryCounterStore } from '../../lib/adapters/memory/index.js';
import { ENGAGER_ROW_MAX_TOKENS, type CounterStore, type Sketch } from '../../lib/ports.js';
import { codesOfRegisters, hllCode, hllEstimate, reduceCodes } from '../../lib/counters/hll.js';

/**
 * One CounterStore contract, run against every adapter that implements the port: the in-memory store
 * (lib/adapters/memory, what the unit tests and `funnel bench` use) and the DynamoDB adapter
 * (lib/adapters/aws) against an in-process dynalite over HTTP, as the local stack runs it. What only
 * DynamoDB's item layout can show (ttl and mirrored attributes, dense binary sketches) is
 * checked below the contract, on dynalite's raw items.
 *
 * The AWS adapter against aws-sdk-client-mock is not a third column here: the contract is about what a
 * store holds after a sequence of writes, and a mock holds nothing (it would need a DynamoDB of its own
 * that interprets ADD, SET and conditions). test/adapters/aws-adapters.test.ts checks, on the mock, that
 * the adapter sends the requests these behaviours rest on (UpdateItem ADD, BatchWriteItem retries,
 * paged Query, conditional DeleteItem).
 */

let dynamo: LocalDynamo;
beforeAll(async () => {
  dynamo = await startDynalite(undefined);
});
afterAll(async () => {
  await dynamo?.close();
});
afterEach(() => {
  vi.restoreAllMocks();
});

const adapters: { name: string; store: () => CounterStore; /** the SDK client under the store, where there is one */ client?: () => LocalDynamo['client'] }[] = [
  { name: 'memory', store: () => new MemoryCounterStore() },
  // One table for the whole file: every behaviour below uses scopes and namespaces of its own.
  { name: 'dynamodb (dynalite)', store: () => dynamo.counters, client: () => dynamo.client },
];

/** A sketch as its sorted register codes, whichever form the store hands back (number set or register array). */
const codesOf = (sketch: Sketch | undefined) => (sketch instanceof Uint8Array ? codesOfRegisters(sketch) : reduceCodes([...(sketch ?? [])]).sort((a, b) => a - b));
const pubkey = (n: number) => n.toString(16).padStart(4, '0').repeat(16);

describe.each(adapters)('CounterStore contract: $name', ({ name, store: open, client }) => {
  let store: CounterStore;
  beforeAll(() => {
    store = open();
  });
  /** a scope or namespace of this adapter's own, so the two share nothing */
  const own = (id: string) => `${id}-${name.split(' ')[0]}`;

  describe('add', () => {
    it('accumulates across calls and within one batch (ADD semantics)', async () => {
      const scope = own('u:acc');
      await store.add([
        { scope, granularity: 'h', bucket: 3600, add: { events: 2, zaps: 100 } },
        { scope, granularity: 'h', bucket: 7200, add: { events: 1 } },
      ]);
      await store.add([{ scope, granularity: 'h', bucket: 3600, add: { events: 3, reactions: 1 } }]);
      // two deltas on the same item in one batch both land
      await store.add([
        { scope, granularity: 'h', bucket: 3600, add: { zaps: 50 } },
        { scope, granularity: 'h', bucket: 3600, add: { zaps: 25, events: -1 } },
      ]);
      expect(await store.range(scope, 'h', 0, 10_000)).toEqual([
        { scope, granularity: 'h', bucket: 3600, values: { events: 4, zaps: 175, reactions: 1 } },
        { scope, granularity: 'h', bucket: 7200, values: { events: 1 } },
      ]);
    });

    it('unions number sets (sparse sketches merge) and keeps expiresAt out of the values', async () => {
      const scope = own('u:union');
      await store.add([{ scope, granularity: 'm', bucket: 60, add: { events: 1 }, union: { engagers: [65, 130] }, expiresAt: 1_900_000_000 }]);
      await store.add([{ scope, granularity: 'm', bucket: 60, add: { events: 1 }, union: { engagers: [130, 195] } }]);
      const [item] = await store.range(scope, 'm', 60, 60);
      expect(item!.values).toEqual({ events: 2 });
      expect([...(item!.sets!.engagers as number[])].sort((a, b) => a - b)).toEqual([65, 130, 195]);
    });

    it('writes nothing for a delta with nothing to add, and refuses a non-finite amount by name', async () => {
      const scope = own('u:empty');
      await store.add([{ scope, granularity: 'h', bucket: 0, add: {}, union: { engagers: [] } }]);
      expect(await store.range(scope, 'h', 0, 0)).toEqual([]);
      await expect(store.add([{ scope, granularity: 'h', bucket: 0, add: { events: Number.NaN } }])).rejects.toThrow(`${scope}/events`);
      expect(await store.range(scope, 'h', 0, 0)).toEqual([]);
    });

    it('takes metric names that are DynamoDB reserved words or hold odd characters', async () => {
      const scope = own('g');
      await store.add([{ scope, granularity: 'd', bucket: 86400, add: { count: 1, size: 10, 'kind:7': 2, 'a.b': 3 } }]);
      await store.add([{ scope, granularity: 'd', bucket: 86400, add: { count: 1 } }]);
      expect(await store.range(scope, 'd', 86400, 86400)).toEqual([{ scope, granularity: 'd', bucket: 86400, values: { count: 2, size: 10, 'kind:7': 2, 'a.b': 3 } }]);
    });
  });

  describe('range', () => {
    it('returns only buckets in [from, to] of the given scope and granularity, in bucket order', async () => {
      const scope = own('u:rng');
      await store.put([
        ...[0, 3600, 7200, 10800, 14400].map((bucket) => ({ scope, granularity: 'h' as const, bucket, values: { events: bucket / 3600 } })),
        // same scope, other granularity; other scope, same granularity; a scope that is a prefix
        { scope, granularity: 'd', bucket: 3600, values: { events: 100 } },
        { scope: `${scope}2`, granularity: 'h', bucket: 3600, values: { events: 200 } },
        { scope: scope.slice(0, -1), granularity: 'h', bucket: 3600, values: { events: 300 } },
      ]);
      const items = await store.range(scope, 'h', 3600, 10800);
      expect(items.map((i) => i.bucket)).toEqual([3600, 7200, 10800]);
      expect(items.map((i) => i.values.events)).toEqual([1, 2, 3]);
      expect(items.every((i) => i.scope === scope && i.granularity === 'h')).toBe(true);
      expect(await store.range(scope, 'h', 3601, 7199)).toEqual([]);
      expect((await store.range(scope, 'h', 14400, 99_999)).map((i) => i.bucket)).toEqual([14400]);
      expect((await store.range(scope, 'd', 0, 99_999)).map((i) => i.values.events)).toEqual([100]);
      expect(await store.range(own('u:nobody'), 'h', 0, 99_999)).toEqual([]);
    });

    it('returns every item of a large range (3,000 items of 40 metrics, over 1 MB: DynamoDB pages it), values intact', async () => {
      const scope = own('u:big');
      const count = 3000;
      const metricNames = Array.from({ length: 40 }, (_, m) => `metric_${m}`);
      const value = (i: number, m: number) => 1_234_567_890_000 + i * 100 + m;
      const items = Array.from({ length: count }, (_, i) => ({ scope, granularity: 'm' as const, bucket: i * 60, values: Object.fromEntries(metricNames.map((n, m) => [n, value(i, m)])) }));
      await store.put(items);
      // 40 metrics of 13-digit values: dynalite counts about 430 bytes an item toward the 1 MB page
      // limit (it counts attribute names as one byte), so 3000 items are about 1.3 MB: several Queries.
      const send = client ? vi.spyOn(client(), 'send') : null;
      const back = await store.range(scope, 'm', 0, (count - 1) * 60);
      if (send) expect(send.mock.calls.filter(([command]) => command instanceof QueryCommand).length).toBeGreaterThan(1);
      expect(back).toHaveLength(count);
      expect(back.map((i) => i.bucket)).toEqual(items.map((i) => i.bucket));
      expect(back[0]!.values).toEqual(items[0]!.values);
      expect(back[count - 1]!.values).toEqual(items[count - 1]!.values);
      expect(back[1234]!.values.metric_5).toBe(value(1234, 5));
    });

    it('hands out copies: changing what it returned changes nothing stored', async () => {
      const scope = own('u:copy');
      const list = encodeTopList([['nostr', 2]]);
      await store.put([{ scope, granularity: 'h', bucket: 0, values: { events: 1 }, tops: { top_tags: list } }]);
      list[1] = 9;
      const [item] = await store.range(scope, 'h', 0, 0);
      item!.values.events = 99;
      item!.tops!.top_tags![1] = 9;
      const [again] = await store.range(scope, 'h', 0, 0);
      expect(again!.values).toEqual({ events: 1 });
      expect(decodeTopList(again!.tops!.top_tags!)).toEqual([['nostr', 2]]);
    });
  });

  describe('put', () => {
    it('replaces an item whole, dropping attributes the new item lacks', async () => {
      const scope = own('u:put');
      await store.add([{ scope, granularity: 'd', bucket: 0, add: { events: 5, zaps: 7, stale: 1 }, union: { engagers: [65] }, expiresAt: 1_800_000_000 }]);
      await store.put([{ scope, granularity: 'd', bucket: 0, values: { events: 9, reactions: 2 } }]);
      expect(await store.range(scope, 'd', 0, 0)).toEqual([{ scope, granularity: 'd', bucket: 0, values: { events: 9, reactions: 2 } }]);
    });

    it('is idempotent, and a later add adds on top of a put item', async () => {
      const scope = own('u:put2');
      const item = { scope, granularity: 'h' as const, bucket: 3600, values: { events: 3 }, tops: { top_posts: encodeTopList([['a'.repeat(64), 1]]) }, expiresAt: 1_850_000_000 };
      await store.put([item]);
      await store.put([item]);
      const [back] = await store.range(scope, 'h', 3600, 3600);
      expect({ ...back, tops: { top_posts: decodeTopList(back!.tops!.top_posts!) } }).toEqual({ scope, granularity: 'h', bucket: 3600, values: { events: 3 }, tops: { top_posts: [['a'.repeat(64), 1]] } });
      await store.add([{ scope, granularity: 'h', bucket: 3600, add: { events: 1, zaps: 2 } }]);
      expect((await store.range(scope, 'h', 3600, 3600))[0]!.values).toEqual({ events: 4, zaps: 2 });
    });

    it('keeps sketches: small and large, hour, day and minute items read back as the same registers and estimate', async () => {
      const scope = own('sk');
      const codes = reduceCodes(Array.from({ length: 5000 }, (_, i) => hllCode(createHash('sha256').update(String(i)).digest('hex'))));
      const small = codes.slice(0, 10);
      await store.put([
        { scope, granularity: 'd', bucket: 86400, values: { n: 1 }, sets: { engagers: codes } },
        { scope, granularity: 'h', bucket: 3600, values: { n: 1 }, sets: { engagers: small, none: [] } },
        { scope, granularity: 'm', bucket: 60, values: { n: 1 }, sets: { engagers: codes } },
      ]);
      const [day] = await store.range(scope, 'd', 0, 86400);
      expect(codesOf(day!.sets!.engagers)).toEqual([...codes].sort((a, b) => a - b));
      expect(hllEstimate(day!.sets!.engagers!)).toBe(hllEstimate(codes));
      const [hour] = await store.range(scope, 'h', 3600, 3600);
      expect(codesOf(hour!.sets!.engagers)).toEqual([...small].sort((a, b) => a - b));
      // an empty sketch is not stored
      expect(hour!.sets!.none).toBeUndefined();
      // Put back as read, the item reads the same again.
      await store.put([{ ...day!, scope: `${scope}-again` }]);
      expect(codesOf((await store.range(`${scope}-again`, 'd', 86400, 86400))[0]!.sets!.engagers)).toEqual(codesOf(day!.sets!.engagers));
      // A minute item's sketch stays a number set, so a live ADD still merges into it.
      await store.add([{ scope, granularity: 'm', bucket: 60, add: { n: 1 }, union: { engagers: [65] } }]);
      const [minute] = await store.range(scope, 'm', 60, 60);
      expect(Array.isArray(minute!.sets!.engagers)).toBe(true);
      expect(minute!.sets!.engagers).toContain(65);
      expect(minute!.values.n).toBe(2);
    });
  });

  describe('state', () => {
    it('putState/getState round-trip; a missing record is null; a later put replaces it', async () => {
      const ns = own('rt');
      const value = { markedAt: 1_700_000_000_123, relay: 'wss://relay.example', nested: { list: [1, 'two'] }, ok: true };
      await store.putState(ns, 42, value);
      expect(await store.getState(ns, 42)).toEqual(value);
      expect(await store.getState(ns, 43)).toBeNull();
      expect(await store.getState(`${ns}-other`, 42)).toBeNull();
      await store.putState(ns, 42, { markedAt: 1 });
      expect(await store.getState(ns, 42)).toEqual({ markedAt: 1 });
    });

    it('keeps a copy: changing the value after putState (or what getState returned) changes nothing stored', async () => {
      const ns = own('copy');
      const value = { list: [1] };
      await store.putState(ns, 1, value);
      value.list.push(2);
      (await store.getState(ns, 1))!.list = 'changed';
      expect(await store.getState(ns, 1)).toEqual({ list: [1] });
    });

    it('putStateIfAbsent writes only the first time: of two writers one wins', async () => {
      const ns = own('once');
      const results = await Promise.all([store.putStateIfAbsent(ns, 7, { owner: 'a' }), store.putStateIfAbsent(ns, 7, { owner: 'b' })]);
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = results[0] ? 'a' : 'b';
      expect(await store.getState(ns, 7)).toEqual({ owner: winner });
      expect(await store.putStateIfAbsent(ns, 7, { owner: 'c' })).toBe(false);
      expect(await store.getState(ns, 7)).toEqual({ owner: winner });
    });

    it('putStates writes many records, expiresAt kept out of the value', async () => {
      const ns = own('many');
      await store.putStates([
        { namespace: ns, id: 2, value: { n: 2 }, expiresAt: 1_705_356_800 },
        { namespace: ns, id: 1, value: { n: 1 } },
        { namespace: `${ns}-b`, id: 1, value: { n: -1 } },
      ]);
      expect(await store.listState(ns)).toEqual([
        { id: 1, value: { n: 1 } },
        { id: 2, value: { n: 2 } },
      ]);
      expect(await store.getState(`${ns}-b`, 1)).toEqual({ n: -1 });
    });

    it('listState lists only its own namespace, by numeric id', async () => {
      const ns = own('list-a');
      await store.putState(ns, 100, { n: 100 });
      await store.putState(ns, 2, { n: 2 });
      await store.putState(ns, 10, { n: 10 });
      await store.putState(`${ns}b`, 1, { n: -1 });
      await store.putState(ns.slice(0, -1), 1, { n: -2 });
      // a counter whose scope looks like the state namespace must not leak into the list either
      await store.add([{ scope: ns, granularity: 'h', bucket: 5, add: { events: 1 } }]);
      expect(await store.listState(ns)).toEqual([
        { id: 2, value: { n: 2 } },
        { id: 10, value: { n: 10 } },
        { id: 100, value: { n: 100 } },
      ]);
      expect(await store.listState(`${ns}b`)).toEqual([{ id: 1, value: { n: -1 } }]);
      expect(await store.listState(own('list-empty'))).toEqual([]);
    });

    it('deleteStateIf deletes only while the guarded number field matches', async () => {
      const ns = own('dirty');
      await store.putState(ns, 3600, { markedAt: 1000 });
      expect(await store.deleteStateIf(ns, 3600, 'markedAt', 999)).toBe(false);
      expect(await store.getState(ns, 3600)).toEqual({ markedAt: 1000 });
      // a re-mark between read and delete survives the delete of the old mark
      await store.putState(ns, 3600, { markedAt: 2000 });
      expect(await store.deleteStateIf(ns, 3600, 'markedAt', 1000)).toBe(false);
      expect(await store.getState(ns, 3600)).toEqual({ markedAt: 2000 });
      expect(await store.deleteStateIf(ns, 3600, 'markedAt', 2000)).toBe(true);
      expect(await store.getState(ns, 3600)).toBeNull();
      expect(await store.listState(ns)).toEqual([]);
    });

    it('deleteStateIf with a string guard, a type mismatch, a missing field and a missing record', async () => {
      const ns = own('guard');
      await store.putState(ns, 1, { mark: 'worker-a', markedAt: 5, owner: 'not a guard field' });
      expect(await store.deleteStateIf(ns, 1, 'mark', 'worker-b')).toBe(false);
      // the number 5 is not the string "5"
      expect(await store.deleteStateIf(ns, 1, 'markedAt', '5')).toBe(false);
      await store.putState(ns, 3, { markedAt: 1 });
      expect(await store.deleteStateIf(ns, 3, 'mark', 'x')).toBe(false);
      expect(await store.getState(ns, 1)).toEqual({ mark: 'worker-a', markedAt: 5, owner: 'not a guard field' });
      expect(await store.deleteStateIf(ns, 2, 'mark', 'worker-a')).toBe(false);
      expect(await store.getState(ns, 2)).toBeNull();
      expect(await store.deleteStateIf(ns, 1, 'mark', 'worker-a')).toBe(true);
      expect(await store.getState(ns, 1)).toBeNull();
    });

    it('deleteStateIf touches only the addressed record', async () => {
      const ns = own('iso');
      await store.putState(ns, 1, { markedAt: 7 });
      await store.putState(ns, 2, { markedAt: 7 });
      await store.putState(`${ns}-other`, 1, { markedAt: 7 });
      expect(await store.deleteStateIf(ns, 1, 'markedAt', 7)).toBe(true);
      expect(await store.listState(ns)).toEqual([{ id: 2, value: { markedAt: 7 } }]);
      expect(await store.listState(`${ns}-other`)).toEqual([{ id: 1, value: { markedAt: 7 } }]);
    });
  });

  describe('engager lists', () => {
    it('one row per pubkey, in pubkey order, paged after a pubkey; a redelivered write changes nothing', async () => {
      const list = own('zp:e:order');
      const writes = [3, 1, 2].map((n) => ({ list, pubkey: pubkey(n), tokens: [n * 10] }));
      await store.addEngagers(writes);
      await store.addEngagers([...writes, { list, pubkey: pubkey(1), tokens: [10, 11] }]);
      const all = await store.engagerPage(list, { limit: 10 });
      expect(all.map((r) => r.pubkey)).toEqual([pubkey(1), pubkey(2), pubkey(3)]);
      expect(all.map((r) => r.tokens.sort((a, b) => a - b))).toEqual([[10, 11], [20], [30]]);
      expect((await store.engagerPage(list, { limit: 1 })).map((r) => r.pubkey)).toEqual([pubkey(1)]);
      expect((await store.engagerPage(list, { after: pubkey(1), limit: 5 })).map((r) => r.pubkey)).toEqual([pubkey(2), pubkey(3)]);
      expect(await store.engagerPage(list, { after: pubkey(3), limit: 5 })).toEqual([]);
      expect(await store.engagerPage(own('zp:e:empty'), { limit: 5 })).toEqual([]);
    });

    it('sets the ref (the last one wins) and keeps rows without tokens', async () => {
      const list = own('lk:a:refs');
      await store.addEngagers([{ list, pubkey: pubkey(7), ref: 'r1' }]);
      await store.addEngagers([{ list, pubkey: pubkey(7), ref: 'r2' }]);
      expect(await store.engagerPage(list, { limit: 5 })).toEqual([{ pubkey: pubkey(7), ref: 'r2', tokens: [] }]);
    });

    it(`a row takes at most ENGAGER_ROW_MAX_TOKENS (${ENGAGER_ROW_MAX_TOKENS}) tokens: a write past it is dropped and counted, the row stays`, async () => {
      const list = own('zp:e:full');
      const many = Array.from({ length: ENGAGER_ROW_MAX_TOKENS + 5 }, (_, i) => i + 1);
      // one batch is cut at the bound before it is sent
      expect(await store.addEngagers([{ list, pubkey: pubkey(9), tokens: many }])).toEqual({ dropped: 0 });
      expect((await store.engagerPage(list, { limit: 1 }))[0]!.tokens).toHaveLength(ENGAGER_ROW_MAX_TOKENS);
      expect(await store.addEngagers([{ list, pubkey: pubkey(9), tokens: [999_999] }, { list, pubkey: pubkey(8), tokens: [1] }])).toEqual({ dropped: 1 });
      const rows = await store.engagerPage(list, { limit: 5 });
      expect(rows.map((r) => [r.pubkey, r.tokens.length])).toEqual([
        [pubkey(8), 1],
        [pubkey(9), ENGAGER_ROW_MAX_TOKENS],
      ]);
    });
  });
});

describe('the DynamoDB adapter on dynalite: what its item layout shows', () => {
  const rawItem = async (pk: string, sk: number) => (await dynamo.client.send(new GetItemCommand({ TableName: LOCAL_TABLE, Key: { pk: { S: pk }, sk: { N: String(sk) } }, ConsistentRead: true }))).Item;

  it('add sets the ttl attribute when expiresAt is given; a later add without it leaves it, one with it moves it', async () => {
    const store = dynamo.counters;
    await store.add([{ scope: 'e:ttl', granularity: 'm', bucket: 60, add: { events: 1 }, expiresAt: 1_900_000_000 }]);
    await store.add([{ scope: 'e:ttl', granularity: 'm', bucket: 120, add: { events: 1 } }]);
    const withTtl = await rawItem('e:ttl#m', 60);
    expect(withTtl?.ttl).toEqual({ N: '1900000000' });
    expect(withTtl?.events).toEqual({ N: '1' });
    const withoutTtl = await rawItem('e:ttl#m', 120);
    expect(withoutTtl).toBeDefined();
    expect(withoutTtl?.ttl).toBeUndefined();
    await store.add([{ scope: 'e:ttl', granularity: 'm', bucket: 60, add: { events: 1 } }]);
    expect((await rawItem('e:ttl#m', 60))?.ttl).toEqual({ N: '1900000000' });
    await store.add([{ scope: 'e:ttl', granularity: 'm', bucket: 60, add: { events: 1 }, expiresAt: 1_950_000_000 }]);
    const moved = await rawItem('e:ttl#m', 60);
    expect(moved?.ttl).toEqual({ N: '1950000000' });
    expect(moved?.events).toEqual({ N: '3' });
  });

  it('put drops the attributes (ttl included) the new item lacks, and sets ttl when expiresAt is given', async () => {
    const store = dynamo.counters;
    await store.add([{ scope: 'u:rawput', granularity: 'd', bucket: 0, add: { events: 5, zaps: 7, stale: 1 }, expiresAt: 1_800_000_000 }]);
    await store.put([{ scope: 'u:rawput', granularity: 'd', bucket: 0, values: { events: 9, reactions: 2 } }]);
    const raw = await rawItem('u:rawput#d', 0);
    expect(raw?.stale).toBeUndefined();
    expect(raw?.zaps).toBeUndefined();
    expect(raw?.ttl).toBeUndefined();
    await store.put([{ scope: 'u:rawput', granularity: 'h', bucket: 3600, values: { events: 3 }, expiresAt: 1_850_000_000 }]);
    expect((await rawItem('u:rawput#h', 3600))?.ttl).toEqual({ N: '1850000000' });
  });

  it('mirrors only the guard fields as attributes: an event-index record is its JSON value and keys', async () => {
    const value = { id: 'a'.repeat(64), author: 'b'.repeat(64), kind: 1, type: 'note', created_at: 1_700_000_000, title: null };
    await dynamo.counters.putState('ev:x', 0, value);
    expect(Object.keys((await rawItem('s:ev:x', 0))!).sort()).toEqual(['pk', 'sk', 'v']);
    await dynamo.counters.putState('dirty-raw', 1, { markedAt: 5, mark: 'w', other: 1 });
    expect(Object.keys((await rawItem('s:dirty-raw', 1))!).sort()).toEqual(['f_mark', 'f_markedAt', 'pk', 'sk', 'v']);
  });

  it('putStates sets ttl on the records given an expiresAt, and only on those', async () => {
    await dynamo.counters.putStates([
      { namespace: 'ev:ttl1', id: 0, value: { author: 'b'.repeat(64), kind: 1, type: 'note', created_at: 1_700_000_000 }, expiresAt: 1_705_356_800 },
      { namespace: 'ev:ttl2', id: 0, value: { author: 'c'.repeat(64), kind: 34235, type: 'video', created_at: 1_700_000_000 } },
    ]);
    expect((await rawItem('s:ev:ttl1', 0))?.ttl).toEqual({ N: '1705356800' });
    expect((await rawItem('s:ev:ttl2', 0))?.ttl).toBeUndefined();
  });

  it('a large settled sketch is stored as its packed register array (about half of 1,024 bytes), read as the array, and Put back as the same bytes; small ones and minute items stay number sets', async () => {
    const store = dynamo.counters;
    const codes = reduceCodes(Array.from({ length: 5000 }, (_, i) => hllCode(createHash('sha256').update(String(i)).digest('hex'))));
    await store.put([
      { scope: 'sk:dense', granularity: 'd', bucket: 86400, values: { n: 1 }, sets: { engagers: codes } },
      { scope: 'sk:minute', granularity: 'm', bucket: 60, values: { n: 1 }, sets: { engagers: codes } },
      { scope: 'sk:small', granularity: 'h', bucket: 3600, values: { n: 1 }, sets: { engagers: codes.slice(0, 10) } },
    ]);
    const [dense] = await store.range('sk:dense', 'd', 0, 86400);
    expect(dense!.sets!.engagers).toBeInstanceOf(Uint8Array);
    expect(dense!.sets!.engagers).toHaveLength(1024);
    expect(codesOfRegisters(dense!.sets!.engagers as Uint8Array)).toEqual(codes);
    await store.put([{ ...dense!, scope: 'sk:dense-again' }]);
    const raw = await rawItem('sk:dense#d', 86400);
    expect(raw!.engagers!.B!.length).toBeLessThan(560);
    expect((await rawItem('sk:dense-again#d', 86400))!.engagers!.B).toEqual(raw!.engagers!.B);
    expect((await rawItem('sk:minute#m', 60))!.engagers!.NS).toHaveLength(codes.length);
    expect((await rawItem('sk:small#h', 3600))!.engagers!.NS).toHaveLength(10);
  });
});
