import { z } from 'zod';
import type { SQSEvent } from 'aws-lambda';

/** The edge of every SQS-fed function: only the record fields the core uses, checked before anything else runs. */
const sqsEventSchema = z.object({
  Records: z.array(
    z.object({
      messageId: z.string(),
      body: z.string(),
      attributes: z.object({ ApproximateReceiveCount: z.string().optional() }).passthrough().optional(),
    }),
  ),
});

/** An SQS event's records as the core takes them: id, body, and how many times the message was received. */
export function sqsRecords(event: SQSEvent): { messageId: string; body: string; receiveCount: number }[] {
  return sqsEventSchema.parse(event).Records.map((r) => ({ messageId: r.messageId, body: r.body, receiveCount: Number(r.attributes?.ApproximateReceiveCount ?? 1) }));
}
