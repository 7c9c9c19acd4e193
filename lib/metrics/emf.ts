import type { MetricsSink } from '../ports.js';
import { METRICS_NAMESPACE } from './names.js';

type Labels = Record<string, string>;

const MAX_VALUES = 100;
const UNITS: Record<string, string> = { Ms: 'Milliseconds', BytesScanned: 'Bytes' };
const unitOf = (name: string) => Object.entries(UNITS).find(([suffix]) => name.endsWith(suffix))?.[1] ?? 'Count';

/**
 * CloudWatch embedded metric format: metrics gathered during one invocation and written as structured
 * log lines at its end (one line per dimension set). CloudWatch extracts them; no API calls, no agent.
 */
export class EmfMetrics implements MetricsSink {
  private readonly sets = new Map<string, { labels: Labels; values: Map<string, number[]>; counters: Map<string, number> }>();

  constructor(
    private readonly write: (line: string) => void = (line) => console.log(line),
    private readonly now: () => number = Date.now,
  ) {}

  private set(labels: Labels) {
    const key = JSON.stringify(Object.entries(labels).sort());
    let set = this.sets.get(key);
    if (!set) this.sets.set(key, (set = { labels, values: new Map(), counters: new Map() }));
    return set;
  }

  count(name: string, labels: Labels = {}, value = 1): void {
    const set = this.set(labels);
    set.counters.set(name, (set.counters.get(name) ?? 0) + value);
  }

  observe(name: string, value: number, labels: Labels = {}): void {
    const set = this.set(labels);
    set.values.set(name, [...(set.values.get(name) ?? []), value]);
  }

  /** Writes everything gathered since the last flush (EMF allows 100 values per metric per line). */
  flush(context: Record<string, unknown> = {}): void {
    for (const { labels, values, counters } of this.sets.values()) {
      const lines = Math.max(counters.size ? 1 : 0, ...[...values.values()].map((v) => Math.ceil(v.length / MAX_VALUES)));
      for (let chunk = 0; chunk < lines; chunk++) {
        const line: Record<string, unknown> = { ...context, ...labels };
        const names: string[] = [];
        if (chunk === 0) for (const [name, value] of counters) (line[name] = value), names.push(name);
        for (const [name, observed] of values) {
          const part = observed.slice(chunk * MAX_VALUES, (chunk + 1) * MAX_VALUES);
          if (!part.length) continue;
          line[name] = part.length === 1 ? part[0] : part;
          names.push(name);
        }
        line._aws = {
          Timestamp: this.now(),
          CloudWatchMetrics: [{ Namespace: METRICS_NAMESPACE, Dimensions: [Object.keys(labels)], Metrics: names.map((Name) => ({ Name, Unit: unitOf(Name) })) }],
        };
        this.write(JSON.stringify(line));
      }
    }
    this.sets.clear();
  }
}
