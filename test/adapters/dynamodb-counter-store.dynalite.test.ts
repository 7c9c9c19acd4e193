import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { GetItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { LOCAL_TABLE, startDynalite, type LocalDynamo } from '../../lib/adapters/local/dynalite.js';
import type { DynamoCounterStore } from '../../lib/adapters/aws/dynamodb-counter-store.js';
import { MemoryCounterStore } from '../../lib/bench/memory-ports.js';
import { ENGAGER_ROW_MAX_TOKENS } from '../../lib/ports.js';

/** The real DynamoDB adapter against an in-process dynalite over HTTP. Each test uses its own scopes. */
let dynamo: LocalDynamo;
let store: DynamoCounterStore;

beforeAll(async () => {
  dynamo = await startDynalite(undefined);
  store = dynamo.counters;
});
afterAll(async () => {
  await dynamo?.close();
});
afterEach(() => {
  vi.restoreAllMocks();
});

async function rawItem(pk: string, sk: number) {
  const result = await dynamo.client.send(
    new GetItemCommand({ TableName: LOCAL_TABLE, Key: { pk: { S: pk }, sk: { N: String(sk) } }, ConsistentRead: true }),
  );
  return result.Item;
}

describe('DynamoCounterStore on dynalite: add', () => {
  it('accumulates across calls and within one batch (ADD semantics)', async () => {
    await store.add([
      { scope: 'u:acc', granularity: 'h', bucket: 3600, add: { events: 2, zaps: 100 } },
      { scope: 'u:acc', granularity: 'h', bucket: 7200, add: { events: 1 } },
    ]);
    await store.add([{ scope: 'u:acc', granularity: 'h', bucket: 3600, add: { events: 3, reactions: 1 } }]);
    // two deltas on the same item in one batch both land
    await store.add([
      { scope: 'u:acc', granularity: 'h', bucket: 3600, add: { zaps: 50 } },
      { scope: 'u:acc', granularity: 'h', bucket: 3600, add: { zaps: 25, events: -1 } },
    ]);

    const items = await store.range('u:acc', 'h', 0, 10_000);
    expect(items).toEqual([
      { scope: 'u:acc', granularity: 'h', bucket: 3600, values: { events: 4, zaps: 175, reactions: 1 } },
      { scope: 'u:acc', granularity: 'h', bucket: 7200, values: { events: 1 } },
    ]);
  });

  it('sets the ttl attribute when expiresAt is given, and keeps it out of the values', async () => {
    await store.add([{ scope: 'e:ttl', granularity: 'm', bucket: 60, add: { events: 1 }, expiresAt: 1_900_000_000 }]);
    await store.add([{ scope: 'e:ttl', granularity: 'm', bucket: 120, add: { events: 1 } }]);

    const withTtl = await rawItem('e:ttl#m', 60);
    expect(withTtl?.ttl).toEqual({ N: '1900000000' });
    expect(withTtl?.events).toEqual({ N: '1' });
    const withoutTtl = await rawItem('e:ttl#m', 120);
    expect(withoutTtl).toBeDefined();
    expect(withoutTtl?.ttl).toBeUndefined();

    // a later add without expiresAt leaves the ttl; a later one with expiresAt moves it
    await store.add([{ scope: 'e:ttl', granularity: 'm', bucket: 60, add: { events: 1 } }]);
    expect((await rawItem('e:ttl#m', 60))?.ttl).toEqual({ N: '1900000000' });
    await store.add([{ scope: 'e:ttl', granularity: 'm', bucket: 60, add: { events: 1 }, expiresAt: 1_950_000_000 }]);
    const moved = await rawItem('e:ttl#m', 60);
    expect(moved?.ttl).toEqual({ N: '1950000000' });
    expect(moved?.events).toEqual({ N: '3' });

    expect(await store.range('e:ttl', 'm', 60, 60)).toEqual([{ scope: 'e:ttl', granularity: 'm', bucket: 60, values: { events: 3 } }]);
  });

  it('handles metric names that are DynamoDB reserved words or contain odd characters', async () => {
    await store.add([{ scope: 'g', granularity: 'd', bucket: 86400, add: { count: 1, size: 10, 'kind:7': 2, 'a.b': 3 } }]);
    await store.add([{ scope: 'g', granularity: 'd', bucket: 86400, add: { count: 1 } }]);
    expect(await store.range('g', 'd', 86400, 86400)).toEqual([
      { scope: 'g', granularity: 'd', bucket: 86400, values: { count: 2, size: 10, 'kind:7': 2, 'a.b': 3 } },
    ]);
  });
});

describe('DynamoCounterStore on dynalite: range', () => {
  it('returns only buckets in [from, to] of the given scope and granularity, in bucket order', async () => {
    await store.put([
      ...[0, 3600, 7200, 10800, 14400].map((bucket) => ({ scope: 'u:rng', granularity: 'h' as const, bucket, values: { events: bucket / 3600 } })),
      // same scope, other granularity; other scope, same granularity; a scope that is a prefix
      { scope: 'u:rng', granularity: 'd', bucket: 3600, values: { events: 100 } },
      { scope: 'u:rng2', granularity: 'h', bucket: 3600, values: { events: 200 } },
      { scope: 'u:rn', granularity: 'h', bucket: 3600, values: { events: 300 } },
    ]);

    const items = await store.range('u:rng', 'h', 3600, 10800);
    expect(items.map((i) => i.bucket)).toEqual([3600, 7200, 10800]);
    expect(items.map((i) => i.values.events)).toEqual([1, 2, 3]);
    expect(items.every((i) => i.scope === 'u:rng' && i.granularity === 'h')).toBe(true);

    expect(await store.range('u:rng', 'h', 3601, 7199)).toEqual([]);
    expect((await store.range('u:rng', 'h', 14400, 99_999)).map((i) => i.bucket)).toEqual([14400]);
    expect((await store.range('u:rng', 'd', 0, 99_999)).map((i) => i.values.events)).toEqual([100]);
    expect(await store.range('u:nobody', 'h', 0, 99_999)).toEqual([]);
  });

  it('pages through more than 1 MB of results', async () => {
    const count = 3000;
    // 40 metrics of 13-digit values: dynalite counts about 430 bytes an item toward the 1 MB page
    // limit (it counts attribute names as one byte), so 3000 items are about 1.3 MB.
    const metricNames = Array.from({ length: 40 }, (_, m) => `metric_${m}`);
    const value = (i: number, m: number) => 1_234_567_890_000 + i * 100 + m;
    const items = Array.from({ length: count }, (_, i) => ({
      scope: 'u:big',
      granularity: 'm' as const,
      bucket: i * 60,
      values: Object.fromEntries(metricNames.map((name, m) => [name, value(i, m)])),
    }));
    await store.put(items);

    const send = vi.spyOn(dynamo.client, 'send');
    const back = await store.range('u:big', 'm', 0, (count - 1) * 60);
    const queries = send.mock.calls.filter(([command]) => command instanceof QueryCommand);
    expect(queries.length).toBeGreaterThan(1);

    expect(back).toHaveLength(count);
    expect(back.map((i) => i.bucket)).toEqual(items.map((i) => i.bucket));
    expect(back[0]!.values).toEqual(items[0]!.values);
    expect(back[count - 1]!.values).toEqual(items[count - 1]!.values);
    expect(back[1234]!.values.metric_5).toBe(value(1234, 5));
    expect(Object.keys(back[2999]!.values)).toHaveLength(40);
  });
});

describe('DynamoCounterStore on dynalite: put', () => {
  it('replaces an item whole, dropping attributes the new item lacks', async () => {
    await store.add([{ scope: 'u:put', granularity: 'd', bucket: 0, add: { events: 5, zaps: 7, stale: 1 }, expiresAt: 1_800_000_000 }]);
    await store.put([{ scope: 'u:put', granularity: 'd', bucket: 0, values: { events: 9, reactions: 2 } }]);

    expect(await store.range('u:put', 'd', 0, 0)).toEqual([
      { scope: 'u:put', granularity: 'd', bucket: 0, values: { events: 9, reactions: 2 } },
    ]);
    const raw = await rawItem('u:put#d', 0);
    expect(raw?.stale).toBeUndefined();
    expect(raw?.zaps).toBeUndefined();
    expect(raw?.ttl).toBeUndefined();
  });

  it('is idempotent and sets ttl when expiresAt is given', async () => {
    const item = { scope: 'u:put2', granularity: 'h' as const, bucket: 3600, values: { events: 3 }, expiresAt: 1_850_000_000 };
    await store.put([item]);
    await store.put([item]);
    expect(await store.range('u:put2', 'h', 3600, 3600)).toEqual([
      { scope: 'u:put2', granularity: 'h', bucket: 3600, values: { events: 3 } },
    ]);
    expect((await rawItem('u:put2#h', 3600))?.ttl).toEqual({ N: '1850000000' });
  });

  it('a later add adds on top of a put item', async () => {
    await store.put([{ scope: 'u:put3', granularity: 'h', bucket: 0, values: { events: 10 } }]);
    await store.add([{ scope: 'u:put3', granularity: 'h', bucket: 0, add: { events: 1, zaps: 2 } }]);
    expect((await store.range('u:put3', 'h', 0, 0))[0]!.values).toEqual({ events: 11, zaps: 2 });
  });
});

describe('DynamoCounterStore on dynalite: state', () => {
  it('putState/getState round-trip, and getState of a missing record is null', async () => {
    const value = { markedAt: 1_700_000_000_123, relay: 'wss://relay.example', nested: { list: [1, 'two'] }, ok: true };
    await store.putState('rt', 42, value);
    expect(await store.getState('rt', 42)).toEqual(value);
    expect(await store.getState('rt', 43)).toBeNull();
    expect(await store.getState('rt-other', 42)).toBeNull();

    await store.putState('rt', 42, { markedAt: 1 });
    expect(await store.getState('rt', 42)).toEqual({ markedAt: 1 });
  });

  it('listState lists only its own namespace, by numeric id', async () => {
    await store.putState('list-a', 100, { n: 100 });
    await store.putState('list-a', 2, { n: 2 });
    await store.putState('list-a', 10, { n: 10 });
    await store.putState('list-ab', 1, { n: -1 });
    await store.putState('list', 1, { n: -2 });
    // a counter whose scope looks like the state prefix must not leak into the list either
    await store.add([{ scope: 'list-a', granularity: 'h', bucket: 5, add: { events: 1 } }]);

    expect(await store.listState('list-a')).toEqual([
      { id: 2, value: { n: 2 } },
      { id: 10, value: { n: 10 } },
      { id: 100, value: { n: 100 } },
    ]);
    expect(await store.listState('list-ab')).toEqual([{ id: 1, value: { n: -1 } }]);
    expect(await store.listState('list-empty')).toEqual([]);
  });

  it('deleteStateIf deletes only while the guarded number field matches', async () => {
    await store.putState('dirty', 3600, { markedAt: 1000 });

    expect(await store.deleteStateIf('dirty', 3600, 'markedAt', 999)).toBe(false);
    expect(await store.getState('dirty', 3600)).toEqual({ markedAt: 1000 });

    // a re-mark between read and delete survives the delete of the old mark
    await store.putState('dirty', 3600, { markedAt: 2000 });
    expect(await store.deleteStateIf('dirty', 3600, 'markedAt', 1000)).toBe(false);
    expect(await store.getState('dirty', 3600)).toEqual({ markedAt: 2000 });

    expect(await store.deleteStateIf('dirty', 3600, 'markedAt', 2000)).toBe(true);
    expect(await store.getState('dirty', 3600)).toBeNull();
    expect(await store.listState('dirty')).toEqual([]);
  });

  it('deleteStateIf with a string guard, a type mismatch, a missing field and a missing record', async () => {
    await store.putState('guard', 1, { mark: 'worker-a', markedAt: 5, owner: 'not a guard field' });

    expect(await store.deleteStateIf('guard', 1, 'mark', 'worker-b')).toBe(false);
    // the number 5 is not the string "5"
    expect(await store.deleteStateIf('guard', 1, 'markedAt', '5')).toBe(false);
    await store.putState('guard', 3, { markedAt: 1 });
    expect(await store.deleteStateIf('guard', 3, 'mark', 'x')).toBe(false);
    expect(await store.getState('guard', 1)).toEqual({ mark: 'worker-a', markedAt: 5, owner: 'not a guard field' });

    expect(await store.deleteStateIf('guard', 2, 'mark', 'worker-a')).toBe(false);
    expect(await store.getState('guard', 2)).toBeNull();

    expect(await store.deleteStateIf('guard', 1, 'mark', 'worker-a')).toBe(true);
    expect(await store.getState('guard', 1)).toBeNull();
  });

  it('mirrors only the guard fields as attributes: an event-index record is its JSON value and keys', async () => {
    const value = { id: 'a'.repeat(64), author: 'b'.repeat(64), kind: 1, type: 'note', created_at: 1_700_000_000, title: null };
    await store.putState('ev:x', 0, value);
    const { Item } = await dynamo.client.send(new GetItemCommand({ TableName: LOCAL_TABLE, Key: { pk: { S: 's:ev:x' }, sk: { N: '0' } } }));
    expect(Object.keys(Item!).sort()).toEqual(['pk', 'sk', 'v']);
  });

  it('putStates sets ttl on the records given an expiresAt, and only on those', async () => {
    await store.putStates([
      { namespace: 'ev:ttl1', id: 0, value: { author: 'b'.repeat(64), kind: 1, type: 'note', created_at: 1_700_000_000 }, expiresAt: 1_705_356_800 },
      { namespace: 'ev:ttl2', id: 0, value: { author: 'c'.repeat(64), kind: 34235, type: 'video', created_at: 1_700_000_000 } },
    ]);
    expect((await rawItem('s:ev:ttl1', 0))?.ttl).toEqual({ N: '1705356800' });
    expect((await rawItem('s:ev:ttl2', 0))?.ttl).toBeUndefined();
    expect(await store.getState('ev:ttl1', 0)).toEqual({ author: 'b'.repeat(64), kind: 1, type: 'note', created_at: 1_700_000_000 });
  });

  it('deleteStateIf touches only the addressed record', async () => {
    await store.putState('iso', 1, { markedAt: 7 });
    await store.putState('iso', 2, { markedAt: 7 });
    await store.putState('iso-other', 1, { markedAt: 7 });

    expect(await store.deleteStateIf('iso', 1, 'markedAt', 7)).toBe(true);
    expect(await store.listState('iso')).toEqual([{ id: 2, value: { markedAt: 7 } }]);
    expect(await store.listState('iso-other')).toEqual([{ id: 1, value: { markedAt: 7 } }]);
  });
});

describe('sketches in settled items', () => {
  it('round-trip through the dense binary form for large hour/day sketches, number sets otherwise', async () => {
    const { codesOfRegisters, hllCode, hllEstimate, reduceCodes } = await import('../../lib/counters/hll.js');
    const { createHash } = await import('node:crypto');
    const codes = reduceCodes(Array.from({ length: 5000 }, (_, i) => hllCode(createHash('sha256').update(String(i)).digest('hex'))));
    const small = codes.slice(0, 10);
    const store = dynamo.counters;
    await store.put([
      { scope: 'sk:dense', granularity: 'd', bucket: 86400, values: { n: 1 }, sets: { engagers: codes } },
      { scope: 'sk:minute', granularity: 'm', bucket: 60, values: { n: 1 }, sets: { engagers: codes } },
      { scope: 'sk:small', granularity: 'h', bucket: 3600, values: { n: 1 }, sets: { engagers: small } },
    ]);
    const [dense] = await store.range('sk:dense', 'd', 0, 86400);
    // A dense sketch is read as its register array, not expanded back into codes.
    const registers = dense!.sets!.engagers!;
    expect(registers).toBeInstanceOf(Uint8Array);
    expect(codesOfRegisters(registers as Uint8Array)).toEqual([...codes].sort((a, b) => a - b));
    expect(hllEstimate(registers)).toBe(hllEstimate(codes));
    // Put back as read, it is stored as the same bytes.
    await store.put([{ ...dense!, scope: 'sk:dense-again' }]);
    const again = await dynamo.client.send(new GetItemCommand({ TableName: LOCAL_TABLE, Key: { pk: { S: 'sk:dense-again#d' }, sk: { N: '86400' } } }));
    const raw = await dynamo.client.send(new GetItemCommand({ TableName: LOCAL_TABLE, Key: { pk: { S: 'sk:dense#d' }, sk: { N: '86400' } } }));
    expect(raw.Item!.engagers!.B).toHaveLength(1024);
    expect(again.Item!.engagers!.B).toEqual(raw.Item!.engagers!.B);
    // Minute items stay number sets, so a live ADD can still merge into them.
    await store.add([{ scope: 'sk:minute', granularity: 'm', bucket: 60, add: { n: 1 }, union: { engagers: [65] } }]);
    const [minute] = await store.range('sk:minute', 'm', 60, 60);
    expect(minute!.sets!.engagers).toContain(65);
    const [smallItem] = await store.range('sk:small', 'h', 3600, 3600);
    expect([...smallItem!.sets!.engagers!].sort((a, b) => a - b)).toEqual([...small].sort((a, b) => a - b));
  });
});

describe('engager lists, on the DynamoDB adapter (dynalite) and the memory store alike', () => {
  const pubkey = (n: number) => n.toString(16).padStart(4, '0').repeat(16);
  const stores = () => [
    ['dynamodb', store],
    ['memory', new MemoryCounterStore()],
  ] as const;

  it('one row per pubkey, in pubkey order, paged after a pubkey; a redelivered write changes nothing', async () => {
    for (const [name, s] of stores()) {
      const list = `zp:e:${name}-order`;
      const writes = [3, 1, 2].map((n) => ({ list, pubkey: pubkey(n), tokens: [n * 10] }));
      await s.addEngagers(writes);
      await s.addEngagers([...writes, { list, pubkey: pubkey(1), tokens: [10, 11] }]);
      const all = await s.engagerPage(list, { limit: 10 });
      expect(all.map((r) => r.pubkey), name).toEqual([pubkey(1), pubkey(2), pubkey(3)]);
      expect(all.map((r) => r.tokens.sort((a, b) => a - b)), name).toEqual([[10, 11], [20], [30]]);
      expect((await s.engagerPage(list, { limit: 1 })).map((r) => r.pubkey), name).toEqual([pubkey(1)]);
      expect((await s.engagerPage(list, { after: pubkey(1), limit: 5 })).map((r) => r.pubkey), name).toEqual([pubkey(2), pubkey(3)]);
      expect(await s.engagerPage(list, { after: pubkey(3), limit: 5 }), name).toEqual([]);
      expect(await s.engagerPage(`zp:e:${name}-empty`, { limit: 5 }), name).toEqual([]);
    }
  });

  it('sets the ref (the last one wins) and keeps rows without tokens', async () => {
    for (const [name, s] of stores()) {
      const list = `lk:a:${name}-refs`;
      await s.addEngagers([{ list, pubkey: pubkey(7), ref: 'r1' }]);
      await s.addEngagers([{ list, pubkey: pubkey(7), ref: 'r2' }]);
      expect(await s.engagerPage(list, { limit: 5 }), name).toEqual([{ pubkey: pubkey(7), ref: 'r2', tokens: [] }]);
    }
  });

  it(`a row takes at most ENGAGER_ROW_MAX_TOKENS (${ENGAGER_ROW_MAX_TOKENS}) tokens: a write past it is dropped and counted, the row stays`, async () => {
    for (const [name, s] of stores()) {
      const list = `zp:e:${name}-full`;
      const many = Array.from({ length: ENGAGER_ROW_MAX_TOKENS + 5 }, (_, i) => i + 1);
      // one batch is cut at the bound before it is sent
      expect(await s.addEngagers([{ list, pubkey: pubkey(9), tokens: many }]), name).toEqual({ dropped: 0 });
      expect((await s.engagerPage(list, { limit: 1 }))[0]!.tokens, name).toHaveLength(ENGAGER_ROW_MAX_TOKENS);
      expect(await s.addEngagers([{ list, pubkey: pubkey(9), tokens: [999_999] }, { list, pubkey: pubkey(8), tokens: [1] }]), name).toEqual({ dropped: 1 });
      const rows = await s.engagerPage(list, { limit: 5 });
      expect(rows.map((r) => [r.pubkey, r.tokens.length]), name).toEqual([[pubkey(8), 1], [pubkey(9), ENGAGER_ROW_MAX_TOKENS]]);
    }
  });
});
