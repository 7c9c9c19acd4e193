import { z } from 'zod';
import { COUNTERS_ENV } from '../env.js';

/** The live function: adds merged deltas to the counters table. */
export const liveEnvSchema = z.object({ ...COUNTERS_ENV });
