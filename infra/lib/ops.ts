import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  MathExpression,
  Metric,
  TextWidget,
  TreatMissingData,
  type IMetric,
  type IWidget,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { FargateService } from 'aws-cdk-lib/aws-ecs';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRIC, METRICS, METRICS_NAMESPACE, type MetricName } from '../../lib/metrics/names.js';
import { MAX_RECEIVE_COUNT } from './ingest.js';
import { JOBS_MAX_RECEIVE_COUNT } from './jobs.js';

/**
 * The dimensions each Funnel metric is emitted with, from the metric catalogue (lib/metrics/names.ts:
 * one dimension set per metric): the alarms match these exactly, the dashboard searches over them. A
 * metric emitted with other dimensions is a different CloudWatch metric.
 */
export const METRIC_DIMENSIONS: Readonly<Record<MetricName, readonly string[]>> = Object.fromEntries(
  Object.values(METRICS).map((def) => [def.name, def.dimensions]),
) as Record<MetricName, readonly string[]>;

export interface OpsProps {
  readonly ingestQueue: Queue;
  readonly deadLetterQueue: Queue;
  readonly jobsDeadLetterQueue: Queue;
  /** the live counters' queue (fed by ingest) and its dead-letter queue */
  readonly liveQueue: Queue;
  readonly liveDeadLetterQueue: Queue;
  /** the settle workers' dead-letter queue (shard tasks that failed every attempt) */
  readonly settleDeadLetterQueue: Queue;
  /** Functions whose errors and throttles raise an alarm, by a short name. */
  readonly functions: Record<string, IFunction>;
  readonly httpApi: HttpApi;
  readonly listenerService: FargateService;
  readonly listenerDesiredCount: number;
  /** When set, subscribed to the alarm topic by email. */
  readonly alarmEmail?: string;
  /** Alarm when IngestLagMs p90 stays above this many seconds for 3 periods of 5 minutes. */
  readonly ingestLagAlarmSeconds: number;
  /** Alarm when WatermarkStalenessMs exceeds this many minutes (or the compactor stops reporting it). */
  readonly watermarkStalenessAlarmMinutes: number;
  /** Alarm when a dead-letter queue holds at least this many messages. */
  readonly dlqDepthAlarm: number;
}

/** A metric in the Funnel namespace, with no dimensions. */
function funnelMetric(metricName: MetricName, statistic: string, period: Duration, label?: string): Metric {
  return new Metric({ namespace: METRICS_NAMESPACE, metricName, statistic, period, ...(label ? { label } : {}) });
}

/**
 * One Funnel metric summed over every value of its dimensions, as a CloudWatch Metrics Insights query
 * (alarms accept one that returns a single series). SCHEMA names the dimension set the metric is
 * emitted with, so the sum needs no list of dimension values (which stores can fault) kept in step
 * with the code that emits them.
 */
function funnelSum(metricName: MetricName, period: Duration, label: string): MathExpression {
  const schema = [`"${METRICS_NAMESPACE}"`, ...METRIC_DIMENSIONS[metricName]].join(', ');
  return new MathExpression({ expression: `SELECT SUM(${metricName}) FROM SCHEMA(${schema})`, usingMetrics: {}, period, label });
}

/** Every series of a Funnel metric across the values of its dimension (one line per Kind, Reason, Route…). */
function searchByDimension(metricName: MetricName, statistic: string, period: Duration, label?: string): MathExpression {
  const dimensions = METRIC_DIMENSIONS[metricName];
  const schema = [METRICS_NAMESPACE, ...dimensions].join(',');
  // a CloudWatch dynamic label: each series is named by its dimension value (`1`, `bad_sig`, a route…)
  const dynamic = dimensions.map((d) => `\${PROP('Dim.${d}')}`).join(' ');
  return new MathExpression({
    expression: `SEARCH('{${schema}} MetricName="${metricName}"', '${statistic}', ${period.toSeconds()})`,
    usingMetrics: {},
    period,
    label: [dynamic, label].filter(Boolean).join(' ') || metricName,
  });
}

/**
 * Operations: the alarm topic (KMS-encrypted, CloudWatch may use the key), the alarms an operator
 * needs (dead letters, ingest lag and backlog, watermark staleness, storage faults, quarantined fact
 * objects, every function's errors and throttles, a stopped listener), and the `Funnel` dashboard over the metrics the functions emit
 * (lib/metrics/names.ts) and the AWS metrics of the queues, functions, API and listener.
 */
export class Ops extends Construct {
  readonly alarmTopic: Topic;
  readonly alarmKey: Key;
  readonly alarms: Alarm[] = [];
  readonly dashboard: Dashboard;
  readonly deadLettersAlarm: Alarm;
  readonly jobsDeadLettersAlarm: Alarm;
  readonly backlogAlarm: Alarm;
  readonly liveDeadLettersAlarm: Alarm;
  readonly liveBacklogAlarm: Alarm;
  readonly settleDeadLettersAlarm: Alarm;
  readonly batchErrorsAlarm: Alarm;
  readonly ingestLagAlarm: Alarm;
  readonly watermarkAlarm: Alarm;
  readonly storageFaultsAlarm: Alarm;
  readonly quarantinedAlarm: Alarm;

  constructor(scope: Construct, id: string, props: OpsProps) {
    super(scope, id);

    // CloudWatch cannot publish to a topic encrypted with the AWS managed SNS key: a key of our own,
    // whose policy lets CloudWatch use it
    this.alarmKey = new Key(this, 'AlarmTopicKey', {
      description: 'Funnel: encrypts the alarm topic',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    this.alarmKey.addToResourcePolicy(
      new PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );
    this.alarmTopic = new Topic(this, 'AlarmTopic', { displayName: 'Funnel alarms', enforceSSL: true, masterKey: this.alarmKey });
    if (props.alarmEmail) this.alarmTopic.addSubscription(new EmailSubscription(props.alarmEmail));

    const fiveMinutes = Duration.minutes(5);

    // --- alarms ---------------------------------------------------------------------------------

    const deadLetters = this.alarm('DeadLetters', {
      description: `Messages reached the ingest dead-letter queue (failed ${MAX_RECEIVE_COUNT} receives): fix the cause, then redrive (docs/deploy.md)`,
      metric: props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: fiveMinutes, statistic: 'Maximum' }),
      threshold: props.dlqDepthAlarm,
    });

    const jobsDeadLetters = this.alarm('JobsDeadLetters', {
      description: `Jobs reached the jobs dead-letter queue (failed ${JOBS_MAX_RECEIVE_COUNT} receives)`,
      metric: props.jobsDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: fiveMinutes, statistic: 'Maximum' }),
      threshold: props.dlqDepthAlarm,
    });

    const liveDeadLetters = this.alarm('LiveDeadLetters', {
      description: 'Live delta messages reached the live dead-letter queue: live minute counts miss them until their hours settle from the facts',
      metric: props.liveDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: fiveMinutes, statistic: 'Maximum' }),
      threshold: props.dlqDepthAlarm,
    });

    const settleDeadLetters = this.alarm('SettleDeadLetters', {
      description: 'Shard tasks reached the settle dead-letter queue: their hours stay dirty and the compactor dispatches them again; look at the settle worker logs',
      metric: props.settleDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: fiveMinutes, statistic: 'Maximum' }),
      threshold: props.dlqDepthAlarm,
    });

    const liveBacklog = this.alarm('LiveBacklog', {
      description: 'The oldest message in the live queue is older than 5 minutes: live counts lag (settled counts are unaffected)',
      metric: props.liveQueue.metricApproximateAgeOfOldestMessage({ period: fiveMinutes, statistic: 'Maximum' }),
      threshold: Duration.minutes(5).toSeconds(),
      evaluationPeriods: 2,
    });

    const backlog = this.alarm('IngestBacklog', {
      description: 'The oldest message in the ingest queue is older than 15 minutes',
      metric: props.ingestQueue.metricApproximateAgeOfOldestMessage({ period: fiveMinutes, statistic: 'Maximum' }),
      threshold: Duration.minutes(15).toSeconds(),
      evaluationPeriods: 2,
    });

    // a batch that fails as a whole goes back to the queue without a Lambda error
    const batchErrors = this.alarm('IngestBatchErrors', {
      description: 'Ingest batches failed as a whole (returned to the queue) in two consecutive 5-minute periods',
      metric: funnelMetric(METRIC.ingestBatchErrors, 'Sum', fiveMinutes),
      threshold: 1,
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
    });

    const ingestLag = this.alarm('IngestLag', {
      description: `Ingest lag (newest event of a batch, p90) above ${props.ingestLagAlarmSeconds} s for 15 minutes`,
      metric: funnelMetric(METRIC.ingestLagMs, 'p90', fiveMinutes),
      threshold: props.ingestLagAlarmSeconds * 1000,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
    });

    // The compactor runs every 10 minutes and reports the staleness each time: no report for
    // 30 minutes means it is not running, which is as bad as a stale watermark.
    const watermark = this.alarm('WatermarkStale', {
      description: `The watermark is more than ${props.watermarkStalenessAlarmMinutes} minutes behind, or the compactor stopped reporting it`,
      metric: funnelMetric(METRIC.watermarkStalenessMs, 'Maximum', Duration.minutes(15)),
      threshold: props.watermarkStalenessAlarmMinutes * 60_000,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
      treatMissingData: TreatMissingData.BREACHING,
    });

    // Storage faults are retried (ingest hands the message back, the compactor leaves the hour dirty),
    // so one is not an outage; faults in two consecutive periods are.
    const storageFaults = this.alarm('StorageFaults', {
      description: 'Writes to S3, DynamoDB or SQS failed in two consecutive 5-minute periods (StorageFaults by Store): see docs/deploy.md, "Watching it"',
      metric: funnelSum(METRIC.storageFaults, fiveMinutes, 'storage faults'),
      threshold: 1,
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
    });

    // A quarantined object is data set aside: one is worth a look.
    const quarantined = this.alarm('ObjectsQuarantined', {
      description: 'The compactor moved a fact object it could not decode under quarantine/ (docs/deploy.md, "Quarantined objects")',
      metric: funnelSum(METRIC.objectsQuarantined, fiveMinutes, 'objects quarantined'),
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
    });

    for (const [name, fn] of Object.entries(props.functions)) {
      this.alarm(`${name}Errors`, {
        description: `The ${name} function reported errors`,
        metric: fn.metricErrors({ period: fiveMinutes, statistic: 'Sum' }),
        threshold: 1,
        evaluationPeriods: 2,
        datapointsToAlarm: 2,
      });
      this.alarm(`${name}Throttles`, {
        description: `The ${name} function was throttled (account or reserved concurrency exhausted)`,
        metric: fn.metricThrottles({ period: fiveMinutes, statistic: 'Sum' }),
        threshold: 1,
        evaluationPeriods: 2,
        datapointsToAlarm: 2,
      });
    }

    const listenerCpu = props.listenerService.metricCpuUtilization({ period: fiveMinutes, statistic: 'SampleCount' });
    if (props.listenerDesiredCount > 0) {
      // AWS/ECS publishes service CPU every minute while a task runs; no data means no listener.
      this.alarm('ListenerDown', {
        description: 'The relay listener has no running task',
        metric: listenerCpu,
        threshold: 1,
        comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
        treatMissingData: TreatMissingData.BREACHING,
        evaluationPeriods: 3,
      });
    }

    // --- dashboard ------------------------------------------------------------------------------

    const minute = Duration.minutes(1);
    const graph = (title: string, left: IMetric[], extra: Partial<ConstructorParameters<typeof GraphWidget>[0]> = {}) =>
      new GraphWidget({ title, left, width: 8, height: 6, ...extra });
    const fns = Object.entries(props.functions);

    const rows: IWidget[][] = [
      [
        new TextWidget({
          markdown:
            '# Funnel\n' +
            'Relays → listener → ingest queue → ingest → facts (S3) + live counters (DynamoDB); compactor settles hours; api answers. ' +
            'Funnel metrics are CloudWatch embedded metrics in the `Funnel` namespace (docs/deploy.md, "Watching it").',
          width: 24,
          height: 2,
        }),
      ],
      [
        graph('Events accepted by kind (per minute)', [searchByDimension(METRIC.eventsAccepted, 'Sum', minute)]),
        graph('Events rejected by reason (per 5 minutes)', [searchByDimension(METRIC.eventsRejected, 'Sum', fiveMinutes)]),
        graph(
          'Ingest batch size (messages) and failed batches',
          [funnelMetric(METRIC.batchSize, 'Average', minute, 'average size'), funnelMetric(METRIC.batchSize, 'Maximum', minute, 'max size')],
          { right: [funnelMetric(METRIC.ingestBatchErrors, 'Sum', minute, 'failed batches')] },
        ),
      ],
      [
        graph(
          'Ingest lag (ms, newest event of a batch)',
          [
            funnelMetric(METRIC.ingestLagMs, 'p50', minute, 'p50'),
            funnelMetric(METRIC.ingestLagMs, 'p90', minute, 'p90'),
            funnelMetric(METRIC.ingestLagMs, 'Maximum', minute, 'max'),
          ],
          { leftAnnotations: [{ value: props.ingestLagAlarmSeconds * 1000, label: 'alarm (p90)' }] },
        ),
        graph(
          'Ingest queue: age of oldest message (s) and depth',
          [props.ingestQueue.metricApproximateAgeOfOldestMessage({ period: minute, statistic: 'Maximum', label: 'oldest message age (s)' })],
          { right: [props.ingestQueue.metricApproximateNumberOfMessagesVisible({ period: minute, statistic: 'Maximum', label: 'messages visible' })] },
        ),
        graph(
          'Live queue: age of oldest message (s); items written per batch, messages applied and failed',
          [props.liveQueue.metricApproximateAgeOfOldestMessage({ period: minute, statistic: 'Maximum', label: 'oldest message age (s)' })],
          {
            right: [
              funnelMetric(METRIC.liveItemsWritten, 'Average', minute, 'items per batch'),
              funnelMetric(METRIC.liveMessagesApplied, 'Sum', minute, 'messages applied'),
              funnelMetric(METRIC.liveMessageErrors, 'Sum', minute, 'messages failed'),
            ],
          },
        ),
        graph(
          'Dead-letter queues (messages)',
          [
            props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: minute, statistic: 'Maximum', label: 'ingest DLQ' }),
            props.jobsDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: minute, statistic: 'Maximum', label: 'jobs DLQ' }),
            props.liveDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: minute, statistic: 'Maximum', label: 'live DLQ' }),
            props.settleDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: minute, statistic: 'Maximum', label: 'settle DLQ' }),
          ],
          { leftAnnotations: [{ value: props.dlqDepthAlarm, label: 'alarm' }] },
        ),
      ],
      [
        graph('Compaction duration (ms)', [
          funnelMetric(METRIC.compactionDurationMs, 'Average', Duration.minutes(10), 'average'),
          funnelMetric(METRIC.compactionDurationMs, 'Maximum', Duration.minutes(10), 'max'),
        ]),
        graph('Watermark staleness (ms)', [funnelMetric(METRIC.watermarkStalenessMs, 'Maximum', Duration.minutes(10), 'max')], {
          leftAnnotations: [{ value: props.watermarkStalenessAlarmMinutes * 60_000, label: 'alarm' }],
        }),
        graph(
          'API cache hit ratio (%), stale answers (per 5 minutes)',
          [
            new MathExpression({
              expression: '100 * hits / (hits + misses)',
              usingMetrics: {
                hits: funnelMetric(METRIC.cacheHits, 'Sum', fiveMinutes),
                misses: funnelMetric(METRIC.cacheMisses, 'Sum', fiveMinutes),
              },
              label: 'hit ratio',
              period: fiveMinutes,
            }),
          ],
          // Reads answered from the last good copy while the counters fail (docs/deploy.md, "Storage faults").
          { leftYAxis: { min: 0, max: 100 }, right: [funnelMetric(METRIC.staleAnswers, 'Sum', fiveMinutes, 'stale answers')] },
        ),
      ],
      [
        graph('Query latency by route, p50 (ms)', [searchByDimension(METRIC.queryLatencyMs, 'p50', fiveMinutes)]),
        graph('Query latency by route, p99 (ms)', [searchByDimension(METRIC.queryLatencyMs, 'p99', fiveMinutes)]),
        graph(
          'HTTP API requests and errors',
          [props.httpApi.metricCount({ period: fiveMinutes, label: 'requests' })],
          {
            right: [
              props.httpApi.metricClientError({ period: fiveMinutes, label: '4xx' }),
              props.httpApi.metricServerError({ period: fiveMinutes, label: '5xx' }),
            ],
          },
        ),
      ],
      [
        graph('Job duration by status (ms)', [searchByDimension(METRIC.jobDurationMs, 'Maximum', Duration.minutes(15))]),
        graph('Job bytes scanned (per hour)', [funnelMetric(METRIC.jobBytesScanned, 'Sum', Duration.hours(1), 'bytes scanned')]),
        graph(
          'Listener: CPU and memory (%)',
          [
            props.listenerService.metricCpuUtilization({ period: minute, label: 'CPU' }),
            props.listenerService.metricMemoryUtilization({ period: minute, label: 'memory' }),
          ],
          { leftYAxis: { min: 0, max: 100 } },
        ),
      ],
      [
        graph('Storage faults by store (per 5 minutes)', [searchByDimension(METRIC.storageFaults, 'Sum', fiveMinutes)]),
        graph('Fact objects quarantined, engager-row writes dropped as full (per hour)', [
          funnelMetric(METRIC.objectsQuarantined, 'Sum', Duration.hours(1), 'quarantined'),
          funnelMetric(METRIC.engagerRowsFull, 'Sum', Duration.hours(1), 'engager rows full'),
        ]),
        graph('Requests rate-limited by route (per 5 minutes)', [searchByDimension(METRIC.requestsRateLimited, 'Sum', fiveMinutes)]),
      ],
      [
        graph('Lambda errors', fns.map(([name, fn]) => fn.metricErrors({ period: fiveMinutes, statistic: 'Sum', label: name }))),
        graph('Lambda throttles', fns.map(([name, fn]) => fn.metricThrottles({ period: fiveMinutes, statistic: 'Sum', label: name }))),
        graph('Lambda duration p99 (ms)', fns.map(([name, fn]) => fn.metricDuration({ period: fiveMinutes, statistic: 'p99', label: name }))),
      ],
      [
        graph(
          'Listener: events received and queue messages sent (per minute)',
          [funnelMetric(METRIC.listenerEventsReceived, 'Sum', minute, 'events received'), funnelMetric(METRIC.listenerMessagesSent, 'Sum', minute, 'messages sent')],
          { right: [funnelMetric(METRIC.listenerSendRetries, 'Sum', minute, 'send retries')] },
        ),
        graph('Listener: frames and events dropped by reason (per 5 minutes)', [searchByDimension(METRIC.listenerRejected, 'Sum', fiveMinutes)]),
        graph('Listener: reconnects, relay notices, catch-up pages (per 5 minutes)', [
          funnelMetric(METRIC.listenerReconnects, 'Sum', fiveMinutes, 'reconnects'),
          funnelMetric(METRIC.listenerRelayNotices, 'Sum', fiveMinutes, 'NOTICE/CLOSED'),
          funnelMetric(METRIC.listenerCatchUpPages, 'Sum', fiveMinutes, 'catch-up pages'),
          funnelMetric(METRIC.listenerCatchUpSecondSteps, 'Sum', fiveMinutes, 'one-second pages stepped below'),
        ]),
      ],
      [graph('Hours and days closed as archived: late events stored, not counted (per hour)', [searchByDimension(METRIC.archivedBucketsClosed, 'Sum', Duration.hours(1))], { width: 24 })],
      [new AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24, height: 4 })],
    ];

    this.dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName: Stack.of(this).stackName,
      defaultInterval: Duration.hours(3),
      widgets: rows,
    });

    this.deadLettersAlarm = deadLetters;
    this.jobsDeadLettersAlarm = jobsDeadLetters;
    this.backlogAlarm = backlog;
    this.liveDeadLettersAlarm = liveDeadLetters;
    this.liveBacklogAlarm = liveBacklog;
    this.settleDeadLettersAlarm = settleDeadLetters;
    this.batchErrorsAlarm = batchErrors;
    this.ingestLagAlarm = ingestLag;
    this.watermarkAlarm = watermark;
    this.storageFaultsAlarm = storageFaults;
    this.quarantinedAlarm = quarantined;
  }

  private alarm(
    id: string,
    props: {
      description: string;
      metric: IMetric;
      threshold: number;
      evaluationPeriods?: number;
      datapointsToAlarm?: number;
      comparisonOperator?: ComparisonOperator;
      treatMissingData?: TreatMissingData;
    },
  ): Alarm {
    const alarm = new Alarm(this, id, {
      alarmDescription: props.description,
      metric: props.metric,
      threshold: props.threshold,
      evaluationPeriods: props.evaluationPeriods ?? 1,
      ...(props.datapointsToAlarm !== undefined ? { datapointsToAlarm: props.datapointsToAlarm } : {}),
      comparisonOperator: props.comparisonOperator ?? ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: props.treatMissingData ?? TreatMissingData.NOT_BREACHING,
    });
    const action = new SnsAction(this.alarmTopic);
    alarm.addAlarmAction(action);
    alarm.addOkAction(action);
    this.alarms.push(alarm);
    return alarm;
  }
}
