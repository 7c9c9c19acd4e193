import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { compactAndSettle } from '../../lib/facts/compact.js';
import { DIRTY_HOURS, DIRTY_WEEKS, markDirty, readSettledThrough, readWatermark } from '../../lib/counters/state.js';
import { WEEK_SECONDS } from '../../lib/counters/weeks.js';
import { settledWeekItems } from '../../lib/counters/settle.js';
import { retentionFromEnv } from '../../lib/counters/retention.js';
import { encodeFacts } from '../../lib/facts/parquet.js';
import { partitionOf, partitionPrefix } from '../../lib/facts/partition.js';
import { newFact, type Fact } from '../../lib/facts/schema.js';
import { settleBuckets, settledShards, type ShardTask } from '../../lib/counters/settle-run.js';
import { queuedShardRunner } from '../../lib/counters/settle-shards.js';
import { LocalQueue } from '../../lib/adapters/local/local-queue.js';
import { QueueConsumer } from '../../lib/local/stack/queue-consumer.js';
import { createSettleHandler } from '../../functions/settle/handler.js';
import { fixedClock, memoryStores } from '../support/local.js';

const HOUR = Date.UTC(2026, 10, 20, 10) / 1000;
const retention = retentionFromEnv({ MINUTE_TTL_DAYS: '3650', HOUR_TTL_DAYS: '3650', DAY_TTL_DAYS: '3650' });
const author = (i: number) => `${((i % 30) * 9973).toString(16).padStart(6, '0')}${'c'.repeat(58)}`;
const facts: Fact[] = Array.from({ length: 240 }, (_, i) =>
  newFact({ event_id: (i + 1).toString(16).padStart(64, '0'), source: 'nostr', kind: 1, type: 'note', created_at: HOUR + i * 11, author: author(i), ingested_at: 1_000 + i }),
);

describe('shards settled by workers of their own (the settle queue)', () => {
  let stores: Awaited<ReturnType<typeof memoryStores>>;
  let queue: LocalQueue;
  let bytes: number;
  beforeEach(async () => {
    stores = await memoryStores();
    queue = await LocalQueue.open(join(stores.dir, 'settle.journal'), { visibilityTimeoutMs: 50, maxReceives: 5 });
    await stores.objects.put(`${partitionPrefix(partitionOf(HOUR))}batch-1.parquet`, encodeFacts(facts));
    await markDirty(stores.counters, [HOUR], 0);
    bytes = (await stores.objects.listSizes!(partitionPrefix(partitionOf(HOUR))))[0]!.bytes;
  });
  afterEach(async () => {
    await queue.close();
    await stores.close();
  });

  const worker = (failFirst = 0) => {
    let failures = failFirst;
    const handler = createSettleHandler({ ...stores, retention, write: () => {} });
    return new QueueConsumer(
      queue,
      async (event, context) => {
        if (failures-- > 0) throw new Error('worker crashed');
        return handler(event, context);
      },
      { batchSize: 1, batchWindowMs: 0, name: 'funnel-settle' },
    );
  };
  const compactor = (deadlineAt = () => Number.POSITIVE_INFINITY) => ({
    objects: stores.objects,
    counters: stores.counters,
    sql: stores.sql,
    tables: { ...stores.tables, shardBytes: Math.ceil(bytes / 3) },
    clock: fixedClock((HOUR + 2 * 3600) * 1000),
    retention,
    logIssue: () => {},
    runShard: queuedShardRunner(queue, stores.objects, { deadlineAt: deadlineAt(), pollMs: 10 }),
  });

  it('settles each shard in a worker, the same items as one statement would, and the compactor completes the hour', async () => {
    const consumer = worker();
    consumer.start();
    try {
      const run = await compactAndSettle(compactor());
      expect(run.hours.map((h) => h.hourStart)).toEqual([HOUR]);
      expect(run.deferredHours).toEqual([]);
      expect(await settledShards(stores.objects, 'h', HOUR)).toBe(3);
      expect(await stores.counters.listState(DIRTY_HOURS)).toEqual([]);
      expect(await readWatermark(stores.counters)).toBeGreaterThan(HOUR);
    } finally {
      await consumer.stop();
    }
    const reference = await memoryStores();
    try {
      await reference.objects.put(`${partitionPrefix(partitionOf(HOUR))}batch-1.parquet`, encodeFacts(facts));
      await settleBuckets('h', [HOUR], reference.tables.hours([HOUR]), { ...reference, retention }, { nowMs: 0 });
      for (const scope of ['g', ...new Set(facts.map((f) => `u:${f.author}`))]) {
        expect(await stores.counters.range(scope, 'h', HOUR, HOUR), scope).toEqual(await reference.counters.range(scope, 'h', HOUR, HOUR));
      }
    } finally {
      await reference.close();
    }
  });

  it('settles a week to date in shards through the queue, as the model does from the facts', async () => {
    const consumer = worker();
    consumer.start();
    const week = Math.floor(HOUR / WEEK_SECONDS) * WEEK_SECONDS;
    const through = Math.floor(HOUR / 86400) * 86400 + 2 * 86400;
    try {
      const run = await compactAndSettle({ ...compactor(), clock: fixedClock((through + 10 * 3600) * 1000) });
      expect(run.weeksSettled).toEqual([week]);
      // sized for the whole week (seven days of this one's bytes), not for the one day it has so far
      expect(await settledShards(stores.objects, 'w', week)).toBeGreaterThan(await settledShards(stores.objects, 'd', Math.floor(HOUR / 86400) * 86400) ?? 1);
      expect(await stores.counters.listState(DIRTY_WEEKS)).toEqual([]);
      expect((await readSettledThrough(stores.counters)).weeksThrough).toBe(through);
    } finally {
      await consumer.stop();
    }
    const model = settledWeekItems(week, facts, retention, through);
    const stored = await Promise.all(model.map(async (item) => (await stores.counters.range(item.scope, 'w', week, week))[0]?.values));
    expect(stored).toEqual(model.map((item) => item.values));
    expect(model.length).toBeGreaterThan(10);
  });

  it('a crashed worker is redelivered and its shard settled by the next attempt', async () => {
    const consumer = worker(2);
    consumer.start();
    try {
      const run = await compactAndSettle(compactor());
      expect(run.hours.length).toBe(1);
      expect(run.failedHours).toEqual([]);
    } finally {
      await consumer.stop();
    }
  });

  it('shards not settled by the deadline leave the hour dirty and the watermark before it; the next run finishes it', async () => {
    const first = await compactAndSettle(compactor(() => 0));
    expect(first.deferredHours).toEqual([HOUR]);
    expect(first.failedHours).toEqual([]);
    expect(await readWatermark(stores.counters)).toBeLessThanOrEqual(HOUR);
    expect((await stores.counters.listState(DIRTY_HOURS)).map((m) => m.id)).toEqual([HOUR]);
    const consumer = worker();
    consumer.start();
    try {
      const second = await compactAndSettle(compactor());
      expect(second.hours.map((h) => h.hourStart)).toEqual([HOUR]);
      expect(await readWatermark(stores.counters)).toBeGreaterThan(HOUR);
    } finally {
      await consumer.stop();
    }
  });

  it('a message that is not a shard task fails alone; a task already committed is not settled again', async () => {
    const handler = createSettleHandler({ ...stores, retention, write: () => {} });
    const task: ShardTask = { granularity: 'h', buckets: [HOUR], options: { nowMs: 0, copiedLive: true }, shard: { index: 1, count: 3 }, run: 'h-test-s1of3' };
    const event = (bodies: string[]) => ({ Records: bodies.map((body, i) => ({ messageId: `m${i}`, body, attributes: { ApproximateReceiveCount: '1' } })) }) as never;
    const first = await handler(event(['{"granularity":"x"}', JSON.stringify(task)]), {} as never);
    expect(first.batchItemFailures).toEqual([{ itemIdentifier: 'm0' }]);
    const manifest = await stores.objects.get(`counters/manifests/h/${HOUR}.shard-1-of-3.json`);
    expect(JSON.parse(new TextDecoder().decode(manifest!)).run).toBe('h-test-s1of3-a1');
    await handler(event([JSON.stringify(task)]), {} as never);
    expect(JSON.parse(new TextDecoder().decode((await stores.objects.get(`counters/manifests/h/${HOUR}.shard-1-of-3.json`))!)).run).toBe('h-test-s1of3-a1');
  });
});
