import { describe, expect, it } from 'vitest';
import { MAX_EVENT_BYTES, MAX_MESSAGE_BYTES, ingestMessageSchema, packEvents } from '../../lib/ingest/message.js';

describe('packEvents', () => {
  it('packs many events per message under the SQS size limit and keeps every event', () => {
    const event = JSON.stringify({ id: 'x'.repeat(64), content: 'y'.repeat(10_000) });
    const { bodies, oversized } = packEvents('wss://r', Array.from({ length: 100 }, () => event));
    expect(oversized).toBe(0);
    expect(bodies.length).toBeGreaterThan(1);
    let total = 0;
    for (const body of bodies) {
      expect(Buffer.byteLength(body)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
      const message = ingestMessageSchema.parse(JSON.parse(body));
      expect(message.source).toBe('wss://r');
      total += message.events.length;
    }
    expect(total).toBe(100);
  });

  it('drops and counts events over the per-event limit', () => {
    const big = JSON.stringify({ content: 'z'.repeat(MAX_EVENT_BYTES + 1) });
    const { bodies, oversized } = packEvents('wss://r', [big, '{"ok":1}']);
    expect(oversized).toBe(1);
    expect(bodies).toEqual(['{"v":1,"source":"wss://r","events":[{"ok":1}]}']);
  });
});
