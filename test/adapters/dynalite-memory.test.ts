import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { QueryCommand, ScanCommand, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { LOCAL_TABLE, startDynalite, type LocalDynamo } from '../../lib/adapters/local/dynalite.js';

/**
 * dynalite 4 never closed the LevelDB iterator behind a Query/Scan/ListTables (abstract-level 3
 * iterators have no return(), which is all dynalite calls), so each one stayed attached to the db until
 * it closed: ~4-6 KB of RSS (arrayBuffers with memory-level) per query. startDynalite closes them.
 */
const started: { dynamo: LocalDynamo; dir?: string }[] = [];
afterAll(async () => {
  for (const { dynamo, dir } of started) {
    await dynamo.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  }
});

async function start(onDisk: boolean): Promise<LocalDynamo> {
  const dir = onDisk ? await mkdtemp(join(tmpdir(), 'funnel-dynalite-mem-')) : undefined;
  const dynamo = await startDynalite(dir ? join(dir, 'db') : undefined);
  started.push({ dynamo, dir });
  await dynamo.counters.add(Array.from({ length: 50 }, (_, i) => ({ scope: `u:${i % 10}`, granularity: 'h' as const, bucket: 3600 * i, add: { posts: 1 } })));
  return dynamo;
}

/** dynalite closes a response's iterator as it finishes it: the count falls to 0 once the last one closed. */
const noIteratorOpen = (dynamo: LocalDynamo) => expect.poll(() => dynamo.openIterators(), { timeout: 2000, interval: 5 }).toBe(0);

describe('local dynalite: LevelDB iterators are closed after each request', () => {
  it('in memory: 200 distinct range queries leave no iterator open (each one used to leak one)', async () => {
    const dynamo = await start(false);
    for (let i = 0; i < 200; i++) await dynamo.counters.range(`u:${i % 10}`, 'h', 0, 3600 * (i % 60) + i);
    await noIteratorOpen(dynamo);
  });

  it('on disk (classic-level): queries stopped early by Limit, paged queries, scans and ListTables too', async () => {
    const dynamo = await start(true);
    for (let i = 0; i < 100; i++) {
      // Limit stops dynalite's stream before the range ends (its takeWhile destroys the stream)
      const page = await dynamo.client.send(
        new QueryCommand({ TableName: LOCAL_TABLE, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': { S: `u:${i % 10}#h` } }, Limit: 1 }),
      );
      expect(page.LastEvaluatedKey).toBeDefined();
      await dynamo.client.send(new ScanCommand({ TableName: LOCAL_TABLE, Limit: 7 }));
      await dynamo.client.send(new ListTablesCommand({}));
      expect(await dynamo.counters.range(`u:${i % 10}`, 'h', 0, 3600 * 60)).toHaveLength(5);
    }
    await noIteratorOpen(dynamo);
  });
});
