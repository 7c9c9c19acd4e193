import middy from '@middy/core';
import { awsPorts } from '../../lib/adapters/aws/index.js';
import { compactAndSettle, type CompactorDeps } from '../../lib/facts/compact.js';
import { retentionFromEnv } from '../../lib/counters/retention.js';
import { systemClock } from '../../lib/ports.js';

/** Scheduled (EventBridge): merge, deduplicate and settle the hours ingest marked dirty. */
export function createCompactorHandler(deps: CompactorDeps & { log?: (record: Record<string, unknown>) => void }) {
  return middy(async () => {
    const started = Date.now();
    const run = await compactAndSettle(deps);
    const summary = {
      hours: run.hours.length,
      inputObjects: run.hours.reduce((n, r) => n + r.inputObjects, 0),
      outputRows: run.hours.reduce((n, r) => n + Math.max(0, r.outputRows), 0),
      daysRolled: run.daysRolled.length,
      watermark: run.watermark,
      durationMs: Date.now() - started,
    };
    (deps.log ?? ((r) => console.log(JSON.stringify(r))))({ level: 'info', msg: 'compaction', ...summary });
    return summary;
  });
}

let awsHandler: ReturnType<typeof createCompactorHandler> | undefined;

export const handler = (event: unknown, context: Parameters<ReturnType<typeof createCompactorHandler>>[1]) => {
  awsHandler ??= (() => {
    const ports = awsPorts();
    return createCompactorHandler({ objects: ports.objects(), counters: ports.counters(), clock: systemClock, retention: retentionFromEnv() });
  })();
  return awsHandler(event, context);
};
