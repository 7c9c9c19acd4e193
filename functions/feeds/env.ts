import { z } from 'zod';
import { retentionOf } from '../../lib/counters/retention.js';
import { awsConfigOf, configFrom, COUNTERS_ENV, RETENTION_ENV } from '../env.js';

/** The feeds function: reads the video lists and stats, writes the stored feeds, all in the counters table. */
export const feedsEnvSchema = z.object({ ...COUNTERS_ENV, ...RETENTION_ENV });

export const feedsConfig = configFrom(feedsEnvSchema, (env) => ({ aws: awsConfigOf(env), retention: retentionOf(env) }));
