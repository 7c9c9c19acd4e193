import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type { SqlEngine } from '../../ports.js';

/** Athena's local stand-in: DuckDB over the facts directory (Parquet is built in; no extensions). */
export class DuckDbSqlEngine implements SqlEngine {
  private connection: Promise<DuckDBConnection> | undefined;

  async query(sql: string): Promise<Record<string, unknown>[]> {
    this.connection ??= DuckDBInstance.create(':memory:').then(async (db) => {
      const connection = await db.connect();
      // Athena works in UTC; without this, to_timestamp() and hour() follow the machine's zone.
      await connection.run("SET TimeZone = 'UTC'");
      return connection;
    });
    const reader = await (await this.connection).runAndReadAll(sql);
    return reader.getRowObjectsJson() as Record<string, unknown>[];
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
