import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { MetricsSink } from '../../ports.js';
import type { LoggerFactory } from '../../log.js';
import { METRICS_NAMESPACE, metricDefinition } from '../../metrics/names.js';

/**
 * The AWS side of the logging and metrics seams: Powertools for AWS Lambda Logger behind `Logger`
 * (lib/log.ts) and Powertools Metrics (CloudWatch embedded metric format) behind `MetricsSink`. The
 * Lambda entry points and the listener container install them at start; the core never imports them.
 */

/**
 * One Powertools Logger per component (its `service`), level from POWERTOOLS_LOG_LEVEL / LOG_LEVEL
 * (or Lambda's own log-level control), default info. The correlation id goes on each line as
 * `correlationId`; an `Error` field is logged with its name, location, message and stack.
 */
export function powertoolsLoggers(): LoggerFactory {
  const byComponent = new Map<string, PowertoolsLogger>();
  return ({ component, correlationId }) => {
    let logger = byComponent.get(component);
    if (!logger) byComponent.set(component, (logger = new PowertoolsLogger({ serviceName: component })));
    const target = logger;
    return (level, msg, fields = {}) => target[level](msg, correlationId === undefined ? fields : { correlationId, ...fields });
  };
}

/**
 * Powertools publishes on its own when a metric reaches 100 values, dropping the line's dimensions for
 * the values after it; staying one below keeps every line whole (EMF allows 100 values per metric).
 */
const MAX_VALUES_PER_LINE = 99;

interface DimensionSet {
  labels: Record<string, string>;
  counters: Map<string, number>;
  values: Map<string, number[]>;
}

/**
 * Metrics gathered during an invocation (or a minute, for the api and the listener), written as
 * CloudWatch embedded metric format lines by Powertools Metrics at `flush`: one line per dimension set
 * (more when a metric has more values than a line holds). Counters are summed as they come and
 * observations appended, so an observation costs O(1); units come from the catalogue
 * (lib/metrics/names.ts). No `service` dimension: each metric carries exactly the dimension set the
 * catalogue gives it, which the alarms match.
 */
export class EmfMetrics implements MetricsSink {
  private readonly sets = new Map<string, DimensionSet>();
  private readonly emf = new Metrics({ namespace: METRICS_NAMESPACE });

  constructor(
    private readonly write: (line: string) => void = (line) => console.log(line),
    private readonly now: () => number = Date.now,
  ) {
    this.emf.clearDefaultDimensions();
  }

  private set(labels: Record<string, string>): DimensionSet {
    const key = JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));
    let set = this.sets.get(key);
    if (!set) this.sets.set(key, (set = { labels, counters: new Map(), values: new Map() }));
    return set;
  }

  count(name: string, labels: Record<string, string> = {}, value = 1): void {
    const { counters } = this.set(labels);
    counters.set(name, (counters.get(name) ?? 0) + value);
  }

  observe(name: string, value: number, labels: Record<string, string> = {}): void {
    const { values } = this.set(labels);
    const observed = values.get(name);
    if (observed) observed.push(value);
    else values.set(name, [value]);
  }

  /** Writes everything gathered since the last flush; `context` (e.g. the correlation id) rides along as metadata. */
  flush(context: Record<string, string> = {}): void {
    for (const { labels, counters, values } of this.sets.values()) {
      let lines = counters.size ? 1 : 0;
      for (const observed of values.values()) lines = Math.max(lines, Math.ceil(observed.length / MAX_VALUES_PER_LINE));
      for (let chunk = 0; chunk < lines; chunk++) {
        this.emf.setTimestamp(this.now());
        this.emf.addDimensions(labels);
        for (const [key, value] of Object.entries(context)) this.emf.addMetadata(key, value);
        if (chunk === 0) for (const [name, total] of counters) this.emf.addMetric(name, unitOf(name), total);
        for (const [name, observed] of values) {
          const end = Math.min(observed.length, (chunk + 1) * MAX_VALUES_PER_LINE);
          for (let i = chunk * MAX_VALUES_PER_LINE; i < end; i++) this.emf.addMetric(name, unitOf(name), observed[i]!);
        }
        try {
          this.write(JSON.stringify(this.emf.serializeMetrics()));
        } finally {
          this.emf.clearMetrics();
          this.emf.clearDimensions();
          this.emf.clearMetadata();
        }
      }
    }
    this.sets.clear();
  }
}

/** A name outside the catalogue (a mistake the unit tests look for) is still emitted, as a count. */
const unitOf = (name: string) => metricDefinition(name)?.unit ?? 'Count';
