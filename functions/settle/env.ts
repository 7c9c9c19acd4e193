import { z } from 'zod';
import { retentionOf } from '../../lib/counters/retention.js';
import { ATHENA_ENV, awsConfigOf, configFrom, COUNTERS_ENV, FACTS_ENV, RETENTION_ENV } from '../env.js';

/** A settle worker: one shard's queries in Athena over the facts bucket, its Puts to the counters table. */
export const settleEnvSchema = z.object({ ...COUNTERS_ENV, ...FACTS_ENV, ...ATHENA_ENV, ...RETENTION_ENV });

export const settleConfig = configFrom(settleEnvSchema, (env) => ({ aws: awsConfigOf(env), retention: retentionOf(env) }));
