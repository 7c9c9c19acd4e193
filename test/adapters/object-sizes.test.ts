import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { S3ObjectStore } from '../../lib/adapters/aws/s3-object-store.js';
import { FsObjectStore, ORPHAN_TEMP_MAX_AGE_MS } from '../../lib/adapters/local/fs-object-store.js';

/** ObjectStore.listSizes: what the jobs planner reads to know how much a window holds. */
describe('S3ObjectStore.listSizes', () => {
  let s3: AwsClientStub<S3Client>;
  let store: S3ObjectStore;
  beforeEach(() => {
    const client = new S3Client({ region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    s3 = mockClient(client);
    store = new S3ObjectStore(client, 'facts-bucket');
  });
  afterEach(() => s3.restore());

  it('reads Size from the same paginated listing as list, sorted by key', async () => {
    s3.on(ListObjectsV2Command)
      .resolvesOnce({ Contents: [{ Key: 'facts/b', Size: 20 }, { Key: 'facts/a', Size: 10 }], IsTruncated: true, NextContinuationToken: 't1' })
      .resolvesOnce({ Contents: [{ Key: 'facts/c' }, {}], IsTruncated: false });
    expect(await store.listSizes('facts/')).toEqual([
      { key: 'facts/a', bytes: 10 },
      { key: 'facts/b', bytes: 20 },
      { key: 'facts/c', bytes: 0 },
    ]);
    const calls = s3.commandCalls(ListObjectsV2Command).map((c) => c.args[0].input);
    expect(calls).toEqual([
      { Bucket: 'facts-bucket', Prefix: 'facts/', ContinuationToken: undefined },
      { Bucket: 'facts-bucket', Prefix: 'facts/', ContinuationToken: 't1' },
    ]);
  });
});

describe('FsObjectStore.listSizes', () => {
  let dir: string;
  let store: FsObjectStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'funnel-sizes-'));
    store = new FsObjectStore(dir);
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('gives each file its size in bytes, under a prefix that ends inside a directory name', async () => {
    await store.put('facts/dt=2026-01-01/hour=00/a.parquet', 'x'.repeat(100));
    await store.put('facts/dt=2026-01-02/hour=05/b.parquet', 'y'.repeat(7));
    await store.put('facts/dt=2026-02-01/hour=00/c.parquet', 'z');
    await store.put('jobs/r.json', '{}');
    expect(await store.listSizes('facts/dt=2026-01-')).toEqual([
      { key: 'facts/dt=2026-01-01/hour=00/a.parquet', bytes: 100, modifiedAt: expect.any(Number) },
      { key: 'facts/dt=2026-01-02/hour=05/b.parquet', bytes: 7, modifiedAt: expect.any(Number) },
    ]);
    expect((await store.listSizes('')).map((o) => o.key)).toEqual(await store.list(''));
    expect(await store.listSizes('facts/dt=2030-')).toEqual([]);
    expect(await store.listSizes('nowhere/at/all/')).toEqual([]);
  });

  it('never lists temp files, and removes orphaned ones as list does', async () => {
    await store.put('facts/dt=2026-01-01/hour=00/a.parquet', 'abc');
    const orphan = join(dir, 'facts/dt=2026-01-01/hour=00/a.parquet.1.x.tmp');
    await writeFile(orphan, 'partial');
    const old = (Date.now() - ORPHAN_TEMP_MAX_AGE_MS - 60_000) / 1000;
    await utimes(orphan, old, old);
    expect(await store.listSizes('facts/')).toEqual([{ key: 'facts/dt=2026-01-01/hour=00/a.parquet', bytes: 3, modifiedAt: expect.any(Number) }]);
    expect(await store.list('facts/dt=2026-01-01/hour=00/')).toEqual(['facts/dt=2026-01-01/hour=00/a.parquet']);
    await expect(import('node:fs/promises').then((fs) => fs.stat(orphan))).rejects.toThrow(/ENOENT/);
  });
});
