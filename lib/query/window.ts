/** A half-open window [startTs, endTs) in unix seconds, aligned to the minute. */
export interface QueryWindow {
  type: 'rolling' | 'custom';
  startTs: number;
  endTs: number;
  /** the rolling interval as asked, e.g. `7d` */
  interval?: string;
}

export class WindowError extends Error {}

const INTERVAL = /^(\d{1,4})([hd])$/;
/** The largest window answered synchronously from counters. */
export const MAX_SYNC_WINDOW_SECONDS = 90 * 86400;

export function parseInterval(interval: string): number {
  const match = INTERVAL.exec(interval);
  if (!match) throw new WindowError(`interval must look like 24h, 7d, 30d or 90d; got "${interval}"`);
  const seconds = Number(match[1]) * (match[2] === 'h' ? 3600 : 86400);
  if (seconds <= 0) throw new WindowError('interval must be positive');
  return seconds;
}

const alignDown = (t: number) => Math.floor(t / 60) * 60;
const alignUp = (t: number) => Math.ceil(t / 60) * 60;

/** Rolling windows end at the current minute's end so the live minute is included. */
export function rollingWindow(interval: string, nowSeconds: number): QueryWindow {
  const endTs = alignUp(nowSeconds + 1);
  return { type: 'rolling', interval, startTs: endTs - parseInterval(interval), endTs };
}

export function customWindow(startTs: number, endTs: number, nowSeconds: number): QueryWindow {
  if (!Number.isInteger(startTs) || !Number.isInteger(endTs)) throw new WindowError('startTs and endTs must be unix seconds (integers)');
  if (endTs < startTs) throw new WindowError(`endTs (${endTs}) is before startTs (${startTs})`);
  if (startTs > nowSeconds + 60) throw new WindowError('startTs is in the future');
  const start = alignDown(startTs);
  const end = Math.max(alignUp(endTs), start + 60);
  return { type: 'custom', startTs: start, endTs: end };
}

/** Timeline step fit for the window: hourly up to two days, daily beyond. */
export function timelineStep(window: QueryWindow): number {
  return window.endTs - window.startTs <= 2 * 86400 ? 3600 : 86400;
}
