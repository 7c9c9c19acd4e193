import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, ResourceNotFoundException, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';

/**
 * The DynamoDB client every counter store uses. Without the SDK's logger middleware: with the default
 * no-op logger it still copies every input and output through the schema's sensitive-data filter
 * before handing them to a logger that drops them, a walk over every item of every Query. Nothing
 * here logs SDK calls; failures still reach the caller as errors.
 */
export function dynamoClient(config: DynamoDBClientConfig = {}): DynamoDBClient {
  const client = new DynamoDBClient(config);
  client.middlewareStack.remove('loggerMiddleware');
  return client;
}

/** A client for a DynamoDB-compatible endpoint that needs no real credentials (dynalite). */
export function localDynamoClient(endpoint: string): DynamoDBClient {
  return dynamoClient({ endpoint, region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 3 });
}

/** Whether the table exists; any other failure (the store does not open) is thrown. */
export async function tableExists(client: DynamoDBClient, table: string): Promise<boolean> {
  try {
    await client.send(new DescribeTableCommand({ TableName: table }));
    return true;
  } catch (error) {
    if (error instanceof ResourceNotFoundException || (error as Error).name === 'ResourceNotFoundException') return false;
    throw error;
  }
}

/** Creates the counters table exactly as the CDK app does (pk S, sk N), and waits until it is ACTIVE. */
export async function ensureCountersTable(client: DynamoDBClient, table: string): Promise<void> {
  if (await tableExists(client, table)) return;
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
