import { Duration } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { consumerQueues } from './queues.js';
import { FunnelFunction } from './function.js';
import { counterKey, counterKeys, grantCounterKeys, MINUTE_COUNTED_SCOPES, TARGET_SCOPES, stateKey, TABLE_ACTIONS, type KeyGrant } from './counter-keys.js';
import { GLOBAL_SCOPE, REJECTIONS_SCOPE } from '../../lib/counters/contributions.js';
import { DIRTY_HOURS, DRIFT_HOURS } from '../../lib/counters/state.js';
import { LIVE_BATCH_MESSAGES, LIVE_BATCH_WINDOW_SECONDS, LIVE_MAX_CONCURRENCY } from '../../lib/counters/live-queue.js';

/** Timeout of the live function: a merged batch (≤ 6 MB of deltas) is at most a few ten thousand UpdateItems. */
export const LIVE_TIMEOUT = Duration.seconds(120);
const MAX_RECEIVE_COUNT = 5;

/**
 * Live minute counters (hour counters of per-event and per-address scopes) and the global rejection
 * totals (`g#all`), added from merged deltas, and the dirty/drift marks of a redelivered batch's hours.
 * Nothing else.
 */
export const LIVE_TABLE_ACCESS: readonly KeyGrant[] = [
  {
    actions: [TABLE_ACTIONS.update],
    keys: [...counterKeys([...MINUTE_COUNTED_SCOPES, REJECTIONS_SCOPE], ['m']), ...counterKeys(TARGET_SCOPES, ['h']), counterKey(GLOBAL_SCOPE, 'all')],
  },
  { actions: [TABLE_ACTIONS.put], keys: [stateKey(DIRTY_HOURS), stateKey(DRIFT_HOURS)] },
];

export interface LiveCountersProps {
  readonly countersTable: Table;
}

/** The live queue (fed by ingest) and the function that merges its batches into live minute counters. */
export class LiveCounters extends Construct {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly fn: FunnelFunction;

  constructor(scope: Construct, id: string, props: LiveCountersProps) {
    super(scope, id);
    ({ queue: this.queue, deadLetterQueue: this.deadLetterQueue } = consumerQueues(this, {
      functionTimeout: LIVE_TIMEOUT,
      batchWindowSeconds: LIVE_BATCH_WINDOW_SECONDS,
      retention: Duration.days(4),
      maxReceiveCount: MAX_RECEIVE_COUNT,
    }));
    this.fn = new FunnelFunction(this, 'Function', {
      entry: 'functions/live/handler.ts',
      description: 'Funnel live counters: merge batches of ingest deltas into live minute counters',
      timeout: LIVE_TIMEOUT,
      memorySize: 1024,
      environment: { COUNTERS_TABLE: props.countersTable.tableName },
    });
    grantCounterKeys(props.countersTable, this.fn, LIVE_TABLE_ACCESS);
    this.fn.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: LIVE_BATCH_MESSAGES,
        maxBatchingWindow: Duration.seconds(LIVE_BATCH_WINDOW_SECONDS),
        maxConcurrency: LIVE_MAX_CONCURRENCY,
        reportBatchItemFailures: true,
      }),
    );
  }
}
