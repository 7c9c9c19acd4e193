import type { Server } from "node:http";
import { createRequire } from 'node:module';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { DynamoCounterStore } from '../aws/dynamodb-counter-store.js';

const require = createRequire(import.meta.url);

export const LOCAL_TABLE = 'funnel-counters';

export interface LocalDynamo {
  client: DynamoDBClient;
  counters: DynamoCounterStore;
  endpoint: string;
  close(): Promise<void>;
}

/**
 * dynalite (DynamoDB in pure JS) in this process, persisted under `path` (or in memory), with the
 * counters table created as the CDK app creates it. The real DynamoDB adapter talks to it over HTTP.
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
  const client = new DynamoDBClient({
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 3,
  });
  await ensureTable(client, LOCAL_TABLE);
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

async function ensureTable(client: DynamoDBClient, table: string): Promise<void> {
  try {
    await client.send(new DescribeTableCommand({ TableName: table }));
    return;
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException) && (error as Error).name !== 'ResourceNotFoundException') throw error;
  }
  await client.send(
    new CreateTableCommand({
      TableName: table,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'N' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
    }),
  );
  // CreateTable returns while the table is CREATING, as in AWS; writes before ACTIVE are refused.
  for (let attempt = 0; attempt < 200; attempt++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: table }));
    if (Table?.TableStatus === 'ACTIVE') return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`table ${table} did not become ACTIVE`);
}

