import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { AthenaClient } from '@aws-sdk/client-athena';
import { AthenaSqlEngine } from './athena-sql-engine.js';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { secretString } from './secrets.js';
import { cachedApiKeys } from '../../app/api-keys.js';
import { DynamoCounterStore } from './dynamodb-counter-store.js';
import { dynamoClient } from './dynamodb-table.js';
import { S3ObjectStore } from './s3-object-store.js';
import { SqsQueueSender } from './sqs-queue-sender.js';
import { CounterStoreCheckpoints } from '../../listener/checkpoints.js';
import { partitionOf } from '../../facts/partition.js';
import { ATHENA_MAX_SHARDS, ATHENA_SETTLE_SHARD_BYTES, ATHENA_SHARDS_IN_PARALLEL, SETTLE_RESULTS_TABLE, type SettleTables } from '../../facts/tables.js';

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new Error(`environment variable ${name} is required`);
  return value;
}

/** The AWS side of every port, configured from the function's environment. */
export function awsPorts(env: NodeJS.ProcessEnv = process.env) {
  const counters = () => new DynamoCounterStore(dynamoClient(), required(env, 'COUNTERS_TABLE'));
  const sqs = (urlVariable: string) => () => new SqsQueueSender(new SQSClient({}), required(env, urlVariable));
  return {
    counters,
    objects: () => new S3ObjectStore(new S3Client({}), required(env, 'FACTS_BUCKET')),
    queue: sqs('QUEUE_URL'),
    checkpoints: () => new CounterStoreCheckpoints(counters()),
    liveQueue: sqs('LIVE_QUEUE_URL'),
    settleQueue: sqs('SETTLE_QUEUE_URL'),
    jobsQueue: sqs('JOBS_QUEUE_URL'),
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
    /** the compactor's relations: the facts table pruned by partition, and the settle results table */
    settleTables: () => athenaSettleTables(required(env, 'ATHENA_DATABASE'), required(env, 'FACTS_BUCKET')),
  };
}


/**
 * The compactor's relations in Athena: partition filters on dt and hour prune every scan to what it
 * names; one object at a time is addressed through the "$path" pseudo-column.
 */
export function athenaSettleTables(database: string, bucket: string): SettleTables {
  const facts = `"${database}"."facts"`;
  const quote = (text: string) => `'${text.replace(/'/g, "''")}'`;
  const where = (hourStart: number) => {
    const p = partitionOf(hourStart);
    return `dt = ${quote(p.dt)} AND hour = ${quote(p.hour)}`;
  };
  return {
    dialect: 'athena',
    hours: (hourStarts) => `(SELECT * FROM ${facts} WHERE ${hourStarts.map((h) => `(${where(h)})`).join(' OR ')})`,
    day: (dayStart) => `(SELECT * FROM ${facts} WHERE dt = ${quote(partitionOf(dayStart).dt)})`,
    objects: (hourStart, keys) => `(SELECT * FROM ${facts} WHERE ${where(hourStart)} AND "$path" IN (${keys.map((k) => quote(`s3://${bucket}/${k}`)).join(', ')}))`,
    results: (run, part) => `(SELECT * FROM "${database}"."${SETTLE_RESULTS_TABLE}" WHERE run = ${quote(run)} AND part = ${quote(String(part))})`,
    shardBytes: ATHENA_SETTLE_SHARD_BYTES,
    shardsInParallel: ATHENA_SHARDS_IN_PARALLEL,
    maxShards: ATHENA_MAX_SHARDS,
  };
}
