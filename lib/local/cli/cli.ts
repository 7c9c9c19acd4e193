import { parseArgs } from 'node:util';
import { z } from 'zod';
import { startLocalStack, openPipeline } from '../stack/stack.js';
import { backfill } from './backfill.js';
import { DuckDbSqlEngine, factsRelation } from '../../adapters/local/duckdb-sql-engine.js';
import { verifyDrift } from '../../jobs/verify.js';
import { rollingWindow } from '../../query/window.js';
import { systemClock } from '../../ports.js';
import { rebuildCounters } from '../../counters/rebuild.js';
import { StorageFaultError, describeStorageFault, isStorageFault } from '../stack/health.js';
import type { Pipeline } from '../stack/stack.js';
import { EnvironmentError, parseVariables, wholeNumberVariable } from '../../util/env.js';
import { relayUrlList } from '../../../functions/listener/env.js';

const USAGE = `funnel — Nostr analytics, local stack

  funnel local [--no-simulate] [--rate N] [--users N]   run the whole pipeline (npm start)
  funnel backfill FILE.jsonl                            import events (one per line) into the data dir
  funnel compact                                        merge, deduplicate and settle the dirty hours
  funnel rebuild                                        recompute the counters from the facts (a damaged or lost store)
  funnel verify [--window 7d] [--users N]               compare the counters with the facts (DuckDB); exit 1 on drift
  funnel bench [--only ingest|counters|load] [--events N] [--facts N] [--json]
                                                        ingest cost vs signature verification; counters vs DuckDB;
                                                        load: the design load (about an hour; only with --only load)
  funnel openapi [FILE]                                 write the HTTP contract as OpenAPI 3.1 (docs/openapi.json)

Environment: FUNNEL_DATA_DIR (.funnel), PORT (8787), RELAY_PORT (7777), RELAY_URLS (comma-separated;
replaces the embedded relay and the simulator), MINUTE_TTL_DAYS (62).`;

/** A TCP port (0 picks a free one); its default when absent or empty. */
const port = (fallback: number) => wholeNumberVariable(fallback, 0, 65535, 'a port number (0-65535)');

/** The CLI's own variables; the pipeline's (retention, jobs, rate limit, app keys) are localEnvShape's (stack.ts). */
const cliEnvShape = {
  FUNNEL_DATA_DIR: z.string().optional().transform((dir) => dir || '.funnel'),
  PORT: port(8787),
  RELAY_PORT: port(7777),
  /** relays to listen to instead of the embedded relay and the simulator (none: the embedded relay) */
  RELAY_URLS: relayUrlList.optional().transform((urls) => urls ?? []),
};

let env: z.output<z.ZodObject<typeof cliEnvShape>>;
try {
  env = parseVariables(cliEnvShape, process.env);
} catch (error) {
  console.error(`funnel: ${error instanceof EnvironmentError ? error.issues.join('; ') : String(error)}`);
  process.exit(2);
}
const dataDir = env.FUNNEL_DATA_DIR;

async function local(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { 'no-simulate': { type: 'boolean', default: false }, rate: { type: 'string' }, users: { type: 'string' } },
  });
  const relayUrls = env.RELAY_URLS;
  const started = Date.now();
  const stack = await startLocalStack({
    dataDir,
    port: env.PORT,
    relayPort: env.RELAY_PORT,
    relayUrls,
    simulate: !values['no-simulate'] && !relayUrls.length,
    simulatorRate: values.rate ? Number(values.rate) : undefined,
    simulatorUsers: values.users ? Number(values.users) : undefined,
    // settle the simulator's back-dated history within seconds, so the dashboard opens on the most active author
    firstCompactionAfterMs: 5_000,
    log: (line) => console.log(line),
  });
  const top = stack.simulator?.users[0]?.pubkey;
  console.log(`
Funnel local stack is up (${Date.now() - started} ms)
  data dir   ${stack.pipeline.dataDir}
  relay      ${stack.relayUrl ?? relayUrls.join(', ')}${stack.simulator ? '  (simulator publishing signed events)' : ''}
  API        ${stack.apiUrl}
  dashboard  ${stack.apiUrl}/

Try:
  curl ${stack.apiUrl}/health
  curl ${stack.apiUrl}/api/stats${top ? `\n  curl '${stack.apiUrl}/api/v2/analytics/user/${top}/summary?interval=24h'` : ''}
  curl ${stack.apiUrl}/metrics

Ctrl-C stops cleanly; the next start resumes from the same data.`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log('\nstopping: flushing the listener, draining the queue…');
    await stack.stop();
    console.log('stopped.');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

async function runBackfill(args: string[]): Promise<void> {
  const file = args[0];
  if (!file) {
    console.error('usage: funnel backfill FILE.jsonl');
    process.exit(2);
  }
  const pipeline = await openPipeline({ dataDir, log: (l) => console.error(l) });
  const started = Date.now();
  const interactive = process.stderr.isTTY;
  let report;
  try {
    report = await withStorageFaults(pipeline, () =>
      backfill(file, pipeline, (read, total, lines) => {
        const pct = total ? Math.min(100, Math.round((read / total) * 100)) : 100;
        const bar = '#'.repeat(Math.round(pct / 4)).padEnd(25, '.');
        const line = `[${bar}] ${pct}%  ${lines} lines  ${Math.round(lines / Math.max(0.001, (Date.now() - started) / 1000))} lines/s`;
        if (interactive) process.stderr.write(`\r${line}`);
      }),
    );
  } catch (error) {
    if (interactive) process.stderr.write('\n');
    await pipeline.close().catch(() => {});
    throw error;
  }
  if (interactive) process.stderr.write('\n');
  const dlq = await pipeline.saveDeadLetters();
  await pipeline.close();
  console.log(
    JSON.stringify({ file, seconds: (Date.now() - started) / 1000, ...report, deadLetterFile: dlq ?? undefined }, null, 2),
  );
}

/** Runs a command's work; a storage fault any store saw becomes one clear line and exit 1. */
async function withStorageFaults<T>(pipeline: Pipeline, work: () => Promise<T>): Promise<T> {
  // The first fault a watched store saw, else the error itself when it is one.
  const faultOf = (error?: unknown) => {
    const fault = pipeline.faults.first ?? (isStorageFault(error) ? { store: 'counters' as const, error } : null);
    return fault && new StorageFaultError(describeStorageFault(fault.store, fault.error, pipeline.dataDir));
  };
  let result: T;
  try {
    result = await work();
  } catch (error) {
    throw error instanceof StorageFaultError ? error : (faultOf(error) ?? error);
  }
  const fault = faultOf();
  if (fault) throw fault;
  return result;
}

async function compact(): Promise<void> {
  const pipeline = await openPipeline({ dataDir });
  try {
    const summary = await withStorageFaults(pipeline, () => pipeline.compact());
    console.log(JSON.stringify(summary, null, 2));
    if (summary.failedHours) {
      console.error(`funnel compact: ${summary.failedHours} hours could not be compacted (see the lines above); they stay dirty for the next run`);
      process.exitCode = 1;
    }
  } finally {
    await pipeline.close();
  }
}

async function rebuild(): Promise<void> {
  // A damaged or missing store is moved aside and recreated empty, then refilled from the facts.
  const pipeline = await openPipeline({ dataDir, recreateCounters: true, log: (l) => console.error(l) });
  try {
    const started = Date.now();
    const interactive = process.stderr.isTTY;
    const summary = await withStorageFaults(pipeline, () =>
      rebuildCounters({
        ...pipeline.settleDeps,
        clock: systemClock,
        metrics: pipeline.metrics,
        onProgress: (done, total) => {
          if (interactive) process.stderr.write(`\rrebuilding: ${done}/${total} hours`);
        },
      }),
    );
    if (interactive) process.stderr.write('\n');
    console.log(JSON.stringify({ seconds: (Date.now() - started) / 1000, ...summary }, null, 2));
    if (summary.hoursFailed) {
      console.error(`funnel rebuild: ${summary.hoursFailed} hours could not be rebuilt (see the lines above); run it again once the cause is fixed`);
      process.exitCode = 1;
    }
  } finally {
    await pipeline.close();
  }
}

async function bench(args: string[]): Promise<void> {
  const { benchCommand } = await import('../../../bench/cli.js');
  await benchCommand(args);
}

async function verify(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { window: { type: 'string', default: '7d' }, users: { type: 'string' } } });
  const pipeline = await openPipeline({ dataDir });
  const sql = new DuckDbSqlEngine();
  try {
    const window = rollingWindow(values.window!, Math.floor(Date.now() / 1000));
    const hasFacts = (await pipeline.objects.list('facts/')).length > 0;
    const report = hasFacts
      ? await verifyDrift(
          { sql, relation: factsRelation(pipeline.dataDir), counters: pipeline.counters, clock: systemClock, retention: pipeline.config.retention },
          window,
          { maxUsers: values.users ? Number(values.users) : undefined },
        )
      : { window, usersChecked: 0, metricsChecked: 0, drift: [], estimates: [] };
    console.log(JSON.stringify(report, null, 2));
    const settled = 'liveTailExcluded' in report && report.liveTailExcluded ? ` (settled part up to ${new Date(report.window.endTs * 1000).toISOString()}; the live tail after it is not compared)` : '';
    if (report.drift.length) console.log(`DRIFT: ${report.drift.length} of ${report.metricsChecked} metrics differ${settled}`);
    else if (report.metricsChecked === 0) console.log('nothing settled in the window yet: run `funnel compact` (hours settle 2 minutes after they end), then verify again');
    else console.log(`no drift: ${report.metricsChecked} metrics over ${report.usersChecked} users and the network agree${settled}`);
    process.exitCode = report.drift.length ? 1 : 0;
  } finally {
    await sql.close();
    await pipeline.close();
  }
}

/** The contract is generated from the route table (functions/api/routes.ts); test/unit/openapi.test.ts checks the file is current. */
async function openapi(args: string[]): Promise<void> {
  const { writeFile } = await import('node:fs/promises');
  const { apiDocument } = await import('../../../functions/api/routes.js');
  const file = args[0] ?? 'docs/openapi.json';
  await writeFile(file, `${JSON.stringify(apiDocument(), null, 2)}\n`);
  console.log(`wrote ${file}`);
}

const [command = 'help', ...rest] = process.argv.slice(2);
const commands: Record<string, (args: string[]) => Promise<void>> = { local, backfill: runBackfill, compact, rebuild, verify, bench, openapi };
const run = commands[command];
if (!run) {
  console.log(USAGE);
  process.exit(command === 'help' || command === '--help' ? 0 : 2);
}
run(rest).catch((error) => {
  // One line: the message says what failed and what to do (a storage fault, a damaged store).
  console.error(`funnel ${command}: ${String((error as Error)?.message ?? error).split('\n')[0]}`);
  process.exit(1);
});
