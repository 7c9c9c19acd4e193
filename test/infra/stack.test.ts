import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { logicalId, resource, synth, type Resource } from './synth.js';






/** All actions granted to a role by the inline policies attached to it. */
function actionsOf(template: Template, roleId: string): string[] {
  const policies = template.findResources('AWS::IAM::Policy', {
    Properties: { Roles: Match.arrayWith([{ Ref: roleId }]) },
  });
  return Object.values(policies).flatMap((p: any) =>
    p.Properties.PolicyDocument.Statement.flatMap((s: any) => (Array.isArray(s.Action) ? s.Action : [s.Action])),
  );
}

const { app, stack, template } = synth();
const ids = {
  bucket: logicalId(stack, stack.storage.factsBucket),
  table: logicalId(stack, stack.storage.countersTable),
  queue: logicalId(stack, stack.ingest.queue),
  dlq: logicalId(stack, stack.ingest.deadLetterQueue),
  ingest: logicalId(stack, stack.ingest.fn),
  api: logicalId(stack, stack.api.fn),
  compactor: logicalId(stack, stack.compactor.fn),
  httpApi: logicalId(stack, stack.api.httpApi),
  taskDef: logicalId(stack, stack.listener.taskDefinition),
};

describe('storage', () => {
  it('facts bucket is encrypted, private, TLS-only, retained, and aborts incomplete uploads', () => {
    const bucket = resource(template, ids.bucket);
    expect(bucket.Type).toBe('AWS::S3::Bucket');
    expect(bucket.DeletionPolicy).toBe('Retain');
    expect(bucket.Properties.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
    });
    expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(bucket.Properties.VersioningConfiguration).toBeUndefined();
    expect(bucket.Properties.LifecycleConfiguration.Rules).toEqual([
      expect.objectContaining({ Status: 'Enabled', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }),
      expect.objectContaining({ Status: 'Enabled', Prefix: 'jobs/', ExpirationInDays: 7 }),
    ]);
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: ids.bucket },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('counters table has pk/sk keys, TTL on `ttl`, on-demand billing, PITR, and is retained', () => {
    const table = resource(template, ids.table);
    expect(table.Type).toBe('AWS::DynamoDB::Table');
    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.Properties.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    expect(table.Properties.AttributeDefinitions).toEqual([
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'N' },
    ]);
    expect(table.Properties.TimeToLiveSpecification).toEqual({ AttributeName: 'ttl', Enabled: true });
    expect(table.Properties.BillingMode).toBe('PAY_PER_REQUEST');
    expect(table.Properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
  });
});

describe('ingest', () => {
  const queue = resource(template, ids.queue);
  const dlq = resource(template, ids.dlq);
  const ingest = resource(template, ids.ingest);

  it('queue redrives to the DLQ after 5 receives; both SSE and TLS-only', () => {
    expect(queue.Properties.RedrivePolicy).toEqual({
      deadLetterTargetArn: { 'Fn::GetAtt': [ids.dlq, 'Arn'] },
      maxReceiveCount: 5,
    });
    expect(queue.Properties.SqsManagedSseEnabled).toBe(true);
    expect(dlq.Properties.SqsManagedSseEnabled).toBe(true);
    expect(dlq.Properties.MessageRetentionPeriod).toBe(14 * 24 * 3600);
    for (const q of [ids.queue, ids.dlq]) {
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: q }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    }
  });

  it('queue visibility timeout is at least 6x the ingest function timeout', () => {
    expect(ingest.Properties.Timeout).toBe(60);
    expect(queue.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * ingest.Properties.Timeout);
  });

  it('ingest consumes the queue in batches and reports batch item failures', () => {
    const mappings = template.findResources('AWS::Lambda::EventSourceMapping', { Properties: { FunctionName: { Ref: ids.ingest } } });
    expect(Object.keys(mappings)).toHaveLength(1);
    const mapping = Object.values(mappings)[0] as Resource;
    expect(mapping.Properties).toMatchObject({
      EventSourceArn: { 'Fn::GetAtt': [ids.queue, 'Arn'] },
      FunctionName: { Ref: ids.ingest },
      BatchSize: 100,
      MaximumBatchingWindowInSeconds: 5,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  it('ingest may write facts and counters but not delete facts', () => {
    const actions = actionsOf(template, ingest.Properties.Role['Fn::GetAtt'][0]);
    expect(actions).toEqual(expect.arrayContaining(['s3:PutObject', 'dynamodb:UpdateItem', 'sqs:ReceiveMessage', 'sqs:DeleteMessage']));
    expect(actions.some((a) => a.startsWith('s3:DeleteObject'))).toBe(false);
  });
});

describe('functions', () => {
  const fns = { ingest: ids.ingest, api: ids.api, compactor: ids.compactor };

  it.each(Object.entries(fns))('%s runs on nodejs22.x arm64 with the storage env and a 1-month log group', (_, id) => {
    const fn = resource(template, id);
    expect(fn.Type).toBe('AWS::Lambda::Function');
    expect(fn.Properties.Runtime).toBe('nodejs22.x');
    expect(fn.Properties.Architectures).toEqual(['arm64']);
    expect(fn.Properties.Handler).toBe('index.handler');
    expect(fn.Properties.Environment.Variables).toMatchObject({
      FACTS_BUCKET: { Ref: ids.bucket },
      COUNTERS_TABLE: { Ref: ids.table },
      NODE_OPTIONS: '--enable-source-maps',
    });
    const logGroupId = fn.Properties.LoggingConfig.LogGroup.Ref as string;
    expect(resource(template, logGroupId).Properties.RetentionInDays).toBe(30);
  });

  it('finds the handler entries from the repo root, whatever the working directory', () => {
    const cwd = process.cwd();
    process.chdir(tmpdir());
    try {
      const { template: t } = synth();
      t.resourceCountIs('AWS::Lambda::EventSourceMapping', 2); // ingest and jobs
    } finally {
      process.chdir(cwd);
    }
  });

  it('compactor runs every 10 minutes from EventBridge and finishes within the interval', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(10 minutes)',
      State: 'ENABLED',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [ids.compactor, 'Arn'] }, RetryPolicy: { MaximumRetryAttempts: 0 } })],
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': [ids.compactor, 'Arn'] },
      Principal: 'events.amazonaws.com',
    });
    expect(resource(template, ids.compactor).Properties.Timeout).toBeLessThan(600);
  });

  it('api reads counters and facts, writes no facts and only job/quota counter items', () => {
    const api = resource(template, ids.api);
    const actions = actionsOf(template, api.Properties.Role['Fn::GetAtt'][0]);
    expect(actions).toEqual(expect.arrayContaining(['dynamodb:Query', 'dynamodb:GetItem', 's3:GetObject']));
    // PutItem/UpdateItem only under dynamodb:LeadingKeys s:job:* and quota:* (see test/infra/analytics.test.ts)
    expect(actions.filter((a) => /^dynamodb:(DeleteItem|BatchWriteItem)$/.test(a))).toEqual([]);
    expect(actions.filter((a) => /^s3:(PutObject|DeleteObject)/.test(a))).toEqual([]);
  });
});

describe('api', () => {
  it('is an HTTP API with CORS for GET/POST/OPTIONS from any origin by default', () => {
    const api = resource(template, ids.httpApi);
    expect(api.Type).toBe('AWS::ApiGatewayV2::Api');
    expect(api.Properties.ProtocolType).toBe('HTTP');
    expect(api.Properties.CorsConfiguration).toMatchObject({
      AllowOrigins: ['*'],
      AllowMethods: ['GET', 'POST', 'OPTIONS'],
    });
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', { ApiId: { Ref: ids.httpApi }, StageName: '$default', AutoDeploy: true });
  });

  it('routes $default to the api function through a Lambda proxy integration', () => {
    const integrations = template.findResources('AWS::ApiGatewayV2::Integration', {
      Properties: { ApiId: { Ref: ids.httpApi }, IntegrationType: 'AWS_PROXY', PayloadFormatVersion: '2.0', IntegrationUri: { 'Fn::GetAtt': [ids.api, 'Arn'] } },
    });
    const [integrationId] = Object.keys(integrations);
    expect(integrationId).toBeDefined();
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
      ApiId: { Ref: ids.httpApi },
      RouteKey: '$default',
      Target: { 'Fn::Join': ['', ['integrations/', { Ref: integrationId }]] },
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': [ids.api, 'Arn'] },
      Principal: 'apigateway.amazonaws.com',
    });
  });

  it('honours corsOrigins from context', () => {
    const { template: t } = synth({ corsOrigins: 'https://a.example, https://b.example' });
    t.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      CorsConfiguration: Match.objectLike({ AllowOrigins: ['https://a.example', 'https://b.example'] }),
    });
  });
});

describe('listener', () => {
  const taskDef = resource(template, ids.taskDef);
  const container = taskDef.Properties.ContainerDefinitions[0];
  const env = Object.fromEntries(container.Environment.map((e: { Name: string; Value: unknown }) => [e.Name, e.Value]));

  it('runs one Fargate task with a public IP, rolling back failed deployments', () => {
    template.hasResourceProperties('AWS::ECS::Service', {
      LaunchType: 'FARGATE',
      DesiredCount: 1,
      TaskDefinition: { Ref: ids.taskDef },
      DeploymentConfiguration: Match.objectLike({
        DeploymentCircuitBreaker: { Enable: true, Rollback: true },
        MinimumHealthyPercent: 100,
      }),
      NetworkConfiguration: { AwsvpcConfiguration: Match.objectLike({ AssignPublicIp: 'ENABLED' }) },
    });
  });

  it('task is ARM64, 0.25 vCPU / 512 MiB, with relay, queue and table settings and awslogs', () => {
    expect(taskDef.Properties).toMatchObject({
      Cpu: '256',
      Memory: '512',
      NetworkMode: 'awsvpc',
      RequiresCompatibilities: ['FARGATE'],
      RuntimePlatform: { CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' },
    });
    expect(env).toEqual({
      RELAY_URLS: 'wss://relay.damus.io,wss://nos.lol',
      QUEUE_URL: { Ref: ids.queue },
      COUNTERS_TABLE: { Ref: ids.table },
    });
    expect(container.LogConfiguration.LogDriver).toBe('awslogs');
    const logGroupId = container.LogConfiguration.Options['awslogs-group'].Ref as string;
    expect(resource(template, logGroupId).Properties.RetentionInDays).toBe(30);
  });

  it('image is built from functions/listener/Dockerfile for linux/arm64', () => {
    const assembly = app.synth();
    const manifests = assembly.artifacts.filter((a: any) => a.file?.endsWith('.assets.json'));
    const dockerImages = manifests.flatMap((m: any) =>
      Object.values(JSON.parse(readFileSync(m.file, 'utf8')).dockerImages ?? {}),
    ) as any[];
    expect(dockerImages).toHaveLength(1);
    expect(dockerImages[0].source).toMatchObject({ dockerFile: 'functions/listener/Dockerfile', platform: 'linux/arm64' });
    expect(container.Image['Fn::Sub']).toContain('container-assets');
  });

  it('task role may send to the queue and read/write the table, nothing more', () => {
    const roleId = taskDef.Properties.TaskRoleArn['Fn::GetAtt'][0] as string;
    const policies = Object.values(
      template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: roleId }] } }),
    ) as Resource[];
    const statements = policies.flatMap((p) => p.Properties.PolicyDocument.Statement);
    const resources = statements.flatMap((s: any) => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]));
    expect(statements.flatMap((s: any) => s.Action)).toEqual(expect.arrayContaining(['sqs:SendMessage', 'dynamodb:UpdateItem', 'dynamodb:GetItem']));
    expect(resources).toEqual(expect.arrayContaining([{ 'Fn::GetAtt': [ids.queue, 'Arn'] }, { 'Fn::GetAtt': [ids.table, 'Arn'] }]));
    expect(resources.every((r: any) => JSON.stringify(r).includes(ids.queue) || JSON.stringify(r).includes(ids.table))).toBe(true);
  });

  it('VPC has two public subnets and no NAT gateway', () => {
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    template.resourceCountIs('AWS::EC2::Subnet', 2);
    template.allResourcesProperties('AWS::EC2::Subnet', { MapPublicIpOnLaunch: true });
  });

  it('relayUrls and listenerDesiredCount come from context', () => {
    const { template: t } = synth({ relayUrls: ['wss://relay.example', 'wss://other.example'], listenerDesiredCount: 0 });
    t.hasResourceProperties('AWS::ECS::TaskDefinition', {
      ContainerDefinitions: [Match.objectLike({ Environment: Match.arrayWith([{ Name: 'RELAY_URLS', Value: 'wss://relay.example,wss://other.example' }]) })],
    });
    t.hasResourceProperties('AWS::ECS::Service', { DesiredCount: 0 });
    expect(() => synth({ relayUrls: 'https://not-a-relay' })).toThrow(/relayUrls/);
  });
});

describe('ops and outputs', () => {
  it('alarms on dead letters into an SNS topic', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [ids.dlq, 'QueueName'] } }],
      Threshold: 1,
      AlarmActions: [{ Ref: Match.stringLikeRegexp('AlarmTopic') }],
    });
  });

  it('exports the API URL, bucket, table and queue URLs', () => {
    template.hasOutput('ApiUrl', { Value: { 'Fn::GetAtt': [ids.httpApi, 'ApiEndpoint'] } });
    template.hasOutput('FactsBucketName', { Value: { Ref: ids.bucket } });
    template.hasOutput('CountersTableName', { Value: { Ref: ids.table } });
    template.hasOutput('IngestQueueUrl', { Value: { Ref: ids.queue } });
    template.hasOutput('DlqUrl', { Value: { Ref: ids.dlq } });
  });
});
