import { z } from 'zod';
import { COUNTERS_ENV, FACTS_ENV, queueEnv, RETENTION_ENV } from '../env.js';

/** The ingest function: facts to the bucket, the event index and marks to the table, live deltas to the live queue. */
export const ingestEnvSchema = z.object({ ...COUNTERS_ENV, ...FACTS_ENV, ...RETENTION_ENV, ...queueEnv('LIVE_QUEUE_URL') });
