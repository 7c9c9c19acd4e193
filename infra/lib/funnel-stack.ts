import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { Analytics } from './analytics.js';
import { Api } from './api.js';
import { Compactor } from './compactor.js';
import { Cdn } from './cdn.js';
import { Feeds } from './feeds.js';
import { archiveEnvironment, readConfig, retentionEnvironment, type FunnelConfig } from './config.js';
import { Ingest } from './ingest.js';
import { LiveCounters } from './live-counters.js';
import { Jobs } from './jobs.js';
import { Listener } from './listener.js';
import { Ops } from './ops.js';
import { Storage } from './storage.js';

export interface FunnelStackProps extends StackProps {
  /** Overrides the settings otherwise read from CDK context. */
  readonly config?: Partial<FunnelConfig>;
}

/** The whole Funnel deployment, one stack composed of a construct per area. */
export class FunnelStack extends Stack {
  readonly config: FunnelConfig;
  readonly storage: Storage;
  readonly ingest: Ingest;
  readonly live: LiveCounters;
  readonly analytics: Analytics;
  readonly jobs: Jobs;
  readonly api: Api;
  readonly compactor: Compactor;
  readonly feeds: Feeds;
  readonly listener: Listener;
  readonly ops: Ops;
  /** Only with context `cloudFront=true`. */
  readonly cdn?: Cdn;

  constructor(scope: Construct, id: string, props: FunnelStackProps = {}) {
    super(scope, id, props);
    // S3 server access logs are delivered under a bucket policy (the access-logs bucket has ACLs
    // disabled), whether or not the app's cdk.json sets this feature flag
    this.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);
    this.config = { ...readConfig(this.node), ...props.config };
    const config = this.config;
    const retention = retentionEnvironment(config);
    // one number for the lifecycle rule and for the functions that must not read what it archives
    const archive = archiveEnvironment(config);

    this.storage = new Storage(this, 'Storage', { factsArchiveAfterDays: config.factsArchiveAfterDays });
    const { factsBucket, countersTable } = this.storage;

    this.live = new LiveCounters(this, 'Live', { countersTable });

    this.ingest = new Ingest(this, 'Ingest', {
      liveQueue: this.live.queue,
      factsBucket,
      countersTable,
      batchSize: config.ingestBatchSize,
      batchWindowSeconds: config.ingestBatchWindowSeconds,
      retentionEnvironment: retention,
    });

    this.analytics = new Analytics(this, 'Analytics', {
      factsBucket,
      databaseName: config.glueDatabase,
      workGroupName: config.athenaWorkGroup,
      bytesScannedCutoff: config.athenaBytesScannedCutoff,
      resultsExpiryDays: config.athenaResultsExpiryDays,
      accessLogsBucket: this.storage.accessLogsBucket,
    });

    this.jobs = new Jobs(this, 'Jobs', {
      factsBucket,
      countersTable,
      analytics: this.analytics,
      archiveEnvironment: archive,
    });

    this.api = new Api(this, 'Api', {
      factsBucket,
      countersTable,
      corsOrigins: config.corsOrigins,
      jobsQueue: this.jobs.queue,
      // POST /v1/events sends app events to the same queue the listener feeds.
      ingestQueue: this.ingest.queue,
      analytics: this.analytics,
      jobResultTtlSeconds: config.jobResultTtlSeconds,
      jobQuotaPerHour: config.jobQuotaPerHour,
      retentionEnvironment: retention,
      throttle: { rateLimit: config.apiThrottleRateLimit, burstLimit: config.apiThrottleBurstLimit },
    });
    if (config.cloudFront) this.cdn = new Cdn(this, 'Cdn', { httpApi: this.api.httpApi });

    this.compactor = new Compactor(this, 'Compactor', { factsBucket, countersTable, analytics: this.analytics, retentionEnvironment: retention, archiveEnvironment: archive });
    this.feeds = new Feeds(this, 'Feeds', { countersTable, retentionEnvironment: retention });

    this.listener = new Listener(this, 'Listener', {
      ingestQueue: this.ingest.queue,
      countersTable,
      relayUrls: config.relayUrls,
      desiredCount: config.listenerDesiredCount,
    });

    this.ops = new Ops(this, 'Ops', {
      ingestQueue: this.ingest.queue,
      deadLetterQueue: this.ingest.deadLetterQueue,
      jobsDeadLetterQueue: this.jobs.deadLetterQueue,
      liveQueue: this.live.queue,
      liveDeadLetterQueue: this.live.deadLetterQueue,
      settleDeadLetterQueue: this.compactor.settleDeadLetterQueue,
      functions: { Ingest: this.ingest.fn, Live: this.live.fn, Api: this.api.fn, Compactor: this.compactor.fn, Settle: this.compactor.settleFn, Jobs: this.jobs.fn, Feeds: this.feeds.fn },
      httpApi: this.api.httpApi,
      listenerService: this.listener.service,
      listenerDesiredCount: config.listenerDesiredCount,
      ...(config.alarmEmail ? { alarmEmail: config.alarmEmail } : {}),
      ingestLagAlarmSeconds: config.ingestLagAlarmSeconds,
      watermarkStalenessAlarmMinutes: config.watermarkStalenessAlarmMinutes,
      dlqDepthAlarm: config.dlqDepthAlarm,
    });

    new CfnOutput(this, 'ApiUrl', { value: this.api.httpApi.apiEndpoint, description: 'Base URL of the HTTP API' });
    new CfnOutput(this, 'FactsBucketName', { value: factsBucket.bucketName, description: 'S3 bucket of the Parquet facts' });
    new CfnOutput(this, 'CountersTableName', { value: countersTable.tableName, description: 'DynamoDB table of the counters' });
    new CfnOutput(this, 'IngestQueueUrl', { value: this.ingest.queue.queueUrl, description: 'SQS ingest queue' });
    new CfnOutput(this, 'DlqUrl', { value: this.ingest.deadLetterQueue.queueUrl, description: 'SQS ingest dead-letter queue' });
    new CfnOutput(this, 'LiveDlqUrl', { value: this.live.deadLetterQueue.queueUrl, description: 'SQS live-counters dead-letter queue' });
    new CfnOutput(this, 'GlueDatabaseName', { value: this.analytics.databaseName, description: 'Glue database of the facts table' });
    new CfnOutput(this, 'AthenaWorkGroupName', { value: this.analytics.workGroupName, description: 'Athena workgroup (saved queries, cutoff, results)' });
    new CfnOutput(this, 'AthenaResultsBucketName', { value: this.analytics.resultsBucket.bucketName, description: 'S3 bucket of the Athena query results' });
    new CfnOutput(this, 'JobsQueueUrl', { value: this.jobs.queue.queueUrl, description: 'SQS queue of the Athena jobs' });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.ops.alarmTopic.topicArn, description: 'SNS topic of the alarms' });
    new CfnOutput(this, 'JobsDlqUrl', { value: this.jobs.deadLetterQueue.queueUrl, description: 'SQS jobs dead-letter queue' });
    new CfnOutput(this, 'AppApiKeysSecretArn', {
      value: this.api.appApiKeys.secretArn,
      description: 'Secrets Manager secret holding the x-api-key values accepted on POST /v1/events',
    });
    new CfnOutput(this, 'DashboardName', { value: this.ops.dashboard.dashboardName, description: 'CloudWatch dashboard' });
    if (this.cdn) new CfnOutput(this, 'CdnUrl', { value: this.cdn.url, description: 'CloudFront URL in front of the HTTP API' });
  }
}
