import { AthenaClient, GetQueryExecutionCommand, GetQueryResultsCommand, StartQueryExecutionCommand, StopQueryExecutionCommand } from '@aws-sdk/client-athena';
import { QueryStoppedError, type SqlEngine } from '../../ports.js';

export interface AthenaOptions {
  workGroup: string;
  database: string;
  /** reuse a result of the same query text up to this old (Athena engine v3 result reuse) */
  resultReuseMinutes?: number;
  pollIntervalMs?: number;
  timeoutMs?: number;
  /** the bucket `export` UNLOADs into (the facts bucket: the compactor's exports live beside the facts) */
  exportBucket?: string;
}

/** Athena behind the SqlEngine port: start, poll until done, page through the results. */
export class AthenaSqlEngine implements SqlEngine {
  private scanned = 0;

  bytesScanned(): number {
    return this.scanned;
  }

  constructor(
    private readonly client: AthenaClient,
    private readonly options: AthenaOptions,
  ) {}

  async query(sql: string): Promise<Record<string, unknown>[]> {
    const id = await this.run(sql, this.options.resultReuseMinutes ?? 60);
    return this.results(id);
  }

  /**
   * UNLOAD writes the result as files under the prefix from Athena's own workers, so a result of any
   * size never passes through this function. JSON output is gzipped by default.
   */
  async export(sql: string, prefix: string, format: 'jsonl' | 'parquet', options: { partitionBy?: string } = {}): Promise<void> {
    if (!this.options.exportBucket) throw new Error('AthenaSqlEngine.export needs exportBucket');
    const to = `s3://${this.options.exportBucket}/${prefix}`.replace(/'/g, "''");
    if (options.partitionBy && !/^\w+$/.test(options.partitionBy)) throw new Error(`invalid partition column: ${options.partitionBy}`);
    const partitioned = options.partitionBy ? `, partitioned_by = ARRAY['${options.partitionBy}']` : '';
    const as = (format === 'jsonl' ? "format = 'JSON', compression = 'GZIP'" : "format = 'PARQUET', compression = 'SNAPPY'") + partitioned;
    // Never reuse a result here: the export's side effect is the point.
    await this.run(`UNLOAD (${sql}) TO '${to}' WITH (${as})`, 0);
  }

  /** Starts a query and waits for it; returns its execution id. */
  private async run(sql: string, reuse: number): Promise<string> {
    const started = await this.client.send(
      new StartQueryExecutionCommand({
        QueryString: sql,
        WorkGroup: this.options.workGroup,
        QueryExecutionContext: { Database: this.options.database },
        ResultReuseConfiguration: reuse > 0 ? { ResultReuseByAgeConfiguration: { Enabled: true, MaxAgeInMinutes: reuse } } : undefined,
      }),
    );
    const id = started.QueryExecutionId;
    if (!id) throw new Error('Athena returned no QueryExecutionId');
    const deadline = Date.now() + (this.options.timeoutMs ?? 10 * 60_000);
    let wait = this.options.pollIntervalMs ?? 500;
    for (;;) {
      const { QueryExecution } = await this.client.send(new GetQueryExecutionCommand({ QueryExecutionId: id }));
      const state = QueryExecution?.Status?.State;
      const finished = state === 'SUCCEEDED' || state === 'FAILED' || state === 'CANCELLED';
      // a query that stopped is billed for what it read before it stopped
      if (finished) this.scanned += QueryExecution?.Statistics?.DataScannedInBytes ?? 0;
      if (state === 'SUCCEEDED') break;
      if (finished) {
        const message = `Athena query ${id} ${state.toLowerCase()}: ${QueryExecution?.Status?.StateChangeReason ?? 'no reason given'}`;
        // The workgroup's bytes-scanned cutoff cancels a query; Athena marks other final failures not retryable.
        if (state === 'CANCELLED' || QueryExecution?.Status?.AthenaError?.Retryable === false) throw new QueryStoppedError(message);
        throw new Error(message);
      }
      if (Date.now() > deadline) {
        // Left running, an abandoned query would go on scanning (and billing) for no one.
        await this.client.send(new StopQueryExecutionCommand({ QueryExecutionId: id })).catch(() => {});
        throw new Error(`Athena query ${id} did not finish in time; stopped it`);
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
      wait = Math.min(5_000, Math.round(wait * 1.5));
    }
    return id;
  }

  private async results(id: string): Promise<Record<string, unknown>[]> {
    const rows: Record<string, unknown>[] = [];
    let columns: string[] | undefined;
    let token: string | undefined;
    do {
      const page = await this.client.send(new GetQueryResultsCommand({ QueryExecutionId: id, NextToken: token, MaxResults: 1000 }));
      columns ??= page.ResultSet?.ResultSetMetadata?.ColumnInfo?.map((c) => c.Name ?? '') ?? [];
      const data = page.ResultSet?.Rows ?? [];
      // The first row of the first page repeats the column names.
      for (const [i, row] of data.entries()) {
        if (!token && i === 0 && row.Data?.every((d, j) => d.VarCharValue === columns![j])) continue;
        rows.push(Object.fromEntries(columns.map((name, j) => [name, row.Data?.[j]?.VarCharValue ?? null])));
      }
      token = page.NextToken;
    } while (token);
    return rows;
  }
}
