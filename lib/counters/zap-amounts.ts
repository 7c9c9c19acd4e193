/**
 * The zap amount histogram of the user summary (docs/metrics.md, "Zaps received"): zaps received
 * counted by amount in decades of sats, since zap amounts spread over six orders of magnitude (a
 * 21-sat tip to a 100,000-sat gift). One counter per bin in the user's items, live and settled like
 * every count, so a window's histogram is exact to the minute and its bins sum to `zapsReceived`.
 */
export const ZAP_AMOUNT_BINS_SATS = [0, 10, 100, 1_000, 10_000, 100_000] as const;

export type ZapAmountMetric = `zap_bin_${(typeof ZAP_AMOUNT_BINS_SATS)[number]}`;

/** The counter of each bin: `zap_bin_<lower bound in sats>`. */
export const ZAP_AMOUNT_METRICS = ZAP_AMOUNT_BINS_SATS.map((sats) => `zap_bin_${sats}` as ZapAmountMetric);

/** The bin of an amount: the largest lower bound at or below it (an unknown amount counts as 0 sats). */
export function zapAmountMetric(msats: number | null): ZapAmountMetric {
  const sats = Math.floor((msats ?? 0) / 1000);
  let bin = 0;
  for (let i = 1; i < ZAP_AMOUNT_BINS_SATS.length; i++) if (sats >= ZAP_AMOUNT_BINS_SATS[i]!) bin = i;
  return ZAP_AMOUNT_METRICS[bin]!;
}

/** `zapAmountMetric` in SQL (both dialects), over a msats column. */
export function zapAmountMetricSql(msats: string): string {
  const whens = ZAP_AMOUNT_BINS_SATS.slice(1)
    .map((sats, i) => ({ sats, metric: ZAP_AMOUNT_METRICS[i]! }))
    .map(({ sats, metric }) => `WHEN coalesce(${msats}, 0) < ${sats * 1000} THEN '${metric}'`)
    .join(' ');
  return `(CASE ${whens} ELSE '${ZAP_AMOUNT_METRICS.at(-1)}' END)`;
}

/** One `count_if` column per bin, of the rows where `condition` holds (the jobs' and verify's SQL). */
export function zapAmountColumnsSql(condition: string, msats = 'zap_msats'): string {
  const bin = zapAmountMetricSql(msats);
  return ZAP_AMOUNT_METRICS.map((metric) => `count_if(${condition} AND ${bin} = '${metric}') AS ${metric}`).join(',\n  ');
}

/** The histogram as the summary answers it: each bin's bounds in sats (`maxSats` exclusive, null for the last) and its zaps. */
export function zapAmountHistogram(values: Record<string, number | undefined>): { minSats: number; maxSats: number | null; zaps: number }[] {
  return ZAP_AMOUNT_BINS_SATS.map((minSats, i) => ({ minSats, maxSats: ZAP_AMOUNT_BINS_SATS[i + 1] ?? null, zaps: values[ZAP_AMOUNT_METRICS[i]!] ?? 0 }));
}
