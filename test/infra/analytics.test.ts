import { DynamoDBClient, GetItemCommand, PutItemCommand, QueryCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { parquetMetadata, type SchemaElement } from 'hyparquet';
import { describe, expect, it } from 'vitest';
import { flat, logicalId, resource, statementsOf, synth, type Resource } from './synth.js';
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoCounterStore } from '../../lib/adapters/aws/dynamodb-counter-store.js';
import { FACT_GLUE_TYPES } from '../../infra/lib/analytics.js';
import { SETTLE_RESULTS_TABLE, settleResultsPrefix } from '../../lib/facts/tables.js';
import { API_WRITABLE_KEYS } from '../../infra/lib/api.js';
import { encodeFacts } from '../../lib/facts/parquet.js';
import { FACT_COLUMNS } from '../../lib/facts/schema.js';
import { submitJob } from '../../lib/jobs/jobs.js';
import { putProjectSettings, registerSchema } from '../../lib/app/schemas.js';
import { SAVED_QUERIES } from '../../lib/jobs/saved-queries.js';





function only(template: Template, type: string): Resource {
  const found = Object.values(template.findResources(type)) as Resource[];
  expect(found).toHaveLength(1);
  return found[0]!;
}



/** Glue types of the top-level columns of a Parquet schema (flattened, depth first). */
function glueTypesOf(schema: SchemaElement[]): Record<string, string> {
  const types: Record<string, string> = {};
  let i = 1;
  const leaf = (e: SchemaElement): string => {
    if (e.type === 'BYTE_ARRAY' && e.converted_type === 'UTF8') return 'string';
    if (e.type === 'INT32') return 'int';
    if (e.type === 'INT64') return 'bigint';
    if (e.type === 'DOUBLE') return 'double';
    throw new Error(`unmapped Parquet type ${e.type}/${e.converted_type} for ${e.name}`);
  };
  const skip = (n: number): void => {
    for (let k = 0; k < n; k++) {
      const e = schema[i++]!;
      if (e.num_children) skip(e.num_children);
    }
  };
  for (let c = 0; c < (schema[0]!.num_children ?? 0); c++) {
    const e = schema[i++]!;
    if (e.converted_type === 'LIST') {
      const repeated = schema[i]!;
      const element = schema[i + 1]!;
      types[e.name] = `array<${leaf(element)}>`;
      i += 1;
      skip(repeated.num_children ?? 0);
    } else {
      types[e.name] = leaf(e);
    }
  }
  return types;
}

const { stack, template } = synth();
const ids = {
  factsBucket: logicalId(stack, stack.storage.factsBucket),
  table: logicalId(stack, stack.storage.countersTable),
  database: logicalId(stack, stack.analytics.database),
  factsTable: logicalId(stack, stack.analytics.table),
  results: logicalId(stack, stack.analytics.resultsBucket),
  workGroup: logicalId(stack, stack.analytics.workGroup),
  compactorWorkGroup: logicalId(stack, stack.analytics.compactorWorkGroup),
  settleResults: logicalId(stack, stack.analytics.settleResultsTable),
  compactor: logicalId(stack, stack.compactor.fn),
  jobsQueue: logicalId(stack, stack.jobs.queue),
  jobsDlq: logicalId(stack, stack.jobs.deadLetterQueue),
  jobs: logicalId(stack, stack.jobs.fn),
  api: logicalId(stack, stack.api.fn),
};
const bucket = `\${${ids.factsBucket}}`;

describe('the compactor in Athena', () => {
  it('settles in its own workgroup, whose cutoff fits a day of facts at the design load', () => {
    const wg = resource(template, ids.compactorWorkGroup).Properties;
    expect(wg.Name).toBe('funnel-compactor');
    expect(wg.WorkGroupConfiguration.BytesScannedCutoffPerQuery).toBeGreaterThan(432e6 * 146);
    expect(resource(template, ids.compactor).Properties.Environment.Variables).toMatchObject({ ATHENA_WORKGROUP: 'funnel-compactor', ATHENA_DATABASE: 'funnel' });
  });

  it('reads earlier settle results through a JSON table projected on run and part, as settleResultsPrefix lays them out', () => {
    const input = resource(template, ids.settleResults).Properties.TableInput;
    expect(input.Name).toBe(SETTLE_RESULTS_TABLE);
    expect(input.PartitionKeys).toEqual([{ Name: 'run', Type: 'string', Comment: 'settle run id' }, { Name: 'part', Type: 'string', Comment: 'the settled hour or day start (unix seconds)' }]);
    expect(input.StorageDescriptor.SerdeInfo.SerializationLibrary).toBe('org.openx.data.jsonserde.JsonSerDe');
    expect(JSON.stringify(input.Parameters['storage.location.template'])).toContain('/counters/results/${run}/part=${part}/');
    expect(settleResultsPrefix('h-1-abc', 3600)).toBe('counters/results/h-1-abc/part=3600/');
    expect(input.Parameters).toMatchObject({ 'projection.run.type': 'injected', 'projection.part.type': 'injected' });
  });
});

describe('glue', () => {
  const db = only(template, 'AWS::Glue::Database');
  const table = resource(template, ids.factsTable);
  const input = table.Properties.TableInput;

  it('creates the `funnel` database and the external `facts` table in it', () => {
    expect(db.Properties).toMatchObject({ CatalogId: { Ref: 'AWS::AccountId' }, DatabaseInput: { Name: 'funnel' } });
    expect(table.Properties).toMatchObject({ CatalogId: { Ref: 'AWS::AccountId' }, DatabaseName: { Ref: ids.database } });
    expect(input.Name).toBe('facts');
    expect(input.TableType).toBe('EXTERNAL_TABLE');
  });

  it('has the fact columns in FACT_COLUMNS order, typed as the Parquet files are written', () => {
    const columns = input.StorageDescriptor.Columns as { Name: string; Type: string }[];
    expect(columns.map((c) => c.Name)).toEqual([...FACT_COLUMNS]);
    expect(Object.keys(FACT_GLUE_TYPES).sort()).toEqual([...FACT_COLUMNS].sort());
    // the physical schema of a file written by the ingest path, mapped to Glue types
    const bytes = encodeFacts([]);
    const metadata = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
    const written = glueTypesOf(metadata.schema);
    expect(Object.keys(written)).toEqual([...FACT_COLUMNS]);
    expect(Object.fromEntries(columns.map((c) => [c.Name, c.Type]))).toEqual(written);
    expect(written).toMatchObject({ kind: 'int', created_at: 'bigint', zap_msats: 'bigint', hashtags: 'array<string>', duration_s: 'double', event_id: 'string' });
  });

  it('is partitioned by dt and hour (strings) and stored as Parquet under facts/', () => {
    expect(input.PartitionKeys.map((k: { Name: string; Type: string }) => [k.Name, k.Type])).toEqual([
      ['dt', 'string'],
      ['hour', 'string'],
    ]);
    const sd = input.StorageDescriptor;
    expect(flat(sd.Location)).toBe(`s3://${bucket}/facts/`);
    expect(sd.InputFormat).toBe('org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat');
    expect(sd.OutputFormat).toBe('org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat');
    expect(sd.SerdeInfo.SerializationLibrary).toBe('org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe');
  });

  it('projects the dt/hour partitions, so no crawler or MSCK REPAIR is needed', () => {
    // read_restored_glacier_objects: test/infra/storage-tiers.test.ts
    const { 'storage.location.template': template_, read_restored_glacier_objects: _restored, ...rest } = input.Parameters;
    expect(rest).toEqual({
      classification: 'parquet',
      'parquet.compression': 'SNAPPY',
      'projection.enabled': 'true',
      'projection.dt.type': 'date',
      'projection.dt.format': 'yyyy-MM-dd',
      'projection.dt.range': '2020-01-01,NOW',
      'projection.dt.interval': '1',
      'projection.dt.interval.unit': 'DAYS',
      'projection.hour.type': 'integer',
      'projection.hour.range': '0,23',
      'projection.hour.digits': '2',
    });
    expect(flat(template_)).toBe(`s3://${bucket}/facts/dt=\${dt}/hour=\${hour}/`);
  });

  it('takes the database name from context', () => {
    const { template: t } = synth({ glueDatabase: 'nostr_facts' });
    t.hasResourceProperties('AWS::Glue::Database', { DatabaseInput: Match.objectLike({ Name: 'nostr_facts' }) });
    expect(() => synth({ glueDatabase: 'Funnel-DB' })).toThrow(/glueDatabase/);
  });
});

describe('athena workgroup', () => {
  const wg = resource(template, ids.workGroup);
  const config = wg.Properties.WorkGroupConfiguration;

  it('is `funnel`, enabled, on engine v3, enforcing its configuration and publishing metrics', () => {
    expect(wg.Type).toBe('AWS::Athena::WorkGroup');
    expect(wg.Properties).toMatchObject({ Name: 'funnel', State: 'ENABLED', RecursiveDeleteOption: true });
    expect(config).toMatchObject({
      EngineVersion: { SelectedEngineVersion: 'Athena engine version 3' },
      EnforceWorkGroupConfiguration: true,
      PublishCloudWatchMetricsEnabled: true,
    });
  });

  it('cuts a query off at 10 GiB scanned by default', () => {
    expect(config.BytesScannedCutoffPerQuery).toBe(10 * 1024 ** 3);
  });

  it('writes SSE-S3 encrypted results under athena/ in the results bucket', () => {
    expect(flat(config.ResultConfiguration.OutputLocation)).toBe(`s3://\${${ids.results}}/athena/`);
    expect(config.ResultConfiguration.EncryptionConfiguration).toEqual({ EncryptionOption: 'SSE_S3' });
  });

  it('takes its name and cutoff from context (numbers or -c strings), refusing less than 10 MB', () => {
    const { template: t } = synth({ athenaWorkGroup: 'analysts', athenaBytesScannedCutoff: 1024 ** 3 });
    t.hasResourceProperties('AWS::Athena::WorkGroup', {
      Name: 'analysts',
      WorkGroupConfiguration: Match.objectLike({ BytesScannedCutoffPerQuery: 1024 ** 3 }),
    });
    const { template: s } = synth({ athenaBytesScannedCutoff: '50000000' });
    s.hasResourceProperties('AWS::Athena::WorkGroup', { WorkGroupConfiguration: Match.objectLike({ BytesScannedCutoffPerQuery: 50_000_000 }) });
    expect(() => synth({ athenaBytesScannedCutoff: 1_000_000 })).toThrow(/athenaBytesScannedCutoff/);
    expect(() => synth({ athenaBytesScannedCutoff: 'lots' })).toThrow(/athenaBytesScannedCutoff/);
  });
});

describe('athena results bucket', () => {
  const results = resource(template, ids.results);

  it('is encrypted, private, TLS-only and retained (it empties itself by expiry)', () => {
    expect(results.Type).toBe('AWS::S3::Bucket');
    expect(results.DeletionPolicy).toBe('Retain');
    expect(results.Properties.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
    });
    expect(results.Properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: ids.results },
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
      },
    });
  });

  it('expires query results after 7 days (context athenaResultsExpiryDays) and aborts stale uploads', () => {
    expect(results.Properties.LifecycleConfiguration.Rules).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Status: 'Enabled', ExpirationInDays: 7 }),
        expect.objectContaining({ Status: 'Enabled', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }),
      ]),
    );
    const { stack: s, template: t } = synth({ athenaResultsExpiryDays: 2 });
    const rules = resource(t, logicalId(s, s.analytics.resultsBucket)).Properties.LifecycleConfiguration.Rules;
    expect(rules).toEqual(expect.arrayContaining([expect.objectContaining({ ExpirationInDays: 2 })]));
  });
});

describe('saved queries', () => {
  const queries = Object.values(template.findResources('AWS::Athena::NamedQuery')) as Resource[];

  it('saves one named query per SAVED_QUERIES entry, in the workgroup and database', () => {
    expect(queries).toHaveLength(6);
    expect(SAVED_QUERIES).toHaveLength(6);
    expect(queries.map((q) => q.Properties.Name).sort()).toEqual(SAVED_QUERIES.map((q) => `funnel-${q.name}`).sort());
    for (const q of queries) {
      expect(q.Properties.WorkGroup).toEqual({ Ref: ids.workGroup });
      expect(q.Properties.Database).toEqual({ Ref: ids.database });
      expect(q.DependsOn).toEqual(expect.arrayContaining([ids.workGroup, ids.factsTable]));
    }
  });

  it('each reads the facts table with a partition filter on dt, as the Athena form of its SQL', () => {
    for (const saved of SAVED_QUERIES) {
      const q = queries.find((r) => r.Properties.Name === `funnel-${saved.name}`)!;
      expect(q.Properties.Description).toBe(saved.description);
      expect(q.Properties.QueryString).toContain('"funnel"."facts"');
      expect(q.Properties.QueryString).toContain('dt >=');
      expect(q.Properties.QueryString).toBe(saved.sql('"funnel"."facts"', 'athena', 30));
    }
  });

  it.each([
    ['daily-active-authors'],
    ['top-creators'],
    ['zap-volume-by-day'],
    ['hashtag-trends'],
    ['video-leaderboard'],
    ['engagement-by-hour-of-day'],
  ])('answers %s', (name) => {
    expect(queries.some((q) => q.Properties.Name === `funnel-${name}`)).toBe(true);
  });
});

describe('jobs', () => {
  const queue = resource(template, ids.jobsQueue);
  const dlq = resource(template, ids.jobsDlq);
  const fn = resource(template, ids.jobs);
  const roleId = fn.Properties.Role['Fn::GetAtt'][0] as string;
  const statements = statementsOf(template, roleId);
  const grantedOn = (action: string) => statements.filter((s) => s.Action.includes(action)).flatMap((s) => s.Resource);

  it('queue redrives to its DLQ after 3 receives; both SSE and TLS-only', () => {
    expect(queue.Properties.RedrivePolicy).toEqual({ deadLetterTargetArn: { 'Fn::GetAtt': [ids.jobsDlq, 'Arn'] }, maxReceiveCount: 3 });
    expect(queue.Properties.SqsManagedSseEnabled).toBe(true);
    expect(dlq.Properties.SqsManagedSseEnabled).toBe(true);
    for (const q of [ids.jobsQueue, ids.jobsDlq]) {
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: q }],
        PolicyDocument: {
          Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
        },
      });
    }
  });

  it('function runs up to 15 minutes with 1 GiB; the queue hides a job for at least 6x that', () => {
    expect(fn.Properties.Timeout).toBe(900);
    expect(fn.Properties.MemorySize).toBe(1024);
    expect(fn.Properties.Runtime).toBe('nodejs22.x');
    expect(queue.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * fn.Properties.Timeout);
    expect(queue.Properties.VisibilityTimeout).toBeLessThanOrEqual(12 * 3600);
  });

  it('consumes the queue one job at a time, reporting batch item failures', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [ids.jobsQueue, 'Arn'] },
      FunctionName: { Ref: ids.jobs },
      BatchSize: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  it('has the storage and Athena settings in its environment, the workgroup\'s cutoff and its own queue', () => {
    const env = fn.Properties.Environment.Variables;
    expect(env).toMatchObject({
      FACTS_BUCKET: { Ref: ids.factsBucket },
      COUNTERS_TABLE: { Ref: ids.table },
      ATHENA_WORKGROUP: 'funnel',
      ATHENA_DATABASE: 'funnel',
      ATHENA_BYTES_SCANNED_CUTOFF: String(10 * 1024 ** 3),
      JOBS_QUEUE_URL: { Ref: ids.jobsQueue },
    });
    const { stack: s, template: t } = synth({ athenaWorkGroup: 'wg2', glueDatabase: 'db2', athenaBytesScannedCutoff: 1024 ** 3 });
    expect(resource(t, logicalId(s, s.jobs.fn)).Properties.Environment.Variables).toMatchObject({
      ATHENA_WORKGROUP: 'wg2',
      ATHENA_DATABASE: 'db2',
      ATHENA_BYTES_SCANNED_CUTOFF: String(1024 ** 3),
    });
  });

  it('sends each job\'s next step to its own queue, and to no other', () => {
    expect(grantedOn('sqs:SendMessage')).toEqual([`\${${ids.jobsQueue}.Arn}`]);
  });

  it('may run queries in the Funnel workgroup only', () => {
    const wgArn = 'arn:${AWS::Partition}:athena:${AWS::Region}:${AWS::AccountId}:workgroup/funnel';
    for (const action of ['athena:StartQueryExecution', 'athena:GetQueryExecution', 'athena:GetQueryResults', 'athena:StopQueryExecution']) {
      expect(grantedOn(action)).toEqual([wgArn]);
    }
    expect(statements.filter((s) => s.Action.some((a) => a.startsWith('athena:') || a.startsWith('glue:'))).flatMap((s) => s.Resource)).not.toContain('*');
  });

  it('may read the Glue catalog, database and facts table only', () => {
    const prefix = 'arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:';
    for (const action of ['glue:GetDatabase', 'glue:GetTable', 'glue:GetPartitions']) {
      expect(grantedOn(action).sort()).toEqual([`${prefix}catalog`, `${prefix}database/funnel`, `${prefix}table/funnel/facts`]);
    }
  });

  it('reads facts, reads and writes job partials and results under jobs/, reads/writes Athena results, deletes no facts', () => {
    const factsArn = `\${${ids.factsBucket}.Arn}`;
    const resultsArn = `\${${ids.results}.Arn}`;
    expect(grantedOn('s3:GetObject').sort()).toEqual([`${factsArn}/facts/*`, `${factsArn}/jobs/*`, `${resultsArn}/*`].sort());
    expect(grantedOn('s3:PutObject')).toEqual(expect.arrayContaining([`${factsArn}/jobs/*`, `${resultsArn}/*`]));
    expect(grantedOn('s3:PutObject').filter((r) => r.startsWith(factsArn))).toEqual([`${factsArn}/jobs/*`]);
    expect(statements.filter((s) => s.Action.some((a) => a.startsWith('s3:DeleteObject'))).flatMap((s) => s.Resource).some((r) => r.startsWith(factsArn))).toBe(false);
  });

  it('reads and writes job items only (state records s:job:*)', () => {
    const onTable = statements.filter((s) => s.Resource.includes(`\${${ids.table}.Arn}`));
    expect(onTable).toEqual([
      { Action: ['dynamodb:GetItem', 'dynamodb:PutItem'], Resource: [`\${${ids.table}.Arn}`], Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['s:job:*'] } } },
    ]);
  });

  it('alarms on jobs in the DLQ and on function errors', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [ids.jobsDlq, 'QueueName'] } }],
      AlarmActions: [{ Ref: Match.stringLikeRegexp('AlarmTopic') }],
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: ids.jobs } }],
    });
  });
});

describe('api and outputs', () => {
  const api = resource(template, ids.api);
  const apiStatements = statementsOf(template, api.Properties.Role['Fn::GetAtt'][0]);

  it('api knows the jobs queue and may send to it', () => {
    expect(api.Properties.Environment.Variables).toMatchObject({ JOBS_QUEUE_URL: { Ref: ids.jobsQueue }, JOB_RESULT_TTL_SECONDS: '3600' });
    expect(apiStatements.filter((s) => s.Action.includes('sqs:SendMessage')).flatMap((s) => s.Resource)).toContain(`\${${ids.jobsQueue}.Arn}`);
    // reads job results, and no other object
    expect(apiStatements.filter((s) => s.Action.includes('s3:GetObject')).flatMap((s) => s.Resource)).toEqual([`\${${ids.factsBucket}.Arn}/jobs/*`]);
  });

  it('api writes counters only under the job, quota and schema-registry keys', () => {
    const writes = apiStatements.filter((s) => s.Action.some((a) => /^dynamodb:(PutItem|UpdateItem|DeleteItem|BatchWriteItem)$/.test(a)));
    expect(writes).toEqual([
      {
        Action: ['dynamodb:PutItem', 'dynamodb:UpdateItem'],
        Resource: [`\${${ids.table}.Arn}`],
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['s:job:*', 'quota:*', 's:schema:*:*', 's:schemas:*', 's:project:*'] } },
      },
    ]);
  });

  it('those keys are the ones submitting a job writes through the DynamoDB adapter', async () => {
    const ddb = mockClient(DynamoDBClient);
    try {
      ddb.on(GetItemCommand).resolves({});
      ddb.on(QueryCommand).resolves({ Items: [] });
      ddb.on(UpdateItemCommand).resolves({});
      ddb.on(PutItemCommand).resolves({});
      await submitJob(
        { kind: 'summary', pubkey: 'ab'.repeat(32), window: { type: 'custom', startTs: 1_700_000_000, endTs: 1_795_000_000 } },
        'client-1',
        {
          counters: new DynamoCounterStore(new DynamoDBClient({}), 'Counters'),
          jobsQueue: { sendBatch: async () => ({ failed: [] }) },
          clock: { now: () => 1_795_000_000_000 },
          settings: { resultTtlSeconds: 3600, perClientPerHour: 20 },
        },
      );
      // the schema registry's writes too: a version, the project's type index, its settings
      const counters = new DynamoCounterStore(new DynamoDBClient({}), 'Counters');
      await registerSchema(counters, { now: () => 1_795_000_000_000 }, 'demo', 'purchase', { schema: { type: 'object', properties: { country: { type: 'string' } } }, dimensions: ['country'] });
      await putProjectSettings(counters, 'demo', { unregisteredEvents: 'reject' });
      const keys = [
        ...ddb.commandCalls(PutItemCommand).map((c) => c.args[0].input.Item?.pk?.S),
        ...ddb.commandCalls(UpdateItemCommand).map((c) => c.args[0].input.Key?.pk?.S),
      ];
      expect(keys.length).toBeGreaterThanOrEqual(5);
      expect(keys).toEqual(expect.arrayContaining(['s:schema:demo:purchase', 's:schemas:demo', 's:project:demo']));
      const patterns = API_WRITABLE_KEYS.map((p) => new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`));
      for (const key of keys) expect(patterns.some((p) => p.test(String(key))), `api writes ${key}`).toBe(true);
    } finally {
      ddb.restore();
    }
  });

  it('exports the Glue database, workgroup, results bucket and jobs queue', () => {
    template.hasOutput('GlueDatabaseName', { Value: 'funnel' });
    template.hasOutput('AthenaWorkGroupName', { Value: 'funnel' });
    template.hasOutput('AthenaResultsBucketName', { Value: { Ref: ids.results } });
    template.hasOutput('JobsQueueUrl', { Value: { Ref: ids.jobsQueue } });
  });
});
