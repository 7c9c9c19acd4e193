import { Duration } from 'aws-cdk-lib';
import type { CfnWorkGroup } from 'aws-cdk-lib/aws-athena';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
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
/**
 * Timeout of the jobs function (the Lambda maximum). One invocation runs one step of a job: one chunk's
 * queries, which lib/jobs/plan.ts sizes to finish well inside it (CHUNK_MAX_SCAN_BYTES).
 */
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
  /** FACTS_ARCHIVE_AFTER_DAYS: no query reads an hour holding objects that old */
  readonly archiveEnvironment: Record<string, string>;
}

/**
 * Long windows as Athena jobs, chunk by chunk: the api function queues a job (202); the jobs function
 * takes one message at a time, each one step of a job: it plans the job's chunks from the facts'
 * object sizes (step 0), or runs one chunk's queries in the Funnel workgroup (with result reuse) and
 * stores that chunk's partial under `jobs/`, then sends the next step's message to this same queue;
 * the last step merges the partials into the result JSON. The job item in the counters table records
 * progress, the next step and the bytes scanned. A message that fails three times goes to the DLQ.
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

    const cutoff = (analytics.workGroup.workGroupConfiguration as CfnWorkGroup.WorkGroupConfigurationProperty | undefined)?.bytesScannedCutoffPerQuery;
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
        // the workgroup's own cutoff, so the chunk planner and Athena never disagree
        ...(cutoff === undefined ? {} : { ATHENA_BYTES_SCANNED_CUTOFF: String(cutoff) }),
        // each step sends the next one
        JOBS_QUEUE_URL: this.queue.queueUrl,
        ...props.archiveEnvironment,
      },
    });

    this.fn.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: 1,
        reportBatchItemFailures: true,
        maxConcurrency: JOBS_MAX_CONCURRENCY,
      }),
    );

    // Athena: queries in the analysts' workgroup only.
    analytics.grantQueries(this.fn, 'analysts', 'Athena writes each query result as a new object, named by the query id, in the results bucket');
    // S3: Athena reads the facts with the caller's identity (and lists the partitions' prefixes)...
    this.fn.grantObjects(props.factsBucket, {
      actions: S3_OBJECT_ACTIONS.read,
      prefix: FACTS_PREFIX,
      bucketActions: ['s3:ListBucket', 's3:GetBucketLocation'],
      purpose: 'Athena reads the Parquet facts of the partitions a query touches, with the identity of the jobs function',
    });
    // each chunk's partial (written by its step, read back by the merge) and the result JSON; no
    // delete, the bucket's lifecycle rule expires jobs/
    this.fn.grantObjects(props.factsBucket, {
      actions: [...S3_OBJECT_ACTIONS.read, ...S3_OBJECT_ACTIONS.write],
      prefix: JOBS_PREFIX,
      purpose: 'each job stores its chunks\' partials as jobs/<jobId>/<plan>/<step>.json and its result as jobs/<jobId>.json, keys only known at run time',
    });
    grantCounterKeys(props.countersTable, this.fn, JOBS_TABLE_ACCESS);
    // the next step of a job is a message on this queue
    this.queue.grantSendMessages(this.fn);
  }
}
