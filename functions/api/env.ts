import { z } from 'zod';
import { rateLimitEnvShape } from '../../lib/api/rate-limit.js';
import { jobSettingsEnvShape } from '../../lib/jobs/jobs.js';
import { COUNTERS_ENV, FACTS_ENV, queueEnv, RETENTION_ENV, secretArnEnv } from '../env.js';

/** The api function: counters, job results in the facts bucket, the jobs queue, and POST /v1/events' ingest queue and API keys. */
export const apiEnvSchema = z.object({
  ...COUNTERS_ENV,
  ...FACTS_ENV,
  ...RETENTION_ENV,
  ...rateLimitEnvShape,
  ...jobSettingsEnvShape,
  ...queueEnv('JOBS_QUEUE_URL'),
  ...queueEnv('QUEUE_URL'),
  ...secretArnEnv('APP_API_KEYS_SECRET_ARN'),
});
