import { describe, expect, it } from 'vitest';
import { LocalQueue } from '../../lib/adapters/local/local-queue.js';
import { QueueConsumer } from '../../lib/local/stack/queue-consumer.js';

function clockedQueue(maxReceives = 3) {
  let now = 1_000;
  const deadLetter = new LocalQueue({ visibilityTimeoutMs: 1000, maxReceives: Infinity, now: () => now });
  const queue = new LocalQueue({ visibilityTimeoutMs: 1000, maxReceives, deadLetter, now: () => now });
  return { queue, deadLetter, advance: (ms: number) => (now += ms) };
}

describe('LocalQueue keeps SQS semantics', () => {
  it('hides received messages for the visibility timeout, then redelivers them with a higher receive count', async () => {
    const { queue, advance } = clockedQueue();
    await queue.sendBatch(['a', 'b']);
    const first = queue.receive(10);
    expect(first.map((r) => [r.body, r.receiveCount])).toEqual([
      ['a', 1],
      ['b', 1],
    ]);
    expect(queue.receive(10)).toEqual([]);
    advance(999);
    expect(queue.receive(10)).toEqual([]);
    advance(1);
    expect(queue.receive(10).map((r) => [r.body, r.receiveCount])).toEqual([
      ['a', 2],
      ['b', 2],
    ]);
  });

  it('deletes acknowledged messages and respects the batch size', async () => {
    const { queue } = clockedQueue();
    await queue.sendBatch(['a', 'b', 'c']);
    const batch = queue.receive(2);
    expect(batch).toHaveLength(2);
    queue.delete(batch.map((r) => r.messageId));
    expect(queue.depth).toBe(1);
  });

  it('moves a message to the dead-letter queue after maxReceives receives', async () => {
    const { queue, deadLetter, advance } = clockedQueue(2);
    await queue.sendBatch(['poison']);
    queue.receive(1);
    advance(1000);
    queue.receive(1);
    advance(1000);
    expect(queue.receive(1)).toEqual([]);
    // The move completes once the DLQ has stored it (a durable DLQ fsyncs first).
    await new Promise((r) => setImmediate(r));
    expect(queue.depth).toBe(0);
    expect(deadLetter.bodies()).toEqual(['poison']);
  });
});

describe('QueueConsumer drives a handler like the Lambda SQS event source', () => {
  it('deletes successes, leaves batchItemFailures for redelivery, and dead-letters poison', async () => {
    const deadLetter = new LocalQueue({ visibilityTimeoutMs: 10, maxReceives: Infinity });
    const queue = new LocalQueue({ visibilityTimeoutMs: 10, maxReceives: 3, deadLetter });
    const seen: string[] = [];
    const consumer = new QueueConsumer(
      queue,
      async (event) => {
        seen.push(...event.Records.map((r) => `${r.body}#${r.attributes.ApproximateReceiveCount}`));
        return { batchItemFailures: event.Records.filter((r) => r.body === 'poison').map((r) => ({ itemIdentifier: r.messageId })) };
      },
      { batchSize: 10, batchWindowMs: 0 },
    );
    await queue.sendBatch(['good', 'poison', 'also-good']);
    await consumer.drain(5_000);
    expect(seen.filter((s) => s.startsWith('good'))).toEqual(['good#1']);
    expect(seen.filter((s) => s.startsWith('poison'))).toEqual(['poison#1', 'poison#2', 'poison#3']);
    expect(queue.depth).toBe(0);
    expect(deadLetter.bodies()).toEqual(['poison']);
  });

  it('keeps the whole batch when the handler throws', async () => {
    const queue = new LocalQueue({ visibilityTimeoutMs: 10, maxReceives: 5 });
    let calls = 0;
    const consumer = new QueueConsumer(
      queue,
      async () => {
        if (++calls === 1) throw new Error('transient');
        return { batchItemFailures: [] };
      },
      { batchSize: 10, batchWindowMs: 0 },
    );
    await queue.sendBatch(['x', 'y']);
    await consumer.drain(5_000);
    expect(calls).toBe(2);
    expect(queue.depth).toBe(0);
  });
});
