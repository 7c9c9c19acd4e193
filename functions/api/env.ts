import { z } from 'zod';
import { rateLimitEnvShape, rateLimitOf } from '../../lib/api/rate-limit.js';
import { retentionOf } from '../../lib/counters/retention.js';
import { jobSettingsEnvShape, jobSettingsOf } from '../../lib/jobs/jobs.js';
import { allOrNone } from '../../lib/util/env.js';
import { ATHENA_ENV, awsConfigOf, configFrom, COUNTERS_ENV, FACTS_ENV, queueEnv, RETENTION_ENV, secretArnEnv } from '../env.js';

/**
 * The api function: counters, job results in the facts bucket, the jobs queue, POST /v1/events' ingest
 * queue and API keys, and the Athena workgroup and database each registered schema version's saved
 * query goes to: both, or neither (no saved queries); one without the other is a deployment mistake,
 * refused at cold start rather than read as "none".
 */
export const apiEnvSchema = z
  .object({
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
  })
  .superRefine(allOrNone('saved queries', ['ATHENA_WORKGROUP', 'ATHENA_DATABASE']));

export type ApiEnv = z.infer<typeof apiEnvSchema>;

/** The api function's configuration; `savedQueries` is where the saved queries go (absent: none are saved). */
export const apiConfig = configFrom(apiEnvSchema, (env) => {
  const aws = awsConfigOf(env);
  return { aws, retention: retentionOf(env), rateLimit: rateLimitOf(env), jobSettings: jobSettingsOf(env), savedQueries: aws.athena };
});
