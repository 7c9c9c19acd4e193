import { z } from 'zod';
import { awsConfigOf, configFrom, COUNTERS_ENV } from '../env.js';

/** The live function: adds merged deltas to the counters table. */
export const liveEnvSchema = z.object({ ...COUNTERS_ENV });

export const liveConfig = configFrom(liveEnvSchema, (env) => ({ aws: awsConfigOf(env) }));
