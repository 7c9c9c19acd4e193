import { statfs } from 'node:fs/promises';
import type { MetricsSink } from '../../ports.js';
import type { HealthCheck } from '../../api/health.js';
import { METRIC } from '../../metrics/names.js';
import { isStorageFault } from '../../store-faults.js';
import type { MetricsRegistry } from '../../metrics/registry.js';
import type { LocalQueue } from '../../adapters/local/local-queue.js';

export type StoreName = 'counters' | 'objects' | 'queue';

/** The classifier lives in lib/store-faults.ts, shared with the api (where a store fault is a 503). */
export { isStorageFault };

/** One line for a person: what failed, the cause, what to do. */
export function describeStorageFault(store: StoreName, error: unknown, dataDir: string): string {
  const text = String((error as Error)?.message ?? error).split('\n')[0]!.slice(0, 300);
  const full = /ENOSPC|EDQUOT/.test(text) || (error as NodeJS.ErrnoException)?.code === 'ENOSPC';
  const advice = full ? `the disk under ${dataDir} is full: free space and run the command again` : `check the disk under ${dataDir}; if the counters are damaged, run \`funnel rebuild\``;
  return `storage fault in the ${store} store (${text}): ${advice}`;
}

/** Raised by a command when a storage fault stopped it; the CLI prints the message and exits 1. */
export class StorageFaultError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StorageFaultError';
  }
}

/**
 * Remembers the storage faults the stores see (the first, so a command can stop with a clear line;
 * the last, so /health reports degraded). `watch` only remembers: ingest and the compactor count the
 * faults of the counters and objects they write (METRIC.storageFaults); `record` also counts, for the
 * queue journal, whose faults only the local stack sees.
 */
export class StorageFaultMonitor {
  first: { store: StoreName; error: unknown } | null = null;
  last: { store: StoreName; at: number; message: string } | null = null;
  /** when each store last completed a write: a fault older than that has cleared (the disk has room again) */
  readonly lastWriteOk: Partial<Record<StoreName, number>> = {};

  constructor(
    private readonly metrics: MetricsSink,
    private readonly now: () => number = Date.now,
  ) {}

  record(store: StoreName, error: unknown): void {
    this.metrics.count(METRIC.storageFaults, { Store: store });
    this.remember(store, error);
  }

  remember(store: StoreName, error: unknown): void {
    this.first ??= { store, error };
    this.last = { store, at: this.now(), message: String((error as Error)?.message ?? error).slice(0, 300) };
  }

  /** Wraps a store so each call that fails with a storage fault is remembered, then rethrown unchanged. */
  watch<T extends object>(store: StoreName, target: T): T {
    return new Proxy(target, {
      get: (object, property, receiver) => {
        const value = Reflect.get(object, property, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          let result: unknown;
          try {
            result = (value as (...a: unknown[]) => unknown).apply(object, args);
          } catch (error) {
            if (isStorageFault(error)) this.remember(store, error);
            throw error;
          }
          if (result instanceof Promise) {
            return result.then(
              (value: unknown) => {
                if (WRITE_METHODS.has(String(property))) this.lastWriteOk[store] = this.now();
                return value;
              },
              (error: unknown) => {
                if (isStorageFault(error)) this.remember(store, error);
                throw error;
              },
            );
          }
          return result;
        };
      },
    });
  }
}

/** Store methods that write: reads keep working on a full disk, so only a write shows it has room again. */
const WRITE_METHODS = new Set(['put', 'delete', 'add', 'putState', 'putStates', 'deleteStateIf', 'sendBatch']);

/** How recent an ingest batch failure or storage fault makes /health report degraded (unless cleared since). */
export const HEALTH_RECENT_FAILURE_SECONDS = 120;
/** Below this much free disk under the data dir, /health reports degraded. */
export const HEALTH_MIN_FREE_BYTES = 256 * 1024 * 1024;
/** Queue depth above this share of its cap reports degraded (the listener is about to be pushed back). */
export const HEALTH_QUEUE_FULL_RATIO = 0.9;

export interface LocalHealthDeps {
  dataDir: string;
  queue: LocalQueue;
  metrics: MetricsRegistry;
  faults: StorageFaultMonitor;
  now?: () => number;
  minFreeBytes?: number;
}

/**
 * The local stack's checks for GET /health (ApiDeps.healthChecks; the api adds the counter store's):
 * the queue has room and its journal is writable, no ingest batch or store failed lately, and the disk
 * under the data dir has space. Details are short public text, never an internal error message.
 */
export function localHealthChecks(deps: LocalHealthDeps): HealthCheck[] {
  const now = deps.now ?? Date.now;
  const recently = (at: number | null | undefined) => at !== null && at !== undefined && now() - at < HEALTH_RECENT_FAILURE_SECONDS * 1000;
  let seenBatchErrors = deps.metrics.total(METRIC.ingestBatchErrors);
  let seenAccepted = deps.metrics.total(METRIC.eventsAccepted);
  let lastBatchErrorAt: number | null = null;
  return [
    {
      name: 'queue',
      run: () => {
        const { maxMessages, maxBytes } = deps.queue.capacity;
        const fill = Math.max(deps.queue.depth / maxMessages, deps.queue.bytes / maxBytes);
        return { ok: fill < HEALTH_QUEUE_FULL_RATIO, detail: `${deps.queue.depth} of ${maxMessages} messages, ${Math.round(fill * 100)}% full` };
      },
    },
    {
      name: 'queueJournal',
      run: () => (deps.queue.lastFault ? { ok: false, detail: 'the last journal write failed' } : { ok: true }),
    },
    {
      name: 'ingest',
      run: () => {
        const batchErrors = deps.metrics.total(METRIC.ingestBatchErrors);
        const accepted = deps.metrics.total(METRIC.eventsAccepted);
        if (batchErrors > seenBatchErrors) lastBatchErrorAt = now();
        // Events accepted with no new failure since: ingest has recovered.
        else if (accepted > seenAccepted) lastBatchErrorAt = null;
        seenBatchErrors = batchErrors;
        seenAccepted = accepted;
        return recently(lastBatchErrorAt) ? { ok: false, detail: `an ingest batch failed ${Math.round((now() - lastBatchErrorAt!) / 1000)} s ago` } : { ok: true };
      },
    },
    {
      name: 'storage',
      run: () => {
        const fault = deps.faults.last;
        // Cleared once the same store has completed a write since (the queue journal tracks its own fsyncs).
        const lastOk = fault?.store === 'queue' ? deps.queue.lastSyncOkAt : deps.faults.lastWriteOk[fault?.store ?? 'counters'];
        const cleared = fault && lastOk !== null && lastOk !== undefined && lastOk > fault.at;
        return fault && !cleared && recently(fault.at) ? { ok: false, detail: `the ${fault.store} store failed ${Math.round((now() - fault.at) / 1000)} s ago` } : { ok: true };
      },
    },
    {
      name: 'disk',
      run: async () => {
        const fs = await statfs(deps.dataDir);
        const free = fs.bavail * fs.bsize;
        return { ok: free >= (deps.minFreeBytes ?? HEALTH_MIN_FREE_BYTES), detail: `${Math.floor(free / 1048576)} MiB free` };
      },
    },
  ];
}
