/** Live minute items are kept this long (TTL); configurable with MINUTE_TTL_DAYS. */
export const DEFAULT_MINUTE_TTL_DAYS = 35;

export function minuteTtlSeconds(env: NodeJS.ProcessEnv = process.env): number {
  const days = Number(env.MINUTE_TTL_DAYS ?? DEFAULT_MINUTE_TTL_DAYS);
  if (!Number.isFinite(days) || days <= 0) throw new Error(`MINUTE_TTL_DAYS must be a positive number, got ${env.MINUTE_TTL_DAYS}`);
  return Math.round(days * 86400);
}
