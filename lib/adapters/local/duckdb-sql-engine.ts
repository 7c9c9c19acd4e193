import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type { SqlEngine } from '../../ports.js';
import { syncPath, writeDurably } from './fs-object-store.js';
import { FACTS_PREFIX, partitionOf, partitionPrefix } from '../../facts/partition.js';
import { SETTLE_RESULT_COLUMNS, settleResultsPrefix, type SettleTables } from '../../facts/tables.js';

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
  /** engines made by `forDataDir` share this one's database and leave closing it to this one */
  private readonly owner: boolean = true;

  constructor(private readonly options: DuckDbOptions = {}, shared?: DuckDbSqlEngine) {
    if (shared) {
      this.connection = shared.connect();
      this.owner = false;
    }
  }

  /** The same database (no second instance to start), exporting into another data dir. */
  forDataDir(dataDir: string): DuckDbSqlEngine {
    return new DuckDbSqlEngine({ ...this.options, dataDir }, this);
  }

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
   * COPY into the data dir with FsObjectStore's guarantees (writeDurably): a temp name the store never
   * lists, fsync, rename, fsync the directory.
   */
  async export(sql: string, prefix: string, format: 'jsonl' | 'parquet', options: { partitionBy?: string } = {}): Promise<void> {
    if (!this.options.dataDir) throw new Error('DuckDbSqlEngine.export needs the data dir it writes to');
    if (prefix.split('/').includes('..') || prefix.startsWith('/') || !prefix.endsWith('/')) throw new Error(`invalid export prefix: ${prefix}`);
    const formatOptions = format === 'jsonl' ? 'FORMAT json, COMPRESSION gzip' : 'FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE 100000';
    const target = join(this.options.dataDir, prefix);
    const quote = (path: string) => `'${path.replace(/'/g, "''")}'`;
    const connection = await this.connect();
    if (options.partitionBy) {
      // DuckDB writes a partitioned export as a directory tree: built under tmp/, then renamed into place whole.
      if (!/^\w+$/.test(options.partitionBy)) throw new Error(`invalid partition column: ${options.partitionBy}`);
      const temp = join(this.options.dataDir, 'tmp', `export-${randomUUID()}`);
      try {
        await mkdir(temp, { recursive: true });
        // DuckDB partitions Parquet and CSV output but not JSON: the rows go to a temp table (spilled
        // under the memory limit, like any table), then each partition is copied out on its own.
        const table = `export_${randomUUID().replace(/-/g, '')}`;
        const column = options.partitionBy;
        await connection.run(`CREATE TEMP TABLE ${table} AS SELECT * FROM (${sql})`);
        try {
          const parts = (await connection.runAndReadAll(`SELECT DISTINCT CAST(${column} AS VARCHAR) AS v FROM ${table}`)).getRowObjectsJson();
          for (const { v } of parts) {
            const value = String(v);
            if (!/^[\w.-]+$/.test(value)) throw new Error(`partition value not usable in a key: ${value}`);
            const dir = join(temp, `${column}=${value}`);
            await mkdir(dir, { recursive: true });
            const file = join(dir, `data_0.${format === 'jsonl' ? 'json.gz' : 'parquet'}`);
            await connection.run(`COPY (SELECT * EXCLUDE (${column}) FROM ${table} WHERE CAST(${column} AS VARCHAR) = '${value}') TO ${quote(file)} (${formatOptions})`);
          }
        } finally {
          await connection.run(`DROP TABLE IF EXISTS ${table}`);
        }
        await syncTree(temp);
        await mkdir(dirname(target.replace(/\/$/, '')), { recursive: true });
        await rename(temp, target.replace(/\/$/, ''));
      } catch (error) {
        await rm(temp, { recursive: true, force: true }).catch(() => {});
        throw error;
      }
      await syncPath(dirname(target.replace(/\/$/, '')));
      return;
    }
    const path = join(target, `part-00000.${format === 'jsonl' ? 'json.gz' : 'parquet'}`);
    await writeDurably(path, (temp) => connection.run(`COPY (${sql}) TO ${quote(temp)} (${formatOptions})`));
  }

  async close(): Promise<void> {
    if (this.connection && this.owner) (await this.connection).closeSync();
  }
}

/** fsyncs every file and directory under `dir` (an export's tree, before it is renamed into place). */
async function syncTree(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await syncTree(path);
    else await syncPath(path);
  }
  await syncPath(dir);
}

/**
 * The facts glob DuckDB reads, with dt/hour recovered from the Hive-style path. Every fact file has the
 * columns of FACT_COLUMNS (the ingest's Parquet writer and the compaction's COPY both write them), so
 * there is no `union_by_name`: DuckDB matches the files' columns by name anyway and fails loudly on a
 * missing one, and without it a `dt`/`hour` filter prunes files by path before opening them (with it,
 * every statement read all of the facts' footers first: 366 ms against 91 ms for a 3-day count over 1,441 files).
 */
export function factsRelation(dataDir: string): string {
  const glob = `${dataDir.replace(/'/g, "''")}/facts/**/*.parquet`;
  return `read_parquet('${glob}', hive_partitioning = true)`;
}

/** The compactor's relations over the local data dir (the layout of FsObjectStore). */
/**
 * Fact bytes per settle statement under DuckDB's default memory limit (1 GB): measured, an hour of 4 M
 * design-load facts (≈ 600 MB of Parquet) settles in one statement within it and one of 16 M does not;
 * this keeps each shard near 2 M facts.
 */
export const DUCKDB_SETTLE_SHARD_BYTES = 256 * 2 ** 20;

export function duckDbSettleTables(dataDir: string): SettleTables {
  const root = dataDir.replace(/'/g, "''");
  const columns = `{${Object.entries(SETTLE_RESULT_COLUMNS).map(([name, type]) => `${name}: '${type}'`).join(', ')}}`;
  return {
    dialect: 'duckdb',
    hours: (hourStarts) => `read_parquet([${hourStarts.map((h) => `'${root}/${partitionPrefix(partitionOf(h))}*.parquet'`).join(', ')}], hive_partitioning = true)`,
    days: (dayStarts) => `read_parquet([${dayStarts.map((d) => `'${root}/${FACTS_PREFIX}dt=${partitionOf(d).dt}/*/*.parquet'`).join(', ')}], hive_partitioning = true)`,
    objects: (_hourStart, keys) => `read_parquet([${keys.map((k) => `'${root}/${k.replace(/'/g, "''")}'`).join(', ')}], hive_partitioning = true)`,
    results: (run, part) => `read_json('${root}/${settleResultsPrefix(run, part)}*.json.gz', format = 'newline_delimited', columns = ${columns})`,
    shardBytes: DUCKDB_SETTLE_SHARD_BYTES,
    shardsInParallel: 1,
    // An hour of 16 GB of Parquet; a local data dir holds far less.
    maxShards: 64,
  };
}
