import { createHash } from 'node:crypto';
import { z } from 'zod';
import { newFact, type Fact } from '../facts/schema.js';
import type { AppEventGroups } from './dimension-values.js';
import { addressPubkey, isEventIdOrAddress } from '../nostr/tags.js';

/**
 * First-party app events (POST /v1/events): views, plays and whatever a frontend records. They become
 * facts with source `app` and type `app:<name>`; user ids are hashed, never stored as given.
 */
export const MAX_APP_EVENTS_PER_REQUEST = 100;
/** An app event's name, which is its type (`app:<name>`) and a registered schema's event type. */
export const APP_EVENT_NAME = /^[a-z][a-z0-9_.-]{0,63}$/;
export const APP_EVENT_NAME_RULE = 'lower-case letters, digits, _ . - (1-64 characters, starting with a letter)';
const MAX_PROPERTIES_BYTES = 4096;

export const appEventSchema = z.object({
  /** client-chosen id for retries (any string); derived from the content when absent */
  id: z.string().min(1).max(128).optional(),
  name: z
    .string()
    .regex(APP_EVENT_NAME, `name must be ${APP_EVENT_NAME_RULE}`),
  /** the app's user id or an anonymous id; hashed before storage */
  userId: z.string().min(1).max(256),
  /** unix seconds or milliseconds; defaults to the time of ingestion */
  timestamp: z.number().int().nonnegative().optional(),
  /** the Nostr event (hex id) or address (kind:pubkey:d) the event is about, e.g. the video viewed */
  target: z
    .string()
    .refine(isEventIdOrAddress, 'target must be a 64-hex event id or an address kind:pubkey:d')
    .optional(),
  /** the version of the event type's registered schema to validate against; the newest when absent */
  schemaVersion: z.number().int().min(1).max(1_000).optional(),
  properties: z
    .record(z.string(), z.unknown())
    .refine((p) => JSON.stringify(p).length <= MAX_PROPERTIES_BYTES, `properties must serialise to at most ${MAX_PROPERTIES_BYTES} bytes`)
    .optional(),
});
export type AppEvent = z.infer<typeof appEventSchema>;

export const appEventsRequestSchema = z.object({
  events: z.array(z.unknown()).min(1, 'events must not be empty').max(MAX_APP_EVENTS_PER_REQUEST, `at most ${MAX_APP_EVENTS_PER_REQUEST} events per request`),
});

/** App event names that count as a view of their target in per-event and video stats. */
export const VIEW_NAMES = new Set(['view', 'play', 'video_view']);

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Hashed per project, so the same user id in two projects is two users and no raw id is kept. */
export const appUserKey = (project: string, userId: string) => sha256(`${project}\u0000${userId}`);

/** `groups`: what its registered schema version groups it under (none for a type with no schema). */
export function appFact(event: AppEvent, project: string, ingestedAt: number, groups?: AppEventGroups): Fact {
  const seconds = event.timestamp === undefined ? Math.floor(ingestedAt / 1000) : event.timestamp > 1e11 ? Math.floor(event.timestamp / 1000) : event.timestamp;
  const author = appUserKey(project, event.userId);
  const target = event.target ?? null;
  const isAddress = target !== null && target.includes(':');
  return newFact({
    // Same project, name, user, time and content → same id: a retried request is one fact.
    event_id: sha256(`app\u0000${project}\u0000${event.id ?? JSON.stringify([event.name, author, seconds, target, event.properties ?? null])}`),
    source: 'app',
    kind: -1,
    type: `app:${event.name}`,
    created_at: seconds,
    author,
    target_pubkey: isAddress ? addressPubkey(target!) : null,
    target_event_id: isAddress ? null : target,
    target_address: isAddress ? target : null,
    project,
    properties: event.properties ? JSON.stringify(event.properties) : null,
    ...groups,
    ingested_at: ingestedAt,
  });
}
