import middy from '@middy/core';
import { z } from 'zod';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { ingestBatch, type IngestDeps } from '../../lib/ingest/ingest.js';
import { loadVerifier } from '../../lib/nostr/verify.js';
import { awsPorts } from '../../lib/adapters/aws/index.js';
import { retentionFromEnv } from '../../lib/counters/retention.js';
import { systemClock } from '../../lib/ports.js';
import { EmfMetrics } from '../../lib/metrics/emf.js';
import { createLogger } from '../../lib/log.js';

/** The edge: only the SQS record fields the core uses, checked before anything else runs. */
const sqsEventSchema = z.object({
  Records: z.array(
    z.object({
      messageId: z.string(),
      body: z.string(),
      attributes: z.object({ ApproximateReceiveCount: z.string().optional() }).passthrough().optional(),
    }),
  ),
});

export type IngestHandlerDeps = Omit<IngestDeps, 'verify'> & {
  /** structured log lines; CloudWatch takes stdout in Lambda */
  write?: (line: string) => void;
  /** called after each batch (EMF flush in Lambda) */
  afterBatch?: (correlationId: string) => void;
};

/** SQS → ingest core, reporting partial batch failures so one bad message never fails the batch. */
export function createIngestHandler(deps: IngestHandlerDeps) {
  return middy(async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    const { Records } = sqsEventSchema.parse(event);
    const correlationId = context.awsRequestId;
    const log = createLogger({ component: 'ingest', correlationId }, deps.write);
    const verify = await loadVerifier();
    const records = Records.map((r) => ({
      messageId: r.messageId,
      body: r.body,
      receiveCount: Number(r.attributes?.ApproximateReceiveCount ?? 1),
    }));
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
    const ports = awsPorts();
    const metrics = new EmfMetrics();
    return createIngestHandler({
      objects: ports.objects(),
      counters: ports.counters(),
      clock: systemClock,
      metrics,
      minuteTtlSeconds: retentionFromEnv().minuteSeconds,
      afterBatch: (correlationId) => metrics.flush({ correlationId }),
    });
  })();
  return awsHandler(event, context);
};
