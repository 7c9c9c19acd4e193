import { registerSchema } from '../../lib/app/schemas.js';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { retentionFromEnv } from '../../lib/counters/retention.js';
import { markDirty } from '../../lib/counters/state.js';
import { compactAndSettle, QUARANTINE_PREFIX } from '../../lib/facts/compact.js';
import { partitionOf, partitionPrefix } from '../../lib/facts/partition.js';
import { ingestBatch } from '../../lib/ingest/ingest.js';
import { settleShardTask } from '../../lib/counters/settle-run.js';
import { applyLiveDeltas, LIVE_BATCH_MESSAGES, LIVE_BATCH_WINDOW_SECONDS, queuedLiveCounters } from '../../lib/counters/live-queue.js';
import { readJob, runJobStep, submitJob } from '../../lib/jobs/jobs.js';
import { CounterStoreCheckpoints } from '../../lib/listener/checkpoints.js';
import { loadVerifier } from '../../lib/nostr/verify.js';
import { finalizeEvent, generateSecretKey } from 'nostr-tools/pure';
import { FEED_NAMESPACE_PREFIX, precomputeFeeds, readFeed } from '../../lib/query/feeds.js';
import type { ObjectStore, SqlEngine } from '../../lib/ports.js';
import { loadFixture, tampered } from '../support/fixtures.js';
import { fixedClock, localStores } from '../support/local.js';
import { allows, logicalId, resource, resourcesOf, statementsOf, synth, type Resource } from './synth.js';






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
  feeds: logicalId(stack, stack.feeds.fn),
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
      // the storage tiers: test/infra/storage-tiers.test.ts
      expect.objectContaining({ Id: 'tier-facts', Prefix: 'facts/' }),
      expect.objectContaining({ Id: 'tier-settle-results', Prefix: 'counters/results/' }),
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

  it('ingest may write facts, the event index, engager lists and live deltas to the live queue, but not delete facts or touch counter items', () => {
    const actions = actionsOf(template, ingest.Properties.Role['Fn::GetAtt'][0]);
    expect(actions).toEqual(expect.arrayContaining(['s3:PutObject', 'dynamodb:BatchWriteItem', 'sqs:SendMessage', 'sqs:ReceiveMessage', 'sqs:DeleteMessage']));
    expect(actions.some((a) => a.startsWith('s3:DeleteObject'))).toBe(false);
    // UpdateItem on its engager lists only, never on a counter item
    const statements = statementsOf(template, ingest.Properties.Role['Fn::GetAtt'][0]);
    const table = `\${${ids.table}.Arn}`;
    for (const key of ['l:lk:a:34235:ab:d', 'l:zp:e:ab']) expect(allows(statements, 'dynamodb:UpdateItem', table, [key]), key).toBe(true);
    for (const key of ['u:ab#m', 'g#all', 'e:ab#h', 's:watermark']) expect(allows(statements, 'dynamodb:UpdateItem', table, [key]), key).toBe(false);
    expect(ingest.Properties.Environment.Variables.LIVE_QUEUE_URL).toEqual({ Ref: logicalId(stack, stack.live.queue) });
  });

  it('the live function merges the live queue in long, few batches and may only add to live minute counters and mark hours', () => {
    const live = resource(template, logicalId(stack, stack.live.fn));
    const mapping = Object.values(resourcesOf(template, 'AWS::Lambda::EventSourceMapping')).find((m) => m.Properties.FunctionName.Ref === logicalId(stack, stack.live.fn))!;
    expect(mapping.Properties).toMatchObject({ BatchSize: LIVE_BATCH_MESSAGES, MaximumBatchingWindowInSeconds: LIVE_BATCH_WINDOW_SECONDS, ScalingConfig: { MaximumConcurrency: 2 }, FunctionResponseTypes: ['ReportBatchItemFailures'] });
    const actions = actionsOf(template, live.Properties.Role['Fn::GetAtt'][0]);
    expect(actions).toEqual(expect.arrayContaining(['dynamodb:UpdateItem', 'dynamodb:PutItem', 'sqs:ReceiveMessage', 'sqs:DeleteMessage']));
    expect(actions.some((a) => a.startsWith('s3:'))).toBe(false);
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
      t.resourceCountIs('AWS::Lambda::EventSourceMapping', 4); // ingest, live, settle and jobs
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

  it('compactor: one at a time (reserved concurrency 1); a throttled scheduled event expires by the next one', () => {
    expect(resource(template, ids.compactor).Properties.ReservedConcurrentExecutions).toBe(1);
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: ids.compactor },
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 600,
    });
    // the others are not capped this way (ingest and jobs scale through their event sources)
    for (const id of [ids.ingest, ids.api]) expect(resource(template, id).Properties.ReservedConcurrentExecutions).toBeUndefined();
  });

  it('feeds runs every minute from EventBridge, one at a time, and finishes before the next run', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [ids.feeds, 'Arn'] }, RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 } })],
    });
    const fn = resource(template, ids.feeds);
    expect(fn.Properties).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'], ReservedConcurrentExecutions: 1 });
    expect(fn.Properties.Timeout).toBeLessThan(60);
    expect(fn.Properties.Environment.Variables).toMatchObject({ COUNTERS_TABLE: { Ref: ids.table } });
    expect(fn.Properties.Environment.Variables.FACTS_BUCKET).toBeUndefined();
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', { FunctionName: { Ref: ids.feeds }, MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 });
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
  it('is an HTTP API with CORS for GET/POST/PUT/OPTIONS from any origin by default', () => {
    const api = resource(template, ids.httpApi);
    expect(api.Type).toBe('AWS::ApiGatewayV2::Api');
    expect(api.Properties.ProtocolType).toBe('HTTP');
    expect(api.Properties.CorsConfiguration).toMatchObject({
      AllowOrigins: ['*'],
      AllowMethods: ['GET', 'POST', 'PUT', 'OPTIONS'],
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

  it('task role may send to the queue and read and write its checkpoints, nothing more', () => {
    const roleId = taskDef.Properties.TaskRoleArn['Fn::GetAtt'][0] as string;
    const statements = statementsOf(template, roleId);
    expect(statements.flatMap((s) => s.Action)).toEqual(expect.arrayContaining(['sqs:SendMessage', 'dynamodb:PutItem', 'dynamodb:GetItem']));
    expect([...new Set(statements.flatMap((s) => s.Resource))].sort()).toEqual([`\${${ids.queue}.Arn}`, `\${${ids.table}.Arn}`].sort());
    const onTable = statements.filter((s) => s.Resource.includes(`\${${ids.table}.Arn}`));
    expect(onTable).toEqual([
      { Action: ['dynamodb:GetItem', 'dynamodb:PutItem'], Resource: [`\${${ids.table}.Arn}`], Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['s:checkpoint'] } } },
    ]);
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

/**
 * Least privilege, checked against what the code really does: the listener, ingest, compactor and jobs
 * cores run through the real DynamoDB adapter (on dynalite) and an object store, every table request and
 * object access is recorded, and each must be allowed by the synthesized policy of that component's role.
 */
describe('least privilege: the roles allow exactly what the code does', () => {
  const tableArn = `\${${ids.table}.Arn}`;
  const bucketArn = `\${${ids.bucket}.Arn}`;
  const roleOf = (fnId: string) => resource(template, fnId).Properties.Role['Fn::GetAtt'][0] as string;
  const roles = {
    listener: resource(template, ids.taskDef).Properties.TaskRoleArn['Fn::GetAtt'][0] as string,
    ingest: roleOf(ids.ingest),
    compactor: roleOf(ids.compactor),
    jobs: roleOf(logicalId(stack, stack.jobs.fn)),
    feeds: roleOf(ids.feeds),
    live: roleOf(logicalId(stack, stack.live.fn)),
    settle: roleOf(logicalId(stack, stack.compactor.settleFn)),
  };
  type Access = { action: string; resource: string; keys: string[] };
  let accesses: Access[] = [];
  let recording = false;
  let stores: Awaited<ReturnType<typeof localStores>>;
  let objects: ObjectStore;

  /** The partition keys a DynamoDB request touches, as the adapter sends it. */
  const keysOf = (name: string, input: any): string[] => {
    if (name === 'PutItem') return [input.Item.pk.S];
    if (name === 'Query') return [input.ExpressionAttributeValues[':pk'].S];
    if (name === 'BatchWriteItem') return Object.values(input.RequestItems as Record<string, any[]>).flat().map((r) => (r.PutRequest?.Item ?? r.DeleteRequest?.Key).pk.S);
    return [input.Key.pk.S];
  };
  /** S3 actions of each ObjectStore method; a method not listed here fails the test until it is mapped. */
  const objectAccesses: Record<string, (args: any[]) => Access[]> = {
    put: ([key]) => [{ action: 's3:PutObject', resource: `${bucketArn}/${key}`, keys: [] }],
    get: ([key]) => [{ action: 's3:GetObject', resource: `${bucketArn}/${key}`, keys: [] }],
    list: () => [{ action: 's3:ListBucket', resource: bucketArn, keys: [] }],
    listSizes: () => [{ action: 's3:ListBucket', resource: bucketArn, keys: [] }],
    delete: ([keys]) => (keys as string[]).map((key) => ({ action: 's3:DeleteObject', resource: `${bucketArn}/${key}`, keys: [] })),
    stream: ([key]) => [{ action: 's3:GetObject', resource: `${bucketArn}/${key}`, keys: [] }],
    // CopyObject reads the source and writes the destination, both with the caller's permissions.
    copy: ([from, to]) => [
      { action: 's3:GetObject', resource: `${bucketArn}/${from}`, keys: [] },
      { action: 's3:PutObject', resource: `${bucketArn}/${to}`, keys: [] },
    ],
  };
  /** An engine export (Athena UNLOAD) writes its result objects under the prefix with the caller's identity. */
  const recordingSql = (inner: SqlEngine): SqlEngine => ({
    query: (sql) => inner.query(sql),
    export: async (sql, prefix, format, options) => {
      if (recording) accesses.push({ action: 's3:PutObject', resource: `${bucketArn}/${prefix}part=0/data.json.gz`, keys: [] });
      return inner.export(sql, prefix, format, options);
    },
  });

  beforeAll(async () => {
    stores = await localStores();
    const client = stores.dynamo.client;
    const send = client.send.bind(client) as (...args: unknown[]) => Promise<unknown>;
    (client as { send: unknown }).send = (command: { input: unknown; constructor: { name: string } }, ...rest: unknown[]) => {
      const name = command.constructor.name.replace(/Command$/, '');
      if (recording) accesses.push({ action: `dynamodb:${name}`, resource: tableArn, keys: keysOf(name, command.input) });
      return send(command, ...rest);
    };
    objects = new Proxy(stores.objects, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          if (recording) {
            const map = objectAccesses[String(property)];
            if (!map) throw new Error(`ObjectStore.${String(property)} has no S3 actions in this test: add them to objectAccesses`);
            accesses.push(...map(args));
          }
          return value.apply(target, args);
        };
      },
    });
    // A registered type with a dimension (the api's write): ingest admits its events' values (a conditional put) before counting them.
    await registerSchema(stores.counters, fixedClock(nowMs), 'demo', 'purchase', { schema: { type: 'object', properties: { amount: { type: 'number' }, country: { type: 'string' } } }, dimensions: ['country'] });
  });
  afterAll(() => stores?.close());

  async function record(run: () => Promise<unknown>): Promise<Access[]> {
    accesses = [];
    recording = true;
    try {
      await run();
    } finally {
      recording = false;
    }
    return accesses;
  }
  const denied = (role: string, done: Access[]) => {
    const statements = statementsOf(template, role);
    return done.filter((a) => !allows(statements, a.action, a.resource, a.keys));
  };
  const can = (role: string, action: string, key: string) => allows(statementsOf(template, role), action, tableArn, [key]);

  const thread = loadFixture('thread-and-reactions.jsonl');
  const videos = loadFixture('zaps-and-videos.jsonl');
  const deletions = loadFixture('mixed-kinds.jsonl').filter((e) => e.kind === 5);
  const nowMs = (Math.max(...thread.map((e) => e.created_at)) + 2 * 86400) * 1000;
  const retention = retentionFromEnv({});
  const metrics = { count() {}, observe() {} };
  // A reply naming only its parent, which Funnel has not seen (ingest and the settle look it up), and a like of a video (an engager row).
  const orphanReply = finalizeEvent({ kind: 1, created_at: thread[0]!.created_at, tags: [['e', 'f'.repeat(64), '', 'reply']], content: 'which note?' }, generateSecretKey());
  const someVideo = videos.find((e) => e.kind === 34236 || e.kind === 34235)!;
  const videoLike = finalizeEvent({ kind: 7, created_at: thread[0]!.created_at, tags: [['e', someVideo.id], ['p', someVideo.pubkey], ['k', String(someVideo.kind)]], content: '+' }, generateSecretKey());
  // Ingest's live deltas, as the live queue would hand them to the live function.
  const liveBodies: string[] = [];
  const liveQueue = { sendBatch: async (bodies: string[]) => (liveBodies.push(...bodies), { failed: [] }) };
  const ingest = async () =>
    ingestBatch(
      [
        { messageId: 'm1', receiveCount: 1, body: JSON.stringify({ v: 1, source: 'wss://relay.example', events: [...thread, ...videos, ...deletions, orphanReply, videoLike] }) },
        { messageId: 'm2', receiveCount: 1, body: JSON.stringify({ v: 1, source: 'wss://relay.example', events: [tampered(thread[0]!, { sig: '0'.repeat(128) })] }) },
        { messageId: 'm3', receiveCount: 1, body: JSON.stringify({ v: 1, source: 'app', project: 'demo', events: [{ name: 'video_view', userId: 'u1', timestamp: nowMs / 1000 - 86400 }, { name: 'purchase', userId: 'u1', properties: { amount: 2.5, country: 'DE' } }] }) },
        { messageId: 'm4', receiveCount: 1, body: 'not json' },
      ],
      { objects, counters: stores.counters, verify: await loadVerifier(), clock: fixedClock(nowMs), metrics, minuteTtlSeconds: retention.minuteSeconds, liveCounters: queuedLiveCounters(liveQueue) },
    );

  it('every table statement carries a dynamodb:LeadingKeys condition, and no role may Scan', () => {
    for (const [name, role] of Object.entries(roles)) {
      const onTable = statementsOf(template, role).filter((s) => s.Resource.some((r) => r.startsWith(tableArn)));
      expect(onTable.length, name).toBeGreaterThan(0);
      for (const s of onTable) expect(s.Condition?.['ForAllValues:StringLike']?.['dynamodb:LeadingKeys'], `${name} ${s.Action}`).toBeDefined();
      expect(onTable.flatMap((s) => s.Action), name).not.toContain('dynamodb:Scan');
    }
  });

  it('listener: reads and writes its relay checkpoints, and nothing else', async () => {
    const checkpoints = new CounterStoreCheckpoints(stores.counters);
    const done = await record(async () => {
      await checkpoints.save('wss://relay.example', 1_700_000_000);
      expect(await checkpoints.load('wss://relay.example')).toBe(1_700_000_000);
    });
    expect(done.map((a) => a.action).sort()).toEqual(['dynamodb:GetItem', 'dynamodb:PutItem']);
    expect(denied(roles.listener, done)).toEqual([]);
    expect(can(roles.listener, 'dynamodb:UpdateItem', 'g#all')).toBe(false);
    expect(can(roles.listener, 'dynamodb:PutItem', 's:watermark')).toBe(false);
    expect(can(roles.listener, 'dynamodb:GetItem', 's:job:x')).toBe(false);
  });

  it('ingest: writes facts under facts/, the event index and its marks, and sends its live deltas; no counter items', async () => {
    const done = await record(ingest);
    expect(new Set(done.map((a) => a.action))).toEqual(new Set(['s3:PutObject', 'dynamodb:BatchWriteItem', 'dynamodb:PutItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:Query']));
    // the app event's schema and its project's settings read
    expect(done.some((a) => a.action === 'dynamodb:Query' && a.keys.includes('s:schema:demo:video_view'))).toBe(true);
    expect(done.some((a) => a.action === 'dynamodb:GetItem' && a.keys.includes('s:project:demo'))).toBe(true);
    // the purchase's country admitted as a dimension value
    expect(done.some((a) => a.action === 'dynamodb:PutItem' && a.keys.includes('s:dimvals:demo:purchase:country'))).toBe(true);
    // the orphan reply's parent looked up; the video like's and the zaps' engager rows written
    expect(done.some((a) => a.action === 'dynamodb:GetItem' && a.keys.includes(`s:ev:${'f'.repeat(64)}`))).toBe(true);
    expect(done.some((a) => a.action === 'dynamodb:UpdateItem' && a.keys.some((k) => k.startsWith('l:lk:')))).toBe(true);
    expect(done.some((a) => a.action === 'dynamodb:UpdateItem' && a.keys.some((k) => k.startsWith('l:zp:')))).toBe(true);
    expect(liveBodies.length).toBeGreaterThan(0);
    expect(denied(roles.ingest, done)).toEqual([]);
    for (const key of ['s:watermark', 's:job:x', 'u:ab#h']) expect(can(roles.ingest, 'dynamodb:GetItem', key), key).toBe(false);
    for (const key of ['u:ab#h', 'g#d', 's:watermark', 's:checkpoint', 's:job:x', 'quota:c#h']) {
      for (const action of ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:BatchWriteItem']) expect(can(roles.ingest, action, key), `${action} ${key}`).toBe(false);
    }
  });

  it("live: adds every scope's live minute counters and the rejection totals, and marks a redelivered batch's hours; nothing else", async () => {
    if (!liveBodies.length) await ingest();
    const done = await record(() => applyLiveDeltas(liveBodies.map((body, i) => ({ messageId: `l${i}`, body, receiveCount: 2 })), { counters: stores.counters, clock: fixedClock(nowMs) }));
    expect(new Set(done.map((a) => a.action))).toEqual(new Set(['dynamodb:UpdateItem', 'dynamodb:PutItem']));
    expect(done.some((a) => a.keys.some((k) => k.startsWith('rejected#')))).toBe(true);
    expect(done.some((a) => a.keys.some((k) => k.startsWith('p:')))).toBe(true);
    expect(done.some((a) => a.keys.some((k) => k === 'g#all'))).toBe(true);
    expect(denied(roles.live, done)).toEqual([]);
    for (const key of ['u:ab#h', 'g#d', 's:watermark', 's:ev:x', 's:checkpoint', 's:job:x', 'quota:c#h']) {
      for (const action of ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:BatchWriteItem']) expect(can(roles.live, action, key), `${action} ${key}`).toBe(false);
    }
  });

  it('settle worker: settles a shard (reads facts, keeps its manifest and exports, Puts settled items); merges, deletes and marks nothing', async () => {
    await ingest();
    const hour = Math.floor(thread[0]!.created_at / 3600) * 3600;
    const task = { granularity: 'h' as const, buckets: [hour], options: { nowMs, copiedLive: true }, shard: { index: 0, count: 2 }, run: 'h-iam-s0of2' };
    const done = await record(() => settleShardTask(task, { objects, counters: stores.counters, sql: recordingSql(stores.sql), tables: stores.tables, retention }, 1));
    expect(done.some((a) => a.action === 'dynamodb:BatchWriteItem')).toBe(true);
    expect(denied(roles.settle, done)).toEqual([]);
    for (const key of ['s:dirty-hour', 's:watermark', 's:ev:x', 'g#all', 's:job:x']) {
      for (const action of ['dynamodb:PutItem', 'dynamodb:BatchWriteItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem']) expect(can(roles.settle, action, key), `${action} ${key}`).toBe(false);
    }
    const s3 = statementsOf(template, roles.settle);
    expect(allows(s3, 's3:DeleteObject', `${bucketArn}/facts/dt=2025-01-01/hour=00/x.parquet`)).toBe(false);
    expect(allows(s3, 's3:PutObject', `${bucketArn}/facts/dt=2025-01-01/hour=00/x.parquet`)).toBe(false);
    // The compactor dispatches the shards; the workers take one at a time, as many at once as an hour has shards.
    expect(actionsOf(template, roles.compactor)).toContain('sqs:SendMessage');
    const mapping = Object.values(resourcesOf(template, 'AWS::Lambda::EventSourceMapping')).find((m) => m.Properties.FunctionName.Ref === logicalId(stack, stack.compactor.settleFn))!;
    expect(mapping.Properties).toMatchObject({ BatchSize: 1, ScalingConfig: { MaximumConcurrency: 8 } });
  });

  it('compactor: merges facts/, settles every scope, writes manifests and quarantines; no jobs, quotas or checkpoints', async () => {
    await ingest();
    // an undecodable object in an hour of its own: the compactor must be able to set it aside
    const corruptHour = Math.floor(nowMs / 1000 / 3600) * 3600 - 5 * 3600;
    await objects.put(`${partitionPrefix(partitionOf(corruptHour))}corrupt.parquet`, 'not parquet');
    await markDirty(stores.counters, [corruptHour], nowMs);
    const done = await record(() => compactAndSettle({ objects, counters: stores.counters, sql: recordingSql(stores.sql), tables: stores.tables, clock: fixedClock(nowMs), retention, logIssue: () => {} }));
    const actions = new Set(done.map((a) => a.action));
    for (const action of ['s3:ListBucket', 's3:GetObject', 's3:PutObject', 's3:DeleteObject', 'dynamodb:Query', 'dynamodb:BatchWriteItem', 'dynamodb:DeleteItem']) {
      expect(actions, action).toContain(action);
    }
    expect(done.some((a) => a.keys.some((k) => /#d$/.test(k)))).toBe(true); // a day was rolled
    expect(done.some((a) => a.action === 's3:PutObject' && a.resource.startsWith(`${bucketArn}/${QUARANTINE_PREFIX}facts/`))).toBe(true);
    expect(denied(roles.compactor, done)).toEqual([]);
    // the orphan reply's parent asked for again before its hour settles
    expect(done.some((a) => a.action === 'dynamodb:GetItem' && a.keys.includes(`s:ev:${'f'.repeat(64)}`))).toBe(true);
    for (const key of ['s:job:x', 'quota:c#h', 's:checkpoint', 's:ev:x', 'g#all']) {
      for (const action of ['dynamodb:PutItem', 'dynamodb:BatchWriteItem', 'dynamodb:UpdateItem']) expect(can(roles.compactor, action, key), `${action} ${key}`).toBe(false);
    }
    for (const key of ['s:job:x', 'quota:c#h', 's:checkpoint', 'g#all']) expect(can(roles.compactor, 'dynamodb:GetItem', key), key).toBe(false);
    const s3 = statementsOf(template, roles.compactor);
    expect(allows(s3, 's3:PutObject', `${bucketArn}/${QUARANTINE_PREFIX}facts/dt=2025-01-01/hour=00/x.parquet`)).toBe(true);
    expect(allows(s3, 's3:GetObject', `${bucketArn}/${QUARANTINE_PREFIX}facts/x`)).toBe(false);
    expect(allows(s3, 's3:PutObject', `${bucketArn}/jobs/x.json`)).toBe(false);
  });

  it('jobs: reads and updates its job items, sizes the facts, writes and reads back partials and results under jobs/', async () => {
    const request = { kind: 'summary' as const, pubkey: thread[0]!.pubkey, window: { type: 'custom' as const, startTs: nowMs / 1000 - 400 * 86400, endTs: nowMs / 1000 } };
    const sent: string[] = [];
    const jobsQueue = { sendBatch: async (bodies: string[]) => (sent.push(...bodies), { failed: [] }) };
    const queued = await submitJob(request, 'client-1', { counters: stores.counters, jobsQueue, clock: fixedClock(nowMs), settings: { resultTtlSeconds: 3600, perClientPerHour: 20 } });
    const deps = { counters: stores.counters, objects, sql: { query: async () => [], export: async () => {} }, relation: 'facts', dialect: 'athena' as const, clock: fixedClock(nowMs), jobsQueue };
    // every step, each from the message the one before sent
    const done = await record(async () => {
      for (let body = sent.shift(); body !== undefined; body = sent.shift()) await runJobStep(JSON.parse(body), deps);
    });
    expect((await readJob(stores.counters, queued.jobId))?.status).toBe('complete');
    expect(done.some((a) => a.action === 's3:ListBucket')).toBe(true);
    expect(done.some((a) => a.action === 's3:PutObject' && a.resource.includes(`/jobs/${queued.jobId}/`))).toBe(true);
    expect(done.some((a) => a.action === 's3:GetObject' && a.resource.includes(`/jobs/${queued.jobId}/`))).toBe(true);
    expect(done.some((a) => a.action === 's3:PutObject' && a.resource.endsWith(`/jobs/${queued.jobId}.json`))).toBe(true);
    expect(denied(roles.jobs, done)).toEqual([]);
    expect(can(roles.jobs, 'dynamodb:PutItem', 'quota:c#h')).toBe(false);
    expect(can(roles.jobs, 'dynamodb:PutItem', 's:watermark')).toBe(false);
  });

  it('feeds: reads the video index, deletions and engagement, writes only the stored feeds; the api reads them', async () => {
    // the fixture's videos, and a plain (non-addressable) one so the event-record and deletion lookups
    // run, ingested at a time when they are not in the future
    const videoAt = Math.max(...videos.filter((e) => e.kind === 34236).map((e) => e.created_at));
    const deps = { counters: stores.counters, clock: fixedClock((videoAt + 3600) * 1000), retention };
    const clip = finalizeEvent({ kind: 22, created_at: videoAt, tags: [['title', 'Clip'], ['url', 'https://v.example/c.mp4']], content: '' }, generateSecretKey());
    await ingestBatch([{ messageId: 'f1', receiveCount: 1, body: JSON.stringify({ v: 1, source: 'wss://relay.example', events: [...videos, clip] }) }], {
      objects,
      counters: stores.counters,
      verify: await loadVerifier(),
      clock: deps.clock,
      metrics,
      minuteTtlSeconds: retention.minuteSeconds,
    });
    const done = await record(() => precomputeFeeds(deps));
    expect(new Set(done.map((a) => a.action))).toEqual(new Set(['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem']));
    for (const prefix of ['s:vday:', 's:rev:', 's:dela:', 'a:', 'e:']) expect(done.some((a) => a.action === 'dynamodb:Query' && a.keys.some((k) => k.startsWith(prefix))), prefix).toBe(true);
    for (const prefix of ['s:ev:', 's:del:', 's:watermark']) expect(done.some((a) => a.action === 'dynamodb:GetItem' && a.keys.some((k) => k.startsWith(prefix))), prefix).toBe(true);
    const written = done.filter((a) => a.action === 'dynamodb:PutItem').flatMap((a) => a.keys);
    expect(written.length).toBeGreaterThan(0);
    expect(written.every((k) => k.startsWith(`s:${FEED_NAMESPACE_PREFIX}`))).toBe(true);
    expect(denied(roles.feeds, done)).toEqual([]);
    for (const key of ['s:watermark', 's:ev:x', 's:vday:0', 'u:ab#h', 'e:x#m', 's:job:x', 'quota:c#h', 's:checkpoint']) {
      for (const action of ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:BatchWriteItem', 'dynamodb:DeleteItem']) expect(can(roles.feeds, action, key), `${action} ${key}`).toBe(false);
    }
    expect(statementsOf(template, roles.feeds).flatMap((s) => s.Action).filter((a) => a.startsWith('s3:'))).toEqual([]);

    let source = '';
    const read = await record(async () => (source = (await readFeed(deps, { sort: 'recent', kind: null })).source));
    expect(source).toBe('precomputed');
    expect(read.map((a) => a.action)).toEqual(['dynamodb:GetItem']);
    expect(denied(roleOf(ids.api), read)).toEqual([]);
  });
});
