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

function days(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number of days, got ${raw}`);
  return Math.round(value * 86400);
}

/** MINUTE_TTL_DAYS, HOUR_TTL_DAYS, DAY_TTL_DAYS, NOTE_INDEX_TTL_DAYS; defaults 62, 62, 732 and 62 days. */
export function retentionFromEnv(env: NodeJS.ProcessEnv = process.env): Retention {
  return {
    minuteSeconds: days(env, 'MINUTE_TTL_DAYS', DEFAULT_RETENTION_DAYS.minute),
    hourSeconds: days(env, 'HOUR_TTL_DAYS', DEFAULT_RETENTION_DAYS.hour),
    daySeconds: days(env, 'DAY_TTL_DAYS', DEFAULT_RETENTION_DAYS.day),
    noteIndexSeconds: days(env, 'NOTE_INDEX_TTL_DAYS', DEFAULT_RETENTION_DAYS.noteIndex),
  };
}
