import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import { DynamoCounterStore } from '../aws/dynamodb-counter-store.js';
import { ensureCountersTable, localDynamoClient } from '../aws/dynamodb-table.js';

const require = createRequire(import.meta.url);

export const LOCAL_TABLE = 'funnel-counters';

export interface LocalDynamo {
  /** the SDK client bound to dynalite, for tests that inspect raw items */
  client: ReturnType<typeof localDynamoClient>;
  counters: DynamoCounterStore;
  endpoint: string;
  close(): Promise<void>;
}

/**
 * dynalite (DynamoDB in pure JS) in this process, persisted under `path` (or in memory), with the
 * counters table created as the CDK app creates it. The real DynamoDB adapter talks to it over HTTP,
 * so the local stack exercises the same adapter as AWS.
 */
export async function startDynalite(path: string | undefined): Promise<LocalDynamo> {
  const dynalite = require('dynalite') as (options: Record<string, unknown>) => Server;
  const server = dynalite({ path, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('dynalite did not bind a port');
  const endpoint = `http://127.0.0.1:${address.port}`;
  const client = localDynamoClient(endpoint);
  await ensureCountersTable(client, LOCAL_TABLE);
  return {
    client,
    counters: new DynamoCounterStore(client, LOCAL_TABLE),
    endpoint,
    async close() {
      client.destroy();
      // dynalite's close() also closes its LevelDB, so a restart on the same path can reopen it.
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
