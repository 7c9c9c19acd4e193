import type { Clock, CounterStore, SqlEngine } from '../ports.js';
import type { Retention } from '../counters/retention.js';
import { USER_METRICS, type UserMetric } from '../counters/contributions.js';
import { ZAP_AMOUNT_METRICS } from '../counters/zap-amounts.js';
import { mergeItems } from '../counters/aggregate.js';
import { userScope } from '../counters/contributions.js';
import { readWindow } from '../query/window-read.js';
import { readWatermark } from '../counters/state.js';
import { globalSummary } from '../query/global.js';
import { readSummaryWindow } from '../query/summary.js';
import type { QueryWindow } from '../query/window.js';
import { globalMetricsSql, userMetricsSql } from './metrics-sql.js';

const ZAP_BINS: ReadonlySet<string> = new Set(ZAP_AMOUNT_METRICS);

export interface DriftRow {
  scope: string;
  metric: string;
  counters: number;
  facts: number;
}

export interface VerifyReport {
  /** the part of the asked window that was checked: it ends at the watermark (see verifyDrift) */
  window: { startTs: number; endTs: number };
  /** the live tail after the watermark, left out: live minutes may over-count a redelivery until they settle */
  liveTailExcluded: { startTs: number; endTs: number } | null;
  usersChecked: number;
  metricsChecked: number;
  drift: DriftRow[];
  /** distinct counts are HyperLogLog estimates: reported, not counted as drift */
  estimates: { scope: string; metric: string; counters: number; facts: number }[];
}

export interface VerifyDeps {
  sql: SqlEngine;
  /** the facts table as the engine names it (DuckDB: read_parquet(...); Athena: the Glue table) */
  relation: string;
  counters: CounterStore;
  clock: Clock;
  retention: Retention;
}

/**
 * Drift between what the counters answer and what the facts say, per metric: every user with activity
 * in the window (or the `maxUsers` most active) and the network totals. Only the settled part of the
 * window is compared (it ends at the watermark): there the counters are exact by construction, so any
 * drift is a defect. The live tail is left out and reported as such.
 */
export async function verifyDrift(deps: VerifyDeps, asked: QueryWindow, options: { maxUsers?: number } = {}): Promise<VerifyReport> {
  const watermark = await readWatermark(deps.counters);
  const settledEnd = Math.max(asked.startTs, Math.min(asked.endTs, watermark));
  const window: QueryWindow = { type: 'custom', startTs: asked.startTs, endTs: settledEnd };
  const liveTailExcluded = settledEnd < asked.endTs ? { startTs: settledEnd, endTs: asked.endTs } : null;
  if (settledEnd === asked.startTs) return { window: { startTs: asked.startTs, endTs: settledEnd }, liveTailExcluded, usersChecked: 0, metricsChecked: 0, drift: [], estimates: [] };
  const drift: DriftRow[] = [];
  let metricsChecked = 0;
  const rows = await deps.sql.query(userMetricsSql(deps.relation, window, 'duckdb'));
  // Activity is events: sats and the histogram's bins (each zap again) are not.
  const activity = (row: Record<string, unknown>) => USER_METRICS.reduce((n, m) => (m === 'zap_msats_rcv' || ZAP_BINS.has(m) ? n : n + Number(row[m])), 0);
  const users = rows.sort((a, b) => activity(b) - activity(a)).slice(0, options.maxUsers ?? Infinity);
  for (const row of users) {
    const pubkey = String(row.pubkey);
    // Both ways a user's window is read: by days (best hours, timelines) and by weeks (the summary's).
    const [byDays, byWeeks] = await Promise.all([readWindow(userScope(pubkey), window, deps), readSummaryWindow(pubkey, window, deps)]);
    for (const [read, via] of [[byDays, ''], [byWeeks, ' (read by weeks)']] as const) {
      const values = mergeItems(read.items).values;
      for (const metric of USER_METRICS) {
        const counted = values[metric as UserMetric] ?? 0;
        const fact = Number(row[metric]);
        metricsChecked++;
        if (counted !== fact) drift.push({ scope: userScope(pubkey), metric: `${metric}${via}`, counters: counted, facts: fact });
      }
    }
  }

  const global = await globalSummary(window, deps);
  const estimates: VerifyReport['estimates'] = [];
  for (const row of await deps.sql.query(globalMetricsSql(deps.relation, window, 'duckdb'))) {
    const facts = Number(row.events);
    if (row.dimension === 'total' && row.value === 'authors') {
      estimates.push({ scope: 'g', metric: 'uniqueUsers', counters: global.data.uniqueUsers, facts });
      continue;
    }
    const counted =
      row.dimension === 'total' ? global.data.totalEvents : row.dimension === 'type' ? (global.data.eventsByType[String(row.value)] ?? 0) : (global.data.eventsByKind[String(row.value)] ?? 0);
    metricsChecked++;
    if (counted !== facts) drift.push({ scope: 'g', metric: `${row.dimension}:${row.value}`, counters: counted, facts });
  }
  return { window: { startTs: window.startTs, endTs: window.endTs }, liveTailExcluded, usersChecked: users.length, metricsChecked, drift, estimates };
}
