import { z } from 'zod';
import { ATHENA_ENV, awsConfigOf, configFrom, COUNTERS_ENV, FACTS_ENV, queueEnv, RETENTION_ENV } from '../env.js';
import { retentionOf } from '../../lib/counters/retention.js';
import { archiveEnvShape, archivePolicyOf } from '../../lib/facts/storage-tiers.js';

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

export const compactorConfig = configFrom(compactorEnvSchema, (env) => ({
  aws: awsConfigOf(env),
  retention: retentionOf(env),
  archive: archivePolicyOf(env),
  resettle: { hourAfterSeconds: env.RESETTLE_HOUR_AFTER_SECONDS, dayAfterSeconds: env.RESETTLE_DAY_AFTER_SECONDS },
}));
