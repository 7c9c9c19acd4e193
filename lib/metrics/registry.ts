import type { MetricsSink } from '../ports.js';

/** In-memory counters and summaries, rendered as Prometheus text for GET /metrics on the local stack. */
export class MetricsRegistry implements MetricsSink {
  private readonly counters = new Map<string, number>();
  private readonly summaries = new Map<string, { count: number; sum: number }>();

  count(name: string, labels?: Record<string, string>, value = 1): void {
    const key = seriesKey(name, labels);
    this.counters.set(key, (this.counters.get(key) ?? 0) + value);
  }

  observe(name: string, value: number, labels?: Record<string, string>): void {
    const key = seriesKey(name, labels);
    const s = this.summaries.get(key) ?? { count: 0, sum: 0 };
    s.count++;
    s.sum += value;
    this.summaries.set(key, s);
  }

  value(name: string, labels?: Record<string, string>): number {
    return this.counters.get(seriesKey(name, labels)) ?? 0;
  }

  /** Prometheus text exposition format 0.0.4. */
  render(gauges: Record<string, number> = {}): string {
    const lines: string[] = [];
    const byName = new Map<string, string[]>();
    for (const [key, value] of this.counters) {
      const name = `funnel_${key.split('{')[0]}`;
      if (!byName.has(name)) byName.set(name, []);
      byName.get(name)!.push(`funnel_${key} ${value}`);
    }
    for (const [name, series] of [...byName].sort()) lines.push(`# TYPE ${name} counter`, ...series.sort());
    for (const [key, s] of [...this.summaries].sort()) {
      const [name, labels = ''] = key.split(/(?=\{)/);
      lines.push(`# TYPE funnel_${name} summary`, `funnel_${name}_count${labels} ${s.count}`, `funnel_${name}_sum${labels} ${s.sum}`);
    }
    for (const [name, value] of Object.entries(gauges).sort()) lines.push(`# TYPE funnel_${name} gauge`, `funnel_${name} ${value}`);
    return lines.join('\n') + '\n';
  }
}

function seriesKey(name: string, labels?: Record<string, string>): string {
  if (!labels || !Object.keys(labels).length) return name;
  const body = Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`)
    .join(',');
  return `${name}{${body}}`;
}

/** For processes that only log: the Lambda handlers report per-batch counts in their structured logs. */
export const noopMetrics: MetricsSink = { count: () => {}, observe: () => {} };
