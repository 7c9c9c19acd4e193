import { z } from 'zod';
import { ATHENA_ENV, COUNTERS_ENV, FACTS_ENV, queueEnv, RETENTION_ENV } from '../env.js';
import { archiveEnvShape } from '../../lib/facts/storage-tiers.js';

/**
 * The compactor: the settle's pacing (infra/lib/compactor.ts sets it; docs/scaling.md says why), Athena,
 * the settle queue for big hours' shards, and the facts' archive age (an hour or day holding an object that
 * old is left as settled: its facts cannot be read back).
 */
export const compactorEnvSchema = z.object({
  ...COUNTERS_ENV,
  ...FACTS_ENV,
  ...ATHENA_ENV,
  ...RETENTION_ENV,
  ...archiveEnvShape,
  ...queueEnv('SETTLE_QUEUE_URL'),
  RESETTLE_HOUR_AFTER_SECONDS: z.coerce.number().int().min(0).max(86_400),
  RESETTLE_DAY_AFTER_SECONDS: z.coerce.number().int().min(0).max(7 * 86_400),
});
