import { Duration } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { Construct } from 'constructs';
import { ANY, counterKeys, grantCounterKeys, stateKey, TABLE_ACTIONS, TARGET_SCOPES, type KeyGrant } from './counter-keys.js';
import { FunnelFunction } from './function.js';
import { addressDeletedNamespace, deletedNamespace, eventNamespace, revisionsNamespace, videosByDayNamespace } from '../../lib/counters/event-index.js';
import { INGEST_HEARTBEAT, WATERMARK } from '../../lib/counters/state.js';
import { FEED_NAMESPACE_PREFIX } from '../../lib/query/feeds.js';

export interface FeedsProps {
  readonly countersTable: Table;
  /** MINUTE_TTL_DAYS, HOUR_TTL_DAYS, DAY_TTL_DAYS: the stats reads plan their windows with them. */
  readonly retentionEnvironment: Record<string, string>;
}

/** How often the stored feeds are recomputed: EventBridge's shortest rate. */
export const FEEDS_INTERVAL = Duration.minutes(1);
/** Finishes (or is cut off) before the next run starts, so two runs never overlap. */
export const FEEDS_TIMEOUT = Duration.seconds(50);
/** One run at a time, so an older answer never overwrites a newer one. */
export const FEEDS_CONCURRENCY = 1;

/**
 * What computing the feeds reads (lib/query/feeds.ts): the watermark and ingest heartbeat (freshness),
 * the by-day video lists, each video's index record, revisions and deletions (NIP-09), and each video's
 * engagement counters (event and address scopes, minute to day); and what it writes: the stored feeds
 * under `feed:*`, nothing else.
 */
export const FEEDS_TABLE_ACCESS: readonly KeyGrant[] = [
  { actions: [TABLE_ACTIONS.get], keys: [stateKey(WATERMARK), stateKey(INGEST_HEARTBEAT), stateKey(eventNamespace(ANY)), stateKey(deletedNamespace(ANY))] },
  {
    actions: [TABLE_ACTIONS.query],
    keys: [
      stateKey(videosByDayNamespace(0).replace(/\d+$/, ANY)),
      stateKey(revisionsNamespace(ANY)),
      stateKey(addressDeletedNamespace(ANY)),
      ...counterKeys(TARGET_SCOPES, ['h', 'd']),
    ],
  },
  { actions: [TABLE_ACTIONS.put], keys: [stateKey(`${FEED_NAMESPACE_PREFIX}${ANY}`)] },
];

/**
 * The feeds function, run on a schedule: computes every video feed GET /api/videos serves into one
 * stored record each, so a read of a feed is one item whatever the number of videos. A missed run
 * leaves the previous answer in place (its `generatedAt` says how old it is); the next run replaces it.
 */
export class Feeds extends Construct {
  readonly fn: FunnelFunction;
  readonly schedule: Rule;

  constructor(scope: Construct, id: string, props: FeedsProps) {
    super(scope, id);

    this.fn = new FunnelFunction(this, 'Function', {
      entry: 'functions/feeds/handler.ts',
      description: 'Funnel feeds: precompute the video feeds (recent, trending) into stored answers',
      timeout: FEEDS_TIMEOUT,
      memorySize: 512,
      // the next scheduled run is the retry
      retryAttempts: 0,
      reservedConcurrentExecutions: FEEDS_CONCURRENCY,
      // a throttled event (a run still going) is dropped once the next one is due
      maxEventAge: FEEDS_INTERVAL,
      environment: {
        COUNTERS_TABLE: props.countersTable.tableName,
        ...props.retentionEnvironment,
      },
    });
    grantCounterKeys(props.countersTable, this.fn, FEEDS_TABLE_ACCESS);

    this.schedule = new Rule(this, 'Schedule', {
      description: 'Recomputes the Funnel video feeds',
      schedule: Schedule.rate(FEEDS_INTERVAL),
      targets: [new LambdaFunction(this.fn, { retryAttempts: 0, maxEventAge: FEEDS_INTERVAL })],
    });
  }
}
