import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';
import { App, Stack, type AppProps } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { FunnelStack } from '../../infra/lib/funnel-stack.js';
import { repoPath } from '../../infra/lib/paths.js';

export type Resource = { Type: string; Properties: Record<string, any>; DeletionPolicy?: string; DependsOn?: string[] };

/** The context of cdk.json (feature flags and defaults), so the tests see what `cdk synth` sees. */
export const cdkJsonContext: Record<string, unknown> = JSON.parse(readFileSync(repoPath('cdk.json'), 'utf8')).context;

/**
 * A CDK App for a test, its output in the run's temp dir (test/support/temp-root.ts removes it after the
 * run). Without an outdir an App synthesizes into a new cdk.out* directory that nothing removes: 30-odd
 * per suite, ≈ 120 MB, in /dev/shm (memory) where there is one.
 */
export function testApp(props: Omit<AppProps, 'outdir'> = {}): App {
  return new App({ ...props, outdir: mkdtempSync(join(inject('runTempDir'), 'cdk-')) });
}

/** The Funnel stack with cdk.json's context plus `context`, without Lambda bundling (no esbuild run). */
export function synth(context: Record<string, unknown> = {}) {
  const app = testApp({
    context: {
      ...cdkJsonContext,
      ...context,
      // no Lambda bundling (fast, no esbuild run); the Docker image asset is only staged, never built
      'aws:cdk:bundling-stacks': [],
    },
  });
  const stack = new FunnelStack(app, 'Funnel');
  return { app, stack, template: Template.fromStack(stack) };
}

export function logicalId(stack: Stack, construct: { node: { defaultChild?: unknown } } | object): string {
  const child = 'node' in construct ? ((construct as { node: { defaultChild?: unknown } }).node.defaultChild ?? construct) : construct;
  return stack.getLogicalId(child as never);
}

/** The logical ids of named constructs: `logicalIds(stack, { api: stack.api.fn })` is `{ api: 'ApiFunction…' }`. */
export function logicalIds<K extends string>(stack: Stack, constructs: Record<K, object>): Record<K, string> {
  return Object.fromEntries(Object.entries<object>(constructs).map(([name, construct]) => [name, logicalId(stack, construct)])) as Record<K, string>;
}

export function resource(template: Template, id: string): Resource {
  const found = template.toJSON().Resources[id] as Resource | undefined;
  if (!found) throw new Error(`no resource ${id}`);
  return found;
}

export function resourcesOf(template: Template, type: string): Record<string, Resource> {
  return template.findResources(type) as Record<string, Resource>;
}

/** Renders Fn::Join / Ref / Fn::GetAtt as a readable string: `s3://${Bucket}/facts/`. */
export function flat(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const v = value as Record<string, any>;
    if ('Fn::Join' in v) return (v['Fn::Join'][1] as unknown[]).map(flat).join(v['Fn::Join'][0]);
    if ('Ref' in v) return `\${${v.Ref}}`;
    if ('Fn::GetAtt' in v) return `\${${v['Fn::GetAtt'].join('.')}}`;
  }
  return JSON.stringify(value);
}

export type Statement = { Action: string[]; Resource: string[]; Condition?: Record<string, any> };

/** The logical id of a Lambda function's role. */
export function roleIdOf(fn: Resource): string {
  return fn.Properties.Role['Fn::GetAtt'][0] as string;
}

/** The statements of the inline policies attached to a role. */
export function statementsOf(template: Template, roleId: string): Statement[] {
  const policies = template.findResources('AWS::IAM::Policy', {
    Properties: { Roles: Match.arrayWith([{ Ref: roleId }]) },
  });
  return Object.values(policies).flatMap((p: any) =>
    p.Properties.PolicyDocument.Statement.map((s: any) => ({
      Action: Array.isArray(s.Action) ? s.Action : [s.Action],
      Resource: (Array.isArray(s.Resource) ? s.Resource : [s.Resource]).map(flat),
      ...(s.Condition ? { Condition: s.Condition } : {}),
    })),
  );
}

/** IAM `StringLike`: `*` matches any run of characters, `?` any one character. */
export function stringLike(pattern: string, value: string): boolean {
  const regex = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${regex}$`, 's').test(value);
}

/**
 * Whether one of the role's statements (all Allow, as statementsOf returns them) grants `action` on
 * `resource` (rendered as `flat` renders ARNs: `${Bucket.Arn}/facts/x`) for a request touching the
 * partition keys `leadingKeys`. Only the condition this stack uses is understood; any other fails loudly.
 */
export function allows(statements: Statement[], action: string, resource: string, leadingKeys: readonly string[] = []): boolean {
  return statements.some((s) => {
    if (!s.Action.includes(action) || !s.Resource.some((r) => stringLike(r, resource))) return false;
    if (!s.Condition) return true;
    const { 'ForAllValues:StringLike': like, ...other } = s.Condition;
    const { 'dynamodb:LeadingKeys': patterns, ...otherKeys } = (like ?? {}) as Record<string, string[]>;
    if (Object.keys(other).length || Object.keys(otherKeys).length || !patterns) throw new Error(`allows() cannot evaluate ${JSON.stringify(s.Condition)}`);
    return leadingKeys.every((key) => patterns.some((p) => stringLike(p, key)));
  });
}
