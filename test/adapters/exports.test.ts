import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { AthenaClient, GetQueryExecutionCommand, StartQueryExecutionCommand } from '@aws-sdk/client-athena';
import { CopyObjectCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { AthenaSqlEngine } from '../../lib/adapters/aws/athena-sql-engine.js';
import { S3ObjectStore } from '../../lib/adapters/aws/s3-object-store.js';
import { DuckDbSqlEngine } from '../../lib/adapters/local/duckdb-sql-engine.js';
import { FsObjectStore } from '../../lib/adapters/local/fs-object-store.js';
import { decodeFacts, encodeFacts } from '../../lib/facts/parquet.js';
import { newFact } from '../../lib/facts/schema.js';
import { readJsonLines } from '../../lib/util/json-lines.js';

describe('exports and streamed reads (local adapters)', () => {
  let dir: string;
  let objects: FsObjectStore;
  let sql: DuckDbSqlEngine;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'funnel-exports-'));
    objects = new FsObjectStore(dir);
    sql = new DuckDbSqlEngine({ dataDir: dir, memoryLimit: '256MB' });
  });
  afterAll(async () => {
    await sql.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a jsonl export is gzipped lines under the prefix, read back in bounded chunks', async () => {
    await sql.export(`SELECT i AS n, 'row ' || CAST(i AS VARCHAR) AS label FROM range(2500) t(i)`, 'exports/a/', 'jsonl');
    const keys = await objects.list('exports/a/');
    expect(keys).toEqual(['exports/a/part-00000.json.gz']);
    const chunks: number[] = [];
    const seen = new Set<number>();
    for await (const rows of readJsonLines(objects, keys[0]!, 1000)) {
      chunks.push(rows.length);
      for (const row of rows) seen.add(Number(row.n));
    }
    expect(chunks).toEqual([1000, 1000, 500]);
    expect(seen.size).toBe(2500);
  });

  it('a parquet export of facts decodes as facts', async () => {
    const facts = [newFact({ event_id: 'a'.repeat(64), source: 'nostr', kind: 1, type: 'note', created_at: 1_764_000_000, author: 'b'.repeat(64), ingested_at: 5, hashtags: ['x', 'y'] })];
    await objects.put('in/one.parquet', encodeFacts(facts));
    await sql.export(`SELECT * FROM read_parquet('${join(dir, 'in/one.parquet')}')`, 'exports/b/', 'parquet');
    const [key] = await objects.list('exports/b/');
    expect(await decodeFacts((await objects.get(key!))!)).toEqual(facts);
  });

  it('copy writes a new object with the same bytes; stream of a missing key is null', async () => {
    await objects.put('x/source', 'hello');
    await objects.copy('x/source', 'y/target');
    expect(new TextDecoder().decode((await objects.get('y/target'))!)).toBe('hello');
    expect(await objects.stream('nope')).toBeNull();
  });
});

describe('exports and streamed reads (AWS adapters, mocked)', () => {
  it('Athena export is an UNLOAD into the export bucket, never a reused result', async () => {
    const athena = mockClient(AthenaClient);
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q1' });
    athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'SUCCEEDED' }, Statistics: { DataScannedInBytes: 42 } } });
    const engine = new AthenaSqlEngine(new AthenaClient({}), { workGroup: 'wg', database: 'db', exportBucket: 'facts-bucket', pollIntervalMs: 1 });
    await engine.export('SELECT 1', 'counters/results/h/1/r1/', 'jsonl');
    const input = athena.commandCalls(StartQueryExecutionCommand)[0]!.args[0].input;
    expect(input.QueryString).toBe("UNLOAD (SELECT 1) TO 's3://facts-bucket/counters/results/h/1/r1/' WITH (format = 'JSON', compression = 'GZIP')");
    expect(input.ResultReuseConfiguration).toBeUndefined();
    expect(engine.bytesScanned()).toBe(42);
    athena.restore();
  });

  it('S3 stream reads the body as a stream and copy is a CopyObject within the bucket', async () => {
    const s3 = mockClient(S3Client);
    // In Node the SDK's body is a Readable; the store iterates it without buffering the object.
    s3.on(GetObjectCommand).resolves({ Body: Readable.from([gzipSync('{"n":1}\n{"n":2}\n')]) as never });
    s3.on(CopyObjectCommand).resolves({});
    const store = new S3ObjectStore(new S3Client({}), 'bucket');
    const rows = [];
    for await (const chunk of readJsonLines(store, 'k.json.gz')) rows.push(...chunk);
    expect(rows).toEqual([{ n: 1 }, { n: 2 }]);
    await store.copy('staging/a b.parquet', 'facts/x.parquet');
    expect(s3.commandCalls(CopyObjectCommand)[0]!.args[0].input).toMatchObject({ Bucket: 'bucket', Key: 'facts/x.parquet', CopySource: 'bucket/staging/a%20b.parquet' });
    s3.restore();
  });
});
