import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { apiEnvSchema, savedQueryAthena } from '../../functions/api/env.js';
import { compactorEnvSchema } from '../../functions/compactor/env.js';
import { feedsEnvSchema } from '../../functions/feeds/env.js';
import { ingestEnvSchema } from '../../functions/ingest/env.js';
import { jobsEnvSchema } from '../../functions/jobs/env.js';
import { listenerEnvSchema } from '../../functions/listener/env.js';
import { liveEnvSchema } from '../../functions/live/env.js';
import { settleEnvSchema } from '../../functions/settle/env.js';
import { parseEnv } from '../../functions/env.js';
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

const lambdas: Record<string, { id: string; schema: z.ZodObject<z.ZodRawShape> }> = {
  api: { id: logicalId(stack, stack.api.fn), schema: apiEnvSchema },
  ingest: { id: logicalId(stack, stack.ingest.fn), schema: ingestEnvSchema },
  live: { id: logicalId(stack, stack.live.fn), schema: liveEnvSchema },
  compactor: { id: logicalId(stack, stack.compactor.fn), schema: compactorEnvSchema },
  settle: { id: logicalId(stack, stack.compactor.settleFn), schema: settleEnvSchema },
  feeds: { id: logicalId(stack, stack.feeds.fn), schema: feedsEnvSchema },
  jobs: { id: logicalId(stack, stack.jobs.fn), schema: jobsEnvSchema },
};
/** set on every function by infra/lib/function.ts, for the runtime */
const RUNTIME_VARIABLES = new Set(['NODE_OPTIONS']);

describe("each function's environment, as synthesized, against its entry point's schema", () => {
  it('covers every Funnel function in the template', () => {
    const ours = Object.entries(resourcesOf(template, 'AWS::Lambda::Function'))
      .filter(([, fn]) => fn.Properties.Environment?.Variables?.COUNTERS_TABLE !== undefined)
      .map(([id]) => id);
    expect(ours.sort()).toEqual(Object.values(lambdas).map((l) => l.id).sort());
  });

  it.each(Object.keys(lambdas))('%s: parses, and sets nothing the code does not read', (name) => {
    const { id, schema } = lambdas[name]!;
    const variables = resource(template, id).Properties.Environment.Variables as Record<string, unknown>;
    const env = Object.fromEntries(Object.entries(variables).map(([key, value]) => [key, resolve(value)]));
    expect(() => parseEnv(schema, env)).not.toThrow();
    expect(Object.keys(env).filter((key) => !RUNTIME_VARIABLES.has(key) && !(key in schema.shape))).toEqual([]);
    // and a missing variable fails the cold start, naming it
    const required = Object.keys(schema.shape).find((key) => !(schema.shape[key] as z.ZodTypeAny).safeParse(undefined).success)!;
    const { [required]: _dropped, ...without } = env;
    expect(() => parseEnv(schema, without)).toThrow(required);
  });

  it('listener: its container environment parses, and names no variable the code does not read', () => {
    const task = resource(template, logicalId(stack, stack.listener.taskDefinition));
    const container = (task.Properties.ContainerDefinitions as { Environment: { Name: string; Value: unknown }[] }[])[0]!;
    const env = Object.fromEntries(container.Environment.map((e) => [e.Name, resolve(e.Value)]));
    const parsed = parseEnv(listenerEnvSchema, env);
    expect(parsed.RELAY_URLS.length).toBeGreaterThan(0);
    expect(Object.keys(env).filter((key) => !(key in listenerEnvSchema.shape))).toEqual([]);
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
    const variables = fn.Properties.Environment.Variables as Record<string, unknown>;
    const env = parseEnv(apiEnvSchema, Object.fromEntries(Object.entries(variables).map(([key, value]) => [key, resolve(value)])));
    expect(savedQueryAthena(env)).toEqual({ workGroup: stack.analytics.workGroupName, database: stack.analytics.databaseName });
    const statements = statementsOf(template, fn.Properties.Role['Fn::GetAtt'][0] as string);
    const workGroupArn = (name: string) => `arn:\${AWS::Partition}:athena:\${AWS::Region}:\${AWS::AccountId}:workgroup/${name}`;
    expect(allows(statements, 'athena:CreateNamedQuery', workGroupArn(stack.analytics.workGroupName))).toBe(true);
    expect(allows(statements, 'athena:CreateNamedQuery', workGroupArn(stack.analytics.compactorWorkGroupName))).toBe(false);
    const athena = statements.filter((s) => s.Action.some((action) => action.startsWith('athena:')));
    expect(athena.flatMap((s) => s.Action)).toEqual(['athena:CreateNamedQuery']);
    expect(athena.flatMap((s) => s.Resource)).toEqual([workGroupArn(stack.analytics.workGroupName)]);
    expect(statements.some((s) => s.Action.some((action) => action.startsWith('glue:')))).toBe(false);
  });

  it('api: the two Athena variables go together (neither: no saved queries; one alone fails the cold start)', () => {
    expect(savedQueryAthena({})).toBeUndefined();
    expect(() => savedQueryAthena({ ATHENA_WORKGROUP: 'funnel' })).toThrow(/ATHENA_DATABASE/);
    expect(() => savedQueryAthena({ ATHENA_DATABASE: 'funnel' })).toThrow(/ATHENA_WORKGROUP/);
  });
});
