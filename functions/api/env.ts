import { z } from 'zod';
import { rateLimitEnvShape } from '../../lib/api/rate-limit.js';
import { jobSettingsEnvShape } from '../../lib/jobs/jobs.js';
import { ATHENA_ENV, COUNTERS_ENV, FACTS_ENV, queueEnv, RETENTION_ENV, secretArnEnv } from '../env.js';

/**
 * The api function: counters, job results in the facts bucket, the jobs queue, POST /v1/events' ingest
 * queue and API keys, and the Athena workgroup and database each registered schema version's saved
 * query goes to (without them none is saved).
 */
export const apiEnvSchema = z.object({
  ...COUNTERS_ENV,
  ...FACTS_ENV,
  ...RETENTION_ENV,
  ...rateLimitEnvShape,
  ...jobSettingsEnvShape,
  ...queueEnv('JOBS_QUEUE_URL'),
  ...queueEnv('QUEUE_URL'),
  ...secretArnEnv('APP_API_KEYS_SECRET_ARN'),
  ATHENA_WORKGROUP: ATHENA_ENV.ATHENA_WORKGROUP.optional(),
  ATHENA_DATABASE: ATHENA_ENV.ATHENA_DATABASE.optional(),
});

export type ApiEnv = z.infer<typeof apiEnvSchema>;

/**
 * Where the saved queries go: both Athena variables, or neither (no saved queries). One without the
 * other is a deployment mistake, refused at cold start rather than read as "none".
 */
export function savedQueryAthena(env: Pick<ApiEnv, 'ATHENA_WORKGROUP' | 'ATHENA_DATABASE'>): { workGroup: string; database: string } | undefined {
  const { ATHENA_WORKGROUP: workGroup, ATHENA_DATABASE: database } = env;
  if (workGroup && database) return { workGroup, database };
  if (workGroup || database) throw new Error('invalid environment: ATHENA_WORKGROUP and ATHENA_DATABASE are set together or not at all');
  return undefined;
}
