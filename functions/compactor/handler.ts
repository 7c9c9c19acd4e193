import middy from '@middy/core';
import { awsPorts } from '../../lib/adapters/aws/index.js';
import { compactAndSettle, type CompactorDeps } from '../../lib/facts/compact.js';
import { compactorConfig } from './env.js';
import { systemClock, type MetricsSink, type QueueSender } from '../../lib/ports.js';
import { queuedShardRunner } from '../../lib/counters/settle-shards.js';
import { METRIC } from '../../lib/metrics/names.js';
import { EmfMetrics, powertoolsLoggers } from '../../lib/adapters/aws/powertools.js';
import { createLogger, recordLogger, setLogBackend } from '../../lib/log.js';

/** Time kept free at the end of an invocation for the hours and days already started (a settle's queries and Puts). */
export const COMPACTOR_FINISH_MARGIN_MS = 4 * 60_000;

/** Scheduled (EventBridge): merge, deduplicate and settle the hours ingest marked dirty. */
export function createCompactorHandler(
  deps: CompactorDeps & {
    log?: (record: Record<string, unknown>) => void;
    metrics?: MetricsSink;
    afterRun?: () => void;
    /** the settle queue: shards of a big hour go to its workers, and this run waits for them within its budget */
    shardQueue?: QueueSender;
  },
) {
  return middy(async (_event: unknown, context: { getRemainingTimeInMillis?: () => number }) => {
    const started = Date.now();
    // No hour or day starts within the margin of the invocation's end: one in flight has time to finish.
    const remaining = context?.getRemainingTimeInMillis?.();
    const budgetMs = deps.budgetMs ?? (remaining === undefined ? undefined : Math.max(0, remaining - COMPACTOR_FINISH_MARGIN_MS));
    // The shards' deadline is the run's budget, on the clock the run measures it with.
    const deadlineAt = budgetMs === undefined ? Number.POSITIVE_INFINITY : deps.clock.now() + budgetMs;
    const runShard = deps.shardQueue ? queuedShardRunner(deps.shardQueue, deps.objects, { deadlineAt, now: () => deps.clock.now() }) : deps.runShard;
    const run = await compactAndSettle({ ...deps, budgetMs, runShard });
    const durationMs = Date.now() - started;
    deps.metrics?.observe?.(METRIC.compactionDurationMs, durationMs);
    deps.metrics?.observe?.(METRIC.watermarkStalenessMs, Math.max(0, deps.clock.now() - run.watermark * 1000));
    const summary = {
      hours: run.hours.length,
      inputObjects: run.hours.reduce((n, r) => n + r.inputObjects, 0),
      outputRows: run.hours.reduce((n, r) => n + Math.max(0, r.outputRows), 0),
      failedHours: run.failedHours.length,
      deferredHours: run.deferredHours.length,
      pacedHours: run.pacedHours.length,
      archivedHoursClosed: run.closedHours.length,
      archivedDaysClosed: run.closedDays.length,
      itemsPut: run.itemsPut,
      quarantined: run.quarantined,
      daysRolled: run.daysRolled.length,
      watermark: run.watermark,
      durationMs,
    };
    (deps.log ?? recordLogger(createLogger({ component: 'compactor' })))({ level: run.failedHours.length ? 'error' : 'info', component: 'compactor', msg: 'compaction', ...summary });
    deps.afterRun?.();
    return summary;
  });
}

let awsHandler: ReturnType<typeof createCompactorHandler> | undefined;

export const handler = (event: unknown, context: Parameters<ReturnType<typeof createCompactorHandler>>[1]) => {
  awsHandler ??= (() => {
    const config = compactorConfig();
    const ports = awsPorts(config.aws);
    setLogBackend(powertoolsLoggers());
    const metrics = new EmfMetrics();
    return createCompactorHandler({
      resettle: config.resettle,
      objects: ports.objects(),
      counters: ports.counters(),
      sql: ports.athena(),
      tables: ports.settleTables(),
      clock: systemClock,
      retention: config.retention,
      archive: config.archive,
      metrics,
      logIssue: createLogger({ component: 'compactor' }),
      shardQueue: ports.settleQueue(),
      afterRun: () => metrics.flush(),
    });
  })();
  return awsHandler(event, context);
};
