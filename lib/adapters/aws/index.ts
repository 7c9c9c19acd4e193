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

/**
 * What the AWS ports are made from: an entry point's configuration (functions/env.ts' awsConfigOf, from the
 * environment parsed at cold start). A function configures only what it uses; the rest is absent.
 */
export interface AwsConfig {
  /** COUNTERS_TABLE */
  countersTable: string;
  /** FACTS_BUCKET */
  factsBucket?: string;
  /** the queues' URLs: QUEUE_URL (ingest), LIVE_QUEUE_URL, SETTLE_QUEUE_URL, JOBS_QUEUE_URL */
  queueUrls?: { ingest?: string; live?: string; settle?: string; jobs?: string };
  /** ATHENA_WORKGROUP and ATHENA_DATABASE, together */
  athena?: { workGroup: string; database: string };
  /** APP_API_KEYS_SECRET_ARN */
  appApiKeysSecretArn?: string;
}

/** A port its function's configuration leaves out: a wiring mistake, named by the variable that configures it. */
function configured<T>(value: T | undefined, variable: string): T {
  if (value === undefined) throw new Error(`this function is not configured with ${variable}`);
  return value;
}

/** The AWS side of every port, made from the function's configuration. */
export function awsPorts(config: AwsConfig) {
  const counters = () => new DynamoCounterStore(dynamoClient(), config.countersTable);
  const sqs = (queue: keyof NonNullable<AwsConfig['queueUrls']>, variable: string) => () => new SqsQueueSender(new SQSClient({}), configured(config.queueUrls?.[queue], variable));
  const athena = () => configured(config.athena, 'ATHENA_WORKGROUP and ATHENA_DATABASE');
  const factsBucket = () => configured(config.factsBucket, 'FACTS_BUCKET');
  return {
    counters,
    objects: () => new S3ObjectStore(new S3Client({}), factsBucket()),
    queue: sqs('ingest', 'QUEUE_URL'),
    checkpoints: () => new CounterStoreCheckpoints(counters()),
    liveQueue: sqs('live', 'LIVE_QUEUE_URL'),
    settleQueue: sqs('settle', 'SETTLE_QUEUE_URL'),
    jobsQueue: sqs('jobs', 'JOBS_QUEUE_URL'),
    athena: () => new AthenaSqlEngine(new AthenaClient({}), { ...athena(), exportBucket: config.factsBucket }),
    /** app API keys from Secrets Manager (`sha256:<hex>:project,…`; raw keys are hashed on load), re-read every five minutes */
    appApiKeys: () => cachedApiKeys(secretString(new SecretsManagerClient({}), configured(config.appApiKeysSecretArn, 'APP_API_KEYS_SECRET_ARN'))),
    /** the Glue table the jobs read, as Athena names it */
    factsTable: () => `"${athena().database}"."facts"`,
    /** the compactor's relations: the facts table pruned by partition, and the settle results table */
    settleTables: () => athenaSettleTables(athena().database, factsBucket()),
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
    days: (dayStarts) => `(SELECT * FROM ${facts} WHERE dt IN (${dayStarts.map((d) => quote(partitionOf(d).dt)).join(', ')}))`,
    objects: (hourStart, keys) => `(SELECT * FROM ${facts} WHERE ${where(hourStart)} AND "$path" IN (${keys.map((k) => quote(`s3://${bucket}/${k}`)).join(', ')}))`,
    results: (run, part) => `(SELECT * FROM "${database}"."${SETTLE_RESULTS_TABLE}" WHERE run = ${quote(run)} AND part = ${quote(String(part))})`,
    shardBytes: ATHENA_SETTLE_SHARD_BYTES,
    shardsInParallel: ATHENA_SHARDS_IN_PARALLEL,
    maxShards: ATHENA_MAX_SHARDS,
  };
}
