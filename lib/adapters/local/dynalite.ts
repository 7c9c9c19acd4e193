import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import { DynamoCounterStore } from '../aws/dynamodb-counter-store.js';
import { ensureCountersTable, localDynamoClient, tableExists } from '../aws/dynamodb-table.js';

const require = createRequire(import.meta.url);

export const LOCAL_TABLE = 'funnel-counters';
/** State namespace of the record that names this counter store (its id matches the marker file). */
export const STORE_IDENTITY = 'store';

export interface LocalDynamo {
  /** the SDK client bound to dynalite, for tests that inspect raw items */
  client: ReturnType<typeof localDynamoClient>;
  counters: DynamoCounterStore;
  endpoint: string;
  /** LevelDB iterators dynalite has opened and not yet closed (0 between requests; see closeIteratorsOnDestroy) */
  openIterators(): number;
  close(): Promise<void>;
}

export interface DynaliteOptions {
  /**
   * Rebuild: a damaged or missing store is not refused; its LevelDB directory is moved aside to
   * `<path>.damaged-<time>` and a fresh, empty store with a new identity takes its place.
   */
  recreate?: boolean;
}

/** Raised when the counter store on disk is not the one the data dir says it had. */
export class DamagedStoreError extends Error {
  constructor(path: string, why: string) {
    super(`the counters under ${path} are damaged or missing (${why}): run \`funnel rebuild\` to recompute them from the facts`);
    this.name = 'DamagedStoreError';
  }
}

/**
 * dynalite (DynamoDB in pure JS) in this process, persisted under `path` (or in memory), with the
 * counters table created as the CDK app creates it. The real DynamoDB adapter talks to it over HTTP,
 * so the local stack exercises the same adapter as AWS.
 *
 * A persisted store carries an identity: a marker file `<path>.id` and a state record with the same
 * random id, written on first open. A later open that finds the marker but not the table or the
 * record (a deleted, truncated or corrupt LevelDB) refuses to start instead of serving empty counters.
 */
export async function startDynalite(path: string | undefined, options: DynaliteOptions = {}): Promise<LocalDynamo> {
  const markerFile = path ? `${path}.id` : undefined;
  const marker = markerFile ? await readMarker(markerFile) : null;
  if (path && options.recreate && (await exists(path))) {
    await rename(path, `${path}.damaged-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  }
  if (path && !options.recreate) {
    // dynalite hangs on a LevelDB that does not open (and throws out of band), so open it first here.
    const why = await levelOpenProblem(path);
    if (why) throw new DamagedStoreError(path, why);
  }
  const dynamo = await serve(path);
  try {
    if (path && marker && !options.recreate) {
      const why = await identityProblem(dynamo, marker.storeId);
      if (why) throw new DamagedStoreError(path, why);
    }
    await ensureCountersTable(dynamo.client, LOCAL_TABLE);
    if (markerFile && (!marker?.storeId || options.recreate)) {
      const storeId = (await dynamo.counters.getState(STORE_IDENTITY, 0).catch(() => null))?.storeId;
      // An existing store from before markers is adopted; a new or rebuilt one gets a new id.
      const id = typeof storeId === 'string' && !options.recreate ? storeId : randomUUID();
      await dynamo.counters.putState(STORE_IDENTITY, 0, { storeId: id, createdAt: Date.now() });
      await writeFile(markerFile, JSON.stringify({ storeId: id }) + '\n');
    }
    return dynamo;
  } catch (error) {
    await dynamo.close().catch(() => {});
    throw error;
  }
}

async function serve(path: string | undefined): Promise<LocalDynamo> {
  const dynalite = loadDynalite();
  const { server, openIterators } = createDynaliteServer(dynalite, { path, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('dynalite did not bind a port');
  const endpoint = `http://127.0.0.1:${address.port}`;
  const client = localDynamoClient(endpoint);
  return {
    client,
    counters: new DynamoCounterStore(client, LOCAL_TABLE),
    endpoint,
    openIterators: () => openIterators.size,
    async close() {
      client.destroy();
      // dynalite's close() also closes its LevelDB, so a restart on the same path can reopen it.
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

type DynaliteAction = (store: unknown, data: unknown, callback: (error: unknown, result?: unknown) => void) => void;
let dynaliteFactory: ((options: Record<string, unknown>) => Server) | undefined;

/**
 * dynalite with its store errors answered instead of thrown. dynalite 4 (index.js, the action callback
 * near line 408) does `if (err) throw err` for an error without a statusCode — which is what a full disk
 * or a damaged LevelDB gives (LEVEL_IO_ERROR) — so the throw escapes into the event loop and kills the
 * whole process. Each action module is wrapped before index.js first requires it (the require cache
 * hands index.js the wrapper), turning such an error into DynamoDB's own 500 InternalServerError with the
 * store's code in the message: the SDK retries it, then the caller sees a storage fault it can count.
 */
function loadDynalite(): (options: Record<string, unknown>) => Server {
  if (dynaliteFactory) return dynaliteFactory;
  const index = require.resolve('dynalite');
  if (require.cache[index]) throw new Error('dynalite was loaded before its store errors could be wrapped');
  const fromDynalite = createRequire(index);
  for (const file of readdirSync(join(dirname(index), 'actions')).filter((f) => f.endsWith('.js'))) {
    const id = fromDynalite.resolve(`./actions/${file}`);
    const action = fromDynalite(id) as DynaliteAction;
    require.cache[id]!.exports = ((store, data, callback) =>
      action(store, data, (error, result) => {
        if (error && !(error as { statusCode?: number }).statusCode) {
          const { code, message } = error as { code?: string; message?: string };
          return callback({ statusCode: 500, body: { __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: `${code ?? 'store error'}: ${message ?? String(error)}` } });
        }
        callback(error, result);
      })) satisfies DynaliteAction;
  }
  dynaliteFactory = require('dynalite') as (options: Record<string, unknown>) => Server;
  return dynaliteFactory;
}

interface LevelIterator {
  close(): Promise<void>;
  return?: () => Promise<void>;
}
interface LevelDb {
  keys(options?: unknown): LevelIterator;
  values(options?: unknown): LevelIterator;
}
interface DynaliteStore {
  db: LevelDb;
  recreate(): void;
}

/**
 * Builds dynalite's server with its LevelDB iterators closed when dynalite is done with them.
 *
 * dynalite 4 (node_modules/dynalite/db/index.js, `createKeyStream`/`createValueStream` in
 * `wrapWithCallbacks`, ~lines 410-475) turns each scan into a Readable whose destroy() closes the
 * iterator only `if (iterator.return)`. abstract-level 3 iterators have no `return()` and do not close
 * at their end, so every Query, Scan and ListTables left its iterator open and attached to the db's
 * `#resources` set until the db closed: with memory-level each one kept its encoded gte/lte bound
 * Buffers (pinning 8 KiB pool slabs: `arrayBuffers` grew ~4 KB a query), with classic-level a native
 * iterator and the LevelDB snapshot under it (RSS grew the same, outside the JS heap).
 *
 * dynalite looks `db.create` up on its module at call time, so the store is caught here, and each
 * iterator it opens gets the `return()` dynalite calls, which closes it. Only this store is touched.
 */
function createDynaliteServer(dynalite: (options: Record<string, unknown>) => Server, options: Record<string, unknown>) {
  const dbModule = createRequire(require.resolve('dynalite'))('./db') as { create(options: unknown): DynaliteStore };
  const openIterators = new Set<LevelIterator>();
  const create = dbModule.create;
  let store: DynaliteStore | undefined;
  dbModule.create = (opts: unknown) => (store = create(opts));
  let server: Server;
  try {
    server = dynalite(options);
  } finally {
    dbModule.create = create;
  }
  if (!store) throw new Error('dynalite did not create its store through db.create');
  const caught = store;
  closeIteratorsOnDestroy(caught.db, openIterators);
  // After a close, a listen() again recreates the store (and its db) in place.
  const recreate = caught.recreate;
  caught.recreate = function (this: DynaliteStore) {
    recreate.call(this);
    closeIteratorsOnDestroy(caught.db, openIterators);
  };
  return { server, openIterators };
}

function closeIteratorsOnDestroy(db: LevelDb, open: Set<LevelIterator>): void {
  for (const method of ['keys', 'values'] as const) {
    const original = db[method].bind(db);
    db[method] = (options?: unknown) => {
      const iterator = original(options);
      if (typeof iterator.return !== 'function') {
        open.add(iterator);
        const close = iterator.close.bind(iterator);
        iterator.close = () => close().finally(() => open.delete(iterator));
        iterator.return = () => iterator.close();
      }
      return iterator;
    };
  }
}

/** Why the store on disk is not the one the marker names, or null when it is. */
async function identityProblem(dynamo: LocalDynamo, storeId: string): Promise<string | null> {
  try {
    if (!(await tableExists(dynamo.client, LOCAL_TABLE))) return 'the table is missing';
  } catch (error) {
    return `the store does not open: ${(error as Error).message}`;
  }
  try {
    const record = await dynamo.counters.getState(STORE_IDENTITY, 0);
    if (!record) return 'its identity record is missing';
    if (storeId && record.storeId !== storeId) return 'its identity record names another store';
  } catch (error) {
    return `the store does not read: ${(error as Error).message}`;
  }
  return null;
}

/** Opens the LevelDB directly (the `level` package dynalite uses) and closes it: null when it opens. */
async function levelOpenProblem(path: string): Promise<string | null> {
  const { Level } = createRequire(require.resolve('dynalite'))('level') as { Level: new (path: string, options: Record<string, unknown>) => { open(): Promise<void>; close(): Promise<void> } };
  const db = new Level(path, { valueEncoding: 'json' });
  try {
    await db.open();
    return null;
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return `LevelDB does not open: ${cause?.code ?? (error as { code?: string }).code ?? ''} ${cause?.message ?? (error as Error).message}`.trim();
  } finally {
    await db.close().catch(() => {});
  }
}

async function readMarker(file: string): Promise<{ storeId: string } | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  try {
    const value = JSON.parse(text) as { storeId?: unknown };
    if (typeof value.storeId === 'string') return { storeId: value.storeId };
  } catch {
    // a torn marker: treated as present with an unknown id, so the store is checked, not trusted
  }
  return { storeId: '' };
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
