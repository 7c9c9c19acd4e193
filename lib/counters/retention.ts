/** How long each granularity is kept (DynamoDB TTL), and so which windows the counters can answer. */
export interface Retention {
  minuteSeconds: number;
  hourSeconds: number;
  daySeconds: number;
}

export const DEFAULT_RETENTION_DAYS = { minute: 35, hour: 62, day: 732 } as const;

function days(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number of days, got ${raw}`);
  return Math.round(value * 86400);
}

/** MINUTE_TTL_DAYS, HOUR_TTL_DAYS, DAY_TTL_DAYS; defaults 35, 62 and 732 days. */
export function retentionFromEnv(env: NodeJS.ProcessEnv = process.env): Retention {
  return {
    minuteSeconds: days(env, 'MINUTE_TTL_DAYS', DEFAULT_RETENTION_DAYS.minute),
    hourSeconds: days(env, 'HOUR_TTL_DAYS', DEFAULT_RETENTION_DAYS.hour),
    daySeconds: days(env, 'DAY_TTL_DAYS', DEFAULT_RETENTION_DAYS.day),
  };
}
