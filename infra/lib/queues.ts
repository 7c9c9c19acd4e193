import { Duration } from 'aws-cdk-lib';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

/**
 * A function's work queue and its dead-letter queue, encrypted and TLS-only. The visibility timeout
 * follows AWS guidance for SQS event sources: six times the function timeout, plus any batching window
 * a message can spend waiting in a batch being gathered.
 */
export function consumerQueues(
  scope: Construct,
  options: { functionTimeout: Duration; batchWindowSeconds?: number; retention: Duration; maxReceiveCount: number },
): { queue: Queue; deadLetterQueue: Queue } {
  const deadLetterQueue = new Queue(scope, 'DeadLetterQueue', {
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  const queue = new Queue(scope, 'Queue', {
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    visibilityTimeout: Duration.seconds(options.functionTimeout.toSeconds() * 6 + (options.batchWindowSeconds ?? 0)),
    retentionPeriod: options.retention,
    deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: options.maxReceiveCount },
  });
  return { queue, deadLetterQueue };
}
