import { z } from 'zod';
import { jobLimitsEnvShape } from '../../lib/jobs/jobs.js';
import { ATHENA_ENV, COUNTERS_ENV, FACTS_ENV, queueEnv } from '../env.js';

/** The jobs function: Athena over the facts, job records in the table, results in the bucket, each step's successor on the jobs queue. */
export const jobsEnvSchema = z.object({ ...COUNTERS_ENV, ...FACTS_ENV, ...ATHENA_ENV, ...jobLimitsEnvShape, ...queueEnv('JOBS_QUEUE_URL') });
