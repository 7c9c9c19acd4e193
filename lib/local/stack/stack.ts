import { mkdir } from 'node:fs/promises';
import { z } from 'zod';
import { join, resolve } from 'node:path';
import { FsObjectStore } from '../../adapters/local/fs-object-store.js';
import { LocalQueue } from '../../adapters/local/local-queue.js';
import { DamagedStoreError, startDynalite, type LocalDynamo } from '../../adapters/local/dynalite.js';
import { StorageFaultMonitor, localHealthChecks } from './health.js';
import { MetricsRegistry } from '../../metrics/registry.js';
import { systemClock, type Clock } from '../../ports.js';
import { retentionEnvShape, retentionOf } from '../../counters/retention.js';
import { archiveEnvShape, archivePolicyOf } from '../../facts/storage-tiers.js';
import { parseVariables, type Environment } from '../../util/env.js';
import { CounterStoreCheckpoints } from '../../listener/checkpoints.js';
import { Listener } from '../../listener/listener.js';
import { createIngestHandler } from '../../../functions/ingest/handler.js';
import { createApiHandler } from '../../../functions/api/handler.js';
import { createCompactorHandler } from '../../../functions/compactor/handler.js';
import { createFeedsHandler } from '../../../functions/feeds/handler.js';
import { FEEDS_LOCAL_EVERY_MS } from '../../query/feeds.js';
import { ConsumerChain, QueueConsumer, lambdaContext, type SqsHandler } from './queue-consumer.js';
import { createLiveHandler } from '../../../functions/live/handler.js';
import { queuedLiveCounters } from '../../counters/live-queue.js';
import { apiGatewayGet, startHttpApi } from './http-server.js';
import { HOT_INTERVALS, hotUsers } from '../../query/hot-users.js';
import { readWatermark } from '../../counters/state.js';
import { startRelay, type EmbeddedRelay } from './relay.js';
import { Simulator } from './simulator.js';
import { lockDataDir } from './data-dir-lock.js';
import { METRIC } from '../../metrics/names.js';
import { createLogger, logLevelFromEnv, recordLogger, setLogLevel } from '../../log.js';
import { ResponseCache } from '../../api/cache.js';
import { rateLimitEnvShape, rateLimitOf, RequestRateLimiter, type RateLimitSettings } from '../../api/rate-limit.js';
import { DuckDbSqlEngine, duckDbSettleTables, factsRelation } from '../../adapters/local/duckdb-sql-engine.js';
import { createJobsHandler } from '../../../functions/jobs/handler.js';
import { jobLimitsEnvShape, jobLimitsOf, jobSettingsEnvShape, jobSettingsOf } from '../../jobs/jobs.js';
import { DEFAULT_LOCAL_APP_KEYS, staticApiKeys } from '../../app/api-keys.js';
import { LiveNotices } from '../../api/live-notices.js';
import { FsSavedQueries } from '../../adapters/local/fs-saved-queries.js';

export interface PipelineOptions {
  dataDir: string;
  /** in-memory DynamoDB instead of the data dir (tests) */
  ephemeralCounters?: boolean;
  batchSize?: number;
  batchWindowMs?: number;
  visibilityTimeoutMs?: number;
  maxReceives?: number;
  log?: (line: string) => void;
  /** tests move time; the stack otherwise runs on the system clock */
  clock?: Clock;
  graceSeconds?: number;
  /** rebuild: open a damaged or missing counter store by recreating it (see startDynalite) */
  recreateCounters?: boolean;
  /** queue caps (tests); default LOCAL_QUEUE_MAX_MESSAGES / LOCAL_QUEUE_MAX_BYTES */
  queueMaxMessages?: number;
  queueMaxBytes?: number;
}

/**
 * The variables the local stack shares with the functions, with the same shapes and defaults (retention,
 * the facts' archive age, the jobs' settings and limits, the API's rate limit), and its app keys
 * (FUNNEL_APP_KEYS, `key:project,…`; default DEFAULT_LOCAL_APP_KEYS). A bad value stops the start, naming it.
 */
export const localEnvShape = {
  ...retentionEnvShape,
  ...archiveEnvShape,
  ...jobSettingsEnvShape,
  ...jobLimitsEnvShape,
  ...rateLimitEnvShape,
  FUNNEL_APP_KEYS: z.string().optional(),
};

/** The local stack's configuration from `env` (localEnvShape). */
export function localConfig(env: Environment) {
  const parsed = parseVariables(localEnvShape, env);
  return {
    retention: retentionOf(parsed),
    archive: archivePolicyOf(parsed),
    jobSettings: jobSettingsOf(parsed),
    jobLimits: jobLimitsOf(parsed),
    rateLimit: rateLimitOf(parsed),
    appKeys: parsed.FUNNEL_APP_KEYS || DEFAULT_LOCAL_APP_KEYS,
  };
}

/** On a graceful stop, how long the queue is drained; what is left stays in the journal for the next start. */
export const STOP_DRAIN_MS = 30_000;

/** The local live queue's batches: up to this many messages, gathered for this long (ms). */
export const LOCAL_LIVE_BATCH_MESSAGES = 1_000;
export const LOCAL_LIVE_BATCH_WINDOW_MS = 500;

/**
 * The storage and processing half of the local stack: dynalite, the facts directory, the ingest and
 * live queues with their DLQ, and the ingest, live and compactor handlers. `funnel local`, `backfill`
 * and `compact` share it. The queues are journaled under `<dataDir>/queue/`: a message acknowledged to
 * its sender survives a crash and is delivered after the next open. Every store is watched for storage
 * faults (`faults.first` lets a command stop with a clear line; `healthChecks` report them on /health).
 */

export async function openPipeline(options: PipelineOptions) {
  // read once, before anything is opened: a bad variable stops here
  const config = localConfig(process.env);
  setLogLevel(logLevelFromEnv(process.env));
  const dataDir = resolve(options.dataDir);
  await mkdir(join(dataDir, 'dynamodb'), { recursive: true });
  const unlock = await lockDataDir(dataDir);
  let dynamo: LocalDynamo;
  try {
    dynamo = await startDynalite(options.ephemeralCounters ? undefined : join(dataDir, 'dynamodb'), { recreate: options.recreateCounters });
  } catch (error) {
    await unlock();
    if (error instanceof DamagedStoreError) throw error;
    throw new Error(`cannot open the counters under ${dataDir}/dynamodb: ${(error as Error).message}`);
  }
  const metrics = new MetricsRegistry();
  const faults = new StorageFaultMonitor(metrics);
  const clock = options.clock ?? systemClock;
  // Objects carry the stack's clock as their write time: the storage tiers' ages follow it.
  const objects = faults.watch('objects', new FsObjectStore(dataDir, () => clock.now()));
  const counters = faults.watch('counters', dynamo.counters);
  const onFault = (error: unknown) => faults.record('queue', error);
  const caps = { maxMessages: options.queueMaxMessages, maxBytes: options.queueMaxBytes, onFault };
  let deadLetter: LocalQueue, queue: LocalQueue, liveQueue: LocalQueue, jobsQueue: LocalQueue;
  try {
    deadLetter = await LocalQueue.open(join(dataDir, 'queue', 'dlq.journal'), { visibilityTimeoutMs: 30_000, maxReceives: Number.MAX_SAFE_INTEGER, ...caps });
    queue = await LocalQueue.open(join(dataDir, 'queue', 'ingest.journal'), {
      visibilityTimeoutMs: options.visibilityTimeoutMs ?? 30_000,
      maxReceives: options.maxReceives ?? 5,
      deadLetter,
      ...caps,
    });
    liveQueue = await LocalQueue.open(join(dataDir, 'queue', 'live.journal'), { visibilityTimeoutMs: options.visibilityTimeoutMs ?? 30_000, maxReceives: 5, deadLetter, ...caps });
    jobsQueue = await LocalQueue.open(join(dataDir, 'queue', 'jobs.journal'), { visibilityTimeoutMs: 15 * 60_000, maxReceives: 3, deadLetter, ...caps });
  } catch (error) {
    await dynamo.close();
    await unlock();
    throw new Error(`cannot open the queue journal under ${dataDir}/queue: ${(error as Error).message}`);
  }
  for (const [name, q] of [['ingest', queue], ['live', liveQueue], ['jobs', jobsQueue], ['dead-letter', deadLetter]] as const) {
    if (q.replay.restored) options.log?.(`${name} queue: ${q.replay.restored} messages restored from the journal`);
    if (q.replay.tornLines) {
      metrics.count(METRIC.storageFaults, { Store: 'queue' }, q.replay.tornLines);
      options.log?.(`${name} queue: ${q.replay.tornLines} torn journal lines skipped (a write cut short by a crash or a full disk)`);
    }
  }
  // FACTS_ARCHIVE_AFTER_DAYS as in AWS: nothing moves locally, but the same ages count as archived.
  const { retention, archive } = config;
  // Per-batch lines would flood a terminal; the same counts are on GET /metrics.
  const warningsOnly = (line: string) => {
    if (!line.includes('"level":"info"')) options.log?.(line);
  };
  const ingest = createIngestHandler({
    objects,
    counters,
    clock,
    metrics,
    minuteTtlSeconds: retention.minuteSeconds,
    noteIndexTtlSeconds: retention.noteIndexSeconds,
    hourTtlSeconds: retention.hourSeconds,
    // As in AWS: live deltas go through their own queue, whose consumer merges batches before writing.
    liveCounters: queuedLiveCounters(liveQueue),
    write: warningsOnly,
  });
  // Jobs: the same handler as the AWS jobs function, with DuckDB over the facts directory for Athena.
  const sql = new DuckDbSqlEngine({ dataDir });
  const jobsConsumer = new QueueConsumer(
    jobsQueue,
    createJobsHandler({ counters, objects, sql, relation: factsRelation(dataDir), dialect: 'duckdb', clock, metrics, jobsQueue, archive, limits: config.jobLimits }),
    { batchSize: 1, batchWindowMs: 0, onError: (error) => options.log?.(`job failed, will be retried: ${String(error)}`) },
  );
  // The compactor's own engine: a long settle never queues the jobs behind it.
  const settleSql = new DuckDbSqlEngine({ dataDir });
  const settleDeps = { objects, counters, sql: settleSql, tables: duckDbSettleTables(dataDir), retention, archive };
  // No invocation ceiling here (one run at a time, in process): every due hour is settled in the run.
  const compactor = createCompactorHandler({ ...settleDeps, clock, graceSeconds: options.graceSeconds, budgetMs: Number.POSITIVE_INFINITY, metrics, log: () => {} });
  const ingestConsumer = new QueueConsumer(queue, ingest, {
    batchSize: options.batchSize ?? 100,
    batchWindowMs: options.batchWindowMs ?? 200,
    onError: (error) => options.log?.(`ingest batch failed, will be redelivered: ${String(error)}`),
  });
  // Open dashboards hear of every counted live batch (GET /api/analytics/stream), and re-read.
  const notices = new LiveNotices();
  const countLive = createLiveHandler({ counters, clock, metrics, write: warningsOnly });
  const live: SqsHandler = async (event, context) => {
    const result = await countLive(event, context);
    if (event.Records.length) notices.publish('counted');
    return result;
  };
  // A short window here (an event is visible within seconds); AWS merges far more (infra/lib/live-counters.ts).
  const liveConsumer = new QueueConsumer(liveQueue, live, {
    batchSize: LOCAL_LIVE_BATCH_MESSAGES,
    batchWindowMs: options.batchWindowMs ?? LOCAL_LIVE_BATCH_WINDOW_MS,
    name: 'funnel-live',
    onError: (error) => options.log?.(`live batch failed, will be redelivered: ${String(error)}`),
  });
  const consumer = new ConsumerChain(ingestConsumer, liveConsumer);
  return {
    dataDir,
    /** what the environment configures (localConfig) */
    config,
    dynamo,
    counters,
    objects,
    metrics,
    faults,
    /** the checks behind a degraded /health (see lib/local/stack/health.ts) */
    healthChecks: localHealthChecks({ dataDir, queue, metrics, faults }),
    queue,
    liveQueue,
    deadLetter,
    consumer,
    /** notices of newly readable data, for live dashboards */
    notices,
    jobsQueue,
    jobsConsumer,
    sql,
    /** what the compactor settles with (its engine and relations): rebuild uses the same */
    settleDeps,
    compact: () => compactor({}, lambdaContext('funnel-compactor')),
    /** Dead letters are kept as a file so poison messages can be inspected and replayed. */
    async saveDeadLetters(): Promise<string | null> {
      if (!deadLetter.depth) return null;
      const key = `dlq/${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`;
      // Through the object store's fsync'd write: the journal forgets them only once the file is durable.
      await objects.put(key, deadLetter.bodies().join('\n') + '\n');
      const file = join(dataDir, key);
      deadLetter.delete(deadLetter.receive(Number.MAX_SAFE_INTEGER).map((r) => r.messageId));
      return file;
    },
    async close(): Promise<void> {
      notices.close();
      await sql.close();
      await settleSql.close();
      for (const q of [queue, liveQueue, jobsQueue, deadLetter]) await q.close();
      await dynamo.close();
      await unlock();
    },
  };
}

export type Pipeline = Awaited<ReturnType<typeof openPipeline>>;

export interface LocalStackOptions extends PipelineOptions {
  /** API port; 0 picks a free one */
  port: number;
  /** embedded relay port; 0 picks a free one */
  relayPort: number;
  /** listen to these relays instead of the embedded one (no simulator then) */
  relayUrls?: string[];
  simulate: boolean;
  simulatorRate?: number;
  simulatorUsers?: number;
  simulatorHistoryEvents?: number;
  compactEveryMs?: number;
  /** per-caller request limit of the HTTP API (default: API_RATE_LIMIT_* or 20/s, burst 100) */
  rateLimit?: RateLimitSettings;
  /** on first start (no checkpoint), how far back to read the relay */
  initialLookbackSeconds?: number;
  /** run the first compaction this soon after start rather than after compactEveryMs (`npm start`: so the history is settled within seconds) */
  firstCompactionAfterMs?: number;
}

/** DESIGN §3: the whole pipeline in one process, with no AWS account and no Docker. */
export async function startLocalStack(options: LocalStackOptions) {
  const log = options.log ?? (() => {});
  const pipeline = await openPipeline(options);
  let relay: EmbeddedRelay | undefined;
  const relayUrls = options.relayUrls?.length ? options.relayUrls : undefined;
  try {
    if (!relayUrls) relay = await startRelay(options.relayPort).catch(portError('RELAY_PORT', options.relayPort));
  } catch (error) {
    await pipeline.close();
    throw error;
  }
  const listener = new Listener({
    relays: relayUrls ?? [relay!.url],
    queue: pipeline.queue,
    checkpoints: new CounterStoreCheckpoints(pipeline.counters),
    metrics: pipeline.metrics,
    initialLookbackSeconds: options.initialLookbackSeconds ?? (relayUrls ? 600 : 7 * 86400),
    log: recordLogger(createLogger({ component: 'listener' }, (line) => log(`listener: ${line}`), 'warn')),
  });
  pipeline.consumer.start();
  pipeline.jobsConsumer.start();
  await listener.start();

  const cache = new ResponseCache<unknown>({ maxEntries: 5000 });
  const apiDeps = {
    counters: pipeline.counters,
    clock: options.clock ?? systemClock,
    retention: pipeline.config.retention,
    cache,
    metrics: pipeline.metrics,
    healthChecks: pipeline.healthChecks,
    liveNotices: pipeline.notices,
    jobs: { queue: pipeline.jobsQueue, objects: pipeline.objects, settings: pipeline.config.jobSettings },
    app: { ingestQueue: pipeline.queue, apiKeys: staticApiKeys(pipeline.config.appKeys) },
    // each registered schema version's query, in the DuckDB form that runs on these facts
    savedQueries: { store: new FsSavedQueries(join(pipeline.dataDir, 'saved-queries')), relation: factsRelation(pipeline.dataDir), dialect: 'duckdb' as const },
    metricsText: () =>
      pipeline.metrics.render({
        queue_depth: pipeline.queue.depth,
        queue_oldest_message_age_seconds: pipeline.queue.oldestAgeMs() / 1000,
        dlq_depth: pipeline.deadLetter.depth,
        relay_stored_events: relay?.repository.size ?? 0,
      }),
  };
  // Callers over HTTP are limited per caller (one process: exact); the stack's own warm-up reads are not.
  const api = createApiHandler({ ...apiDeps, rateLimiter: new RequestRateLimiter(options.rateLimit ?? pipeline.config.rateLimit) });
  const internalApi = createApiHandler(apiDeps);
  const http = await startHttpApi(api, options.port, undefined, { liveNotices: pipeline.notices }).catch(async (error) => {
    await listener.stop();
    await pipeline.consumer.stop();
    await relay?.close();
    await pipeline.close();
    throw portError('PORT', options.port)(error);
  });

  let simulator: Simulator | undefined;
  if (options.simulate && relay) {
    // History only on a fresh data dir: a restart resumes the same story instead of rewriting the past.
    const resumed = (await new CounterStoreCheckpoints(pipeline.counters).load(relay.url)) !== null;
    simulator = new Simulator({
      relayUrl: relay.url,
      rate: options.simulatorRate,
      users: options.simulatorUsers,
      historyEvents: resumed ? 0 : options.simulatorHistoryEvents,
      log,
    });
    await simulator.start();
  }

  // After each compaction the hot users' common windows are computed into the API cache, so the
  // first frontend request after a watermark move is already answered.
  const warmHotWindows = async () => {
    const users = await hotUsers(pipeline.counters, await readWatermark(pipeline.counters), 10);
    for (const pubkey of users) {
      for (const interval of HOT_INTERVALS) {
        await internalApi(apiGatewayGet(`/api/v2/analytics/user/${pubkey}/summary`, { interval }), lambdaContext('funnel-api'));
      }
    }
  };
  let compacting: Promise<unknown> = Promise.resolve();
  const compactOnce = () => {
    compacting = compacting
      .then(() => pipeline.compact())
      // warmed before dashboards are told, so their re-reads find the answers computed once
      .then(warmHotWindows)
      .then(() => pipeline.notices.publish('settled'))
      .catch((error) => log(`compaction failed: ${String(error)}`));
  };
  const compactTimer = setInterval(compactOnce, options.compactEveryMs ?? 60_000);
  const firstCompaction = options.firstCompactionAfterMs === undefined ? undefined : setTimeout(compactOnce, options.firstCompactionAfterMs);

  // The stored video feeds, as the scheduled feeds function keeps them in AWS: now, then on a timer,
  // one run at a time (a slow run is not queued behind).
  const feeds = createFeedsHandler({ counters: pipeline.counters, clock: options.clock ?? systemClock, retention: pipeline.config.retention, log: (r) => {
    if (r.level !== 'info') log(`feeds: ${JSON.stringify(r)}`);
  } });
  let feeding: Promise<unknown> | null = null;
  const refreshFeeds = () => {
    feeding ??= feeds({}, lambdaContext('funnel-feeds'))
      .then(() => pipeline.notices.publish('feeds'))
      .catch((error) => log(`feeds failed: ${String(error)}`))
      .finally(() => (feeding = null));
  };
  refreshFeeds();
  const feedsTimer = setInterval(refreshFeeds, FEEDS_LOCAL_EVERY_MS);

  let stopped = false;
  return {
    apiUrl: http.url,
    relayUrl: relay?.url,
    pipeline,
    listener,
    simulator,
    /** Stops in dependency order: sources first, then drain the queue, then storage. */
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      simulator?.stop();
      clearInterval(compactTimer);
      clearTimeout(firstCompaction);
      clearInterval(feedsTimer);
      await listener.stop();
      await pipeline.consumer.stop();
      await pipeline.consumer.drain(STOP_DRAIN_MS);
      if (pipeline.queue.depth) log(`${pipeline.queue.depth} messages not yet ingested stay in the queue journal; the next start delivers them`);
      await pipeline.jobsConsumer.stop();
      await compacting;
      await feeding;
      await http.close();
      await relay?.close();
      const dlq = await pipeline.saveDeadLetters();
      if (dlq) log(`dead-lettered messages saved to ${dlq}`);
      await pipeline.close();
    },
  };
}

export type LocalStack = Awaited<ReturnType<typeof startLocalStack>>;

function portError(variable: string, port: number) {
  return (error: NodeJS.ErrnoException): never => {
    if (error.code === 'EADDRINUSE') throw new Error(`port ${port} is in use: stop whatever holds it or set ${variable}`);
    throw error;
  };
}
