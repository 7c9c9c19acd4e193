import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { AthenaClient, GetQueryExecutionCommand, GetQueryResultsCommand, StartQueryExecutionCommand, StopQueryExecutionCommand } from '@aws-sdk/client-athena';
import { AthenaSqlEngine } from '../../lib/adapters/aws/athena-sql-engine.js';
import { QueryStoppedError } from '../../lib/ports.js';

/** What the jobs rely on: bytes scanned as Athena bills them, and which failures are worth a retry. */
describe('AthenaSqlEngine', () => {
  let athena: AwsClientStub<AthenaClient>;
  let engine: AthenaSqlEngine;
  beforeEach(() => {
    athena = mockClient(AthenaClient);
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q1' });
    engine = new AthenaSqlEngine(new AthenaClient({}), { workGroup: 'wg', database: 'db', pollIntervalMs: 1, timeoutMs: 50 });
  });
  afterEach(() => athena.restore());

  it('pages the rows (skipping the header row) and adds up DataScannedInBytes', async () => {
    athena
      .on(GetQueryExecutionCommand)
      .resolvesOnce({ QueryExecution: { Status: { State: 'RUNNING' } } })
      .resolves({ QueryExecution: { Status: { State: 'SUCCEEDED' }, Statistics: { DataScannedInBytes: 1234 } } });
    athena
      .on(GetQueryResultsCommand)
      .resolvesOnce({
        ResultSet: { ResultSetMetadata: { ColumnInfo: [{ Name: 'day', Type: 'bigint' }] }, Rows: [{ Data: [{ VarCharValue: 'day' }] }, { Data: [{ VarCharValue: '1' }] }] },
        NextToken: 'p2',
      })
      .resolvesOnce({ ResultSet: { Rows: [{ Data: [{ VarCharValue: '2' }] }] } })
      .resolves({ ResultSet: { ResultSetMetadata: { ColumnInfo: [{ Name: 'day', Type: 'bigint' }] }, Rows: [{ Data: [{ VarCharValue: 'day' }] }] } });
    expect(await engine.query('SELECT 1')).toEqual([{ day: '1' }, { day: '2' }]);
    expect(await engine.query('SELECT 1')).toEqual([]); // a header row and nothing else
    expect(engine.bytesScanned()).toBe(2468);
    expect(athena.commandCalls(StartQueryExecutionCommand)[0]!.args[0].input.ResultReuseConfiguration).toEqual({ ResultReuseByAgeConfiguration: { Enabled: true, MaxAgeInMinutes: 60 } });
  });

  it('a cancelled query (the cutoff cancels) is a QueryStoppedError, and what it read still counts', async () => {
    athena.on(GetQueryExecutionCommand).resolves({
      QueryExecution: { Status: { State: 'CANCELLED', StateChangeReason: 'Bytes scanned limit was exceeded' }, Statistics: { DataScannedInBytes: 10_737_418_240 } },
    });
    const error = await engine.query('SELECT *').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueryStoppedError);
    expect(String(error)).toMatch(/q1 cancelled: Bytes scanned limit was exceeded/);
    expect(engine.bytesScanned()).toBe(10_737_418_240);
  });

  it('a failure Athena calls not retryable is final; a retryable one is a plain error', async () => {
    athena.on(GetQueryExecutionCommand).resolvesOnce({ QueryExecution: { Status: { State: 'FAILED', StateChangeReason: 'SYNTAX_ERROR', AthenaError: { Retryable: false } } } });
    await expect(engine.query('SELEC')).rejects.toBeInstanceOf(QueryStoppedError);
    athena.on(GetQueryExecutionCommand).resolvesOnce({ QueryExecution: { Status: { State: 'FAILED', StateChangeReason: 'throttled', AthenaError: { Retryable: true } } } });
    const error = await engine.query('SELECT 1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(QueryStoppedError);
  });

  it('stops a query that outlives its timeout instead of leaving it scanning', async () => {
    athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'RUNNING' } } });
    athena.on(StopQueryExecutionCommand).resolves({});
    await expect(engine.query('SELECT 1')).rejects.toThrow(/did not finish in time; stopped it/);
    expect(athena.commandCalls(StopQueryExecutionCommand).map((c) => c.args[0].input)).toEqual([{ QueryExecutionId: 'q1' }]);
  });
});
