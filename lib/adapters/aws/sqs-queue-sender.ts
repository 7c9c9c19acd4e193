import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { QueueSender } from '../../ports.js';

/** SendMessageBatch takes at most 10 entries and 256 KiB in total per call. */
const MAX_ENTRIES = 10;
const MAX_BATCH_BYTES = 256 * 1024;

export class SqsQueueSender implements QueueSender {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async sendBatch(bodies: string[]): Promise<{ failed: string[] }> {
    const failed: string[] = [];
    for (const group of groupForBatch(bodies)) {
      try {
        const result = await this.client.send(
          new SendMessageBatchCommand({
            QueueUrl: this.queueUrl,
            Entries: group.map((body, i) => ({ Id: String(i), MessageBody: body })),
          }),
        );
        for (const entry of result.Failed ?? []) failed.push(group[Number(entry.Id)]!);
      } catch {
        failed.push(...group);
      }
    }
    return { failed };
  }
}

export function groupForBatch(bodies: string[]): string[][] {
  const groups: string[][] = [];
  let current: string[] = [];
  let size = 0;
  for (const body of bodies) {
    const bytes = Buffer.byteLength(body);
    if (current.length && (current.length === MAX_ENTRIES || size + bytes > MAX_BATCH_BYTES)) {
      groups.push(current);
      current = [];
      size = 0;
    }
    current.push(body);
    size += bytes;
  }
  if (current.length) groups.push(current);
  return groups;
}
