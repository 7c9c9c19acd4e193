import { Duration } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { Bucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { FunnelFunction, S3_OBJECT_ACTIONS } from './function.js';

export interface CompactorProps {
  readonly factsBucket: Bucket;
  readonly countersTable: Table;
  /** MINUTE_TTL_DAYS, HOUR_TTL_DAYS, DAY_TTL_DAYS. */
  readonly retentionEnvironment: Record<string, string>;
}

export const COMPACTOR_INTERVAL = Duration.minutes(10);

/**
 * The compactor, run on a schedule: merges each dirty hour's small Parquet files, recomputes its
 * settled counters from the facts and advances the watermark. Idempotent, so a missed or repeated
 * run is harmless; its timeout stays below the interval so runs do not overlap.
 */
export class Compactor extends Construct {
  readonly fn: FunnelFunction;
  readonly schedule: Rule;

  constructor(scope: Construct, id: string, props: CompactorProps) {
    super(scope, id);

    this.fn = new FunnelFunction(this, 'Function', {
      entry: 'functions/compactor/handler.ts',
      description: 'Funnel compactor: merge hourly Parquet facts, recompute settled counters, advance the watermark',
      timeout: Duration.minutes(9),
      memorySize: 2048,
      // the next scheduled run retries; an async retry could overlap it
      retryAttempts: 0,
      environment: {
        FACTS_BUCKET: props.factsBucket.bucketName,
        COUNTERS_TABLE: props.countersTable.tableName,
        ...props.retentionEnvironment,
      },
    });
    // lists and reads an hour's small files, writes the merged file and the counter manifests,
    // deletes the merged-away files
    this.fn.grantObjects(props.factsBucket, {
      actions: [...S3_OBJECT_ACTIONS.read, ...S3_OBJECT_ACTIONS.write, ...S3_OBJECT_ACTIONS.delete],
      bucketActions: ['s3:ListBucket'],
      purpose: 'the compactor reads, merges and deletes the Parquet files of each dirty hour partition and writes its counter manifests',
    });
    props.countersTable.grantReadWriteData(this.fn);

    this.schedule = new Rule(this, 'Schedule', {
      description: 'Runs the Funnel compactor',
      schedule: Schedule.rate(COMPACTOR_INTERVAL),
      targets: [new LambdaFunction(this.fn, { retryAttempts: 0, maxEventAge: Duration.minutes(5) })],
    });
  }
}
