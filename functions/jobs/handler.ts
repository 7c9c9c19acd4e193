import middy from '@middy/core';
import { z } from 'zod';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { sqsRecords } from '../sqs-records.js';
import { DEFAULT_JOB_LIMITS, JOB_STEP_MAX_ATTEMPTS, runJobStep, type RunJobDeps } from '../../lib/jobs/jobs.js';
import { jobsConfig } from './env.js';
import { MAX_JOB_CHUNKS } from '../../lib/jobs/plan.js';
import { awsPorts } from '../../lib/adapters/aws/index.js';
import { systemClock } from '../../lib/ports.js';
import { EmfMetrics, powertoolsLoggers } from '../../lib/adapters/aws/powertools.js';
import { createLogger, setLogBackend } from '../../lib/log.js';

/** The last step of the largest plan: its merge, after one step per chunk. */
const MAX_STEP = MAX_JOB_CHUNKS;

// `step` is absent in messages queued before jobs ran in steps: those start at step 0.
const jobMessageSchema = z.object({
  jobId: z.string().regex(/^[0-9a-f]{32}$/, 'jobId must be 32 hex characters'),
  step: z.number().int().min(0).max(MAX_STEP).optional(),
  attempt: z.number().int().min(0).max(JOB_STEP_MAX_ATTEMPTS - 1).optional(),
});

/**
 * The jobs queue → one step of a job per message (Athena in AWS, DuckDB locally); each step sends the
 * next step's message to the same queue. A job's own failure (a scan over the cutoff or the budget, a
 * step out of retries) is recorded on the job; only infrastructure errors (the job item or the queue
 * unwritable) hand the message back.
 */
export function createJobsHandler(deps: RunJobDeps & { afterBatch?: () => void; write?: (line: string) => void }) {
  const limits = deps.limits ?? DEFAULT_JOB_LIMITS;
  const log = createLogger({ component: 'jobs' }, deps.write);
  return middy(async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const failures: { itemIdentifier: string }[] = [];
    for (const record of sqsRecords(event)) {
      let message;
      try {
        message = jobMessageSchema.parse(JSON.parse(record.body));
      } catch (error) {
        log('error', 'not a job message; dropping it to the DLQ', { messageId: record.messageId, error });
        failures.push({ itemIdentifier: record.messageId });
        continue;
      }
      try {
        await runJobStep(message, { ...deps, limits }, { receiveCount: record.receiveCount });
      } catch (error) {
        log('error', 'job step failed; will retry', { jobId: message.jobId, step: message.step ?? 0, error });
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
    const config = jobsConfig();
    const ports = awsPorts(config.aws);
    setLogBackend(powertoolsLoggers());
    const metrics = new EmfMetrics();
    return createJobsHandler({
      limits: config.limits,
      archive: config.archive,
      metrics,
      afterBatch: () => metrics.flush(),
      counters: ports.counters(),
      objects: ports.objects(),
      sql: ports.athena(),
      relation: ports.factsTable(),
      dialect: 'athena',
      clock: systemClock,
      jobsQueue: ports.jobsQueue(),
    });
  })();
  return awsHandler(event, context);
};
