import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { sqsRecords } from '../sqs-records.js';
import { settleShardTask, type SettleDeps } from '../../lib/counters/settle-run.js';
import { shardTaskSchema } from '../../lib/counters/settle-shards.js';
import { awsPorts } from '../../lib/adapters/aws/index.js';
import { settleConfig } from './env.js';
import { createLogger, setLogBackend } from '../../lib/log.js';
import { powertoolsLoggers } from '../../lib/adapters/aws/powertools.js';

/**
 * The settle queue's worker: one shard of a big hour (or day) per message, settled as its own run
 * (lib/counters/settle-run.ts). A message that is not a shard task fails alone and dead-letters; a
 * failed settle is redelivered as a new attempt under a new run id.
 */
export function createSettleHandler(deps: SettleDeps & { write?: (line: string) => void }) {
  return middy(async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const log = createLogger({ component: 'settle' }, deps.write);
    const failures: { itemIdentifier: string }[] = [];
    for (const record of sqsRecords(event)) {
      let parsed;
      try {
        parsed = shardTaskSchema.parse(JSON.parse(record.body));
      } catch (error) {
        log('error', 'not a shard task; it goes to the dead-letter queue', { messageId: record.messageId, error });
        failures.push({ itemIdentifier: record.messageId });
        continue;
      }
      try {
        const outcome = await settleShardTask(parsed, deps, record.receiveCount);
        log('info', 'shard settled', { run: parsed.run, shard: parsed.shard, buckets: parsed.buckets, itemsPut: outcome.itemsPut });
      } catch (error) {
        log('error', 'shard settle failed; it is redelivered', { run: parsed.run, shard: parsed.shard, error });
        failures.push({ itemIdentifier: record.messageId });
      }
    }
    return { batchItemFailures: failures };
  });
}

let awsHandler: ReturnType<typeof createSettleHandler> | undefined;

export const handler = (event: SQSEvent, context: Parameters<ReturnType<typeof createSettleHandler>>[1]) => {
  awsHandler ??= (() => {
    const config = settleConfig();
    setLogBackend(powertoolsLoggers());
    const ports = awsPorts(config.aws);
    return createSettleHandler({ objects: ports.objects(), counters: ports.counters(), sql: ports.athena(), tables: ports.settleTables(), retention: config.retention });
  })();
  return awsHandler(event, context);
};
