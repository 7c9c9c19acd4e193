import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership, StorageClass, type LifecycleRule } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledge } from './nag.js';
import { FACTS_PREFIX } from '../../lib/facts/partition.js';
import { SETTLE_RESULTS_PREFIX } from '../../lib/facts/tables.js';
import { ARCHIVE_STORAGE_CLASS, INFREQUENT_ACCESS_AFTER_DAYS, TIERED_OBJECT_MIN_BYTES } from '../../lib/facts/storage-tiers.js';

/** Days S3 server access logs are kept. */
export const ACCESS_LOG_EXPIRY_DAYS = 90;

export interface StorageProps {
  /** days after it is written that a fact object moves to the archive tier (context `factsArchiveAfterDays`) */
  readonly factsArchiveAfterDays: number;
}

/** lib/facts/storage-tiers.ts names the archive class; this is its CDK spelling. */
const ARCHIVE_CLASS: Record<typeof ARCHIVE_STORAGE_CLASS, StorageClass> = { DEEP_ARCHIVE: StorageClass.DEEP_ARCHIVE };

/**
 * The storage tiers (docs/deploy.md, "Storage tiers"), as lib/facts/storage-tiers.ts reads them: facts
 * to Standard-IA after 30 days and to the archive after `factsArchiveAfterDays`; the settle results
 * (the base a re-settle diffs against, read again only for late events) to Standard-IA, never to the
 * archive, since an hour that is still open diffs against them. Objects up to 128 KiB stay in Standard.
 * Left hot on purpose: counters/manifests/ (a few hundred bytes, read on every settle), jobs/ (expired
 * after a week), quarantine/ (kept for an operator to copy back), and what a run deletes itself
 * (counters/changes/, staging/).
 */
export function tierRules(factsArchiveAfterDays: number): LifecycleRule[] {
  const infrequentAccess = { storageClass: StorageClass.INFREQUENT_ACCESS, transitionAfter: Duration.days(INFREQUENT_ACCESS_AFTER_DAYS) };
  return [
    {
      id: 'tier-facts',
      prefix: FACTS_PREFIX,
      objectSizeGreaterThan: TIERED_OBJECT_MIN_BYTES,
      transitions: [infrequentAccess, { storageClass: ARCHIVE_CLASS[ARCHIVE_STORAGE_CLASS], transitionAfter: Duration.days(factsArchiveAfterDays) }],
    },
    { id: 'tier-settle-results', prefix: SETTLE_RESULTS_PREFIX, objectSizeGreaterThan: TIERED_OBJECT_MIN_BYTES, transitions: [infrequentAccess] },
  ];
}

/**
 * Durable state: the facts bucket (Parquet facts, job results) and the counters table (time-bucket
 * counters, watermark, dirty marks, checkpoints, jobs), both retained when the stack is deleted; and
 * the bucket receiving the S3 server access logs of the stack's buckets.
 */
export class Storage extends Construct {
  readonly factsBucket: Bucket;
  readonly countersTable: Table;
  /** Receives the S3 server access logs of the facts and Athena results buckets. */
  readonly accessLogsBucket: Bucket;

  constructor(scope: Construct, id: string, props: StorageProps) {
    super(scope, id);

    this.accessLogsBucket = new Bucket(this, 'AccessLogsBucket', {
      // server access log delivery supports SSE-S3 only
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(ACCESS_LOG_EXPIRY_DAYS) }],
      // retained like the data it describes; it empties itself through the expiry rule
      removalPolicy: RemovalPolicy.RETAIN,
    });
    acknowledge(
      this.accessLogsBucket,
      'AwsSolutions-S1',
      'This bucket is the destination of the server access logs; logging its own access would log every log delivery, recursively.',
    );

    this.factsBucket = new Bucket(this, 'FactsBucket', {
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      versioned: false,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'facts-bucket/',
      lifecycleRules: [
        { id: 'abort-incomplete-multipart-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
        // Job results are reused for an hour and polled for a while after; a week is plenty.
        { id: 'expire-job-results', prefix: 'jobs/', expiration: Duration.days(7) },
        ...tierRules(props.factsArchiveAfterDays),
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.factsBucket).acknowledge({
      id: 'CloudFormation-Validate::W9003',
      reason: "CDK types a lifecycle rule's objectSizeGreaterThan as a number; CloudFormation's schema says string and takes the number as its digits",
    });

    this.countersTable = new Table(this, 'CountersTable', {
      partitionKey: { name: 'pk', type: AttributeType.STRING },
      sortKey: { name: 'sk', type: AttributeType.NUMBER },
      timeToLiveAttribute: 'ttl',
      billingMode: BillingMode.PAY_PER_REQUEST,
      encryption: TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }
}
