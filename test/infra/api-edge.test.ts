import { describe, expect, it } from 'vitest';
import { logicalIds, resource, roleIdOf, statementsOf, synth } from './synth.js';
import { DEFAULT_RATE_LIMIT, rateLimitEnvironment } from '../../lib/api/rate-limit.js';

const { stack, template } = synth();
const ids = logicalIds(stack, {
  api: stack.api.fn,
  bucket: stack.storage.factsBucket,
  table: stack.storage.countersTable,
  jobsQueue: stack.jobs.queue,
  ingestQueue: stack.ingest.queue,
  secret: stack.api.appApiKeys,
});
const api = resource(template, ids.api);
const statements = statementsOf(template, roleIdOf(api));
const on = (prefix: string) => statements.filter((s) => s.Action.some((a) => a.startsWith(prefix)));

describe('the api function holds only what the HTTP edge uses', () => {
  it('reads objects only under jobs/ (job results) and writes or deletes none', () => {
    const s3 = on('s3:');
    expect(s3.filter((s) => s.Action.includes('s3:GetObject')).flatMap((s) => s.Resource)).toEqual([`\${${ids.bucket}.Arn}/jobs/*`]);
    expect(s3.filter((s) => s.Action.includes('s3:ListBucket')).flatMap((s) => s.Resource)).toEqual([`\${${ids.bucket}.Arn}`]);
    expect(s3.flatMap((s) => s.Action).sort()).toEqual(['s3:GetObject', 's3:ListBucket']);
  });

  it('reads the counters table itself (no index, no Scan) and writes only under the job, quota and schema-registry keys', () => {
    const dynamo = on('dynamodb:');
    expect(dynamo.flatMap((s) => s.Resource).every((r) => r === `\${${ids.table}.Arn}`)).toBe(true);
    expect(dynamo).toEqual([
      { Action: ['dynamodb:GetItem', 'dynamodb:Query'], Resource: [`\${${ids.table}.Arn}`] },
      {
        Action: ['dynamodb:PutItem', 'dynamodb:UpdateItem'],
        Resource: [`\${${ids.table}.Arn}`],
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['s:job:*', 'quota:*', 's:schema:*:*', 's:schemas:*', 's:project:*'] } },
      },
    ]);
  });

  it('sends only to the jobs queue and the ingest queue (POST /v1/events), reads only its API keys secret, and only saves Athena queries', () => {
    expect(on('sqs:').flatMap((s) => s.Resource).sort()).toEqual([`\${${ids.ingestQueue}.Arn}`, `\${${ids.jobsQueue}.Arn}`].sort());
    expect(api.Properties.Environment.Variables).toMatchObject({ QUEUE_URL: { Ref: ids.ingestQueue }, JOBS_QUEUE_URL: { Ref: ids.jobsQueue } });
    expect(on('secretsmanager:').flatMap((s) => s.Resource)).toEqual([`\${${ids.secret}}`]);
    const services = new Set(statements.flatMap((s) => s.Action.map((a) => a.split(':')[0])));
    expect([...services].sort()).toEqual(['athena', 'dynamodb', 'logs', 's3', 'secretsmanager', 'sqs']);
    // each registered schema version's saved query (PUT /v1/schemas): nothing else of Athena
    expect(on('athena:').flatMap((s) => s.Action)).toEqual(['athena:CreateNamedQuery']);
  });

  it('is configured with the per-caller rate limit', () => {
    expect(api.Properties.Environment.Variables).toMatchObject(rateLimitEnvironment(DEFAULT_RATE_LIMIT));
    expect(api.Properties.Environment.Variables.API_RATE_LIMIT_BURST).toBe(String(DEFAULT_RATE_LIMIT.burst));
  });
});
