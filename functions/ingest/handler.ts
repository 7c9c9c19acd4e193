import middy from '@middy/core';
import { z } from 'zod';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { ingestBatch, type IngestDeps } from '../../lib/ingest/ingest.js';
import { loadVerifier } from '../../lib/nostr/verify.js';
import { awsPorts } from '../../lib/adapters/aws/index.js';
import { retentionFromEnv } from '../../lib/counters/retention.js';
import { systemClock } from '../../lib/ports.js';
import { noopMetrics } from '../../lib/metrics/registry.js';

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
  /** structured log sink; CloudWatch takes stdout in Lambda */
  log?: (record: Record<string, unknown>) => void;
};

/** SQS → ingest core, reporting partial batch failures so one bad message never fails the batch. */
export function createIngestHandler(deps: IngestHandlerDeps) {
  return middy(async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const { Records } = sqsEventSchema.parse(event);
    const verify = await loadVerifier();
    const records = Records.map((r) => ({
      messageId: r.messageId,
      body: r.body,
      receiveCount: Number(r.attributes?.ApproximateReceiveCount ?? 1),
    }));
    const result = await ingestBatch(records, { ...deps, verify });
    (deps.log ?? ((r) => console.log(JSON.stringify(r))))({
        level: 'info',
        msg: 'ingest batch',
        messages: records.length,
        accepted: result.accepted,
        duplicatesInBatch: result.duplicatesInBatch,
        rejected: result.rejected,
        failed: result.failedMessageIds.length,
    });
    return { batchItemFailures: result.failedMessageIds.map((itemIdentifier) => ({ itemIdentifier })) };
  });
}

let awsHandler: ReturnType<typeof createIngestHandler> | undefined;

export const handler = (event: SQSEvent, context: Parameters<ReturnType<typeof createIngestHandler>>[1]) => {
  awsHandler ??= (() => {
    const ports = awsPorts();
    return createIngestHandler({
      objects: ports.objects(),
      counters: ports.counters(),
      clock: systemClock,
      metrics: noopMetrics,
      minuteTtlSeconds: retentionFromEnv().minuteSeconds,
    });
  })();
  return awsHandler(event, context);
};
