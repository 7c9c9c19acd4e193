// Numbers, times and time zones as the page shows them. Fixed to en-US digits so a number on screen
// reads the same in every browser (and the tests can read it back).

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export const fmtInt = (n) => (Number.isFinite(n) ? integer.format(n) : '–');

/** A shown number back to its value: "12,345" → 12345. */
export const parseShown = (text) => Number(String(text).replace(/[^0-9.-]/g, ''));

/** The change against the previous window, as the API gives it ({previous, delta, percent}). */
export function fmtChange(change) {
  if (!change) return { text: 'no comparison', direction: 'none' };
  const { delta, percent, previous } = change;
  if (delta === 0) return { text: `no change (was ${fmtInt(previous)})`, direction: 'flat' };
  const arrow = delta > 0 ? '▲' : '▼';
  const sign = delta > 0 ? '+' : '−';
  const pct = percent === null ? 'new' : `${sign}${Math.abs(percent).toFixed(1)}%`;
  return { text: `${arrow} ${sign}${fmtInt(Math.abs(delta))} (${pct}) vs ${fmtInt(previous)}`, direction: delta > 0 ? 'up' : 'down' };
}

/** A change computed here (the network summary has no compare): the API's rule, percent null from 0. */
export function changeOf(now, previous) {
  const delta = now - previous;
  return { previous, delta, percent: previous === 0 ? null : Math.round((delta / previous) * 1000) / 10 };
}

/** Minutes east of UTC → "+05:30". */
export function tzLabel(minutes) {
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/** "+05:30" → 330; null when it is not an offset the API takes. */
export function parseTz(text) {
  const match = /^([+-])(\d{2}):(\d{2})$/.exec(text ?? '');
  if (!match) return null;
  const minutes = (match[1] === '-' ? -1 : 1) * (Number(match[2]) * 60 + Number(match[3]));
  return Math.abs(minutes) <= 14 * 60 && Number(match[3]) < 60 ? minutes : null;
}

export const browserTzMinutes = () => -new Date().getTimezoneOffset();

/** The offsets in use somewhere, plus whatever the browser's is. */
export function tzChoices(extra) {
  const offsets = new Set([-720, -660, -600, -570, -540, -480, -420, -360, -300, -240, -210, -180, -120, -60, 0, 60, 120, 180, 210, 240, 270, 300, 330, 345, 360, 390, 420, 480, 525, 540, 570, 600, 630, 660, 720, 765, 780, 840, extra]);
  return [...offsets].sort((a, b) => a - b);
}

const pad = (n) => String(n).padStart(2, '0');

/** Unix seconds as "2026-12-01 14:00" in the offset given (minutes east of UTC). */
export function fmtTime(ts, tzMinutes = 0, withDate = true) {
  const d = new Date((ts + tzMinutes * 60) * 1000);
  const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
  return withDate ? `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${time}` : time;
}

/** Unix seconds as a UTC day, "2026-12-01". */
export const fmtDay = (ts) => fmtTime(ts, 0).slice(0, 10);

/** An ISO time from meta as local clock time with its date when it is not today. */
export function fmtIso(iso, tzMinutes) {
  if (!iso) return 'never';
  const ts = Math.floor(Date.parse(iso) / 1000);
  return `${fmtTime(ts, tzMinutes)} (UTC${tzLabel(tzMinutes)})`;
}

export function fmtDuration(ms) {
  const s = Math.round(ms / 1000);
  if (s < 90) return `${s} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} days`;
}

/** A window as words: "the last 7 days", or its two ends. */
export function windowWords(state, tzMinutes) {
  if (state.interval) {
    const n = Number(state.interval.slice(0, -1));
    const unit = state.interval.endsWith('h') ? 'hour' : 'day';
    return `the last ${n} ${unit}${n === 1 ? '' : 's'}`;
  }
  return `${fmtTime(state.startTs, tzMinutes)} to ${fmtTime(state.endTs, tzMinutes)} (UTC${tzLabel(tzMinutes)})`;
}

/** "7abe464e…2a6685": enough of a key to tell keys apart on screen (the full key is in the link and the CSV). */
export const shortKey = (hex) => (hex && hex.length > 16 ? `${hex.slice(0, 8)}…${hex.slice(-6)}` : hex ?? '');
