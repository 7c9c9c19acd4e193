import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDynalite, type LocalDynamo } from '../../lib/adapters/local/dynalite.js';
import { FsObjectStore } from '../../lib/adapters/local/fs-object-store.js';
import { DuckDbSqlEngine, duckDbSettleTables } from '../../lib/adapters/local/duckdb-sql-engine.js';
import { MemoryCounterStore } from '../../lib/adapters/memory/index.js';

/**
 * A temporary data dir with real local adapters: a facts directory, an in-memory dynalite, and DuckDB
 * over the directory as the compactor's engine (`sql`, `tables`).
 */
export async function localStores() {
  const dir = await mkdtemp(join(tmpdir(), 'funnel-test-'));
  const dynamo: LocalDynamo = await startDynalite(undefined);
  const sql = new DuckDbSqlEngine({ dataDir: dir, memoryLimit: '256MB' });
  return {
    dir,
    objects: new FsObjectStore(dir),
    counters: dynamo.counters,
    sql,
    tables: duckDbSettleTables(dir),
    dynamo,
    async close() {
      await sql.close();
      await dynamo.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The same, with the in-memory counter store in dynalite's place: for tests whose subject is the core
 * (ingest, settle, reads), not the DynamoDB adapter (test/adapters/ holds that to the same contract).
 * The facts stay files, because DuckDB (the compactor's engine) reads the directory.
 */
export async function memoryStores() {
  const dir = await mkdtemp(join(tmpdir(), 'funnel-test-'));
  const sql = new DuckDbSqlEngine({ dataDir: dir, memoryLimit: '256MB' });
  return {
    dir,
    objects: new FsObjectStore(dir),
    counters: new MemoryCounterStore(),
    sql,
    tables: duckDbSettleTables(dir),
    async close() {
      await sql.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export const fixedClock = (ms: number) => ({ now: () => ms });
