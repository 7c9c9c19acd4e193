// The page's state lives in the URL (a link reproduces the view): parsed leniently (anything unknown
// falls back to its default) and written back in one fixed order.
import { browserTzMinutes, parseTz, tzLabel } from './format.js';

export const PRESETS = ['24h', '7d', '30d', '90d'];
export const DEFAULT_INTERVAL = '24h';
/** The timeline's metrics (creator.js draws them). */
export const CHART_KEYS = ['reactions', 'posts', 'replies', 'reposts', 'repliesReceived', 'zaps', 'sats'];
export const FEEDS = ['trending', 'recent'];

const isHex64 = (text) => /^[0-9a-f]{64}$/.test(text);

export function readState(search, tzFallback = browserTzMinutes()) {
  const q = new URLSearchParams(search);
  const startText = q.get('startTs') ?? '';
  const endText = q.get('endTs') ?? '';
  const custom = /^\d{1,12}$/.test(startText) && /^\d{1,12}$/.test(endText);
  const interval = q.get('interval') ?? '';
  // a `+` typed into a URL arrives as a space
  const tz = (q.get('tz') ?? '').replace(/^ /, '+');
  const pubkey = (q.get('pubkey') ?? '').trim();
  return {
    view: q.get('view') === 'network' ? 'network' : 'creator',
    pubkey,
    pubkeyHex: isHex64(pubkey) ? pubkey : null,
    interval: custom ? null : /^\d{1,4}[hd]$/.test(interval) ? interval : DEFAULT_INTERVAL,
    startTs: custom ? Number(startText) : null,
    endTs: custom ? Number(endText) : null,
    tz: parseTz(tz) === null ? tzLabel(tzFallback) : tz,
    chart: CHART_KEYS.includes(q.get('chart')) ? q.get('chart') : CHART_KEYS[0],
    feed: FEEDS.includes(q.get('feed')) ? q.get('feed') : FEEDS[0],
  };
}

/** The query string of a state: only what the view it is in uses, always in this order. */
export function searchOf(state) {
  const q = new URLSearchParams();
  if (state.view === 'network') q.set('view', 'network');
  if (state.pubkey) q.set('pubkey', state.pubkey);
  if (state.interval) q.set('interval', state.interval);
  else {
    q.set('startTs', String(state.startTs));
    q.set('endTs', String(state.endTs));
  }
  q.set('tz', state.tz);
  if (state.view === 'network') q.set('feed', state.feed);
  else q.set('chart', state.chart);
  return `?${q}`;
}

/** "2026-12-01T14:30" in the offset given (minutes east of UTC) → unix seconds; null when incomplete. */
export function localInputToUnix(value, tzMinutes) {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(value ?? '');
  if (!match) return null;
  const [, y, mo, d, hh, mm] = match.map(Number);
  return Date.UTC(y, mo - 1, d, hh, mm) / 1000 - tzMinutes * 60;
}

/** Unix seconds → the value of a datetime-local input in the offset given. */
export function unixToLocalInput(ts, tzMinutes) {
  return new Date((ts + tzMinutes * 60) * 1000).toISOString().slice(0, 16);
}
