import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { AthenaClient } from '@aws-sdk/client-athena';
import { AthenaSqlEngine } from './athena-sql-engine.js';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { secretString } from './secrets.js';
import { cachedApiKeys } from '../../app/api-keys.js';
import { DynamoCounterStore } from './dynamodb-counter-store.js';
import { S3ObjectStore } from './s3-object-store.js';
import { SqsQueueSender } from './sqs-queue-sender.js';
import { CounterStoreCheckpoints } from '../../listener/checkpoints.js';

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new Error(`environment variable ${name} is required`);
  return value;
}

/** The AWS side of every port, configured from the function's environment. */
export function awsPorts(env: NodeJS.ProcessEnv = process.env) {
  const counters = () => new DynamoCounterStore(new DynamoDBClient({}), required(env, 'COUNTERS_TABLE'));
  return {
    counters,
    objects: () => new S3ObjectStore(new S3Client({}), required(env, 'FACTS_BUCKET')),
    queue: () => new SqsQueueSender(new SQSClient({}), required(env, 'QUEUE_URL')),
    checkpoints: () => new CounterStoreCheckpoints(counters()),
    jobsQueue: () => new SqsQueueSender(new SQSClient({}), required(env, 'JOBS_QUEUE_URL')),
    athena: () =>
      new AthenaSqlEngine(new AthenaClient({}), {
        workGroup: required(env, 'ATHENA_WORKGROUP'),
        database: required(env, 'ATHENA_DATABASE'),
        exportBucket: env.FACTS_BUCKET || undefined,
      }),
    /** app API keys from Secrets Manager (`sha256:<hex>:project,…`; raw keys are hashed on load), re-read every five minutes */
    appApiKeys: () => cachedApiKeys(secretString(new SecretsManagerClient({}), required(env, 'APP_API_KEYS_SECRET_ARN'))),
    /** the Glue table the jobs read, as Athena names it */
    factsTable: () => `"${required(env, 'ATHENA_DATABASE')}"."facts"`,
  };
}
