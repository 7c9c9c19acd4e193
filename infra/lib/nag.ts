import { CfnElement, Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * cdk-nag 3 (AwsSolutions) acknowledgments. cdk-nag 3 runs as a CDK policy-validation plugin
 * (`Validations.of(app).addPlugins(new AwsSolutionsChecks(app))` in infra/bin/funnel.ts), and a rule
 * is suppressed with CDK's own `Validations.of(construct).acknowledge({ id, reason })`, which covers the
 * construct and everything under it. Every acknowledgment here carries the reason it is safe;
 * test/infra/nag.test.ts checks there are no unacknowledged findings and that every reason says
 * something (at least MIN_REASON_LENGTH characters).
 */
export const MIN_REASON_LENGTH = 20;

/** Acknowledges one cdk-nag rule (or one finding, `AwsSolutions-IAM5[Resource::…]`) on a construct and its children. */
export function acknowledge(scope: IConstruct, id: string, reason: string): void {
  if (!/^AwsSolutions-[A-Z0-9]+(\[.+\])?$/.test(id)) throw new Error(`not an AwsSolutions rule id: ${id}`);
  if (reason.trim().length < MIN_REASON_LENGTH) throw new Error(`acknowledging ${id} needs a reason of at least ${MIN_REASON_LENGTH} characters`);
  Validations.of(scope).acknowledge({ id, reason });
}

/**
 * How cdk-nag names a wildcard resource under a construct's ARN in an IAM5 finding:
 * `AwsSolutions-IAM5[Resource::<LogicalId.Arn>/suffix]`.
 */
export function arnWildcardFinding(resource: IConstruct, suffix: string): string {
  const element = (resource.node.defaultChild ?? resource) as CfnElement;
  return `AwsSolutions-IAM5[Resource::<${Stack.of(resource).getLogicalId(element)}.Arn>${suffix}]`;
}
