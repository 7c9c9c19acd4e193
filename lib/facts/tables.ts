import type { SqlDialect } from '../jobs/metrics-sql.js';

/**
 * The relations the compactor's SQL reads, as the engine names them: DuckDB globs over the data dir
 * locally, Glue tables with partition filters in AWS (lib/adapters/*). Each is pruned to what it
 * names, so a settle scans one hour (or one day), never the whole history.
 */
export interface SettleTables {
  dialect: SqlDialect;
  /** every fact object of these hour partitions (each must hold at least one object) */
  hours(hourStarts: readonly number[]): string;
  /** every fact object of these UTC days (each must hold at least one object): a day's settle, or a week's */
  days(dayStarts: readonly number[]): string;
  /** the facts of exactly these objects of one hour partition (to find an undecodable one) */
  objects(hourStart: number, keys: readonly string[]): string;
  /** the rows one settle run exported for one of its buckets (`part`: the hour or day start; see `settleResultsPrefix`) */
  results(run: string, part: number): string;
  /**
   * Fact bytes one settle statement takes at most: a bucket with more is settled in shards of its
   * scopes (lib/counters/settle-run.ts), each its own statement whose aggregation is bounded by this
   * (DuckDB's memory limit locally; Athena's parallel queries and the Puts they feed in AWS).
   */
  shardBytes: number;
  /** shard statements run at once (DuckDB shares one memory limit: one; Athena runs many) */
  shardsInParallel: number;
  /**
   * Shards one bucket is split into at most. Every shard statement scans the whole bucket, so in
   * Athena, where memory is not the bound, this caps what a day (≈ 50 GB at the design load) costs.
   */
  maxShards: number;
}

/** Where one bucket's rows of a settle run live (the export is partitioned by bucket). */
export const settleResultsPrefix = (run: string, part: number) => `${SETTLE_RESULTS_PREFIX}${run.replace(/[^\w.-]/g, '')}/part=${part}/`;

/** Where a settle run's full result lives: the base the next run of the same bucket diffs against. */
export const SETTLE_RESULTS_PREFIX = 'counters/results/';
/** Where a settle run's changes (the items to Put) live until the run commits. */
export const SETTLE_CHANGES_PREFIX = 'counters/changes/';
/** Where a compaction's merged output waits before it is copied into its hour partition. */
export const COMPACTION_STAGING_PREFIX = 'staging/compaction/';

/** The columns of a settle result row (lib/counters/settle-sql.ts), for engines that need them declared. */
export const SETTLE_RESULT_COLUMNS = { scope: 'VARCHAR', granularity: 'VARCHAR', bucket: 'BIGINT', vals: 'VARCHAR', sketches: 'VARCHAR', tops: 'VARCHAR' } as const;

/** The Glue table over `SETTLE_RESULTS_PREFIX` (infra/lib/analytics.ts), partitioned by run and part (projected). */
export const SETTLE_RESULTS_TABLE = 'settle_results';

/**
 * In AWS a shard is a unit of parallel work, not of memory (Athena scales): an hour of the design load
 * (18 M facts, ≈ 2.6 GB of Parquet) settles as 5 shard queries at once, each Putting a fifth of the
 * hour's items. Each shard scans the whole hour (docs/deploy.md prices it).
 */
export const ATHENA_SETTLE_SHARD_BYTES = 512 * 2 ** 20;
export const ATHENA_SHARDS_IN_PARALLEL = 8;
export const ATHENA_MAX_SHARDS = 16;
