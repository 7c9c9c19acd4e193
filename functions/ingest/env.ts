import { z } from 'zod';
import { retentionOf } from '../../lib/counters/retention.js';
import { awsConfigOf, configFrom, COUNTERS_ENV, FACTS_ENV, queueEnv, RETENTION_ENV } from '../env.js';

/** The ingest function: facts to the bucket, the event index and marks to the table, live deltas to the live queue. */
export const ingestEnvSchema = z.object({ ...COUNTERS_ENV, ...FACTS_ENV, ...RETENTION_ENV, ...queueEnv('LIVE_QUEUE_URL') });

export const ingestConfig = configFrom(ingestEnvSchema, (env) => ({ aws: awsConfigOf(env), retention: retentionOf(env) }));
