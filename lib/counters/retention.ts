import { parseVariables, positiveVariable, type Environment } from '../util/env.js';

/** How long each granularity is kept (DynamoDB TTL), and so which windows the counters can answer. */
export interface Retention {
  minuteSeconds: number;
  hourSeconds: number;
  daySeconds: number;
  /**
   * How long the event index keeps a note, reply or comment (who wrote it, its kind and time) after its
   * created_at: per-event reads, deletions and reply parents older than this answer without it. Video
   * records and lists never expire. The index is most of the table's bytes without it (docs/deploy.md).
   */
  noteIndexSeconds: number;
}

/** Minutes are kept as long as hours: a user's sparse hour is its minute items (contributions.ts). */
export const DEFAULT_RETENTION_DAYS = { minute: 62, hour: 62, day: 732, noteIndex: 62 } as const;

/** A number of days as an environment variable, in seconds. */
const days = (fallback: number) => positiveVariable(fallback, 'a positive number of days').transform((value) => Math.round(value * 86400));

/** MINUTE_TTL_DAYS, HOUR_TTL_DAYS, DAY_TTL_DAYS, NOTE_INDEX_TTL_DAYS (days; defaults DEFAULT_RETENTION_DAYS), as seconds. */
export const retentionEnvShape = {
  MINUTE_TTL_DAYS: days(DEFAULT_RETENTION_DAYS.minute),
  HOUR_TTL_DAYS: days(DEFAULT_RETENTION_DAYS.hour),
  DAY_TTL_DAYS: days(DEFAULT_RETENTION_DAYS.day),
  NOTE_INDEX_TTL_DAYS: days(DEFAULT_RETENTION_DAYS.noteIndex),
};

/** The retention variables once parsed (seconds). */
export type RetentionEnv = { [K in keyof typeof retentionEnvShape]: number };

/** The retention `env` configures (retentionEnvShape); a bad value throws, naming it. The entry points give their environment. */
export function retentionFromEnv(env: Environment): Retention {
  return retentionOf(parseVariables(retentionEnvShape, env));
}

/** A parsed retention environment as a Retention. */
export function retentionOf(env: RetentionEnv): Retention {
  return { minuteSeconds: env.MINUTE_TTL_DAYS, hourSeconds: env.HOUR_TTL_DAYS, daySeconds: env.DAY_TTL_DAYS, noteIndexSeconds: env.NOTE_INDEX_TTL_DAYS };
}

/** The retention class of a bucket granularity: ten-minute items are kept as long as minutes, quarter days as hours, weeks as days. */
export const RETENTION_CLASS = { m: 'minute', t: 'minute', h: 'hour', q: 'hour', d: 'day', w: 'day' } as const;

/** How long items of a bucket granularity are kept (its retention class's setting). */
export function keptSeconds(granularity: keyof typeof RETENTION_CLASS, retention: Retention): number {
  const kind = RETENTION_CLASS[granularity];
  return kind === 'minute' ? retention.minuteSeconds : kind === 'hour' ? retention.hourSeconds : retention.daySeconds;
}
