/**
 * The canonical fact: one row per accepted event (DESIGN §4). No raw content is kept.
 * Partition columns `dt` and `hour` are derived from `created_at` (UTC) and live in the S3 key, not the file.
 */
export type FactSource = 'nostr' | 'app';

export type FactType =
  | 'note'
  | 'reply'
  | 'comment'
  | 'reaction'
  | 'repost'
  | 'zap'
  | 'video'
  | 'deletion'
  | 'profile'
  | 'contacts'
  | 'other'
  | `app:${string}`;

export interface Fact {
  event_id: string;
  source: FactSource;
  kind: number;
  type: FactType;
  /** unix seconds, as signed by the author */
  created_at: number;
  author: string;
  /** the pubkey the engagement is aimed at (reaction/repost/zap recipient, replied-to author), else null */
  target_pubkey: string | null;
  /** the event the engagement is aimed at (reaction/repost/zap target, reply parent), else null */
  target_event_id: string | null;
  /** `kind:pubkey:d` of an addressable target (or of this event when it is addressable), else null */
  target_address: string | null;
  root_event_id: string | null;
  parent_event_id: string | null;
  /** reaction content as published ('+', '-', '', emoji or :shortcode:), truncated; null for non-reactions */
  reaction: string | null;
  /** zap amount in millisatoshis; null for non-zaps */
  zap_msats: number | null;
  zap_sender: string | null;
  /** id of the zap request (kind 9734) a zap receipt answers: what its author's deletion names; null elsewhere */
  zap_request_id: string | null;
  /** a deletion request's `e` targets (NIP-09), unique, at most MAX_DELETION_TARGETS; empty elsewhere */
  deleted_event_ids: string[];
  /** lower-case, unique, in first-seen order */
  hashtags: string[];
  title: string | null;
  d_tag: string | null;
  /** NIP-71 video metadata (imeta with top-level fallbacks); null elsewhere */
  media_url: string | null;
  image_url: string | null;
  duration_s: number | null;
  published_at: number | null;
  /** relay URL the event was first received from, when known */
  relay: string | null;
  /** app project for first-party app events, else null */
  project: string | null;
  /** JSON string of app event properties, else null */
  properties: string | null;
  /** the registered schema version an app event was validated against; null for types with no schema and for Nostr events */
  schema_version: number | null;
  /**
   * An app event's groups, `<dimension>=<value>` per dimension its schema version declares, in that
   * order: the value as admitted, `(other)` or `(none)` (lib/app/dimension-values.ts); empty elsewhere
   */
  dimensions: string[];
  /** An app event's measures it carried, `<measure>=<value in thousandths>` (an integer); empty elsewhere */
  measures: string[];
  /** unix milliseconds when ingest accepted the event */
  ingested_at: number;
}

/** The fields every fact has; the rest default to null (or empty lists) in `newFact`. */
type FactCore = Pick<Fact, 'event_id' | 'source' | 'kind' | 'type' | 'created_at' | 'author' | 'ingested_at'>;

/** A fact with every optional field empty, then `fields` on top. */
export function newFact(fields: FactCore & Partial<Fact>): Fact {
  return {
    target_pubkey: null,
    target_event_id: null,
    target_address: null,
    root_event_id: null,
    parent_event_id: null,
    reaction: null,
    zap_msats: null,
    zap_sender: null,
    zap_request_id: null,
    deleted_event_ids: [],
    hashtags: [],
    title: null,
    d_tag: null,
    media_url: null,
    image_url: null,
    duration_s: null,
    published_at: null,
    relay: null,
    project: null,
    properties: null,
    schema_version: null,
    dimensions: [],
    measures: [],
    ...fields,
  };
}

/** Column order of the Parquet files and of the Glue table. Keep in sync with `Fact`. */
export const FACT_COLUMNS = [
  'event_id',
  'source',
  'kind',
  'type',
  'created_at',
  'author',
  'target_pubkey',
  'target_event_id',
  'target_address',
  'root_event_id',
  'parent_event_id',
  'reaction',
  'zap_msats',
  'zap_sender',
  'hashtags',
  'title',
  'd_tag',
  'media_url',
  'image_url',
  'duration_s',
  'published_at',
  'relay',
  'project',
  'properties',
  'ingested_at',
  // Added after the first release: last, so older Parquet files and the Glue table line up by name.
  'zap_request_id',
  'deleted_event_ids',
  'schema_version',
  'dimensions',
  'measures',
] as const satisfies readonly (keyof Fact)[];

export type FactColumnKind = 'string' | 'int32' | 'int64' | 'double' | 'list';

/** Physical type per column. INT64 columns hold unix times and msats, which outgrow INT32. */
export const FACT_COLUMN_KINDS: Record<(typeof FACT_COLUMNS)[number], FactColumnKind> = {
  event_id: 'string',
  source: 'string',
  kind: 'int32',
  type: 'string',
  created_at: 'int64',
  author: 'string',
  target_pubkey: 'string',
  target_event_id: 'string',
  target_address: 'string',
  root_event_id: 'string',
  parent_event_id: 'string',
  reaction: 'string',
  zap_msats: 'int64',
  zap_sender: 'string',
  hashtags: 'list',
  title: 'string',
  d_tag: 'string',
  media_url: 'string',
  image_url: 'string',
  duration_s: 'double',
  published_at: 'int64',
  relay: 'string',
  project: 'string',
  properties: 'string',
  ingested_at: 'int64',
  zap_request_id: 'string',
  deleted_event_ids: 'list',
  schema_version: 'int32',
  dimensions: 'list',
  measures: 'list',
};
