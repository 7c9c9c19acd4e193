import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { CfnNamedQuery, CfnWorkGroup } from 'aws-cdk-lib/aws-athena';
import { CfnDatabase, CfnTable } from 'aws-cdk-lib/aws-glue';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership, type IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { S3_OBJECT_ACTIONS, type FunnelFunction } from './function.js';
import { FACT_COLUMN_KINDS, FACT_COLUMNS, type FactColumnKind } from '../../lib/facts/schema.js';
import { FACTS_PREFIX } from '../../lib/facts/partition.js';
import { SAVED_QUERIES } from '../../lib/jobs/saved-queries.js';
import { MIN_CREATED_AT } from '../../lib/facts/partition.js';
import { SETTLE_RESULT_COLUMNS, SETTLE_RESULTS_PREFIX, SETTLE_RESULTS_TABLE } from '../../lib/facts/tables.js';

export type FactColumn = (typeof FACT_COLUMNS)[number];

/**
 * Glue (Hive) type of each fact column, from the physical type the Parquet writer uses for it
 * (FACT_COLUMN_KINDS): UTF8 byte arrays → string, INT32 → int, INT64 (unix times, msats) → bigint,
 * DOUBLE → double, the 3-level LIST of UTF8 → array<string>. test/infra/analytics.test.ts also checks
 * these against the schema of a file written by `encodeFacts`.
 */
const GLUE_TYPE_OF_KIND: Record<FactColumnKind, string> = { string: 'string', int32: 'int', int64: 'bigint', double: 'double', list: 'array<string>' };

export const FACT_GLUE_TYPES = Object.fromEntries(FACT_COLUMNS.map((column) => [column, GLUE_TYPE_OF_KIND[FACT_COLUMN_KINDS[column]]])) as Record<FactColumn, string>;

/** Name of the Glue table over the facts. */
export const FACTS_TABLE = 'facts';
/** Prefix of the Athena query results in the results bucket. */
export const ATHENA_RESULTS_PREFIX = 'athena/';
/** First day partition projection generates: the earliest created_at ingest accepts, so every fact is visible. */
export const PROJECTION_START = new Date(MIN_CREATED_AT * 1000).toISOString().slice(0, 10);
/** Days of partitions the saved queries read. */
export const SAVED_QUERY_DAYS = 30;
/** Where the compactor's workgroup writes its query metadata (UNLOAD manifests) in the results bucket. */
export const COMPACTOR_RESULTS_PREFIX = 'athena/compactor/';
/**
 * The compactor's per-query cutoff: a day's settle scans the day's facts (docs/scaling.md: ≈ 63 GB at
 * the design's 5,000 events/s, of which it reads the columns it needs), with room for bursts. The
 * analysts' workgroup keeps its own, smaller cutoff.
 */
export const COMPACTOR_BYTES_SCANNED_CUTOFF = 200 * 1024 ** 3;

export interface AnalyticsProps {
  readonly factsBucket: Bucket;
  readonly databaseName: string;
  readonly workGroupName: string;
  /** Athena cancels a query in the workgroup once it has scanned this many bytes. */
  readonly bytesScannedCutoff: number;
  /** Days before query results expire from the results bucket. */
  readonly resultsExpiryDays: number;
  /** Where the results bucket's S3 server access logs go. */
  readonly accessLogsBucket: IBucket;
}

/**
 * The analysts' side of the facts: a Glue database and the `facts` table (Parquet, Hive-style
 * `dt`/`hour` partitions found by partition projection, so no crawler or MSCK REPAIR is ever needed),
 * an Athena workgroup (engine v3, enforced encrypted result location, per-query bytes-scanned cutoff,
 * CloudWatch metrics) with its results bucket, and the saved queries of lib/jobs/saved-queries.ts.
 *
 * Result reuse is not a workgroup setting in Athena: it is chosen per query (ResultReuseConfiguration
 * on StartQueryExecution, or the "Reuse query results" toggle in the console). The jobs function turns
 * it on for its queries; docs/athena.md tells analysts how to.
 */
export class Analytics extends Construct {
  readonly database: CfnDatabase;
  readonly table: CfnTable;
  readonly resultsBucket: Bucket;
  readonly workGroup: CfnWorkGroup;
  /** the compactor's own workgroup: settling scans whole hours and days, past the analysts' cutoff */
  readonly compactorWorkGroup: CfnWorkGroup;
  readonly settleResultsTable: CfnTable;
  readonly namedQueries: CfnNamedQuery[] = [];
  readonly databaseName: string;
  readonly tableName = FACTS_TABLE;
  readonly workGroupName: string;
  readonly compactorWorkGroupName: string;
  /** `s3://<results bucket>/athena/`, where the workgroup writes query results. */
  readonly outputLocation: string;

  constructor(scope: Construct, id: string, props: AnalyticsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.databaseName = props.databaseName;
    this.workGroupName = props.workGroupName;
    const bucket = props.factsBucket.bucketName;

    this.database = new CfnDatabase(this, 'Database', {
      catalogId: stack.account,
      databaseInput: {
        name: props.databaseName,
        description: 'Funnel: canonical Nostr facts (Parquet on S3)',
      },
    });

    this.table = new CfnTable(this, 'FactsTable', {
      catalogId: stack.account,
      databaseName: this.database.ref,
      tableInput: {
        name: FACTS_TABLE,
        description: 'One row per accepted event, deduplicated when its hour is compacted (docs/metrics.md). Partitioned by created_at (UTC).',
        tableType: 'EXTERNAL_TABLE',
        partitionKeys: [
          { name: 'dt', type: 'string', comment: 'yyyy-MM-dd (UTC) of created_at' },
          { name: 'hour', type: 'string', comment: '00-23 (UTC) of created_at' },
        ],
        parameters: {
          classification: 'parquet',
          'parquet.compression': 'SNAPPY',
          'projection.enabled': 'true',
          'projection.dt.type': 'date',
          'projection.dt.format': 'yyyy-MM-dd',
          'projection.dt.range': `${PROJECTION_START},NOW`,
          'projection.dt.interval': '1',
          'projection.dt.interval.unit': 'DAYS',
          'projection.hour.type': 'integer',
          'projection.hour.range': '0,23',
          'projection.hour.digits': '2',
          // literal ${dt} and ${hour}: Athena substitutes the projected values
          'storage.location.template': `s3://${bucket}/${FACTS_PREFIX}dt=\${dt}/hour=\${hour}/`,
          // facts an analyst restored from the archive tier are read (Athena skips archived objects
          // otherwise, restored or not); docs/athena.md, "Archived facts"
          read_restored_glacier_objects: 'true',
        },
        storageDescriptor: {
          location: `s3://${bucket}/${FACTS_PREFIX}`,
          columns: FACT_COLUMNS.map((name) => ({ name, type: FACT_GLUE_TYPES[name] })),
          inputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
          outputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
          serdeInfo: {
            serializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe',
            parameters: { 'serialization.format': '1' },
          },
          compressed: false,
          storedAsSubDirectories: false,
        },
      },
    });

    this.resultsBucket = new Bucket(this, 'ResultsBucket', {
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      serverAccessLogsBucket: props.accessLogsBucket,
      serverAccessLogsPrefix: 'athena-results-bucket/',
      lifecycleRules: [
        { id: 'expire-query-results', expiration: Duration.days(props.resultsExpiryDays) },
        // a cancelled or failed query can leave a multipart upload behind (Athena docs)
        { id: 'abort-incomplete-multipart-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
      // RETAIN, not DESTROY: a bucket holding objects cannot be deleted by CloudFormation, so DESTROY
      // would fail `cdk destroy` whenever a query ran in the last few days, and autoDeleteObjects would
      // add a custom-resource Lambda allowed to delete every object. Left behind, the bucket empties
      // itself through the expiry rule above and costs nothing.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.outputLocation = `s3://${this.resultsBucket.bucketName}/${ATHENA_RESULTS_PREFIX}`;

    this.workGroup = new CfnWorkGroup(this, 'WorkGroup', {
      name: props.workGroupName,
      description: 'Funnel: analysts and long-window jobs over the facts table',
      state: 'ENABLED',
      // query history is not worth a failed stack deletion; the named queries belong to this stack
      recursiveDeleteOption: true,
      workGroupConfiguration: {
        engineVersion: { selectedEngineVersion: 'Athena engine version 3' },
        enforceWorkGroupConfiguration: true,
        publishCloudWatchMetricsEnabled: true,
        bytesScannedCutoffPerQuery: props.bytesScannedCutoff,
        resultConfiguration: {
          outputLocation: this.outputLocation,
          encryptionConfiguration: { encryptionOption: 'SSE_S3' },
        },
      },
    });

    this.compactorWorkGroupName = `${props.workGroupName}-compactor`;
    this.compactorWorkGroup = new CfnWorkGroup(this, 'CompactorWorkGroup', {
      name: this.compactorWorkGroupName,
      description: 'Funnel: the compactor settling hours and days from the facts (lib/counters/settle-sql.ts)',
      state: 'ENABLED',
      recursiveDeleteOption: true,
      workGroupConfiguration: {
        engineVersion: { selectedEngineVersion: 'Athena engine version 3' },
        enforceWorkGroupConfiguration: true,
        publishCloudWatchMetricsEnabled: true,
        bytesScannedCutoffPerQuery: COMPACTOR_BYTES_SCANNED_CUTOFF,
        resultConfiguration: {
          outputLocation: `s3://${this.resultsBucket.bucketName}/${COMPACTOR_RESULTS_PREFIX}`,
          encryptionConfiguration: { encryptionOption: 'SSE_S3' },
        },
      },
    });

    // The settle runs' exported results (gzipped JSON lines, one directory per run and bucket), which
    // the next run of a bucket diffs against: partition projection, injected from each query's WHERE.
    this.settleResultsTable = new CfnTable(this, 'SettleResultsTable', {
      catalogId: stack.account,
      databaseName: this.database.ref,
      tableInput: {
        name: SETTLE_RESULTS_TABLE,
        description: 'Settled counter items as the compactor computed them, per run and bucket (internal to the compactor)',
        tableType: 'EXTERNAL_TABLE',
        partitionKeys: [
          { name: 'run', type: 'string', comment: 'settle run id' },
          { name: 'part', type: 'string', comment: 'the settled hour or day start (unix seconds)' },
        ],
        parameters: {
          classification: 'json',
          'projection.enabled': 'true',
          'projection.run.type': 'injected',
          'projection.part.type': 'injected',
          'storage.location.template': `s3://${bucket}/${SETTLE_RESULTS_PREFIX}\${run}/part=\${part}/`,
        },
        storageDescriptor: {
          location: `s3://${bucket}/${SETTLE_RESULTS_PREFIX}`,
          columns: Object.entries(SETTLE_RESULT_COLUMNS).map(([name, type]) => ({ name, type: type === 'BIGINT' ? 'bigint' : 'string' })),
          inputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
          outputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
          serdeInfo: { serializationLibrary: 'org.openx.data.jsonserde.JsonSerDe' },
          compressed: true,
          storedAsSubDirectories: false,
        },
      },
    });

    const relation = `"${props.databaseName}"."${FACTS_TABLE}"`;
    for (const query of SAVED_QUERIES) {
      const named = new CfnNamedQuery(this, `Query-${query.name}`, {
        name: `funnel-${query.name}`,
        description: query.description,
        database: this.database.ref,
        workGroup: this.workGroup.ref,
        queryString: query.sql(relation, 'athena', SAVED_QUERY_DAYS),
      });
      named.addResourceDependency(this.workGroup);
      named.addResourceDependency(this.table);
      this.namedQueries.push(named);
    }
  }

  /**
   * Lets a function run Athena queries in one of the two workgroups: start and follow queries there,
   * read in Glue what they plan with, and let Athena write the results (and UNLOAD's manifests) to the
   * workgroup's output location with the function's identity. What the queries read and write in the
   * facts bucket is the caller's to grant.
   */
  grantQueries(fn: FunnelFunction, workGroup: 'analysts' | 'compactor', purpose: string): void {
    const compactor = workGroup === 'compactor';
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['athena:StartQueryExecution', 'athena:GetQueryExecution', 'athena:GetQueryResults', 'athena:StopQueryExecution'],
        resources: [compactor ? this.compactorWorkGroupArn : this.workGroupArn],
      }),
    );
    fn.addToRolePolicy(new PolicyStatement({ actions: ['glue:GetDatabase', 'glue:GetTable', 'glue:GetPartitions'], resources: compactor ? this.compactorGlueArns : this.glueArns }));
    fn.grantObjects(this.resultsBucket, {
      actions: [...S3_OBJECT_ACTIONS.read, ...S3_OBJECT_ACTIONS.write, 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
      ...(compactor ? { prefix: COMPACTOR_RESULTS_PREFIX } : {}),
      bucketActions: ['s3:ListBucket', 's3:GetBucketLocation', 's3:ListBucketMultipartUploads'],
      purpose,
    });
  }

  /** ARN of the workgroup. */
  get workGroupArn(): string {
    return Stack.of(this).formatArn({ service: 'athena', resource: 'workgroup', resourceName: this.workGroupName });
  }

  /** ARN of the compactor's workgroup. */
  get compactorWorkGroupArn(): string {
    return Stack.of(this).formatArn({ service: 'athena', resource: 'workgroup', resourceName: this.compactorWorkGroupName });
  }

  /** What the compactor's queries read in Glue: the facts table and the settle results table. */
  get compactorGlueArns(): string[] {
    return [...this.glueArns, Stack.of(this).formatArn({ service: 'glue', resource: 'table', resourceName: `${this.databaseName}/${SETTLE_RESULTS_TABLE}` })];
  }

  /** ARNs of the Glue catalog, the database and the facts table (what Athena reads to plan a query). */
  get glueArns(): string[] {
    const stack = Stack.of(this);
    return [
      stack.formatArn({ service: 'glue', resource: 'catalog' }),
      stack.formatArn({ service: 'glue', resource: 'database', resourceName: this.databaseName }),
      stack.formatArn({ service: 'glue', resource: 'table', resourceName: `${this.databaseName}/${FACTS_TABLE}` }),
    ];
  }
}
