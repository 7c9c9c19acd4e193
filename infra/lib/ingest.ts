import { Duration } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { Bucket } from 'aws-cdk-lib/aws-s3';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { FunnelFunction } from './function.js';

export interface IngestProps {
  readonly factsBucket: Bucket;
  readonly countersTable: Table;
}

/** Timeout of the ingest function; the queue's visibility timeout is six times this. */
export const INGEST_TIMEOUT = Duration.seconds(60);
/** Receives before a message is moved to the dead-letter queue. */
export const MAX_RECEIVE_COUNT = 5;

/**
 * The ingest path: the SQS queue (with its DLQ) fed by the listener and the API, and the ingest
 * function consuming it in batches, reporting per-message failures so only those are redelivered.
 */
export class Ingest extends Construct {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly fn: FunnelFunction;

  constructor(scope: Construct, id: string, props: IngestProps) {
    super(scope, id);

    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });

    this.queue = new Queue(this, 'Queue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // AWS guidance for SQS event sources: at least six times the function timeout.
      visibilityTimeout: Duration.seconds(INGEST_TIMEOUT.toSeconds() * 6),
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: MAX_RECEIVE_COUNT },
    });

    this.fn = new FunnelFunction(this, 'Function', {
      entry: 'functions/ingest/handler.ts',
      description: 'Funnel ingest: validate, verify and normalise Nostr events; write Parquet facts and live counters',
      timeout: INGEST_TIMEOUT,
      memorySize: 1024,
      environment: {
        FACTS_BUCKET: props.factsBucket.bucketName,
        COUNTERS_TABLE: props.countersTable.tableName,
      },
    });
    props.factsBucket.grantPut(this.fn);
    props.countersTable.grantReadWriteData(this.fn);

    this.fn.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: 100,
        maxBatchingWindow: Duration.seconds(5),
        reportBatchItemFailures: true,
      }),
    );
  }
}
