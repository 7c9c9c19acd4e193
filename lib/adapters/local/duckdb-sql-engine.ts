import { randomUUID } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type { SqlEngine } from '../../ports.js';

export interface DuckDbOptions {
  /** the local object store's root (FsObjectStore), where `export` writes; exports need it */
  dataDir?: string;
  /**
   * DuckDB's memory limit: above it, sorts, joins and aggregations spill to `<dataDir>/tmp/duckdb`,
   * so settling an hour of any size stays within it (the compactor's bounded-memory rule).
   */
  memoryLimit?: string;
}

/** DuckDB's memory limit for the local stack's compactor and jobs: a laptop's share, not its whole RAM. */
export const DEFAULT_DUCKDB_MEMORY_LIMIT = '1GB';

/** Athena's local stand-in: DuckDB over the facts directory (Parquet is built in; no extensions). */
export class DuckDbSqlEngine implements SqlEngine {
  private connection: Promise<DuckDBConnection> | undefined;

  constructor(private readonly options: DuckDbOptions = {}) {}

  private connect(): Promise<DuckDBConnection> {
    this.connection ??= DuckDBInstance.create(':memory:').then(async (db) => {
      const connection = await db.connect();
      // Athena works in UTC; without this, to_timestamp() and hour() follow the machine's zone.
      await connection.run("SET TimeZone = 'UTC'");
      await connection.run(`SET memory_limit = '${this.options.memoryLimit ?? DEFAULT_DUCKDB_MEMORY_LIMIT}'`);
      // Exports need no row order (the SQL orders what must be ordered); keeping it costs memory.
      await connection.run('SET preserve_insertion_order = false');
      if (this.options.dataDir) {
        const spill = join(this.options.dataDir, 'tmp', 'duckdb');
        await mkdir(spill, { recursive: true });
        await connection.run(`SET temp_directory = '${spill.replace(/'/g, "''")}'`);
      }
      return connection;
    });
    return this.connection;
  }

  async query(sql: string): Promise<Record<string, unknown>[]> {
    const reader = await (await this.connect()).runAndReadAll(sql);
    return reader.getRowObjectsJson() as Record<string, unknown>[];
  }

  /**
   * COPY to a temp file, fsync, rename under the prefix, fsync the directory: the same guarantees as
   * FsObjectStore.put, and the temp name ends in `.tmp`, which the store never lists.
   */
  async export(sql: string, prefix: string, format: 'jsonl' | 'parquet'): Promise<void> {
    if (!this.options.dataDir) throw new Error('DuckDbSqlEngine.export needs the data dir it writes to');
    if (prefix.split('/').includes('..') || prefix.startsWith('/')) throw new Error(`invalid export prefix: ${prefix}`);
    const path = join(this.options.dataDir, `${prefix}part-00000.${format === 'jsonl' ? 'json.gz' : 'parquet'}`);
    await mkdir(dirname(path), { recursive: true });
    const temp = `${path}.${randomUUID()}.tmp`;
    const options = format === 'jsonl' ? 'FORMAT json, COMPRESSION gzip' : 'FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE 100000';
    try {
      await (await this.connect()).run(`COPY (${sql}) TO '${temp.replace(/'/g, "''")}' (${options})`);
      const file = await open(temp, 'r+');
      try {
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(temp, path);
    } catch (error) {
      await rm(temp, { force: true }).catch(() => {});
      throw error;
    }
    const dir = await open(dirname(path), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  async close(): Promise<void> {
    if (this.connection) (await this.connection).closeSync();
  }
}

/** The facts glob DuckDB reads, with dt/hour recovered from the Hive-style path. */
export function factsRelation(dataDir: string): string {
  const glob = `${dataDir.replace(/'/g, "''")}/facts/**/*.parquet`;
  return `read_parquet('${glob}', hive_partitioning = true, union_by_name = true)`;
}
