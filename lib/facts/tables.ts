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
  /** every fact object of one UTC day */
  day(dayStart: number): string;
  /** the facts of exactly these objects of one hour partition (to find an undecodable one) */
  objects(hourStart: number, keys: readonly string[]): string;
  /** the rows one settle run exported for one of its buckets (`part`: the hour or day start; see `settleResultsPrefix`) */
  results(run: string, part: number): string;
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
