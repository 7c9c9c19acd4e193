import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { Bucket } from 'aws-cdk-lib/aws-s3';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { FACTS_PREFIX } from '../../lib/facts/partition.js';
import type { Analytics } from './analytics.js';
import { FunnelFunction } from './function.js';

/** Prefix of the job result JSON in the facts bucket. */
export const JOBS_PREFIX = 'jobs/';
/** Timeout of the jobs function (the Lambda maximum): start, poll and page through one Athena query. */
export const JOBS_TIMEOUT = Duration.minutes(15);
/** Receives before a job message is moved to the dead-letter queue. */
export const JOBS_MAX_RECEIVE_COUNT = 3;
/** Concurrent jobs functions at most: bounds concurrent Athena queries (and their cost). */
export const JOBS_MAX_CONCURRENCY = 5;

export interface JobsProps {
  readonly factsBucket: Bucket;
  readonly countersTable: Table;
  readonly analytics: Analytics;
  /** Seconds a completed job's result is reused for an identical request. */
  readonly resultTtlSeconds: number;
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

    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });

    this.queue = new Queue(this, 'Queue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // AWS guidance for SQS event sources: at least six times the function timeout (90 minutes;
      // SQS allows up to 12 hours).
      visibilityTimeout: Duration.seconds(JOBS_TIMEOUT.toSeconds() * 6),
      // a job nobody picked up within a day is of no use to the client that asked for it
      retentionPeriod: Duration.days(1),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: JOBS_MAX_RECEIVE_COUNT },
    });

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
    // S3: Athena also reads the facts and writes the results with the caller's identity.
    props.factsBucket.grantRead(this.fn, `${FACTS_PREFIX}*`);
    analytics.resultsBucket.grantReadWrite(this.fn);
    // the job result JSON: written, and read back (a redelivered job can find its result already
    // stored); no delete, the job item's TTL ends the job
    props.factsBucket.grantRead(this.fn, `${JOBS_PREFIX}*`);
    props.factsBucket.grantPut(this.fn, `${JOBS_PREFIX}*`);
    // the job items
    props.countersTable.grantReadWriteData(this.fn);
  }

  /** Alarm on messages in the jobs dead-letter queue, to the given topic. */
  alarmOnDeadLetters(topic: ITopic): Alarm {
    const alarm = new Alarm(this, 'DeadLettersAlarm', {
      alarmDescription: `Jobs reached the jobs dead-letter queue (failed ${JOBS_MAX_RECEIVE_COUNT} receives)`,
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    const action = new SnsAction(topic);
    alarm.addAlarmAction(action);
    alarm.addOkAction(action);
    return alarm;
  }
}
