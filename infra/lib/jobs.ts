import { Duration } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { Bucket } from 'aws-cdk-lib/aws-s3';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { consumerQueues } from './queues.js';
import { Construct } from 'constructs';
import { FACTS_PREFIX } from '../../lib/facts/partition.js';
import type { Analytics } from './analytics.js';
import { FunnelFunction, S3_OBJECT_ACTIONS } from './function.js';
import { ANY, grantCounterKeys, stateKey, TABLE_ACTIONS, type KeyGrant } from './counter-keys.js';
import { jobNamespace } from '../../lib/jobs/jobs.js';

/** Prefix of the job result JSON in the facts bucket. */
export const JOBS_PREFIX = 'jobs/';
/** Timeout of the jobs function (the Lambda maximum): start, poll and page through one Athena query. */
export const JOBS_TIMEOUT = Duration.minutes(15);
/** Receives before a job message is moved to the dead-letter queue. */
export const JOBS_MAX_RECEIVE_COUNT = 3;
/** Concurrent jobs functions at most: bounds concurrent Athena queries (and their cost). */
export const JOBS_MAX_CONCURRENCY = 5;

/** The jobs function's only use of the counters table: reading and updating job items (lib/jobs/jobs.ts). */
export const JOBS_TABLE_ACCESS: readonly KeyGrant[] = [
  { actions: [TABLE_ACTIONS.get, TABLE_ACTIONS.put], keys: [stateKey(jobNamespace(ANY))] },
];

export interface JobsProps {
  readonly factsBucket: Bucket;
  readonly countersTable: Table;
  readonly analytics: Analytics;
  /** Seconds a completed job's result is reused for an identical request. */
  readonly resultTtlSeconds: number;
  /** MINUTE_TTL_DAYS, HOUR_TTL_DAYS, DAY_TTL_DAYS. */
  readonly retentionEnvironment: Record<string, string>;
}

/**
 * Long windows as Athena jobs: the api function queues a job (202), the jobs function takes it off
 * the queue one at a time, starts the Athena query in the Funnel workgroup (with result reuse), polls
 * it, pages through the results and stores the result JSON in the facts bucket under `jobs/`,
 * updating the job item in the counters table as it goes. A message that fails three times goes to
 * the DLQ.
 */
export class Jobs extends Construct {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly fn: FunnelFunction;

  constructor(scope: Construct, id: string, props: JobsProps) {
    super(scope, id);
    const { analytics } = props;

    ({ queue: this.queue, deadLetterQueue: this.deadLetterQueue } = consumerQueues(this, {
      functionTimeout: JOBS_TIMEOUT,
      // a job nobody picked up within a day is of no use to the client that asked for it
      retention: Duration.days(1),
      maxReceiveCount: JOBS_MAX_RECEIVE_COUNT,
    }));

    this.fn = new FunnelFunction(this, 'Function', {
      entry: 'functions/jobs/handler.ts',
      description: 'Funnel jobs: long windows as Athena queries; stores the result JSON in S3',
      timeout: JOBS_TIMEOUT,
      memorySize: 1024,
      environment: {
        FACTS_BUCKET: props.factsBucket.bucketName,
        COUNTERS_TABLE: props.countersTable.tableName,
        ATHENA_WORKGROUP: analytics.workGroupName,
        ATHENA_DATABASE: analytics.databaseName,
        ATHENA_OUTPUT: analytics.outputLocation,
        JOB_RESULT_TTL_SECONDS: String(props.resultTtlSeconds),
        ...props.retentionEnvironment,
      },
    });

    this.fn.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: 1,
        reportBatchItemFailures: true,
        maxConcurrency: JOBS_MAX_CONCURRENCY,
      }),
    );

    // Athena: run queries in this workgroup only.
    this.fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['athena:StartQueryExecution', 'athena:GetQueryExecution', 'athena:GetQueryResults', 'athena:StopQueryExecution'],
        resources: [analytics.workGroupArn],
      }),
    );
    // Glue: what Athena reads, under the caller's identity, to plan a query over the facts table.
    this.fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['glue:GetDatabase', 'glue:GetTable', 'glue:GetPartitions'],
        resources: analytics.glueArns,
      }),
    );
    // S3: Athena reads the facts with the caller's identity (and lists the partitions' prefixes)...
    this.fn.grantObjects(props.factsBucket, {
      actions: S3_OBJECT_ACTIONS.read,
      prefix: FACTS_PREFIX,
      bucketActions: ['s3:ListBucket', 's3:GetBucketLocation'],
      purpose: 'Athena reads the Parquet facts of the partitions a query touches, with the identity of the jobs function',
    });
    // ...and writes the query results to the results bucket, in parts, with the caller's identity
    this.fn.grantObjects(analytics.resultsBucket, {
      actions: [...S3_OBJECT_ACTIONS.read, ...S3_OBJECT_ACTIONS.write, 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
      bucketActions: ['s3:ListBucket', 's3:GetBucketLocation', 's3:ListBucketMultipartUploads'],
      purpose: 'Athena writes each query result as a new object, named by the query id, in the results bucket',
    });
    // the job result JSON, written once (a redelivered job finds it complete in its job item, so
    // never reads it back); no delete, the bucket's lifecycle rule expires jobs/
    this.fn.grantObjects(props.factsBucket, {
      actions: S3_OBJECT_ACTIONS.write,
      prefix: JOBS_PREFIX,
      purpose: 'each job stores its result JSON as jobs/<jobId>.json, a key only known at run time',
    });
    grantCounterKeys(props.countersTable, this.fn, JOBS_TABLE_ACCESS);
  }
}
