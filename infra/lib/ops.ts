import { Duration } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  TreatMissingData,
  type IMetric,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { FargateService } from 'aws-cdk-lib/aws-ecs';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface OpsProps {
  readonly ingestQueue: Queue;
  readonly deadLetterQueue: Queue;
  /** Functions whose errors raise an alarm, by a short name. */
  readonly functions: Record<string, IFunction>;
  readonly listenerService: FargateService;
  readonly listenerDesiredCount: number;
  /** When set, subscribed to the alarm topic by email. */
  readonly alarmEmail?: string;
}

/**
 * Operations: an SNS topic and the alarms an operator needs first — messages in the DLQ, a backlog
 * building up in the ingest queue, function errors, and a listener that stopped running.
 */
export class Ops extends Construct {
  readonly alarmTopic: Topic;
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: OpsProps) {
    super(scope, id);

    this.alarmTopic = new Topic(this, 'AlarmTopic', { displayName: 'Funnel alarms', enforceSSL: true });
    if (props.alarmEmail) this.alarmTopic.addSubscription(new EmailSubscription(props.alarmEmail));

    this.alarm('DeadLetters', {
      description: 'Messages reached the ingest dead-letter queue (failed 5 receives)',
      metric: props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: 'Maximum',
      }),
      threshold: 1,
    });

    this.alarm('IngestBacklog', {
      description: 'The oldest message in the ingest queue is older than 15 minutes',
      metric: props.ingestQueue.metricApproximateAgeOfOldestMessage({
        period: Duration.minutes(5),
        statistic: 'Maximum',
      }),
      threshold: Duration.minutes(15).toSeconds(),
      evaluationPeriods: 2,
    });

    for (const [name, fn] of Object.entries(props.functions)) {
      this.alarm(`${name}Errors`, {
        description: `The ${name} function reported errors`,
        metric: fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
        threshold: 1,
        evaluationPeriods: 2,
        datapointsToAlarm: 2,
      });
    }

    if (props.listenerDesiredCount > 0) {
      // AWS/ECS publishes service CPU every minute while a task runs; no data means no listener.
      this.alarm('ListenerDown', {
        description: 'The relay listener has no running task',
        metric: props.listenerService.metricCpuUtilization({ period: Duration.minutes(5), statistic: 'SampleCount' }),
        threshold: 1,
        comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
        treatMissingData: TreatMissingData.BREACHING,
        evaluationPeriods: 3,
      });
    }
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
