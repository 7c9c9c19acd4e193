import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { addressScope, eventScope, GLOBAL_SCOPE, projectScope, userScope } from '../../lib/counters/contributions.js';
import type { Granularity } from '../../lib/ports.js';
import { counterPartitionKey, engagerPartitionKey, statePartitionKey } from '../../lib/adapters/aws/dynamodb-counter-store.js';

/** Matches any characters in an IAM `StringLike` pattern. */
export const ANY = '*';

/**
 * Partition keys of the counters table, from the DynamoDB adapter's own key functions: a counter item is
 * `<scope>#<granularity>`, a state record `s:<namespace>`. test/infra/stack.test.ts runs the listener,
 * ingest, compactor and jobs code through the real adapter (on dynalite) and checks every key it
 * touches against the policies built from these.
 */
export const counterKey = (scope: string, granularity: Granularity | typeof ANY) => counterPartitionKey(scope, granularity);
export const stateKey = (namespace: string) => statePartitionKey(namespace);
/** An engager list's rows (`l:<list>`, lib/counters/engager-lists.ts). */
export const engagerKey = (list: string) => engagerPartitionKey(list);

/**
 * Every scope an accepted fact counts into (lib/counters/contributions.ts), as patterns; ingest also
 * counts rejections under REJECTIONS_SCOPE. The per-event and per-address scopes (`isTargetScope`) are
 * counted live per hour and have no minute items.
 */
export const TARGET_SCOPES = [eventScope(ANY), addressScope(ANY)];
export const MINUTE_COUNTED_SCOPES = [GLOBAL_SCOPE, userScope(ANY), projectScope(ANY)];

/** Counter keys of every scope in `scopes` at each granularity in `granularities`. */
export const counterKeys = (scopes: readonly string[], granularities: readonly Granularity[]) =>
  scopes.flatMap((scope) => granularities.map((granularity) => counterKey(scope, granularity)));

/** The keys of every item settling writes: minute, ten-minute, hour, quarter-day and day items; user and network weeks (weeks.ts); per-event and per-address hours and days. */
export const SETTLED_COUNTER_KEYS = [
  ...counterKeys(MINUTE_COUNTED_SCOPES, ['m', 't', 'h', 'q', 'd']),
  ...counterKeys([GLOBAL_SCOPE, userScope(ANY)], ['w']),
  ...counterKeys(TARGET_SCOPES, ['h', 'd']),
];

/**
 * The table actions the adapter's calls need, by what they do: getState is GetItem; range and
 * listState are Query; putState and putStateIfAbsent (conditional) are PutItem; put and putStates are BatchWriteItem; add is UpdateItem;
 * deleteStateIf is DeleteItem; addEngagers is UpdateItem and engagerPage Query. Scan is never granted: it names no partition key, and a
 * `ForAllValues` condition holds for a request with no keys at all.
 */
export const TABLE_ACTIONS = {
  get: 'dynamodb:GetItem',
  query: 'dynamodb:Query',
  put: 'dynamodb:PutItem',
  batchWrite: 'dynamodb:BatchWriteItem',
  update: 'dynamodb:UpdateItem',
  delete: 'dynamodb:DeleteItem',
} as const;
export type TableAction = (typeof TABLE_ACTIONS)[keyof typeof TABLE_ACTIONS];

/** Some table actions, allowed only on items whose partition key matches one of `keys` (IAM StringLike). */
export interface KeyGrant {
  readonly actions: readonly TableAction[];
  readonly keys: readonly string[];
}

/**
 * Grants each KeyGrant on the counters table as one statement with a `dynamodb:LeadingKeys` condition:
 * every partition key a request touches (all of them, for a BatchWriteItem) must match a pattern.
 */
export function grantCounterKeys(table: ITable, grantee: IGrantable, grants: readonly KeyGrant[]): void {
  for (const grant of grants) {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: [...grant.actions],
        resources: [table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [...grant.keys] } },
      }),
    );
  }
}
