import { parseArgs } from 'node:util';
import type { IngestBenchReport } from './ingest-bench.js';
import type { CountersBenchReport } from './counters-bench.js';

export const BENCH_USAGE = 'usage: funnel bench [--only ingest|counters] [--events N] [--facts N] [--json]';

/**
 * `funnel bench [--only ingest|counters] [--events N] [--facts N] [--json]`: the ingest bench (signed
 * events, ingest path vs signature verification) and the counters bench (a million generated facts:
 * counters vs DuckDB, write units, item sizes, publish-to-visible latency), one after the other in one
 * run; tables, or one JSON object `{ ingest, counters }` with `--json`.
 */
export async function benchCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      only: { type: 'string' },
      events: { type: 'string' },
      facts: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const fail = (message: string): never => {
    console.error(`${message}\n${BENCH_USAGE}`);
    process.exit(2);
  };
  const count = (name: 'events' | 'facts'): number | undefined => {
    const raw = values[name];
    if (raw === undefined) return undefined;
    const n = Number(raw.replace(/_/g, ''));
    if (!Number.isInteger(n) || n < 1) fail(`--${name} must be a positive integer, got "${raw}"`);
    return n;
  };
  if (values.only !== undefined && values.only !== 'ingest' && values.only !== 'counters') fail(`--only must be ingest or counters, got "${values.only}"`);
  const events = count('events');
  const facts = count('facts');
  const runIngest = values.only !== 'counters';
  const runCounters = values.only !== 'ingest';

  // Progress goes to stderr so `--json` output stays parseable.
  const log = (line: string) => console.error(line);
  const report: { ingest?: IngestBenchReport; counters?: CountersBenchReport } = {};
  // Each bench is loaded only when it runs (the counters bench pulls in DuckDB, dynalite and the local stack).
  if (runIngest) {
    const { formatIngestBench, runIngestBench } = await import('./ingest-bench.js');
    report.ingest = await runIngestBench({ events, log });
    if (!values.json) console.log(formatIngestBench(report.ingest));
  }
  if (runCounters) {
    if (runIngest && !values.json) console.log('');
    const { formatCountersBench, runCountersBench } = await import('./counters-bench.js');
    report.counters = await runCountersBench({ facts, log });
    if (!values.json) console.log(formatCountersBench(report.counters));
  }
  if (values.json) console.log(JSON.stringify(report, null, 2));
}
