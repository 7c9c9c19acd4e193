import middy from '@middy/core';
import { z } from 'zod';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { runJob, type RunJobDeps } from '../../lib/jobs/jobs.js';
import { awsPorts } from '../../lib/adapters/aws/index.js';
import { systemClock } from '../../lib/ports.js';
import { EmfMetrics } from '../../lib/metrics/emf.js';

const jobMessageSchema = z.object({ jobId: z.string().regex(/^[0-9a-f]{32}$/, 'jobId must be 32 hex characters') });

/**
 * The jobs queue → run each job (Athena in AWS, DuckDB locally). A job's own failure (bad SQL, a scan
 * over the cutoff) is recorded on the job; only infrastructure errors hand the message back.
 */
export function createJobsHandler(deps: RunJobDeps & { afterBatch?: () => void }) {
  return middy(async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const failures: { itemIdentifier: string }[] = [];
    for (const record of event.Records) {
      let message;
      try {
        message = jobMessageSchema.parse(JSON.parse(record.body));
      } catch (error) {
        console.error(JSON.stringify({ level: 'error', msg: 'not a job message; dropping it to the DLQ', error: String(error) }));
        failures.push({ itemIdentifier: record.messageId });
        continue;
      }
      try {
        await runJob(message.jobId, deps);
      } catch (error) {
        console.error(JSON.stringify({ level: 'error', msg: 'job run failed; will retry', jobId: message.jobId, error: String(error) }));
        failures.push({ itemIdentifier: record.messageId });
      }
    }
    deps.afterBatch?.();
    return { batchItemFailures: failures };
  });
}

let awsHandler: ReturnType<typeof createJobsHandler> | undefined;

export const handler = (event: SQSEvent, context: Parameters<ReturnType<typeof createJobsHandler>>[1]) => {
  awsHandler ??= (() => {
    const ports = awsPorts();
    const metrics = new EmfMetrics();
    return createJobsHandler({
      metrics,
      afterBatch: () => metrics.flush(),
      counters: ports.counters(),
      objects: ports.objects(),
      sql: ports.athena(),
      relation: ports.factsTable(),
      dialect: 'athena',
      clock: systemClock,
    });
  })();
  return awsHandler(event, context);
};
