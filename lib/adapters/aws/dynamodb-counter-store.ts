import {
  BatchWriteItemCommand,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type AttributeValue,
  ConditionalCheckFailedException,
} from '@aws-sdk/client-dynamodb';
import { ENGAGER_ROW_MAX_TOKENS, STATE_GUARD_FIELDS, type CounterDelta, type CounterItem, type CounterStore, type EngagerRow, type EngagerWrite, type Granularity, type StateGuardField, type StateRecord } from '../../ports.js';
import { engagerRowId, mergeEngagerWrites } from '../../counters/engager-lists.js';
import { forEachLimited } from '../../util/concurrency.js';
import { emptyRegisters, foldSketch, packRegisters, sketchCodes, unpackRegisters } from '../../counters/hll.js';
import { assertTopListNames, encodeTopList, isTopListName, parseTop } from '../../counters/topn.js';

/**
 * Counters in one DynamoDB table: pk = `<scope>#<granularity>` (S), sk = bucket start (N).
 * State records use pk = `s:<namespace>`, sk = id, with the value as a JSON string in `v`. Engager
 * rows use pk = `l:<list>`, sk = the pubkey's first 52 bits, the pubkey in `p`, the ref in `r` and the
 * tokens in the number set `t`.
 */
const RESERVED = new Set(['pk', 'sk', 'ttl']);
/**
 * Attributes one UpdateItem adds at most: an expression is at most 4 KB, and `#aNNN :aNNN, ` is 12
 * characters. A delta with more (a grouped event type's busy minute, event-type-counters.ts) is
 * written as several updates of the same item; ADD is commutative, so their order does not matter.
 */
const MAX_ADDS_PER_UPDATE = 250;

function withinExpressionLimit(delta: CounterDelta): CounterDelta[] {
  const adds = Object.entries(delta.add);
  if (adds.length + Object.keys(delta.union ?? {}).length <= MAX_ADDS_PER_UPDATE) return [delta];
  const parts: CounterDelta[] = [{ ...delta, add: {} }];
  for (let i = 0; i < adds.length; i += MAX_ADDS_PER_UPDATE) parts.push({ ...delta, add: Object.fromEntries(adds.slice(i, i + MAX_ADDS_PER_UPDATE)), union: {} });
  return parts.filter((part) => Object.keys(part.add).length || Object.values(part.union ?? {}).some((set) => set.length));
}
const WRITE_CONCURRENCY = 16;

export class DynamoCounterStore implements CounterStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
  ) {}

  async add(deltas: CounterDelta[]): Promise<void> {
    for (const delta of deltas) {
      for (const [metric, amount] of Object.entries(delta.add)) {
        // One bad number would fail the whole batch's write with a ValidationException: refuse it here, by name.
        if (!Number.isFinite(amount)) throw new Error(`counter ${delta.scope}/${metric}: amount must be finite, got ${amount}`);
      }
    }
    const hasWork = (d: CounterDelta) => Object.keys(d.add).length > 0 || Object.values(d.union ?? {}).some((set) => set.length > 0);
    await forEachLimited(deltas.filter(hasWork).flatMap(withinExpressionLimit), WRITE_CONCURRENCY, async (delta) => {
      const names: Record<string, string> = {};
      const values: Record<string, AttributeValue> = {};
      const adds: string[] = [];
      Object.entries(delta.add).forEach(([metric, amount], i) => {
        names[`#a${i}`] = metric;
        values[`:a${i}`] = { N: String(amount) };
        adds.push(`#a${i} :a${i}`);
      });
      // ADD on a number set is a set union, which is exactly a merge of sparse HLL register codes.
      Object.entries(delta.union ?? {}).forEach(([attribute, members], i) => {
        if (!members.length) return;
        names[`#u${i}`] = attribute;
        values[`:u${i}`] = { NS: [...new Set(members)].map(String) };
        adds.push(`#u${i} :u${i}`);
      });
      let expression = `ADD ${adds.join(', ')}`;
      if (delta.expiresAt !== undefined) {
        names['#ttl'] = 'ttl';
        values[':ttl'] = { N: String(delta.expiresAt) };
        expression = `SET #ttl = :ttl ${expression}`;
      }
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: itemKey(delta.scope, delta.granularity, delta.bucket),
          UpdateExpression: expression,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
    });
  }

  async put(items: (CounterItem & { expiresAt?: number })[]): Promise<void> {
    const requests = items.map((item) => {
      assertTopListNames(item);
      const attrs: Record<string, AttributeValue> = { ...itemKey(item.scope, item.granularity, item.bucket) };
      for (const [metric, value] of Object.entries(item.values)) attrs[metric] = { N: String(value) };
      for (const [name, sketch] of Object.entries(item.sets ?? {})) {
        const members = sketchCodes(sketch);
        if (!members.length) continue;
        // Settled items are only ever Put, so a large sketch can be a dense register array, packed
        // (≈ 515 bytes: hll.ts), instead of a number set several times that size; minute items stay number sets for ADD.
        attrs[name] = item.granularity !== 'm' && members.length > DENSE_SKETCH_FROM ? { B: packRegisters(foldSketch(emptyRegisters(), members)) } : { NS: [...new Set(members)].map(String) };
      }
      for (const [name, bytes] of Object.entries(item.tops ?? {})) attrs[name] = { B: bytes };
      if (item.expiresAt !== undefined) attrs.ttl = { N: String(item.expiresAt) };
      return { PutRequest: { Item: attrs } };
    });
    await this.batchWrite(requests);
  }

  private async batchWrite(requests: { PutRequest: { Item: Record<string, AttributeValue> } }[]): Promise<void> {
    const chunks: (typeof requests)[] = [];
    for (let i = 0; i < requests.length; i += 25) chunks.push(requests.slice(i, i + 25));
    await forEachLimited(chunks, 4, async (chunk) => {
      let pending: typeof chunk | undefined = chunk;
      for (let attempt = 0; pending?.length; attempt++) {
        if (attempt > 8) throw new Error(`BatchWriteItem left ${pending.length} items unprocessed`);
        if (attempt > 0) await sleep(50 * 2 ** attempt);
        const result = await this.client.send(new BatchWriteItemCommand({ RequestItems: { [this.table]: pending } }));
        pending = result.UnprocessedItems?.[this.table] as typeof chunk | undefined;
      }
    });
  }

  async range(scope: string, granularity: Granularity, fromBucket: number, toBucket: number): Promise<CounterItem[]> {
    const items: CounterItem[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
          ExpressionAttributeValues: { ':pk': { S: counterPartitionKey(scope, granularity) }, ':from': { N: String(fromBucket) }, ':to': { N: String(toBucket) } },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const raw of page.Items ?? []) {
        const item: CounterItem = { scope, granularity, bucket: Number(raw.sk!.N), values: {} };
        for (const name in raw) {
          if (RESERVED.has(name)) continue;
          const attr = raw[name]!;
          if (attr.N !== undefined) item.values[name] = Number(attr.N);
          else if (attr.NS !== undefined) (item.sets ??= {})[name] = attr.NS.map(Number);
          // A top list (`top_…`) and a dense sketch are both binary: the list is handed over as stored
          // (reads walk its bytes: topn.ts), the sketch as its register array (hll.ts).
          else if (attr.B !== undefined) {
            if (isTopListName(name)) (item.tops ??= {})[name] = attr.B;
            else (item.sets ??= {})[name] = unpackRegisters(attr.B);
          }
          // a top list settled before the binary form (JSON text) reads as if it had been settled now
          else if (attr.S !== undefined && isTopListName(name)) (item.tops ??= {})[name] = encodeTopList(parseTop(attr.S));
        }
        items.push(item);
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return items;
  }

  async getState(namespace: string, id: number): Promise<Record<string, unknown> | null> {
    const result = await this.client.send(new GetItemCommand({ TableName: this.table, Key: stateKey(namespace, id), ConsistentRead: true }));
    return result.Item?.v?.S ? (JSON.parse(result.Item.v.S) as Record<string, unknown>) : null;
  }

  async putState(namespace: string, id: number, value: Record<string, unknown>): Promise<void> {
    await this.client.send(new PutItemCommand({ TableName: this.table, Item: stateItem(namespace, id, value) }));
  }

  async putStateIfAbsent(namespace: string, id: number, value: Record<string, unknown>): Promise<boolean> {
    try {
      await this.client.send(new PutItemCommand({ TableName: this.table, Item: stateItem(namespace, id, value), ConditionExpression: 'attribute_not_exists(pk)' }));
      return true;
    } catch (error) {
      if (isConditionalFailure(error)) return false;
      throw error;
    }
  }

  async putStates(records: StateRecord[]): Promise<void> {
    // BatchWriteItem refuses two writes to one key in a request: the last record for a key wins.
    const byKey = new Map(records.map((r) => [`${r.namespace}\u0000${r.id}`, r]));
    await this.batchWrite([...byKey.values()].map((r) => ({ PutRequest: { Item: stateItem(r.namespace, r.id, r.value, r.expiresAt) } })));
  }

  async listState(namespace: string): Promise<{ id: number; value: Record<string, unknown> }[]> {
    const out: { id: number; value: Record<string, unknown> }[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': { S: statePartitionKey(namespace) } },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const raw of page.Items ?? []) out.push({ id: Number(raw.sk!.N), value: JSON.parse(raw.v?.S ?? '{}') });
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return out;
  }

  async addEngagers(rows: EngagerWrite[]): Promise<{ dropped: number }> {
    let dropped = 0;
    await forEachLimited(mergeEngagerWrites(rows), WRITE_CONCURRENCY, async (row) => {
      const names: Record<string, string> = { '#p': 'p' };
      const values: Record<string, AttributeValue> = { ':p': { S: row.pubkey } };
      let expression = 'SET #p = :p';
      if (row.ref !== undefined) {
        names['#r'] = 'r';
        values[':r'] = { S: row.ref };
        expression += ', #r = :r';
      }
      const tokens = row.tokens ?? [];
      if (tokens.length) {
        names['#t'] = 't';
        values[':t'] = { NS: tokens.map(String) };
        // room for every token sent: a row never holds more than ENGAGER_ROW_MAX_TOKENS
        values[':room'] = { N: String(ENGAGER_ROW_MAX_TOKENS - tokens.length) };
        expression += ' ADD #t :t';
      }
      try {
        await this.client.send(
          new UpdateItemCommand({
            TableName: this.table,
            Key: { pk: { S: engagerPartitionKey(row.list) }, sk: { N: String(engagerRowId(row.pubkey)) } },
            UpdateExpression: expression,
            // size() of a number set is its number of members: a full row takes no more tokens.
            ...(tokens.length ? { ConditionExpression: 'attribute_not_exists(#t) OR size(#t) <= :room' } : {}),
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
          }),
        );
      } catch (error) {
        if (!(isConditionalFailure(error))) throw error;
        dropped++;
      }
    });
    return { dropped };
  }

  async engagerPage(list: string, options: { after?: string; limit: number }): Promise<EngagerRow[]> {
    const rows: EngagerRow[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk AND sk > :after',
          ExpressionAttributeValues: { ':pk': { S: engagerPartitionKey(list) }, ':after': { N: String(options.after === undefined ? -1 : engagerRowId(options.after)) } },
          Limit: options.limit - rows.length,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const raw of page.Items ?? []) rows.push({ pubkey: raw.p?.S ?? '', ref: raw.r?.S ?? null, tokens: (raw.t?.NS ?? []).map(Number) });
      startKey = page.LastEvaluatedKey;
    } while (startKey && rows.length < options.limit);
    return rows;
  }

  async deleteStateIf(namespace: string, id: number, field: StateGuardField, expected: string | number): Promise<boolean> {
    // The JSON value is opaque to DynamoDB, so the guarded field is mirrored as a top-level attribute.
    try {
      await this.client.send(
        new DeleteItemCommand({
          TableName: this.table,
          Key: stateKey(namespace, id),
          ConditionExpression: '#f = :expected',
          ExpressionAttributeNames: { '#f': `f_${field}` },
          ExpressionAttributeValues: { ':expected': typeof expected === 'number' ? { N: String(expected) } : { S: expected } },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalFailure(error)) return false;
      throw error;
    }
  }
}

/** A conditional write that did not hold (the SDK's class, or its name from a client that lost the class). */
const isConditionalFailure = (error: unknown) => error instanceof ConditionalCheckFailedException || (error as Error).name === 'ConditionalCheckFailedException';

/** Above this many codes a settled sketch is stored dense (a code costs ~4 bytes in a number set). */
export const DENSE_SKETCH_FROM = 256;

/** The partition key of a counter item; the CDK's IAM leading-key patterns are built from it too. */
export const counterPartitionKey = (scope: string, granularity: string) => `${scope}#${granularity}`;
/** The partition key of a state record namespace. */
export const statePartitionKey = (namespace: string) => `s:${namespace}`;
/** The partition key of an engager list. */
export const engagerPartitionKey = (list: string) => `l:${list}`;

function itemKey(scope: string, granularity: Granularity, bucket: number): Record<string, AttributeValue> {
  return { pk: { S: counterPartitionKey(scope, granularity) }, sk: { N: String(bucket) } };
}

function stateKey(namespace: string, id: number): Record<string, AttributeValue> {
  return { pk: { S: statePartitionKey(namespace) }, sk: { N: String(id) } };
}

function stateItem(namespace: string, id: number, value: Record<string, unknown>, expiresAt?: number): Record<string, AttributeValue> {
  const item: Record<string, AttributeValue> = { ...stateKey(namespace, id), v: { S: JSON.stringify(value) } };
  if (expiresAt !== undefined) item.ttl = { N: String(expiresAt) };
  for (const field of STATE_GUARD_FIELDS) {
    const v = value[field];
    if (typeof v === 'number') item[`f_${field}`] = { N: String(v) };
    else if (typeof v === 'string' && v.length <= 1024) item[`f_${field}`] = { S: v };
  }
  return item;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
