import middy from '@middy/core';
import { awsPorts } from '../../lib/adapters/aws/index.js';
import { compactDirtyHours } from '../../lib/facts/compact.js';
import type { CounterStore, ObjectStore } from '../../lib/ports.js';

/** Scheduled (EventBridge): merge and deduplicate the hour partitions ingest marked dirty. */
export function createCompactorHandler(deps: { objects: ObjectStore; counters: CounterStore; log?: (record: Record<string, unknown>) => void }) {
  return middy(async () => {
    const started = Date.now();
    const results = await compactDirtyHours(deps);
    const summary = {
      hours: results.length,
      inputObjects: results.reduce((n, r) => n + r.inputObjects, 0),
      outputRows: results.reduce((n, r) => n + Math.max(0, r.outputRows), 0),
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
    return createCompactorHandler({ objects: ports.objects(), counters: ports.counters() });
  })();
  return awsHandler(event, context);
};
