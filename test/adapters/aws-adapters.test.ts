import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { encodeTopList } from '../../lib/counters/topn.js';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  type GetObjectCommandOutput,
} from '@aws-sdk/client-s3';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type AttributeValue,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { S3ObjectStore } from '../../lib/adapters/aws/s3-object-store.js';
import { groupForBatch, SqsQueueSender } from '../../lib/adapters/aws/sqs-queue-sender.js';
import { DynamoCounterStore } from '../../lib/adapters/aws/dynamodb-counter-store.js';
import { counterItemBytes } from '../../lib/adapters/aws/dynamodb-item-size.js';

const clientConfig = { region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } };

/** A GetObject Body as the SDK hands it out: something with transformToByteArray(). */
function body(bytes: Uint8Array): GetObjectCommandOutput['Body'] {
  return {
    transformToByteArray: async () => bytes,
    transformToString: async () => Buffer.from(bytes).toString('utf8'),
  } as unknown as GetObjectCommandOutput['Body'];
}

describe('S3ObjectStore', () => {
  let client: S3Client;
  let s3: AwsClientStub<S3Client>;
  let store: S3ObjectStore;

  beforeEach(() => {
    client = new S3Client(clientConfig);
    s3 = mockClient(client);
    store = new S3ObjectStore(client, 'facts-bucket');
  });
  afterEach(() => s3.restore());

  it('put sends PutObject with bucket, key, body and content type', async () => {
    s3.on(PutObjectCommand).resolves({});
    const bytes = new Uint8Array([1, 2, 3]);
    await store.put('facts/2024/01/a.parquet', bytes, 'application/vnd.apache.parquet');
    await store.put('notes/b.txt', 'hello');

    const calls = s3.commandCalls(PutObjectCommand);
    expect(calls).toHaveLength(2);
    expect(calls[0]!.args[0].input).toEqual({
      Bucket: 'facts-bucket',
      Key: 'facts/2024/01/a.parquet',
      Body: bytes,
      ContentType: 'application/vnd.apache.parquet',
    });
    expect(calls[1]!.args[0].input).toMatchObject({ Bucket: 'facts-bucket', Key: 'notes/b.txt', Body: 'hello' });
    expect(calls[1]!.args[0].input.ContentType).toBeUndefined();
  });

  it('get returns the object bytes', async () => {
    const bytes = new Uint8Array([0, 255, 7, 42]);
    s3.on(GetObjectCommand, { Bucket: 'facts-bucket', Key: 'k1' }).resolves({ Body: body(bytes) });

    const result = await store.get('k1');
    expect(result).toBeInstanceOf(Uint8Array);
    expect(Array.from(result!)).toEqual([0, 255, 7, 42]);
    expect(s3.commandCalls(GetObjectCommand)[0]!.args[0].input).toEqual({ Bucket: 'facts-bucket', Key: 'k1' });
  });

  it('get returns an empty array when the response has no Body', async () => {
    s3.on(GetObjectCommand).resolves({});
    const result = await store.get('empty');
    expect(result).toBeInstanceOf(Uint8Array);
    expect(result!.length).toBe(0);
  });

  it('get returns null on NoSuchKey (SDK exception class or name only)', async () => {
    s3.on(GetObjectCommand, { Key: 'missing' }).rejects(new NoSuchKey({ message: 'The specified key does not exist.', $metadata: {} }));
    const byName = Object.assign(new Error('not there'), { name: 'NoSuchKey' });
    s3.on(GetObjectCommand, { Key: 'missing-by-name' }).rejects(byName);

    await expect(store.get('missing')).resolves.toBeNull();
    await expect(store.get('missing-by-name')).resolves.toBeNull();
  });

  it('get rethrows other errors', async () => {
    s3.on(GetObjectCommand).rejects(Object.assign(new Error('Access Denied'), { name: 'AccessDenied' }));
    await expect(store.get('secret')).rejects.toThrow('Access Denied');
  });

  it('list paginates with the continuation token and returns sorted keys', async () => {
    s3.on(ListObjectsV2Command)
      .resolvesOnce({ Contents: [{ Key: 'p/c' }, { Key: 'p/a' }], IsTruncated: true, NextContinuationToken: 'tok-1' })
      .resolvesOnce({ Contents: [{ Key: 'p/b' }, { Key: 'p/0' }, {}], IsTruncated: false });

    const keys = await store.list('p/');
    expect(keys).toEqual(['p/0', 'p/a', 'p/b', 'p/c']);

    const calls = s3.commandCalls(ListObjectsV2Command);
    expect(calls).toHaveLength(2);
    expect(calls[0]!.args[0].input).toEqual({ Bucket: 'facts-bucket', Prefix: 'p/', ContinuationToken: undefined });
    expect(calls[1]!.args[0].input).toEqual({ Bucket: 'facts-bucket', Prefix: 'p/', ContinuationToken: 'tok-1' });
  });

  it('list of an empty prefix makes one call and returns []', async () => {
    s3.on(ListObjectsV2Command).resolves({ KeyCount: 0, IsTruncated: false });
    await expect(store.list('nothing/')).resolves.toEqual([]);
    expect(s3.commandCalls(ListObjectsV2Command)).toHaveLength(1);
  });

  it('delete sends DeleteObjects in chunks of at most 1000 keys, quietly', async () => {
    s3.on(DeleteObjectsCommand).resolves({});
    const keys = Array.from({ length: 2500 }, (_, i) => `k/${String(i).padStart(5, '0')}`);
    await store.delete(keys);

    const calls = s3.commandCalls(DeleteObjectsCommand);
    expect(calls.map((c) => c.args[0].input.Delete!.Objects!.length)).toEqual([1000, 1000, 500]);
    for (const call of calls) {
      expect(call.args[0].input.Bucket).toBe('facts-bucket');
      expect(call.args[0].input.Delete!.Quiet).toBe(true);
    }
    const sent = calls.flatMap((c) => c.args[0].input.Delete!.Objects!.map((o) => o.Key));
    expect(sent).toEqual(keys);
  });

  it('delete of no keys sends nothing', async () => {
    s3.on(DeleteObjectsCommand).resolves({});
    await store.delete([]);
    expect(s3.commandCalls(DeleteObjectsCommand)).toHaveLength(0);
  });

  it('delete throws when the response reports Errors, and stops there', async () => {
    s3.on(DeleteObjectsCommand)
      .resolvesOnce({ Errors: [{ Key: 'k/1', Code: 'AccessDenied', Message: 'Access Denied' }] })
      .resolves({});
    const keys = Array.from({ length: 1500 }, (_, i) => `k/${i}`);
    await expect(store.delete(keys)).rejects.toThrow(/DeleteObjects failed for 1 keys: AccessDenied/);
    expect(s3.commandCalls(DeleteObjectsCommand)).toHaveLength(1);
  });
});

describe('groupForBatch', () => {
  it('groups at most 10 bodies per batch, preserving order', () => {
    const bodies = Array.from({ length: 25 }, (_, i) => `m${i}`);
    const groups = groupForBatch(bodies);
    expect(groups.map((g) => g.length)).toEqual([10, 10, 5]);
    expect(groups.flat()).toEqual(bodies);
  });

  it('returns no groups for no bodies', () => {
    expect(groupForBatch([])).toEqual([]);
  });

  it('keeps each group within 256 KiB in total', () => {
    const big = 'x'.repeat(100 * 1024);
    const groups = groupForBatch([big, big, big, big, big]);
    expect(groups.map((g) => g.length)).toEqual([2, 2, 1]);
    for (const group of groups) expect(group.reduce((n, b) => n + Buffer.byteLength(b), 0)).toBeLessThanOrEqual(256 * 1024);
  });

  it('fills a group up to exactly 256 KiB', () => {
    const half = 'y'.repeat(128 * 1024);
    expect(groupForBatch([half, half, 'z']).map((g) => g.length)).toEqual([2, 1]);
  });

  it('measures UTF-8 bytes, not string length', () => {
    // 70 000 characters of 2 bytes each: two of them fit by length (140 000) but not by bytes (280 000).
    const wide = 'é'.repeat(70_000);
    expect(wide.length * 2).toBeLessThan(256 * 1024);
    expect(groupForBatch([wide, wide]).map((g) => g.length)).toEqual([1, 1]);
  });

  it('puts a body over the limit in a group of its own', () => {
    const huge = 'h'.repeat(300 * 1024);
    expect(groupForBatch(['a', huge, 'b']).map((g) => g.length)).toEqual([1, 1, 1]);
  });
});

describe('SqsQueueSender', () => {
  let client: SQSClient;
  let sqs: AwsClientStub<SQSClient>;
  let sender: SqsQueueSender;
  const queueUrl = 'https://sqs.us-east-1.amazonaws.com/123456789012/ingest';

  beforeEach(() => {
    client = new SQSClient(clientConfig);
    sqs = mockClient(client);
    sender = new SqsQueueSender(client, queueUrl);
  });
  afterEach(() => sqs.restore());

  it('sends SendMessageBatch calls of at most 10 entries with ids per group', async () => {
    sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
    const bodies = Array.from({ length: 23 }, (_, i) => `{"n":${i}}`);
    await expect(sender.sendBatch(bodies)).resolves.toEqual({ failed: [] });

    const calls = sqs.commandCalls(SendMessageBatchCommand);
    expect(calls).toHaveLength(3);
    expect(calls.map((c) => c.args[0].input.Entries!.length)).toEqual([10, 10, 3]);
    for (const call of calls) expect(call.args[0].input.QueueUrl).toBe(queueUrl);
    expect(calls[2]!.args[0].input.Entries).toEqual([
      { Id: '0', MessageBody: '{"n":20}' },
      { Id: '1', MessageBody: '{"n":21}' },
      { Id: '2', MessageBody: '{"n":22}' },
    ]);
    expect(calls.flatMap((c) => c.args[0].input.Entries!.map((e) => e.MessageBody))).toEqual(bodies);
  });

  it('splits by total size as well as by count', async () => {
    sqs.on(SendMessageBatchCommand).resolves({});
    const big = 'b'.repeat(90 * 1024);
    await sender.sendBatch([big, big, big, big]);
    const calls = sqs.commandCalls(SendMessageBatchCommand);
    expect(calls.map((c) => c.args[0].input.Entries!.length)).toEqual([2, 2]);
  });

  it('returns the bodies listed in Failed', async () => {
    sqs.on(SendMessageBatchCommand)
      .resolvesOnce({
        Successful: [],
        Failed: [
          { Id: '3', SenderFault: false, Code: 'InternalError' },
          { Id: '7', SenderFault: false, Code: 'ServiceUnavailable' },
        ],
      })
      .resolvesOnce({ Failed: [{ Id: '1', SenderFault: true, Code: 'InvalidMessageContents' }] });
    const bodies = Array.from({ length: 12 }, (_, i) => `m${i}`);
    const { failed } = await sender.sendBatch(bodies);
    // ids are per group: id 1 of the second group is body 11
    expect(failed).toEqual(['m3', 'm7', 'm11']);
  });

  it('marks the whole group failed when a send throws, and carries on with the next groups', async () => {
    sqs.on(SendMessageBatchCommand)
      .resolvesOnce({})
      .rejectsOnce(new Error('socket hang up'))
      .resolvesOnce({ Failed: [{ Id: '0', SenderFault: false, Code: 'InternalError' }] });
    const bodies = Array.from({ length: 25 }, (_, i) => `m${i}`);
    const { failed } = await sender.sendBatch(bodies);
    expect(failed).toEqual([...bodies.slice(10, 20), 'm20']);
    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(3);
  });

  it('sends nothing for no bodies', async () => {
    await expect(sender.sendBatch([])).resolves.toEqual({ failed: [] });
    expect(sqs.calls()).toHaveLength(0);
  });
});

describe('DynamoCounterStore (mocked DynamoDB)', () => {
  let client: DynamoDBClient;
  let ddb: AwsClientStub<DynamoDBClient>;
  let store: DynamoCounterStore;
  const table = 'counters';

  beforeEach(() => {
    client = new DynamoDBClient(clientConfig);
    ddb = mockClient(client);
    store = new DynamoCounterStore(client, table);
  });
  afterEach(() => {
    ddb.restore();
    vi.useRealTimers();
  });

  describe('add', () => {
    it('sends one UpdateItem per delta with ADD of every metric through placeholders', async () => {
      ddb.on(UpdateItemCommand).resolves({});
      await store.add([
        { scope: 'u:abc', granularity: 'h', bucket: 3600, add: { events: 2, zaps_msat: 21000 } },
        { scope: 'g', granularity: 'all', bucket: 0, add: { events: 1 } },
      ]);

      const calls = ddb.commandCalls(UpdateItemCommand);
      expect(calls).toHaveLength(2);
      const byPk = new Map(calls.map((c) => [c.args[0].input.Key!.pk!.S, c.args[0].input]));
      expect(byPk.get('u:abc#h')).toEqual({
        TableName: table,
        Key: { pk: { S: 'u:abc#h' }, sk: { N: '3600' } },
        UpdateExpression: 'ADD #a0 :a0, #a1 :a1',
        ExpressionAttributeNames: { '#a0': 'events', '#a1': 'zaps_msat' },
        ExpressionAttributeValues: { ':a0': { N: '2' }, ':a1': { N: '21000' } },
      });
      expect(byPk.get('g#all')).toEqual({
        TableName: table,
        Key: { pk: { S: 'g#all' }, sk: { N: '0' } },
        UpdateExpression: 'ADD #a0 :a0',
        ExpressionAttributeNames: { '#a0': 'events' },
        ExpressionAttributeValues: { ':a0': { N: '1' } },
      });
    });

    it('sets #ttl only when expiresAt is given', async () => {
      ddb.on(UpdateItemCommand).resolves({});
      await store.add([{ scope: 'e:ev1', granularity: 'm', bucket: 120, add: { reactions: 3 }, expiresAt: 1_700_000_000 }]);

      const input = ddb.commandCalls(UpdateItemCommand)[0]!.args[0].input;
      expect(input.Key).toEqual({ pk: { S: 'e:ev1#m' }, sk: { N: '120' } });
      expect(input.UpdateExpression).toBe('SET #ttl = :ttl ADD #a0 :a0');
      expect(input.ExpressionAttributeNames).toEqual({ '#a0': 'reactions', '#ttl': 'ttl' });
      expect(input.ExpressionAttributeValues).toEqual({ ':a0': { N: '3' }, ':ttl': { N: '1700000000' } });
    });

    it('uses placeholder names so reserved words and odd metric names are safe', async () => {
      ddb.on(UpdateItemCommand).resolves({});
      await store.add([{ scope: 'g', granularity: 'd', bucket: 86400, add: { count: 1, 'kind:7': 4, size: -2 } }]);
      const input = ddb.commandCalls(UpdateItemCommand)[0]!.args[0].input;
      expect(input.UpdateExpression).toBe('ADD #a0 :a0, #a1 :a1, #a2 :a2');
      expect(input.UpdateExpression).not.toMatch(/count|size|kind/);
      expect(input.ExpressionAttributeNames).toEqual({ '#a0': 'count', '#a1': 'kind:7', '#a2': 'size' });
      expect(input.ExpressionAttributeValues![':a2']).toEqual({ N: '-2' });
    });

    it('writes every delta of a large batch exactly once', async () => {
      ddb.on(UpdateItemCommand).resolves({});
      const deltas = Array.from({ length: 50 }, (_, i) => ({ scope: `u:${i}`, granularity: 'h' as const, bucket: 0, add: { events: i } }));
      await store.add(deltas);
      const pks = ddb.commandCalls(UpdateItemCommand).map((c) => c.args[0].input.Key!.pk!.S);
      expect(pks.sort()).toEqual(deltas.map((d) => `${d.scope}#h`).sort());
    });

    it('propagates a failed update', async () => {
      ddb.on(UpdateItemCommand).rejects(Object.assign(new Error('throttled'), { name: 'ProvisionedThroughputExceededException' }));
      await expect(store.add([{ scope: 'g', granularity: 'h', bucket: 0, add: { events: 1 } }])).rejects.toThrow('throttled');
    });
  });

  describe('put', () => {
    it('writes PutRequests through BatchWriteItem in chunks of 25', async () => {
      ddb.on(BatchWriteItemCommand).resolves({ UnprocessedItems: {} });
      const items = Array.from({ length: 60 }, (_, i) => ({
        scope: 'u:abc',
        granularity: 'd' as const,
        bucket: i * 86400,
        values: { events: i, zaps: 2 * i },
        ...(i === 0 ? { expiresAt: 2_000_000_000 } : {}),
      }));
      await store.put(items);

      const calls = ddb.commandCalls(BatchWriteItemCommand);
      expect(calls.map((c) => c.args[0].input.RequestItems![table]!.length).sort((a, b) => b - a)).toEqual([25, 25, 10]);
      const requests = calls.flatMap((c) => c.args[0].input.RequestItems![table]!);
      expect(requests).toHaveLength(60);
      const first = requests.find((r) => r.PutRequest!.Item!.sk!.N === '0')!;
      expect(first).toEqual({
        PutRequest: { Item: { pk: { S: 'u:abc#d' }, sk: { N: '0' }, events: { N: '0' }, zaps: { N: '0' }, ttl: { N: '2000000000' } } },
      });
      const other = requests.find((r) => r.PutRequest!.Item!.sk!.N === String(5 * 86400))!;
      expect(other.PutRequest!.Item).toEqual({ pk: { S: 'u:abc#d' }, sk: { N: '432000' }, events: { N: '5' }, zaps: { N: '10' } });
    });

    it('writes top lists as binary attributes, and refuses one not named top_… (it would read back as a sketch)', async () => {
      ddb.on(BatchWriteItemCommand).resolves({ UnprocessedItems: {} });
      const list = encodeTopList([['f'.repeat(64), 21_000]]);
      await store.put([{ scope: 'u:abc', granularity: 'd', bucket: 0, values: { events: 1 }, tops: { top_zappers: list } }]);
      const [request] = ddb.commandCalls(BatchWriteItemCommand)[0]!.args[0].input.RequestItems![table]!;
      expect(request!.PutRequest!.Item!.top_zappers).toEqual({ B: list });
      expect(list).toHaveLength(1 + 1 + 32 + 3);
      await expect(store.put([{ scope: 'u:abc', granularity: 'd', bucket: 0, values: {}, tops: { zappers: list } }])).rejects.toThrow(/top_/);
    });

    it('writes a large settled sketch packed (4 bits a register) and reads it back as its register array', async () => {
      ddb.on(BatchWriteItemCommand).resolves({ UnprocessedItems: {} });
      const registers = Uint8Array.from({ length: 1024 }, (_, r) => 3 + (r % 5));
      await store.put([{ scope: 'u:abc', granularity: 'w', bucket: 0, values: { events: 1 }, sets: { engagers: registers } }]);
      const [request] = ddb.commandCalls(BatchWriteItemCommand)[0]!.args[0].input.RequestItems![table]!;
      const stored = request!.PutRequest!.Item!.engagers!.B!;
      expect(stored).toHaveLength(2 + 512);
      expect(counterItemBytes({ scope: 'u:abc', granularity: 'w', bucket: 0, values: { events: 1 }, sets: { engagers: registers } })).toBeLessThan(600);
      ddb.on(QueryCommand).resolves({ Items: [{ pk: { S: 'u:abc#w' }, sk: { N: '0' }, engagers: { B: stored } }] });
      const [item] = await store.range('u:abc', 'w', 0, 0);
      expect(item!.sets!.engagers).toEqual(registers);
    });

    it('retries UnprocessedItems until none are left', async () => {
      const unprocessed = (items: WriteRequest[]) => ({ UnprocessedItems: { [table]: items } });
      let call = 0;
      ddb.on(BatchWriteItemCommand).callsFake((input: { RequestItems: Record<string, WriteRequest[]> }) => {
        call++;
        const requests = input.RequestItems[table]!;
        // first attempt leaves the last two, second attempt leaves one, third succeeds
        if (call === 1) return unprocessed(requests.slice(-2));
        if (call === 2) return unprocessed(requests.slice(-1));
        return {};
      });
      const items = Array.from({ length: 5 }, (_, i) => ({ scope: 'g', granularity: 'h' as const, bucket: i * 3600, values: { events: i } }));
      await store.put(items);

      const calls = ddb.commandCalls(BatchWriteItemCommand);
      expect(calls).toHaveLength(3);
      const sks = calls.map((c) => c.args[0].input.RequestItems![table]!.map((r) => r.PutRequest!.Item!.sk!.N));
      expect(sks).toEqual([['0', '3600', '7200', '10800', '14400'], ['10800', '14400'], ['14400']]);
    });

    it('gives up with an error when items stay unprocessed', async () => {
      vi.useFakeTimers();
      ddb.on(BatchWriteItemCommand).callsFake((input: { RequestItems: Record<string, WriteRequest[]> }) => ({
        UnprocessedItems: input.RequestItems,
      }));
      const done = store.put([{ scope: 'g', granularity: 'h', bucket: 0, values: { events: 1 } }]);
      const settled = expect(done).rejects.toThrow(/left 1 items unprocessed/);
      await vi.runAllTimersAsync();
      await settled;
      expect(ddb.commandCalls(BatchWriteItemCommand)).toHaveLength(9);
    });

    it('sends nothing for no items', async () => {
      await store.put([]);
      expect(ddb.calls()).toHaveLength(0);
    });
  });

  describe('range', () => {
    it('queries the scope#granularity partition between the buckets, following LastEvaluatedKey', async () => {
      const dense = new Uint8Array(1024).fill(3);
      const lastKey: Record<string, AttributeValue> = { pk: { S: 'u:abc#h' }, sk: { N: '7200' } };
      ddb.on(QueryCommand)
        .resolvesOnce({
          Items: [
            { pk: { S: 'u:abc#h' }, sk: { N: '3600' }, events: { N: '4' }, zaps: { N: '1000' }, ttl: { N: '1999999999' } },
            // a top list settled before the binary form (JSON text) beside one in it, and a dense sketch
            { pk: { S: 'u:abc#h' }, sk: { N: '7200' }, events: { N: '1.5' }, top_tags: { S: '[["nostr",2]]' }, top_posts: { B: encodeTopList([['e'.repeat(64), 3]]) }, engagers: { NS: ['64', '129'] }, zappers: { B: dense } },
          ],
          LastEvaluatedKey: lastKey,
        })
        .resolvesOnce({ Items: [{ pk: { S: 'u:abc#h' }, sk: { N: '10800' }, events: { N: '0' } }] });

      const items = await store.range('u:abc', 'h', 3600, 10800);
      expect(items).toEqual([
        { scope: 'u:abc', granularity: 'h', bucket: 3600, values: { events: 4, zaps: 1000 } },
        { scope: 'u:abc', granularity: 'h', bucket: 7200, values: { events: 1.5 }, tops: { top_tags: encodeTopList([['nostr', 2]]), top_posts: encodeTopList([['e'.repeat(64), 3]]) }, sets: { engagers: [64, 129], zappers: dense } },
        { scope: 'u:abc', granularity: 'h', bucket: 10800, values: { events: 0 } },
      ]);

      const calls = ddb.commandCalls(QueryCommand);
      expect(calls).toHaveLength(2);
      expect(calls[0]!.args[0].input).toEqual({
        TableName: table,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
        ExpressionAttributeValues: { ':pk': { S: 'u:abc#h' }, ':from': { N: '3600' }, ':to': { N: '10800' } },
        ExclusiveStartKey: undefined,
      });
      expect(calls[1]!.args[0].input.ExclusiveStartKey).toEqual(lastKey);
      expect(calls[1]!.args[0].input.ExpressionAttributeValues).toEqual(calls[0]!.args[0].input.ExpressionAttributeValues);
    });

    it('returns [] for an empty result', async () => {
      ddb.on(QueryCommand).resolves({ Items: [] });
      await expect(store.range('g', 'all', 0, 0)).resolves.toEqual([]);
      expect(ddb.commandCalls(QueryCommand)).toHaveLength(1);
    });
  });

  describe('state', () => {
    it('putState stores the JSON value and mirrors the guard fields (only) for conditional deletes', async () => {
      ddb.on(PutItemCommand).resolves({});
      await store.putState('dirty-hours', 3600, { markedAt: 1234, by: 'ingest', nested: { a: 1 }, flag: true });
      const input = ddb.commandCalls(PutItemCommand)[0]!.args[0].input;
      expect(input).toEqual({
        TableName: table,
        Item: {
          pk: { S: 's:dirty-hours' },
          sk: { N: '3600' },
          v: { S: JSON.stringify({ markedAt: 1234, by: 'ingest', nested: { a: 1 }, flag: true }) },
          f_markedAt: { N: '1234' },
        },
      });
    });

    it('getState reads consistently and parses the value, null when absent', async () => {
      ddb.on(GetItemCommand, { Key: { pk: { S: 's:ns' }, sk: { N: '1' } } }).resolves({ Item: { pk: { S: 's:ns' }, sk: { N: '1' }, v: { S: '{"x":5}' } } });
      ddb.on(GetItemCommand, { Key: { pk: { S: 's:ns' }, sk: { N: '2' } } }).resolves({});
      await expect(store.getState('ns', 1)).resolves.toEqual({ x: 5 });
      await expect(store.getState('ns', 2)).resolves.toBeNull();
      expect(ddb.commandCalls(GetItemCommand)[0]!.args[0].input).toEqual({
        TableName: table,
        Key: { pk: { S: 's:ns' }, sk: { N: '1' } },
        ConsistentRead: true,
      });
    });

    it('listState pages through the namespace partition', async () => {
      ddb.on(QueryCommand)
        .resolvesOnce({ Items: [{ pk: { S: 's:ns' }, sk: { N: '1' }, v: { S: '{"a":1}' } }], LastEvaluatedKey: { pk: { S: 's:ns' }, sk: { N: '1' } } })
        .resolvesOnce({ Items: [{ pk: { S: 's:ns' }, sk: { N: '2' }, v: { S: '{"a":2}' } }] });
      await expect(store.listState('ns')).resolves.toEqual([
        { id: 1, value: { a: 1 } },
        { id: 2, value: { a: 2 } },
      ]);
      const calls = ddb.commandCalls(QueryCommand);
      expect(calls[0]!.args[0].input).toMatchObject({
        TableName: table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': { S: 's:ns' } },
        ConsistentRead: true,
      });
      expect(calls[1]!.args[0].input.ExclusiveStartKey).toEqual({ pk: { S: 's:ns' }, sk: { N: '1' } });
    });

    it('deleteStateIf sends a conditional DeleteItem on the mirrored field and returns true', async () => {
      ddb.on(DeleteItemCommand).resolves({});
      await expect(store.deleteStateIf('dirty-hours', 7200, 'markedAt', 99)).resolves.toBe(true);
      await expect(store.deleteStateIf('dirty-hours', 7200, 'mark', 'token-1')).resolves.toBe(true);
      const calls = ddb.commandCalls(DeleteItemCommand);
      expect(calls[0]!.args[0].input).toEqual({
        TableName: table,
        Key: { pk: { S: 's:dirty-hours' }, sk: { N: '7200' } },
        ConditionExpression: '#f = :expected',
        ExpressionAttributeNames: { '#f': 'f_markedAt' },
        ExpressionAttributeValues: { ':expected': { N: '99' } },
      });
      expect(calls[1]!.args[0].input.ExpressionAttributeValues).toEqual({ ':expected': { S: 'token-1' } });
    });

    it('deleteStateIf returns false on ConditionalCheckFailedException', async () => {
      ddb.on(DeleteItemCommand)
        .rejectsOnce(new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} }))
        .rejectsOnce(Object.assign(new Error('The conditional request failed'), { name: 'ConditionalCheckFailedException' }));
      await expect(store.deleteStateIf('ns', 1, 'markedAt', 1)).resolves.toBe(false);
      await expect(store.deleteStateIf('ns', 1, 'markedAt', 1)).resolves.toBe(false);
    });

    it('deleteStateIf rethrows other errors', async () => {
      ddb.on(DeleteItemCommand).rejects(Object.assign(new Error('Requested resource not found'), { name: 'ResourceNotFoundException' }));
      await expect(store.deleteStateIf('ns', 1, 'markedAt', 1)).rejects.toThrow('Requested resource not found');
    });
  });
});
