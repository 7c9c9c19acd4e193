import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDynalite, type LocalDynamo } from '../../lib/adapters/local/dynalite.js';
import { FsObjectStore } from '../../lib/adapters/local/fs-object-store.js';
import { DuckDbSqlEngine, duckDbSettleTables } from '../../lib/adapters/local/duckdb-sql-engine.js';

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

export const fixedClock = (ms: number) => ({ now: () => ms });
