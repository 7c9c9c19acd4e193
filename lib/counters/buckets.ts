import type { Granularity } from '../ports.js';

export const GRANULARITY_SECONDS: Record<Exclude<Granularity, 'all'>, number> = { m: 60, t: 600, h: 3600, q: 21600, d: 86400, w: 604800 };

export function bucketStart(unixSeconds: number, granularity: Granularity): number {
  if (granularity === 'all') return 0;
  const size = GRANULARITY_SECONDS[granularity];
  return Math.floor(unixSeconds / size) * size;
}
