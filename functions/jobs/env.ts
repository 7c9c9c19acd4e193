import { z } from 'zod';
import { jobLimitsEnvShape, jobLimitsOf } from '../../lib/jobs/jobs.js';
import { archiveEnvShape, archivePolicyOf } from '../../lib/facts/storage-tiers.js';
import { ATHENA_ENV, awsConfigOf, configFrom, COUNTERS_ENV, FACTS_ENV, queueEnv } from '../env.js';

/**
 * The jobs function: Athena over the facts, job records in the table, results in the bucket, each step's
 * successor on the jobs queue, and the facts' archive age (no query reads an hour old enough to be archived).
 */
export const jobsEnvSchema = z.object({ ...COUNTERS_ENV, ...FACTS_ENV, ...ATHENA_ENV, ...jobLimitsEnvShape, ...archiveEnvShape, ...queueEnv('JOBS_QUEUE_URL') });

export const jobsConfig = configFrom(jobsEnvSchema, (env) => ({ aws: awsConfigOf(env), limits: jobLimitsOf(env), archive: archivePolicyOf(env) }));
