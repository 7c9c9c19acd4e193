import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { apiConfig, apiEnvSchema } from '../../functions/api/env.js';
import { compactorConfig, compactorEnvSchema } from '../../functions/compactor/env.js';
import { feedsConfig, feedsEnvSchema } from '../../functions/feeds/env.js';
import { ingestConfig, ingestEnvSchema } from '../../functions/ingest/env.js';
import { jobsConfig, jobsEnvSchema } from '../../functions/jobs/env.js';
import { listenerConfig, listenerEnvSchema } from '../../functions/listener/env.js';
import { liveConfig, liveEnvSchema } from '../../functions/live/env.js';
import { settleConfig, settleEnvSchema } from '../../functions/settle/env.js';
import { parseEnv } from '../../functions/env.js';
import { DEFAULT_RATE_LIMIT } from '../../lib/api/rate-limit.js';
import { retentionFromEnv } from '../../lib/counters/retention.js';
import { archivePolicyOfDays } from '../../lib/facts/storage-tiers.js';
import { allows, logicalId, resource, resourcesOf, statementsOf, synth } from './synth.js';

/**
 * The deployed shape, held against the code: every function of the synthesized stack gets the
 * environment its entry point's schema requires (parsed as at cold start), and nothing the schema does
 * not know. CloudFormation references stand in as values of their kind (a queue's URL, a secret's ARN).
 */
const { stack, template } = synth();
const resources = template.toJSON().Resources as Record<string, { Type: string; Properties: Record<string, any> }>;

/** A CloudFormation value as a plausible string: what the function would see once deployed. */
function resolve(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as Record<string, any>;
  if ('Ref' in v) {
    const type = resources[v.Ref]?.Type;
    if (type === 'AWS::SQS::Queue') return `https://sqs.us-east-1.amazonaws.com/123456789012/${v.Ref}`;
    if (type === 'AWS::SecretsManager::Secret') return `arn:aws:secretsmanager:us-east-1:123456789012:secret:${v.Ref}`;
    return String(v.Ref);
  }
  if ('Fn::GetAtt' in v) return (v['Fn::GetAtt'] as string[]).join('.');
  if ('Fn::Join' in v) return (v['Fn::Join'][1] as unknown[]).map(resolve).join(v['Fn::Join'][0]);
  throw new Error(`cannot resolve ${JSON.stringify(value)}`);
}

type Schema = z.ZodObject<z.ZodRawShape>;
/** Each entry point: its schema and the configuration it makes at cold start from the parsed environment. */
const lambdas: Record<string, { id: string; schema: Schema; config: (env: Record<string, string>) => unknown }> = {
  api: { id: logicalId(stack, stack.api.fn), schema: apiEnvSchema, config: apiConfig },
  ingest: { id: logicalId(stack, stack.ingest.fn), schema: ingestEnvSchema, config: ingestConfig },
  live: { id: logicalId(stack, stack.live.fn), schema: liveEnvSchema, config: liveConfig },
  compactor: { id: logicalId(stack, stack.compactor.fn), schema: compactorEnvSchema, config: compactorConfig },
  settle: { id: logicalId(stack, stack.compactor.settleFn), schema: settleEnvSchema, config: settleConfig },
  feeds: { id: logicalId(stack, stack.feeds.fn), schema: feedsEnvSchema, config: feedsConfig },
  jobs: { id: logicalId(stack, stack.jobs.fn), schema: jobsEnvSchema, config: jobsConfig },
};
/** set on every function by infra/lib/function.ts, for the runtime */
const RUNTIME_VARIABLES = new Set(['NODE_OPTIONS']);

/** A function's environment as synthesized, resolved to what it would see once deployed. */
function lambdaEnv(name: string): Record<string, string> {
  const variables = resource(template, lambdas[name]!.id).Properties.Environment.Variables as Record<string, unknown>;
  return Object.fromEntries(Object.entries(variables).map(([key, value]) => [key, resolve(value)]));
}

/** The listener container's environment as synthesized. */
function listenerEnv(): Record<string, string> {
  const task = resource(template, logicalId(stack, stack.listener.taskDefinition));
  const container = (task.Properties.ContainerDefinitions as { Environment: { Name: string; Value: unknown }[] }[])[0]!;
  return Object.fromEntries(container.Environment.map((e) => [e.Name, resolve(e.Value)]));
}

/** Every entry point, the listener container included, with the environment the stack gives it. */
const entryPoints = [
  ...Object.entries(lambdas).map(([name, { schema, config }]) => ({ name, schema, config, env: () => lambdaEnv(name) })),
  { name: 'listener', schema: listenerEnvSchema as unknown as Schema, config: listenerConfig as (env: Record<string, string>) => unknown, env: listenerEnv },
];

const isOptional = (schema: Schema, key: string) => (schema.shape[key] as z.ZodTypeAny).safeParse(undefined).success;

/**
 * A malformed value for each optional variable any entry point reads: each must stop the cold start,
 * naming the variable, rather than fall back to its default. A new optional variable needs a line here
 * (or in FREE_FORM) before its test passes.
 */
const MALFORMED: Record<string, string> = {
  MINUTE_TTL_DAYS: 'two months',
  HOUR_TTL_DAYS: '0',
  DAY_TTL_DAYS: '-1',
  NOTE_INDEX_TTL_DAYS: 'x',
  API_RATE_LIMIT_PER_SECOND: '2.5',
  API_RATE_LIMIT_BURST: '0',
  API_RATE_LIMIT_TRACKED_CALLERS: 'many',
  JOB_RESULT_TTL_SECONDS: 'hour',
  JOB_QUOTA_PER_HOUR: '-20',
  ATHENA_BYTES_SCANNED_CUTOFF: '10GB',
  JOB_MAX_SCAN_BYTES: '0',
  FACTS_ARCHIVE_AFTER_DAYS: '59',
  CATCH_UP_SECONDS: '-1',
  HEARTBEAT_FILE: '',
  ATHENA_WORKGROUP: '',
  ATHENA_DATABASE: '',
};

describe("each function's environment, as synthesized, against its entry point's schema", () => {
  it('covers every Funnel function in the template', () => {
    const ours = Object.entries(resourcesOf(template, 'AWS::Lambda::Function'))
      .filter(([, fn]) => fn.Properties.Environment?.Variables?.COUNTERS_TABLE !== undefined)
      .map(([id]) => id);
    expect(ours.sort()).toEqual(Object.values(lambdas).map((l) => l.id).sort());
  });

  it.each(entryPoints.map((e) => e.name))('%s: parses into its configuration, and sets nothing the code does not read', (name) => {
    const { schema, config, env: envOf } = entryPoints.find((e) => e.name === name)!;
    const env = envOf();
    expect(() => config(env)).not.toThrow();
    expect((config(env) as { aws: { countersTable: string } }).aws.countersTable).toBe(env.COUNTERS_TABLE);
    expect(Object.keys(env).filter((key) => !RUNTIME_VARIABLES.has(key) && !(key in schema.shape))).toEqual([]);
  });

  it.each(entryPoints.map((e) => e.name))('%s: each required variable missing fails the cold start, naming it', (name) => {
    const { schema, config, env: envOf } = entryPoints.find((e) => e.name === name)!;
    const required = Object.keys(schema.shape).filter((key) => !isOptional(schema, key));
    expect(required).toContain('COUNTERS_TABLE');
    for (const variable of required) {
      const { [variable]: _dropped, ...without } = envOf();
      expect(() => config(without), variable).toThrow(new RegExp(`invalid environment: (.*; )?${variable} `));
    }
  });

  it.each(entryPoints.map((e) => e.name))('%s: each optional variable, malformed, fails the cold start naming it instead of falling back to its default', (name) => {
    const { schema, config, env: envOf } = entryPoints.find((e) => e.name === name)!;
    for (const variable of Object.keys(schema.shape).filter((key) => isOptional(schema, key))) {
      expect(MALFORMED, `a malformed value of ${variable} for this test`).toHaveProperty(variable);
      expect(() => config({ ...envOf(), [variable]: MALFORMED[variable]! }), variable).toThrow(new RegExp(`invalid environment: (.*; )?${variable} `));
    }
  });

  it('api: saved queries are a feature of two variables: both set, neither (off), or one alone a cold-start failure naming the other', () => {
    const { ATHENA_WORKGROUP, ATHENA_DATABASE, ...neither } = lambdaEnv('api');
    expect(apiConfig(neither).savedQueries).toBeUndefined();
    expect(() => apiConfig({ ...neither, ATHENA_WORKGROUP: ATHENA_WORKGROUP! })).toThrow(/invalid environment: ATHENA_DATABASE is required with ATHENA_WORKGROUP/);
    expect(() => apiConfig({ ...neither, ATHENA_DATABASE: ATHENA_DATABASE! })).toThrow(/invalid environment: ATHENA_WORKGROUP is required with ATHENA_DATABASE/);
  });

  it('the configurations carry what the stack set: retention, rate limit, job settings and limits, archive age, pacing, relays', () => {
    const { config } = stack;
    const retention = retentionFromEnv({ MINUTE_TTL_DAYS: String(config.minuteTtlDays), HOUR_TTL_DAYS: String(config.hourTtlDays), DAY_TTL_DAYS: String(config.dayTtlDays), NOTE_INDEX_TTL_DAYS: String(config.noteIndexTtlDays) });
    const archive = archivePolicyOfDays(config.factsArchiveAfterDays);
    const api = apiConfig(lambdaEnv('api'));
    expect(api).toMatchObject({ retention, rateLimit: DEFAULT_RATE_LIMIT, jobSettings: { resultTtlSeconds: config.jobResultTtlSeconds, perClientPerHour: config.jobQuotaPerHour } });
    expect(api.aws).toMatchObject({ factsBucket: expect.any(String), appApiKeysSecretArn: expect.stringMatching(/^arn:/), queueUrls: { ingest: expect.stringMatching(/^https:/), jobs: expect.stringMatching(/^https:/) } });
    for (const name of ['ingest', 'feeds', 'settle'] as const) expect(lambdas[name]!.config(lambdaEnv(name))).toMatchObject({ retention });
    expect(compactorConfig(lambdaEnv('compactor'))).toMatchObject({ retention, archive, resettle: { hourAfterSeconds: expect.any(Number), dayAfterSeconds: expect.any(Number) } });
    expect(jobsConfig(lambdaEnv('jobs'))).toMatchObject({ archive, limits: { cutoffBytes: config.athenaBytesScannedCutoff }, aws: { athena: { workGroup: stack.analytics.workGroupName, database: stack.analytics.databaseName } } });
    expect(listenerConfig(listenerEnv()).relayUrls).toEqual(config.relayUrls);
  });

  it('api: POST /v1/events can reach the ingest queue (its URL, and permission to send to it)', () => {
    const ingestQueue = logicalId(stack, stack.ingest.queue);
    const fn = resource(template, lambdas.api!.id);
    expect(fn.Properties.Environment.Variables.QUEUE_URL).toEqual({ Ref: ingestQueue });
    const role = fn.Properties.Role['Fn::GetAtt'][0] as string;
    expect(allows(statementsOf(template, role), 'sqs:SendMessage', `\${${ingestQueue}.Arn}`)).toBe(true);
  });

  it("api: saves each schema version's query as a named query in the analysts' workgroup, and may do nothing else in Athena", () => {
    const fn = resource(template, lambdas.api!.id);
    expect(apiConfig(lambdaEnv('api')).savedQueries).toEqual({ workGroup: stack.analytics.workGroupName, database: stack.analytics.databaseName });
    const statements = statementsOf(template, fn.Properties.Role['Fn::GetAtt'][0] as string);
    const workGroupArn = (name: string) => `arn:\${AWS::Partition}:athena:\${AWS::Region}:\${AWS::AccountId}:workgroup/${name}`;
    expect(allows(statements, 'athena:CreateNamedQuery', workGroupArn(stack.analytics.workGroupName))).toBe(true);
    expect(allows(statements, 'athena:CreateNamedQuery', workGroupArn(stack.analytics.compactorWorkGroupName))).toBe(false);
    const athena = statements.filter((s) => s.Action.some((action) => action.startsWith('athena:')));
    expect(athena.flatMap((s) => s.Action)).toEqual(['athena:CreateNamedQuery']);
    expect(athena.flatMap((s) => s.Resource)).toEqual([workGroupArn(stack.analytics.workGroupName)]);
    expect(statements.some((s) => s.Action.some((action) => action.startsWith('glue:')))).toBe(false);
  });

  it('parseEnv names every problem at once', () => {
    expect(() => parseEnv(liveEnvSchema, {})).toThrow(/^invalid environment: COUNTERS_TABLE /);
    expect(() => parseEnv(ingestEnvSchema, { COUNTERS_TABLE: 't', MINUTE_TTL_DAYS: 'x' })).toThrow(/FACTS_BUCKET .*; MINUTE_TTL_DAYS .*; LIVE_QUEUE_URL /);
  });
});
