// Tables with their CSV: what a table shows is what its CSV holds (the same rows and columns, numbers
// without separators), so a chart's numbers are one click from a spreadsheet.
import { h } from './dom.js';
import { fmtInt } from './format.js';

/** A spreadsheet would run a cell starting with one of these as a formula: text from the network is defused. */
const FORMULA = /^[=+\-@\t\r]/;

function csvField(value) {
  if (value === null || value === undefined) return '';
  let text = String(value);
  if (typeof value === 'string' && FORMULA.test(text) && !/^-?\d+(\.\d+)?$/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** columns: [{ key, label, numeric?, csv?(row) }]: one header line, one line per row (RFC 4180). */
export function toCsv(columns, rows) {
  const lines = [columns.map((c) => csvField(c.label)), ...rows.map((row) => columns.map((c) => csvField(c.csv ? c.csv(row) : row[c.key])))];
  return `${lines.map((line) => line.join(',')).join('\r\n')}\r\n`;
}

export function downloadCsv(fileName, csv) {
  const url = URL.createObjectURL(new Blob([csv], { type: 'text/csv;charset=utf-8' }));
  const link = h('a', { href: url, download: fileName, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 30_000);
}

/** A file name from its parts: funnel-top-posts-7abe464e-24h.csv */
export const csvName = (...parts) => `${['funnel', ...parts.filter(Boolean)].join('-').replace(/[^\w.-]+/g, '_')}.csv`;

export function csvButton(label, fileName, columns, rows) {
  return h('button.csv', { type: 'button', 'aria-label': `Download ${label} as CSV`, on: { click: () => downloadCsv(fileName(), toCsv(columns, rows)) } }, 'Download CSV');
}

/**
 * A table of rows with a CSV button. columns: [{ key, label, numeric?, cell?(row) → node or text,
 * csv?(row) → value, rowHeader? }]; numbers are shown with separators, exported without.
 */
export function dataTable({ id, caption, columns, rows, fileName }) {
  const cellOf = (column, row) => (column.cell ? column.cell(row) : column.numeric ? fmtInt(row[column.key]) : String(row[column.key] ?? ''));
  const table = h(
    'table',
    { id },
    h('caption', { text: caption }),
    h('thead', {}, h('tr', {}, columns.map((c) => h(`th${c.numeric ? '.num' : ''}`, { scope: 'col', text: c.label })))),
    h(
      'tbody',
      {},
      rows.map((row) => h('tr', {}, columns.map((c) => (c.rowHeader ? h('th', { scope: 'row' }, cellOf(c, row)) : h(`td${c.numeric ? '.num' : ''}`, { dataset: { key: c.key } }, cellOf(c, row)))))),
    ),
  );
  return h('div.table-block', {}, h('div.table-scroll', { tabindex: 0, role: 'region', 'aria-label': caption }, table), csvButton(caption, fileName, columns, rows));
}
