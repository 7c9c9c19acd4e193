import { parseArgs } from 'node:util';
import type { IngestBenchReport } from './ingest-bench.js';
import type { CountersBenchReport } from './counters-bench.js';
import type { LoadBenchReport } from './load-bench.js';

export const BENCH_USAGE =
  'usage: funnel bench [--only ingest|counters|load] [--events N] [--facts N] [--json]\n' +
  '       load: [--minutes N] [--sizes N,N,…|none] [--skip-writes] [--skip-pipeline] [--pipeline-seconds N] [--worker-mb N] [--size-minutes N] [--batch-events N]';

/**
 * `funnel bench [--only ingest|counters|load] [--events N] [--facts N] [--json]`: the ingest bench
 * (signed events, ingest path vs signature verification) and the counters bench (a million generated
 * facts: counters vs DuckDB, write units, item sizes, publish-to-visible latency), one after the other
 * in one run; `--only load` runs the design-load bench instead (about an hour with its defaults).
 * Tables, or one JSON object `{ ingest, counters }` (`{ load }`) with `--json`.
 */
export async function benchCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      only: { type: 'string' },
      events: { type: 'string' },
      facts: { type: 'string' },
      minutes: { type: 'string' },
      sizes: { type: 'string' },
      'size-minutes': { type: 'string' },
      'skip-pipeline': { type: 'boolean', default: false },
      'skip-writes': { type: 'boolean', default: false },
      'pipeline-seconds': { type: 'string' },
      'worker-mb': { type: 'string' },
      'batch-events': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const fail = (message: string): never => {
    console.error(`${message}\n${BENCH_USAGE}`);
    process.exit(2);
  };
  const positive = (name: string, raw: string | undefined): number | undefined => {
    if (raw === undefined) return undefined;
    const n = Number(raw.replace(/_/g, ''));
    if (!Number.isInteger(n) || n < 1) fail(`--${name} must be a positive integer, got "${raw}"`);
    return n;
  };
  if (values.only !== undefined && !['ingest', 'counters', 'load'].includes(values.only)) fail(`--only must be ingest, counters or load, got "${values.only}"`);
  const events = positive('events', values.events);
  const facts = positive('facts', values.facts);
  const runIngest = values.only === undefined || values.only === 'ingest';
  const runCounters = values.only === undefined || values.only === 'counters';
  const runLoad = values.only === 'load';

  // Progress goes to stderr so `--json` output stays parseable.
  const log = (line: string) => console.error(line);
  const report: { ingest?: IngestBenchReport; counters?: CountersBenchReport; load?: LoadBenchReport } = {};
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
  if (runLoad) {
    const sizes = values.sizes === undefined ? undefined : values.sizes === 'none' ? [] : values.sizes.split(',').map((s) => positive('sizes', s.trim())!);
    const pipelineSeconds = values['skip-pipeline'] ? 0 : positive('pipeline-seconds', values['pipeline-seconds']);
    const { formatLoadBench, runLoadBench } = await import('./load-bench.js');
    report.load = await runLoadBench({ minutes: positive('minutes', values.minutes), sizes, pipelineSeconds, workerMb: positive('worker-mb', values['worker-mb']), sizeTimeLimitMs: values['size-minutes'] === undefined ? undefined : positive('size-minutes', values['size-minutes'])! * 60_000, batchEvents: positive('batch-events', values['batch-events']), skipWrites: values['skip-writes'], log });
    if (!values.json) console.log(formatLoadBench(report.load));
  }
  if (values.json) console.log(JSON.stringify(report, null, 2));
}
