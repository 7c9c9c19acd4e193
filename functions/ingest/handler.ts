import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { sqsRecords } from '../sqs-records.js';
import { ingestBatch, type IngestDeps } from '../../lib/ingest/ingest.js';
import { loadVerifier } from '../../lib/nostr/verify.js';
import { awsPorts } from '../../lib/adapters/aws/index.js';
import { queuedLiveCounters } from '../../lib/counters/live-queue.js';
import { ingestConfig } from './env.js';
import { systemClock } from '../../lib/ports.js';
import { EmfMetrics, powertoolsLoggers } from '../../lib/adapters/aws/powertools.js';
import { createLogger, setLogBackend } from '../../lib/log.js';

export type IngestHandlerDeps = Omit<IngestDeps, 'verify'> & {
  /** plain JSON log lines go here (the local stack, tests); unset, the installed log backend (Powertools in Lambda) */
  write?: (line: string) => void;
  /** called after each batch (EMF flush in Lambda) */
  afterBatch?: (correlationId: string) => void;
};

/** SQS → ingest core, reporting partial batch failures so one bad message never fails the batch. */
export function createIngestHandler(deps: IngestHandlerDeps) {
  return middy(async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    const records = sqsRecords(event);
    const correlationId = context.awsRequestId;
    const log = createLogger({ component: 'ingest', correlationId }, deps.write);
    const verify = await loadVerifier();
    try {
      const result = await ingestBatch(records, { ...deps, verify, logError: (msg, fields) => log('error', msg, fields) });
      log(result.failedMessageIds.length ? 'warn' : 'info', 'ingest batch', {
        messages: records.length,
        accepted: result.accepted,
        duplicatesInBatch: result.duplicatesInBatch,
        rejected: result.rejected,
        failed: result.failedMessageIds.length,
        objects: result.objectKeys,
      });
      return { batchItemFailures: result.failedMessageIds.map((itemIdentifier) => ({ itemIdentifier })) };
    } finally {
      deps.afterBatch?.(correlationId);
    }
  });
}

let awsHandler: ReturnType<typeof createIngestHandler> | undefined;

export const handler = (event: SQSEvent, context: Context) => {
  awsHandler ??= (() => {
    const { aws, retention } = ingestConfig();
    const ports = awsPorts(aws);
    setLogBackend(powertoolsLoggers());
    const metrics = new EmfMetrics();
    return createIngestHandler({
      objects: ports.objects(),
      counters: ports.counters(),
      clock: systemClock,
      metrics,
      minuteTtlSeconds: retention.minuteSeconds,
      noteIndexTtlSeconds: retention.noteIndexSeconds,
      hourTtlSeconds: retention.hourSeconds,
      liveCounters: queuedLiveCounters(ports.liveQueue()),
      afterBatch: (correlationId) => metrics.flush({ correlationId }),
    });
  })();
  return awsHandler(event, context);
};
