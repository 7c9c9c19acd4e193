import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { sqsRecords } from '../sqs-records.js';
import { applyLiveDeltas } from '../../lib/counters/live-queue.js';
import { awsPorts } from '../../lib/adapters/aws/index.js';
import { liveConfig } from './env.js';
import { systemClock, type Clock, type CounterStore, type MetricsSink } from '../../lib/ports.js';
import { EmfMetrics, powertoolsLoggers } from '../../lib/adapters/aws/powertools.js';
import { METRIC } from '../../lib/metrics/names.js';
import { createLogger, setLogBackend } from '../../lib/log.js';

export interface LiveHandlerDeps {
  counters: CounterStore;
  clock: Clock;
  metrics: MetricsSink;
  write?: (line: string) => void;
  afterBatch?: (correlationId: string) => void;
}

/** SQS (the live queue) → merged live minute counters, reporting the messages to redeliver. */
export function createLiveHandler(deps: LiveHandlerDeps) {
  return middy(async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    const records = sqsRecords(event);
    const correlationId = context.awsRequestId;
    const log = createLogger({ component: 'live', correlationId }, deps.write);
    try {
      const result = await applyLiveDeltas(records, deps);
      deps.metrics.count(METRIC.liveMessagesApplied, {}, result.applied);
      deps.metrics.observe?.(METRIC.liveItemsWritten, result.items);
      if (result.failedMessageIds.length) deps.metrics.count(METRIC.liveMessageErrors, {}, result.failedMessageIds.length);
      for (const m of result.malformed) log('error', 'malformed live delta message', { messageId: m.messageId, reason: m.reason });
      if (result.error) log('error', 'live counters add failed; the batch is redelivered', { error: result.error });
      log(result.failedMessageIds.length ? 'warn' : 'info', 'live batch', { messages: records.length, applied: result.applied, items: result.items, failed: result.failedMessageIds.length });
      return { batchItemFailures: result.failedMessageIds.map((itemIdentifier) => ({ itemIdentifier })) };
    } finally {
      deps.afterBatch?.(correlationId);
    }
  });
}

let awsHandler: ReturnType<typeof createLiveHandler> | undefined;

export const handler = (event: SQSEvent, context: Context) => {
  awsHandler ??= (() => {
    const config = liveConfig();
    setLogBackend(powertoolsLoggers());
    const metrics = new EmfMetrics();
    return createLiveHandler({ counters: awsPorts(config.aws).counters(), clock: systemClock, metrics, afterBatch: (correlationId) => metrics.flush({ correlationId }) });
  })();
  return awsHandler(event, context);
};
