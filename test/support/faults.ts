import type { CounterStore, ObjectStore, SqlEngine } from '../../lib/ports.js';

/** Thrown by a FaultPlan at the write it was told to fail: a crash (or a storage fault) at that point. */
export class InjectedFault extends Error {
  constructor(readonly step: string) {
    super(`injected fault at ${step}`);
  }
}

/**
 * Wraps an object store, a counter store and an SQL engine so that from the n-th write on (put, copy,
 * delete, export, add, putState, putStateIfAbsent, putStates, addEngagers, deleteStateIf) every write throws before it is applied: a process killed just
 * before that write, every earlier write durable, nothing after it. `restart()` is the next process.
 * `writes` lists the steps of the last armed run, so a test can crash between every pair of steps.
 */
export class FaultPlan {
  writes: string[] = [];
  private failAt = Infinity;

  /** Crash at the n-th write from now (1-based); Infinity records the steps without crashing. */
  arm(failAt: number): void {
    this.failAt = failAt;
    this.writes = [];
  }

  /** The process is back: writes go through again. */
  restart(): void {
    this.failAt = Infinity;
  }

  get crashed(): boolean {
    return this.writes.length >= this.failAt;
  }

  private step(name: string): void {
    this.writes.push(name);
    if (this.writes.length >= this.failAt) throw new InjectedFault(name);
  }

  objects(inner: ObjectStore): ObjectStore {
    return {
      put: async (key, body, type) => {
        this.step(`objects.put ${key.replace(/\/[^/]+$/, '/…')}`);
        return inner.put(key, body, type);
      },
      get: (key) => inner.get(key),
      stream: (key) => inner.stream(key),
      copy: async (from, to) => {
        this.step(`objects.copy ${to.replace(/\/[^/]+$/, '/…')}`);
        return inner.copy(from, to);
      },
      list: (prefix) => inner.list(prefix),
      delete: async (keys) => {
        this.step('objects.delete');
        return inner.delete(keys);
      },
    };
  }

  /** An engine export writes objects: a step like a put (queries only read). */
  sql(inner: SqlEngine): SqlEngine {
    return {
      query: (sql) => inner.query(sql),
      export: async (sql, prefix, format, options) => {
        this.step(`sql.export ${prefix.split('/').slice(0, 2).join('/')}`);
        return inner.export(sql, prefix, format, options);
      },
    };
  }

  counters(inner: CounterStore): CounterStore {
    return {
      add: async (deltas) => {
        this.step('counters.add');
        return inner.add(deltas);
      },
      put: async (items) => {
        this.step('counters.put');
        return inner.put(items);
      },
      range: (...args) => inner.range(...args),
      getState: (...args) => inner.getState(...args),
      putState: async (namespace, id, value) => {
        this.step(`counters.putState ${namespace}`);
        return inner.putState(namespace, id, value);
      },
      putStateIfAbsent: async (namespace, id, value) => {
        this.step(`counters.putStateIfAbsent ${namespace}`);
        return inner.putStateIfAbsent(namespace, id, value);
      },
      putStates: async (records) => {
        this.step('counters.putStates');
        return inner.putStates(records);
      },
      listState: (namespace) => inner.listState(namespace),
      deleteStateIf: async (...args) => {
        this.step(`counters.deleteStateIf ${args[0]}`);
        return inner.deleteStateIf(...args);
      },
      addEngagers: async (rows) => {
        this.step('counters.addEngagers');
        return inner.addEngagers(rows);
      },
      engagerPage: (...args) => inner.engagerPage(...args),
    };
  }
}

/** What the DynamoDB SDK throws when a table throttles, after its retries (lib/store-faults.ts classifies it as a store that did not answer). */
export const throttlingError = () =>
  Object.assign(new Error('Rate of requests exceeds the allowed throughput.'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400, attempts: 3, totalRetryDelay: 150 } });

/**
 * A counter store that can go down and come back, as DynamoDB does when it throttles or errors: while
 * `down`, every call (read or write) throws `error()` without reaching the store; `refused` counts them.
 */
export class CounterStoreOutage {
  down = false;
  refused = 0;
  readonly counters: CounterStore;

  constructor(inner: CounterStore, error: () => Error = throttlingError) {
    this.counters = new Proxy(inner, {
      get: (target, prop, receiver) => {
        const member = Reflect.get(target, prop, receiver) as unknown;
        if (typeof member !== 'function') return member;
        return (...args: unknown[]) => {
          if (!this.down) return (member as (...a: unknown[]) => unknown).apply(target, args);
          this.refused++;
          return Promise.reject(error());
        };
      },
    });
  }
}
