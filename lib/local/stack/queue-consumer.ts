import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { LocalQueue } from '../../adapters/local/local-queue.js';

export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void>;

export interface ConsumerOptions {
  batchSize: number;
  /** how long to gather a batch once the first message is visible (Lambda's MaximumBatchingWindow) */
  batchWindowMs: number;
  onError?: (error: unknown) => void;
  /** the function the queue feeds (the event's source ARN and the context's name); default funnel-ingest */
  name?: string;
}

/**
 * Drives a handler from a LocalQueue the way Lambda's SQS event source mapping does: batches,
 * Lambda-shaped events, partial batch failures left on the queue to be redelivered.
 */
export class QueueConsumer {
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly queue: LocalQueue,
    private readonly handler: SqsHandler,
    private readonly options: ConsumerOptions,
  ) {}

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** Processes until the queue is empty (or only holds messages waiting out their visibility timeout). */
  async drain(deadlineMs = 60_000): Promise<void> {
    const deadline = Date.now() + deadlineMs;
    while (this.queue.depth > 0 && Date.now() < deadline) {
      if (this.queue.visibleDepth === 0) {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      await this.processOnce();
    }
  }

  private async run(): Promise<void> {
    while (this.running) {
      if (this.queue.visibleDepth === 0) {
        await this.queue.waitForMessages(200);
        continue;
      }
      if (this.queue.visibleDepth < this.options.batchSize) await new Promise((r) => setTimeout(r, this.options.batchWindowMs));
      await this.processOnce();
    }
  }

  async processOnce(): Promise<void> {
    const records = this.queue.receive(this.options.batchSize);
    if (!records.length) return;
    const now = Date.now();
    const event: SQSEvent = {
      Records: records.map(
        (r): SQSRecord => ({
          messageId: r.messageId,
          receiptHandle: r.messageId,
          body: r.body,
          attributes: {
            ApproximateReceiveCount: String(r.receiveCount),
            SentTimestamp: String(now),
            SenderId: 'local',
            ApproximateFirstReceiveTimestamp: String(now),
          },
          messageAttributes: {},
          md5OfBody: '',
          eventSource: 'aws:sqs',
          eventSourceARN: `arn:aws:sqs:local:000000000000:${this.options.name ?? 'funnel-ingest'}`,
          awsRegion: 'local',
        }),
      ),
    };
    await (async () => {
      try {
        const response = await this.handler(event, lambdaContext(this.options.name ?? 'funnel-ingest'));
        const failed = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
        this.queue.delete(records.map((r) => r.messageId).filter((id) => !failed.has(id)));
      } catch (error) {
        // Whole-batch failure: nothing is deleted; every message comes back after its visibility timeout.
        this.options.onError?.(error);
      }
    })();
  }
}

/**
 * Consumers of queues that feed one another (ingest → live counters), driven as one: a drain empties
 * each in order, so whatever the first hands the next is processed before the drain returns.
 */
export class ConsumerChain {
  private readonly consumers: QueueConsumer[];

  constructor(...consumers: QueueConsumer[]) {
    this.consumers = consumers;
  }

  start(): void {
    for (const c of this.consumers) c.start();
  }

  async stop(): Promise<void> {
    for (const c of this.consumers) await c.stop();
  }

  async drain(deadlineMs = 60_000): Promise<void> {
    const deadline = Date.now() + deadlineMs;
    for (const c of this.consumers) await c.drain(Math.max(0, deadline - Date.now()));
  }

  /** One batch of the first queue, then whatever it handed on. */
  async processOnce(): Promise<void> {
    const [first, ...rest] = this.consumers;
    await first?.processOnce();
    for (const c of rest) await c.drain();
  }
}

/** The parts of a Lambda context handlers and middy read. */
export function lambdaContext(functionName: string): Context {
  return {
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: Math.random().toString(36).slice(2),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    callbackWaitsForEmptyEventLoop: false,
    getRemainingTimeInMillis: () => 60_000,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}
