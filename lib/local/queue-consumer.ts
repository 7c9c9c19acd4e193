import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { LocalQueue } from '../adapters/local/local-queue.js';

export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void>;

export interface ConsumerOptions {
  batchSize: number;
  /** how long to gather a batch once the first message is visible (Lambda's MaximumBatchingWindow) */
  batchWindowMs: number;
  onError?: (error: unknown) => void;
}

/**
 * Drives a handler from a LocalQueue the way Lambda's SQS event source mapping does: batches,
 * Lambda-shaped events, partial batch failures left on the queue to be redelivered.
 */
export class QueueConsumer {
  private running = false;
  private loop: Promise<void> | undefined;
  private inFlight: Promise<void> = Promise.resolve();

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
          eventSourceARN: 'arn:aws:sqs:local:000000000000:funnel-ingest',
          awsRegion: 'local',
        }),
      ),
    };
    const run = (async () => {
      try {
        const response = await this.handler(event, lambdaContext('funnel-ingest'));
        const failed = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
        this.queue.delete(records.map((r) => r.messageId).filter((id) => !failed.has(id)));
      } catch (error) {
        // Whole-batch failure: nothing is deleted; every message comes back after its visibility timeout.
        this.options.onError?.(error);
      }
    })();
    this.inFlight = run;
    await run;
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
