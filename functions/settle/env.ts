import { z } from 'zod';
import { ATHENA_ENV, COUNTERS_ENV, FACTS_ENV, RETENTION_ENV } from '../env.js';

/** A settle worker: one shard's queries in Athena over the facts bucket, its Puts to the counters table. */
export const settleEnvSchema = z.object({ ...COUNTERS_ENV, ...FACTS_ENV, ...ATHENA_ENV, ...RETENTION_ENV });
