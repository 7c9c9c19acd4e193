import { Duration } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { Bucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { Analytics } from './analytics.js';
import { ANY, counterKey, grantCounterKeys, SETTLED_COUNTER_KEYS, stateKey, TABLE_ACTIONS, type KeyGrant } from './counter-keys.js';
import { eventNamespace } from '../../lib/counters/event-index.js';
import { FunnelFunction, S3_OBJECT_ACTIONS, type ObjectGrant } from './function.js';
import { ALL_TIME_SCOPE, MONTH_TOTALS_SCOPE } from '../../lib/counters/all-time.js';
import { GLOBAL_SCOPE } from '../../lib/counters/contributions.js';
import { COUNTING_LAYOUT, DIRTY_DAYS, DIRTY_HOURS, DIRTY_WEEKS, DRIFT_HOURS, WATERMARK } from '../../lib/counters/state.js';
import { QUARANTINE_PREFIX } from '../../lib/facts/compact.js';
import { FACTS_PREFIX } from '../../lib/facts/partition.js';
import { ATHENA_SHARDS_IN_PARALLEL, COMPACTION_STAGING_PREFIX, SETTLE_CHANGES_PREFIX, SETTLE_RESULTS_PREFIX } from '../../lib/facts/tables.js';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { consumerQueues } from './queues.js';
import { MANIFESTS_PREFIX } from '../../lib/counters/settle.js';

export interface CompactorProps {
  readonly factsBucket: Bucket;
  readonly countersTable: Table;
  /** the Glue tables and the compactor's Athena workgroup: settling runs as Athena queries */
  readonly analytics: Analytics;
  /** MINUTE_TTL_DAYS, HOUR_TTL_DAYS, DAY_TTL_DAYS. */
  readonly retentionEnvironment: Record<string, string>;
  /** FACTS_ARCHIVE_AFTER_DAYS: hours and days holding objects that old are left as settled */
  readonly archiveEnvironment: Record<string, string>;
}

export const COMPACTOR_INTERVAL = Duration.minutes(10);
/**
 * One compactor at a time: two runs merging the same hour would each write a merged file and delete
 * the other's inputs. The timeout (9 min) keeps scheduled runs apart; the reservation also holds
 * against a manual invocation (a rebuild) during a scheduled run.
 */
export const COMPACTOR_CONCURRENCY = 1;

/**
 * How soon a settled hour, and a rolled day, is settled again for late events (back-dated events
 * re-dirty the last two days all the time at the design load; each re-settle scans the bucket's facts
 * in Athena). A late event is in its live minute at once and in settled windows after the next
 * re-settle of its hour; docs/scaling.md has the arithmetic.
 */
export const RESETTLE_HOUR_AFTER = Duration.hours(1);
export const RESETTLE_DAY_AFTER = Duration.hours(6);

/** Where the compactor keeps the scope manifest of each settled hour and day. */
export { MANIFESTS_PREFIX };

/**
 * What the compactor does in the facts bucket: merges (reads, writes, deletes) the objects of each
 * hour partition, keeps the scope manifests, and moves an object it cannot decode to
 * quarantine/<original key> (a write there, then a delete under facts/).
 */
export const COMPACTOR_OBJECT_ACCESS: readonly ObjectGrant[] = [
  {
    // Athena reads the facts with the compactor's identity, and UNLOADs merged hours in parts
    actions: [...S3_OBJECT_ACTIONS.read, ...S3_OBJECT_ACTIONS.write, ...S3_OBJECT_ACTIONS.delete],
    prefix: FACTS_PREFIX,
    // on the whole bucket: it lists hour partitions, and without it a manifest not written yet
    // answers AccessDenied instead of NoSuchKey (which the object store reads as "none")
    bucketActions: ['s3:ListBucket', 's3:GetBucketLocation', 's3:ListBucketMultipartUploads'],
    purpose: 'the compactor reads, merges and deletes the Parquet files of each dirty hour partition, named by the batches that wrote them',
  },
  {
    actions: [...S3_OBJECT_ACTIONS.read, ...S3_OBJECT_ACTIONS.write],
    prefix: MANIFESTS_PREFIX,
    purpose: 'the compactor reads and rewrites the scope manifest of each hour and day it settles, named by the bucket start',
  },
  {
    actions: S3_OBJECT_ACTIONS.write,
    prefix: QUARANTINE_PREFIX,
    purpose: 'the compactor moves a fact object it cannot decode to quarantine/<original key>, a key only known at run time',
  },
  ...[SETTLE_RESULTS_PREFIX, SETTLE_CHANGES_PREFIX, COMPACTION_STAGING_PREFIX].map((prefix) => ({
    // Athena's UNLOAD writes these in parts with the compactor's identity; the compactor streams them back and deletes them.
    actions: [...S3_OBJECT_ACTIONS.read, ...S3_OBJECT_ACTIONS.write, ...S3_OBJECT_ACTIONS.delete, 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
    prefix,
    purpose: `the compactor's exports under ${prefix} (settle results, their changes, merged hours before they are copied in), named by run id`,
  })),
];

/**
 * What the compactor does in the counters table (lib/facts/compact.ts, lib/counters/settle-run.ts,
 * lib/counters/all-time.ts): it lists, sets and clears the dirty-hour, dirty-day, dirty-week and drift-hour marks,
 * reads and advances the watermark, Puts the settled minute, hour, day and week items of every fact scope
 * (computed by Athena from the facts, so it reads no hour items back), and recomputes the month and
 * all-time totals from the global day and month items. A settled hour can hold any user, event, address or project, so those scopes are granted by
 * prefix; live minute adds, rejections, writes to the event index, checkpoints, jobs and quotas are not granted.
 */
export const COMPACTOR_TABLE_ACCESS: readonly KeyGrant[] = [
  {
    actions: [TABLE_ACTIONS.query],
    keys: [stateKey(DIRTY_HOURS), stateKey(DIRTY_DAYS), stateKey(DIRTY_WEEKS), stateKey(DRIFT_HOURS), counterKey(GLOBAL_SCOPE, 'd'), counterKey(MONTH_TOTALS_SCOPE, 'all')],
  },
  // the event index, read (never written) for the parents of replies that arrived before them (reply-resolution.ts)
  { actions: [TABLE_ACTIONS.get], keys: [stateKey(WATERMARK), stateKey(COUNTING_LAYOUT), stateKey(eventNamespace(ANY))] },
  { actions: [TABLE_ACTIONS.put], keys: [stateKey(DIRTY_HOURS), stateKey(DIRTY_DAYS), stateKey(DIRTY_WEEKS), stateKey(DRIFT_HOURS), stateKey(WATERMARK), stateKey(COUNTING_LAYOUT)] },
  { actions: [TABLE_ACTIONS.delete], keys: [stateKey(DIRTY_HOURS), stateKey(DIRTY_DAYS), stateKey(DIRTY_WEEKS), stateKey(DRIFT_HOURS)] },
  {
    actions: [TABLE_ACTIONS.batchWrite],
    keys: [...SETTLED_COUNTER_KEYS, counterKey(MONTH_TOTALS_SCOPE, 'all'), counterKey(ALL_TIME_SCOPE, 'all')],
  },
];

/**
 * What a settle worker does in the facts bucket: Athena reads one hour's (or day's) facts with its
 * identity, it keeps its shard's manifest, and it exports, reads back and deletes its run's results
 * and changes. It merges, deletes or quarantines no fact object.
 */
export const SETTLE_WORKER_OBJECT_ACCESS: readonly ObjectGrant[] = [
  {
    actions: S3_OBJECT_ACTIONS.read,
    prefix: FACTS_PREFIX,
    bucketActions: ['s3:ListBucket', 's3:GetBucketLocation', 's3:ListBucketMultipartUploads'],
    purpose: "Athena reads the facts of the shard's hour or day with the worker's identity; the objects are named by the batches that wrote them",
  },
  {
    actions: [...S3_OBJECT_ACTIONS.read, ...S3_OBJECT_ACTIONS.write],
    prefix: MANIFESTS_PREFIX,
    purpose: "the worker reads and rewrites its shard's manifest, named by the bucket start and the shard",
  },
  ...[SETTLE_RESULTS_PREFIX, SETTLE_CHANGES_PREFIX].map((prefix) => ({
    actions: [...S3_OBJECT_ACTIONS.read, ...S3_OBJECT_ACTIONS.write, ...S3_OBJECT_ACTIONS.delete, 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
    prefix,
    purpose: `the worker's exports under ${prefix}, named by run id`,
  })),
];

/** A settle worker Puts its shard's settled minute, hour and day items, and nothing else in the table. */
export const SETTLE_WORKER_TABLE_ACCESS: readonly KeyGrant[] = [{ actions: [TABLE_ACTIONS.batchWrite], keys: SETTLED_COUNTER_KEYS }];

/** A settle worker's timeout: one shard is one hour's (or day's) query, its diff and a share of its Puts. */
export const SETTLE_WORKER_TIMEOUT = Duration.minutes(10);

/**
 * The compactor, run on a schedule: merges each dirty hour's small Parquet files, recomputes its
 * settled counters from the facts and advances the watermark. Idempotent, so a missed or repeated
 * run is harmless; at most one runs at a time (COMPACTOR_CONCURRENCY).
 */
export class Compactor extends Construct {
  readonly fn: FunnelFunction;
  readonly schedule: Rule;
  /** shards of hours too big for one invocation, one per message, and their workers */
  readonly settleQueue: Queue;
  readonly settleDeadLetterQueue: Queue;
  readonly settleFn: FunnelFunction;

  constructor(scope: Construct, id: string, props: CompactorProps) {
    super(scope, id);
    ({ queue: this.settleQueue, deadLetterQueue: this.settleDeadLetterQueue } = consumerQueues(new Construct(this, 'Settle'), {
      functionTimeout: SETTLE_WORKER_TIMEOUT,
      retention: Duration.days(1),
      maxReceiveCount: 3,
    }));

    this.fn = new FunnelFunction(this, 'Function', {
      entry: 'functions/compactor/handler.ts',
      description: 'Funnel compactor: merge hourly Parquet facts, recompute settled counters, advance the watermark',
      timeout: Duration.minutes(9),
      memorySize: 2048,
      // the next scheduled run retries a failed one
      retryAttempts: 0,
      reservedConcurrentExecutions: COMPACTOR_CONCURRENCY,
      // Lambda retries a throttled scheduled event (a run still going) until this age; by then the
      // next scheduled event has arrived, so the late one is dropped instead of running twice
      maxEventAge: COMPACTOR_INTERVAL,
      environment: {
        FACTS_BUCKET: props.factsBucket.bucketName,
        COUNTERS_TABLE: props.countersTable.tableName,
        RESETTLE_HOUR_AFTER_SECONDS: String(RESETTLE_HOUR_AFTER.toSeconds()),
        RESETTLE_DAY_AFTER_SECONDS: String(RESETTLE_DAY_AFTER.toSeconds()),
        ATHENA_WORKGROUP: props.analytics.compactorWorkGroupName,
        ATHENA_DATABASE: props.analytics.databaseName,
        SETTLE_QUEUE_URL: this.settleQueue.queueUrl,
        ...props.retentionEnvironment,
        ...props.archiveEnvironment,
      },
    });
    this.settleQueue.grantSendMessages(this.fn);
    for (const grant of COMPACTOR_OBJECT_ACCESS) this.fn.grantObjects(props.factsBucket, grant);
    // Athena in the compactor's own workgroup (its cutoff fits a day of facts; docs/scaling.md).
    props.analytics.grantQueries(this.fn, 'compactor', "Athena writes the compactor's query metadata under athena/compactor/, named by query id");
    grantCounterKeys(props.countersTable, this.fn, COMPACTOR_TABLE_ACCESS);

    // The settle workers: Athena in the compactor's workgroup, one shard per invocation, as many at once as the shards of an hour.
    this.settleFn = new FunnelFunction(this, 'SettleFunction', {
      entry: 'functions/settle/handler.ts',
      description: 'Funnel settle worker: settle one shard of a big hour or day from its facts (Athena) and Put its items',
      timeout: SETTLE_WORKER_TIMEOUT,
      memorySize: 1024,
      environment: {
        FACTS_BUCKET: props.factsBucket.bucketName,
        COUNTERS_TABLE: props.countersTable.tableName,
        ATHENA_WORKGROUP: props.analytics.compactorWorkGroupName,
        ATHENA_DATABASE: props.analytics.databaseName,
        ...props.retentionEnvironment,
      },
    });
    for (const grant of SETTLE_WORKER_OBJECT_ACCESS) this.settleFn.grantObjects(props.factsBucket, grant);
    props.analytics.grantQueries(this.settleFn, 'compactor', "Athena writes the settle workers' query metadata under athena/compactor/, named by query id");
    grantCounterKeys(props.countersTable, this.settleFn, SETTLE_WORKER_TABLE_ACCESS);
    this.settleFn.addEventSource(new SqsEventSource(this.settleQueue, { batchSize: 1, maxConcurrency: ATHENA_SHARDS_IN_PARALLEL, reportBatchItemFailures: true }));

    this.schedule = new Rule(this, 'Schedule', {
      description: 'Runs the Funnel compactor',
      schedule: Schedule.rate(COMPACTOR_INTERVAL),
      targets: [new LambdaFunction(this.fn, { retryAttempts: 0, maxEventAge: Duration.minutes(5) })],
    });
  }
}
