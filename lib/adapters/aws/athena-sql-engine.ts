import { AthenaClient, GetQueryExecutionCommand, GetQueryResultsCommand, StartQueryExecutionCommand } from '@aws-sdk/client-athena';
import type { SqlEngine } from '../../ports.js';

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
  async export(sql: string, prefix: string, format: 'jsonl' | 'parquet'): Promise<void> {
    if (!this.options.exportBucket) throw new Error('AthenaSqlEngine.export needs exportBucket');
    const to = `s3://${this.options.exportBucket}/${prefix}`.replace(/'/g, "''");
    const as = format === 'jsonl' ? "format = 'JSON', compression = 'GZIP'" : "format = 'PARQUET', compression = 'SNAPPY'";
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
      if (state === 'SUCCEEDED') {
        this.scanned += QueryExecution?.Statistics?.DataScannedInBytes ?? 0;
        break;
      }
      if (state === 'FAILED' || state === 'CANCELLED') {
        throw new Error(`Athena query ${id} ${state.toLowerCase()}: ${QueryExecution?.Status?.StateChangeReason ?? 'no reason given'}`);
      }
      if (Date.now() > deadline) throw new Error(`Athena query ${id} did not finish in time`);
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
