import type { MetricsSink } from '../ports.js';

type Labels = Record<string, string>;

/** `EventsAccepted` → `events_accepted`: CloudWatch names in, Prometheus names out. */
const snake = (name: string) => name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();

/** In-memory counters and summaries, rendered as Prometheus text for GET /metrics on the local stack. */
export class MetricsRegistry implements MetricsSink {
  private readonly counters = new Map<string, { name: string; labels: Labels; value: number }>();
  private readonly summaries = new Map<string, { name: string; labels: Labels; count: number; sum: number }>();

  count(name: string, labels: Labels = {}, value = 1): void {
    const key = seriesKey(name, labels);
    const series = this.counters.get(key) ?? { name, labels, value: 0 };
    series.value += value;
    this.counters.set(key, series);
  }

  observe(name: string, value: number, labels: Labels = {}): void {
    const key = seriesKey(name, labels);
    const series = this.summaries.get(key) ?? { name, labels, count: 0, sum: 0 };
    series.count++;
    series.sum += value;
    this.summaries.set(key, series);
  }

  /** The sum of a counter over all its label values. */
  total(name: string): number {
    let sum = 0;
    for (const series of this.counters.values()) if (series.name === name) sum += series.value;
    return sum;
  }

  /** A counter's values by one label, e.g. rejections by Reason. */
  byLabel(name: string, label: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const series of this.counters.values()) {
      if (series.name === name && series.labels[label] !== undefined) out[series.labels[label]!] = (out[series.labels[label]!] ?? 0) + series.value;
    }
    return out;
  }

  /** Prometheus text exposition format 0.0.4. */
  render(gauges: Record<string, number> = {}): string {
    const lines: string[] = [];
    const group = <T extends { name: string }>(series: Iterable<T>) => {
      const byName = new Map<string, T[]>();
      for (const s of series) byName.set(s.name, [...(byName.get(s.name) ?? []), s]);
      return [...byName].sort(([a], [b]) => a.localeCompare(b));
    };
    for (const [name, series] of group(this.counters.values())) {
      const metric = `funnel_${snake(name)}_total`;
      lines.push(`# TYPE ${metric} counter`, ...series.map((s) => `${metric}${labelText(s.labels)} ${s.value}`).sort());
    }
    for (const [name, series] of group(this.summaries.values())) {
      const metric = `funnel_${snake(name)}`;
      lines.push(`# TYPE ${metric} summary`);
      for (const s of series) lines.push(`${metric}_count${labelText(s.labels)} ${s.count}`, `${metric}_sum${labelText(s.labels)} ${s.sum}`);
    }
    for (const [name, value] of Object.entries(gauges).sort()) lines.push(`# TYPE funnel_${name} gauge`, `funnel_${name} ${value}`);
    return lines.join('\n') + '\n';
  }
}

function seriesKey(name: string, labels: Labels): string {
  return `${name}${labelText(labels)}`;
}

function labelText(labels: Labels): string {
  const entries = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
  if (!entries.length) return '';
  return `{${entries.map(([k, v]) => `${k.toLowerCase()}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join(',')}}`;
}
