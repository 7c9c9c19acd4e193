import { readFileSync } from 'node:fs';
import { Stack, Validations } from 'aws-cdk-lib';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { FunnelStack } from '../../infra/lib/funnel-stack.js';
import { MIN_REASON_LENGTH } from '../../infra/lib/nag.js';
import { repoPath } from '../../infra/lib/paths.js';
import { cdkJsonContext, logicalId, synth, testApp } from './synth.js';

/**
 * cdk-nag 3 is a CDK policy-validation plugin: it reports violations (severity error or warning) to
 * the validation framework instead of adding annotations, and rules are suppressed with
 * `Validations.of(construct).acknowledge(...)`. `validateScope` runs the same checks directly.
 */
function findings(stack: Stack): string[] {
  const report = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(stack);
  return report.violations.flatMap((v) =>
    v.violatingResources.map((r) => `${v.severity ?? 'error'} ${v.ruleName} at ${r.constructPath}: ${v.description.slice(0, 120)}`),
  );
}

/**
 * Every acknowledgment in the tree: where, which rule, why. (aws-cdk-lib acknowledges some of its own
 * CloudFormation-Validate rules on the constructs it builds; those are not the app's and are skipped.)
 */
function acknowledgments(root: IConstruct): { path: string; id: string; reason: string }[] {
  return root.node.findAll().flatMap((c) =>
    c.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY && m.data)
      .flatMap((m) =>
        Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({
          path: c.node.path,
          id: id.replace(/^annotation::/i, ''),
          reason,
        })),
      )
      .filter((ack) => !ack.id.startsWith('CloudFormation-Validate::')),
  );
}

describe('cdk-nag AwsSolutions', () => {
  it.each([
    ['the defaults', {}],
    ['cloudFront=true', { cloudFront: true }],
    ['a parked listener and an alarm email', { listenerDesiredCount: 0, alarmEmail: 'ops@example.com' }],
  ])('finds no unacknowledged error or warning with %s', (_name, context) => {
    const { stack } = synth(context);
    expect(findings(stack)).toEqual([]);
  });

  it('would report a non-compliant resource (the check is not vacuous)', () => {
    const { stack } = synth();
    new Queue(stack, 'PlainQueue', { enforceSSL: false });
    const reported = findings(stack);
    expect(reported.some((f) => f.includes('AwsSolutions-SQS3') && f.includes('Funnel/PlainQueue'))).toBe(true);
    expect(reported.some((f) => f.includes('AwsSolutions-SQS4') && f.includes('Funnel/PlainQueue'))).toBe(true);
  });

  it('every acknowledgment names an AwsSolutions rule on a resource and gives a specific reason', () => {
    const { stack } = synth({ cloudFront: true });
    const acks = acknowledgments(stack.node.root);
    expect(acks.length).toBeGreaterThan(0);
    for (const ack of acks) {
      expect(ack.id, ack.path).toMatch(/^AwsSolutions-[A-Z0-9]+(\[.+\])?$/);
      expect(ack.reason.trim().length, `${ack.id} at ${ack.path}`).toBeGreaterThanOrEqual(MIN_REASON_LENGTH);
      // on a resource (or the construct that owns it), never the whole stack or app
      expect(ack.path.split('/').length, `${ack.id} at ${ack.path}`).toBeGreaterThan(2);
    }
    // IAM wildcards are acknowledged finding by finding, never the whole rule
    expect(acks.filter((a) => a.id.startsWith('AwsSolutions-IAM5')).every((a) => a.id.includes('['))).toBe(true);
    expect(acks.some((a) => a.id === 'AwsSolutions-IAM4')).toBe(false);
  });

  it('acknowledges exactly these rules, where they are inherent', () => {
    const { stack } = synth({ cloudFront: true });
    const facts = logicalId(stack, stack.storage.factsBucket);
    const results = logicalId(stack, stack.analytics.resultsBucket);
    const byPath = new Map<string, string[]>();
    for (const ack of acknowledgments(stack.node.root)) byPath.set(ack.path, [...(byPath.get(ack.path) ?? []), ack.id].sort());
    expect(Object.fromEntries(byPath)).toEqual({
      'Funnel/Storage/AccessLogsBucket': ['AwsSolutions-S1'],
      'Funnel/Ingest/Function': ['AwsSolutions-L1'],
      'Funnel/Ingest/FunctionRole': [`AwsSolutions-IAM5[Resource::<${facts}.Arn>/facts/*]`],
      'Funnel/Live/Function': ['AwsSolutions-L1'],
      'Funnel/Jobs/Function': ['AwsSolutions-L1'],
      'Funnel/Jobs/FunctionRole': [
        `AwsSolutions-IAM5[Resource::<${results}.Arn>/*]`,
        `AwsSolutions-IAM5[Resource::<${facts}.Arn>/facts/*]`,
        `AwsSolutions-IAM5[Resource::<${facts}.Arn>/jobs/*]`,
      ].sort(),
      'Funnel/Api/AppApiKeys': ['AwsSolutions-SMG4'],
      'Funnel/Api/Function': ['AwsSolutions-L1'],
      'Funnel/Api/FunctionRole': [`AwsSolutions-IAM5[Resource::<${facts}.Arn>/jobs/*]`],
      'Funnel/Api/HttpApi': ['AwsSolutions-APIG4'],
      'Funnel/Cdn/Distribution': ['AwsSolutions-CFR1', 'AwsSolutions-CFR2', 'AwsSolutions-CFR3', 'AwsSolutions-CFR4'],
      'Funnel/Compactor/Function': ['AwsSolutions-L1'],
      'Funnel/Feeds/Function': ['AwsSolutions-L1'],
      'Funnel/Compactor/FunctionRole': [
        `AwsSolutions-IAM5[Resource::<${results}.Arn>/athena/compactor/*]`,
        `AwsSolutions-IAM5[Resource::<${facts}.Arn>/counters/changes/*]`,
        `AwsSolutions-IAM5[Resource::<${facts}.Arn>/counters/manifests/*]`,
        `AwsSolutions-IAM5[Resource::<${facts}.Arn>/counters/results/*]`,
        `AwsSolutions-IAM5[Resource::<${facts}.Arn>/facts/*]`,
        `AwsSolutions-IAM5[Resource::<${facts}.Arn>/quarantine/*]`,
        `AwsSolutions-IAM5[Resource::<${facts}.Arn>/staging/compaction/*]`,
      ],
      'Funnel/Compactor/SettleFunction': ['AwsSolutions-L1'],
      'Funnel/Compactor/SettleFunctionRole': [
        `AwsSolutions-IAM5[Resource::<${results}.Arn>/athena/compactor/*]`,
        `AwsSolutions-IAM5[Resource::<${facts}.Arn>/counters/changes/*]`,
        `AwsSolutions-IAM5[Resource::<${facts}.Arn>/counters/manifests/*]`,
        `AwsSolutions-IAM5[Resource::<${facts}.Arn>/counters/results/*]`,
        `AwsSolutions-IAM5[Resource::<${facts}.Arn>/facts/*]`,
      ],
      'Funnel/Listener/TaskDefinition': ['AwsSolutions-ECS2'],
      'Funnel/Listener/TaskDefinition/ExecutionRole': ['AwsSolutions-IAM5[Resource::*]'],
    });
  });

  it('runs in `cdk synth` as a validation plugin: the app synthesizes clean, and a finding fails the synth', () => {
    const bin = readFileSync(repoPath('infra/bin/funnel.ts'), 'utf8');
    expect(bin).toMatch(/Validations\.of\(app\)\.addPlugins\(new AwsSolutionsChecks\(app/);

    const make = () => {
      const app = testApp({ context: { ...cdkJsonContext, 'aws:cdk:bundling-stacks': [] } });
      const stack = new FunnelStack(app, 'Funnel');
      Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
      return { app, stack };
    };
    const clean = make();
    expect(() => clean.app.synth()).not.toThrow();

    const dirty = make();
    new Queue(dirty.stack, 'PlainQueue', { enforceSSL: false });
    expect(() => dirty.app.synth()).toThrow();
  });
});
