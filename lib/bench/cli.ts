import { parseArgs } from 'node:util';
import { formatIngestBench, runIngestBench } from './ingest-bench.js';

export const BENCH_USAGE = 'usage: funnel bench [--events N] [--json]';

/** `funnel bench [--events N] [--json]`: the ingest bench as a table, or the report as JSON. */
export async function benchCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { events: { type: 'string' }, json: { type: 'boolean', default: false } } });
  let events: number | undefined;
  if (values.events !== undefined) {
    events = Number(values.events);
    if (!Number.isInteger(events) || events < 1) {
      console.error(`--events must be a positive integer, got "${values.events}"\n${BENCH_USAGE}`);
      process.exit(2);
    }
  }
  // Progress goes to stderr so `--json` output stays parseable.
  const report = await runIngestBench({ events, log: (line) => console.error(line) });
  console.log(values.json ? JSON.stringify(report, null, 2) : formatIngestBench(report));
}
