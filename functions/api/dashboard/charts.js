// Charts drawn as inline SVG and tables (no library): each is labelled for screen readers, and its
// numbers are also a table on the page.
import { h, s } from './dom.js';
import { fmtInt, tzLabel } from './format.js';

/** The smallest 1, 2, 2.5 or 5 × 10^k at or above n (an axis top that reads well). */
export function niceCeil(n) {
  if (n <= 1) return 1;
  const power = 10 ** Math.floor(Math.log10(n));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= n) return Math.ceil(step * power);
  return 10 * power;
}

let chartIds = 0;

/**
 * A line chart of points [{ y, label, tick }]: `label` names the point (its tooltip), `tick` the
 * x-axis text where one is drawn (about six of them). Width follows the container (viewBox).
 */
export function lineChart({ points, title, description }) {
  const id = `chart-${++chartIds}`;
  const [W, H, left, right, top, bottom] = [960, 240, 52, 16, 12, 30];
  const yMax = niceCeil(Math.max(0, ...points.map((p) => p.y)));
  const x = (i) => left + (points.length <= 1 ? (W - left - right) / 2 : (i * (W - left - right)) / (points.length - 1));
  const y = (v) => top + (H - top - bottom) * (1 - v / yMax);
  const line = points.map((p, i) => `${i ? 'L' : 'M'}${x(i).toFixed(1)},${y(p.y).toFixed(1)}`).join('');
  const area = points.length ? `${line}L${x(points.length - 1).toFixed(1)},${y(0)}L${x(0).toFixed(1)},${y(0)}Z` : '';
  const yTicks = Number.isInteger(yMax / 2) ? [0, yMax / 2, yMax] : [0, yMax];
  const every = Math.max(1, Math.ceil(points.length / 6));
  return s(
    'svg',
    { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-labelledby': `${id}-t ${id}-d` },
    s('title', { id: `${id}-t` }, title),
    s('desc', { id: `${id}-d` }, description),
    yTicks.map((v) => [
      s('line', { x1: left, x2: W - right, y1: y(v), y2: y(v), class: 'grid' }),
      s('text', { x: left - 6, y: y(v) + 4, class: 'axis', 'text-anchor': 'end' }, fmtInt(v)),
    ]),
    points.map((p, i) => (i % every === 0 ? s('text', { x: x(i), y: H - 8, class: 'axis', 'text-anchor': 'middle' }, p.tick) : null)),
    s('path', { d: area, class: 'area' }),
    s('path', { d: line, class: 'line' }),
    points.map((p, i) => s('circle', { cx: x(i), cy: y(p.y), r: points.length > 60 ? 1.5 : 3, class: 'dot' }, s('title', {}, `${p.label}: ${fmtInt(p.y)}`))),
  );
}

const WEEKDAY_SHORT = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** The heatmap drill-down as a table whose cells are shaded by engagement (five steps) and show it. */
export function heatmapTable(heatmap, tzMinutes) {
  const max = Math.max(0, ...heatmap.days.flatMap((d) => d.hours));
  const best = new Set(heatmap.best.map((b) => `${b.index}:${b.hour}`));
  const level = (v) => (v === 0 || max === 0 ? 0 : 1 + Math.min(4, Math.floor((v / max) * 5)));
  const hours = Array.from({ length: 24 }, (_, hour) => String(hour).padStart(2, '0'));
  return h(
    'div.table-scroll',
    { tabindex: 0, role: 'region', 'aria-label': 'Heat map of engagement by weekday and hour' },
    h(
      'table.heatmap',
      { id: 'heatmap-table' },
      h('caption', { text: `Engagement received by weekday and hour of day (UTC${tzLabel(tzMinutes)}); the three busiest hours are outlined` }),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'Day' }), hours.map((hh) => h('th', { scope: 'col', text: hh })), h('th.num', { scope: 'col', text: 'Total' }))),
      h(
        'tbody',
        {},
        heatmap.days.map((day) =>
          h(
            'tr',
            {},
            h('th', { scope: 'row', title: day.day, text: WEEKDAY_SHORT[day.index] }),
            day.hours.map((v, hour) => h(`td.heat.heat-${level(v)}${best.has(`${day.index}:${hour}`) ? '.best' : ''}`, { title: `${day.day} ${hours[hour]}:00: ${v}`, dataset: { day: day.index, hour } }, fmtInt(v))),
            h('td.num', { text: fmtInt(day.engagement) }),
          ),
        ),
      ),
    ),
  );
}
