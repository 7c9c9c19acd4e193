import { Duration } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { Bucket } from 'aws-cdk-lib/aws-s3';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { consumerQueues } from './queues.js';
import { Construct } from 'constructs';
import { FunnelFunction, S3_OBJECT_ACTIONS } from './function.js';
import { ANY, engagerKey, grantCounterKeys, stateKey, TABLE_ACTIONS, type KeyGrant } from './counter-keys.js';
import { likersList, zappersList } from '../../lib/counters/engager-lists.js';
import { projectSettingsNamespace, schemaVersionsNamespace } from '../../lib/app/schemas.js';
import { dimensionValuesNamespace } from '../../lib/app/dimension-values.js';
import {
  addressDeletedNamespace,
  deletedNamespace,
  eventNamespace,
  revisionsNamespace,
  videosByAuthorNamespace,
  videosByDayNamespace,
  videosByTagNamespace,
} from '../../lib/counters/event-index.js';
import { DIRTY_HOURS, DRIFT_HOURS, INGEST_HEARTBEAT } from '../../lib/counters/state.js';
import { FACTS_PREFIX } from '../../lib/facts/partition.js';

export interface IngestProps {
  readonly factsBucket: Bucket;
  readonly countersTable: Table;
  /** Messages per invocation at most (each message packs up to ~100 events). */
  readonly batchSize: number;
  /** Seconds the event source waits to fill a batch. */
  readonly batchWindowSeconds: number;
  /** MINUTE_TTL_DAYS, HOUR_TTL_DAYS, DAY_TTL_DAYS. */
  readonly retentionEnvironment: Record<string, string>;
  /** where ingest sends its batches' live minute deltas (LiveCounters.queue) */
  readonly liveQueue: Queue;
}

/** Timeout of the ingest function; the queue's visibility timeout is six times this. */
export const INGEST_TIMEOUT = Duration.seconds(60);
/** Receives before a message is moved to the dead-letter queue. */
export const MAX_RECEIVE_COUNT = 5;

/**
 * What ingest writes in the counters table, and what it reads (reply parents, app event schemas): the event index
 * (lib/counters/event-index.ts), the engager lists (lib/counters/engager-lists.ts), dirty-hour marks
 * and its heartbeat (lib/counters/state.ts). Its live
 * minute deltas go to the live queue (infra/lib/live-counters.ts), whose function adds them. Counter
 * items, the watermark, checkpoints, jobs and quotas are out of its reach.
 */
export const INGEST_TABLE_ACCESS: readonly KeyGrant[] = [
  {
    actions: [TABLE_ACTIONS.batchWrite],
    keys: [eventNamespace, revisionsNamespace, deletedNamespace, addressDeletedNamespace, videosByDayNamespace, videosByAuthorNamespace, videosByTagNamespace].map(
      (namespace) => stateKey((namespace as (id: string) => string)(ANY)),
    ),
  },
  { actions: [TABLE_ACTIONS.put], keys: [stateKey(DIRTY_HOURS), stateKey(DRIFT_HOURS), stateKey(INGEST_HEARTBEAT), stateKey(dimensionValuesNamespace(ANY, ANY, ANY))] },
  { actions: [TABLE_ACTIONS.update], keys: [engagerKey(likersList(ANY)), engagerKey(zappersList(ANY))] },
  // a reply's parent in the event index, when its tags do not say whom it answers (resolveReplyTargets);
  // a project's settings and its app event types' schemas (lib/app/schemas.ts)
  { actions: [TABLE_ACTIONS.get], keys: [stateKey(eventNamespace(ANY)), stateKey(projectSettingsNamespace(ANY))] },
  // an app event type's admitted dimension values, read and (conditionally) taken (lib/app/dimension-values.ts)
  { actions: [TABLE_ACTIONS.query], keys: [stateKey(schemaVersionsNamespace(ANY, ANY)), stateKey(dimensionValuesNamespace(ANY, ANY, ANY))] },
];

/**
 * The ingest path: the SQS queue (with its DLQ) fed by the listener and the API, and the ingest
 * function consuming it in batches, reporting per-message failures so only those are redelivered.
 */
export class Ingest extends Construct {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly fn: FunnelFunction;

  constructor(scope: Construct, id: string, props: IngestProps) {
    super(scope, id);

    ({ queue: this.queue, deadLetterQueue: this.deadLetterQueue } = consumerQueues(this, {
      functionTimeout: INGEST_TIMEOUT,
      batchWindowSeconds: props.batchWindowSeconds,
      retention: Duration.days(4),
      maxReceiveCount: MAX_RECEIVE_COUNT,
    }));

    this.fn = new FunnelFunction(this, 'Function', {
      entry: 'functions/ingest/handler.ts',
      description: 'Funnel ingest: validate, verify and normalise Nostr events; write Parquet facts and live counters',
      timeout: INGEST_TIMEOUT,
      memorySize: 1024,
      environment: {
        FACTS_BUCKET: props.factsBucket.bucketName,
        COUNTERS_TABLE: props.countersTable.tableName,
        LIVE_QUEUE_URL: props.liveQueue.queueUrl,
        ...props.retentionEnvironment,
      },
    });
    this.fn.grantObjects(props.factsBucket, {
      actions: S3_OBJECT_ACTIONS.write,
      prefix: FACTS_PREFIX,
      purpose: 'ingest writes one new Parquet object per hour partition per batch, under keys only known at run time',
    });
    grantCounterKeys(props.countersTable, this.fn, INGEST_TABLE_ACCESS);
    props.liveQueue.grantSendMessages(this.fn);

    this.fn.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: props.batchSize,
        maxBatchingWindow: Duration.seconds(props.batchWindowSeconds),
        reportBatchItemFailures: true,
      }),
    );
  }
}
