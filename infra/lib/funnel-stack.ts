import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { Api } from './api.js';
import { Compactor } from './compactor.js';
import { readConfig, type FunnelConfig } from './config.js';
import { Ingest } from './ingest.js';
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
  readonly api: Api;
  readonly compactor: Compactor;
  readonly listener: Listener;
  readonly ops: Ops;

  constructor(scope: Construct, id: string, props: FunnelStackProps = {}) {
    super(scope, id, props);
    this.config = { ...readConfig(this.node), ...props.config };
    const config = this.config;

    this.storage = new Storage(this, 'Storage');
    const { factsBucket, countersTable } = this.storage;

    this.ingest = new Ingest(this, 'Ingest', { factsBucket, countersTable });

    this.api = new Api(this, 'Api', {
      factsBucket,
      countersTable,
      corsOrigins: config.corsOrigins,
    });

    this.compactor = new Compactor(this, 'Compactor', { factsBucket, countersTable });

    this.listener = new Listener(this, 'Listener', {
      ingestQueue: this.ingest.queue,
      countersTable,
      relayUrls: config.relayUrls,
      desiredCount: config.listenerDesiredCount,
    });

    this.ops = new Ops(this, 'Ops', {
      ingestQueue: this.ingest.queue,
      deadLetterQueue: this.ingest.deadLetterQueue,
      functions: { Ingest: this.ingest.fn, Api: this.api.fn, Compactor: this.compactor.fn },
      listenerService: this.listener.service,
      listenerDesiredCount: config.listenerDesiredCount,
      ...(config.alarmEmail ? { alarmEmail: config.alarmEmail } : {}),
    });

    new CfnOutput(this, 'ApiUrl', { value: this.api.httpApi.apiEndpoint, description: 'Base URL of the HTTP API' });
    new CfnOutput(this, 'FactsBucketName', { value: factsBucket.bucketName, description: 'S3 bucket of the Parquet facts' });
    new CfnOutput(this, 'CountersTableName', { value: countersTable.tableName, description: 'DynamoDB table of the counters' });
    new CfnOutput(this, 'IngestQueueUrl', { value: this.ingest.queue.queueUrl, description: 'SQS ingest queue' });
    new CfnOutput(this, 'DlqUrl', { value: this.ingest.deadLetterQueue.queueUrl, description: 'SQS ingest dead-letter queue' });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.ops.alarmTopic.topicArn, description: 'SNS topic of the alarms' });
  }
}
