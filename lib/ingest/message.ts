import { z } from 'zod';

/**
 * One ingest-queue message: events packed together so a single SQS message carries many events
 * (SQS bills per 64 KiB chunk and per request, not per event).
 */
export const ingestMessageSchema = z.object({
  v: z.literal(1),
  /** relay the events came from, `backfill:<file>`, or `app` for first-party app events */
  source: z.string().max(512),
  /** the app project, for `app` messages (from the API key that sent them) */
  project: z.string().max(128).optional(),
  /** raw events: each one is validated on its own so one bad event never fails its neighbours */
  events: z.array(z.unknown()).min(1),
});
export type IngestMessage = z.infer<typeof ingestMessageSchema>;

/** SQS's hard limit is 256 KiB per message; stay clear of it for attributes and encoding slack. */
export const MAX_MESSAGE_BYTES = 240 * 1024;
/** Larger events are not analytics material (NIP-11 relays commonly cap near 64 KiB). */
export const MAX_EVENT_BYTES = 64 * 1024;

/**
 * Packs serialized events into message bodies under MAX_MESSAGE_BYTES. Events over MAX_EVENT_BYTES
 * are returned as `oversized` so the caller counts them.
 */
export function packEvents(source: string, serializedEvents: string[], maxEventsPerMessage = 500): { bodies: string[]; oversized: number } {
  const fitting = serializedEvents.filter((event) => Buffer.byteLength(event) <= MAX_EVENT_BYTES);
  const bodies = packJsonArray(`{"v":1,"source":${JSON.stringify(source)},"events":[`, ']}', fitting, maxEventsPerMessage);
  return { bodies, oversized: serializedEvents.length - fitting.length };
}

/**
 * Serialized JSON values as message bodies `head` + values joined by commas + `tail`, each body under
 * MAX_MESSAGE_BYTES and `maxPerMessage` values. A value that cannot fit a body alone is an error.
 */
export function packJsonArray(head: string, tail: string, values: Iterable<string>, maxPerMessage: number): string[] {
  const bodies: string[] = [];
  const empty = Buffer.byteLength(head) + Buffer.byteLength(tail);
  let current: string[] = [];
  let size = empty;
  const flush = () => {
    if (current.length) bodies.push(head + current.join(',') + tail);
    current = [];
    size = empty;
  };
  for (const value of values) {
    const bytes = Buffer.byteLength(value) + 1;
    if (empty + bytes > MAX_MESSAGE_BYTES) throw new Error(`a value of ${bytes} bytes cannot fit a message`);
    if (size + bytes > MAX_MESSAGE_BYTES || current.length >= maxPerMessage) flush();
    current.push(value);
    size += bytes;
  }
  flush();
  return bodies;
}
