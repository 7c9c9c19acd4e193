/**
 * The ports between Funnel's core and the world. Every port has an AWS implementation
 * (lib/adapters/aws) and a local one (lib/adapters/local); the core only sees these interfaces.
 */

/** A message as a queue hands it to a consumer (the subset of an SQS record the core needs). */
export interface QueueRecord {
  messageId: string;
  body: string;
  /** how many times this message has been received, including this time */
  receiveCount: number;
}

/** Producer side of the ingest queue. */
export interface QueueSender {
  /** Sends message bodies; returns the bodies the queue did not accept (caller retries them). */
  sendBatch(bodies: string[]): Promise<{ failed: string[] }>;
}

/** Object store with S3 semantics: keys, whole-object put/get, prefix listing. */
export interface ObjectStore {
  put(key: string, body: Uint8Array | string, contentType?: string): Promise<void>;
  /** null when the key does not exist */
  get(key: string): Promise<Uint8Array | null>;
  /** all keys under the prefix, lexicographically ordered */
  list(prefix: string): Promise<string[]>;
  delete(keys: string[]): Promise<void>;
  /** The object's bytes as a stream, so a large object is read in bounded memory; null when it does not exist. */
  stream(key: string): Promise<AsyncIterable<Uint8Array> | null>;
  /** Copies an object within the store (S3 CopyObject: the bytes never pass through the caller). */
  copy(fromKey: string, toKey: string): Promise<void>;
  /**
   * `list` with each object's size in bytes (S3 reports both in one listing), for callers that plan by
   * how much there is to read. Optional: a store that cannot say leaves it out, and callers fall back.
   */
  listSizes?(prefix: string): Promise<ObjectSize[]>;
}

/** An object's key and size, as a listing reports them. */
export interface ObjectSize {
  key: string;
  bytes: number;
  /** ms since the epoch the object was written (S3's LastModified): lifecycle rules count its age from it */
  modifiedAt?: number;
}

/** One counter item: a (scope, granularity, bucket) with numeric attributes. */
export interface CounterKey {
  /** e.g. `u:<pubkey>`, `e:<event id>`, `g` */
  scope: string;
  granularity: Granularity;
  /** bucket start, unix seconds, aligned to the granularity */
  bucket: number;
}

/**
 * minute, ten minutes (`t`), hour, quarter day (`q`, six hours), day, week (`w`, seven days from a
 * Thursday: weeks of the unix epoch); `all` is a single all-time bucket (bucket 0). Ten-minute,
 * quarter-day and week items are settled only, where they stand for more than one finer item
 * (settle-sql.ts): they let a window be read in fewer items (planner.ts).
 */
export type Granularity = 'm' | 't' | 'h' | 'q' | 'd' | 'w' | 'all';

export interface CounterDelta extends CounterKey {
  /** attribute -> amount to add */
  add: Record<string, number>;
  /** attribute -> numbers to union into a number set (HLL register codes: union = sketch merge) */
  union?: Record<string, number[]>;
  /** unix seconds after which the store may expire the item */
  expiresAt?: number;
}

/**
 * A HyperLogLog sketch (lib/counters/hll.ts) as an item carries it: sparse, the codes `register << 6 | rank`
 * of its non-empty registers (a number set), or dense, one rank byte per register (1,024 bytes). Writes
 * give codes; a read hands a settled item's dense sketch over as the register array it is stored as.
 */
export type Sketch = number[] | Uint8Array;

export interface CounterItem extends CounterKey {
  values: Record<string, number>;
  /** sketch attributes (HyperLogLog) */
  sets?: Record<string, Sketch>;
  /** bounded top-N lists, named `top_…`, in the binary form of lib/counters/topn.ts (encodeTopList) */
  tops?: Record<string, Uint8Array>;
}

/** A state record as putStates writes it; `expiresAt` (unix seconds) lets the store expire it (TTL). */
export interface StateRecord {
  namespace: string;
  id: number;
  value: Record<string, unknown>;
  expiresAt?: number;
}

/** Time-bucket counters (DynamoDB). */
export interface CounterStore {
  /** Adds deltas: one write per item (ADD), never one per event. */
  add(deltas: CounterDelta[]): Promise<void>;
  /** Replaces items whole (idempotent Put), for settled buckets. */
  put(items: (CounterItem & { expiresAt?: number })[]): Promise<void>;
  /** Items of one scope and granularity with bucket in [fromBucket, toBucket]. */
  range(scope: string, granularity: Granularity, fromBucket: number, toBucket: number): Promise<CounterItem[]>;
  /**
   * Small records kept beside the counters (watermark, checkpoints, dirty hour marks), addressed by
   * a namespace and a numeric id so a namespace can be listed with one query.
   */
  getState(namespace: string, id: number): Promise<Record<string, unknown> | null>;
  putState(namespace: string, id: number, value: Record<string, unknown>): Promise<void>;
  /** Writes the record only if none exists under (namespace, id): true when this call wrote it (a conditional put, so of two writers one wins). */
  putStateIfAbsent(namespace: string, id: number, value: Record<string, unknown>): Promise<boolean>;
  /** Many state records at once (batched writes), e.g. a batch's event-index entries. */
  putStates(records: StateRecord[]): Promise<void>;
  listState(namespace: string): Promise<{ id: number; value: Record<string, unknown> }[]>;
  /**
   * Deletes the record only while `field` still equals `expected` (so a concurrent re-mark survives).
   * `field` is one of STATE_GUARD_FIELDS.
   */
  deleteStateIf(namespace: string, id: number, field: StateGuardField, expected: string | number): Promise<boolean>;
  /**
   * Adds rows to per-target engager lists (a video's likers, an event's zappers): one row per (list,
   * pubkey), written so that a redelivered batch changes nothing (the row's `ref` is set, its tokens
   * are a set union). A row keeps at most ENGAGER_ROW_MAX_TOKENS tokens: a write that could go past
   * it (its tokens, counted as new, do not fit) is dropped, and the count of dropped writes is returned.
   */
  addEngagers(rows: EngagerWrite[]): Promise<{ dropped: number }>;
  /** Up to `limit` rows of a list, in pubkey order, after the row of `after` (a pubkey) when given. */
  engagerPage(list: string, options: { after?: string; limit: number }): Promise<EngagerRow[]>;
}

/** A row of a per-target engager list as ingest writes it. */
export interface EngagerWrite {
  /** the list, e.g. `lk:<address or id>` */
  list: string;
  /** 64 hex: the row's key */
  pubkey: string;
  /** what the row last saw (a liker's reaction id), set (not added) */
  ref?: string;
  /** numbers unioned into the row's token set (a zap's receipt and amount, engager-lists.ts) */
  tokens?: number[];
}

export interface EngagerRow {
  pubkey: string;
  ref: string | null;
  tokens: number[];
}

/**
 * Tokens one engager row keeps at most (its item stays under ≈ 10 KB, so a write to it costs at most
 * ≈ 10 units however many events target it): a zapper's first 1,000 zaps of one event.
 */
export const ENGAGER_ROW_MAX_TOKENS = 1_000;

/**
 * The state-record fields a conditional delete may test (a dirty mark's token and time). DynamoDB
 * keeps a record's value as one JSON string, so these, and only these, are mirrored as attributes:
 * mirroring every field doubled the size, and so the storage, of every event-index record.
 */
export const STATE_GUARD_FIELDS = ['mark', 'markedAt'] as const;
export type StateGuardField = (typeof STATE_GUARD_FIELDS)[number];

/** Runs SQL over the facts (Athena in AWS, DuckDB locally). */
export interface SqlEngine {
  query(sql: string): Promise<Record<string, unknown>[]>;
  /**
   * Runs a query and writes its whole result as objects under `prefix` in the object store (Athena
   * UNLOAD; DuckDB COPY), for results too large to pass through the caller: `jsonl` is gzipped
   * newline-delimited JSON (read back with `readJsonLines`), `parquet` is facts-compatible Parquet.
   * The prefix must be new (nothing under it yet); one or more objects appear there when it resolves.
   * With `partitionBy` (the query's last column), rows go under `<prefix><column>=<value>/`, one
   * directory per value, without that column.
   */
  export(sql: string, prefix: string, format: 'jsonl' | 'parquet', options?: { partitionBy?: string }): Promise<void>;
  /** bytes scanned by every query so far, where the engine reports it (Athena does, DuckDB does not) */
  bytesScanned?(): number;
}

/**
 * What an engine throws when it stopped a query for a limit of its own (Athena's bytes-scanned cutoff,
 * a cancel): the same query would stop the same way, so callers do not retry it.
 */
export class QueryStoppedError extends Error {
  override readonly name = 'QueryStoppedError';
}

export interface Clock {
  /** unix milliseconds */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** Where the listener remembers how far it has read each relay. */
/**
 * Per-relay listener checkpoints: a wall-clock second (unix) before which everything the relay
 * delivered has been accepted by the ingest queue (lib/listener/listener.ts).
 */
export interface CheckpointStore {
  load(relay: string): Promise<number | null>;
  save(relay: string, coveredThrough: number): Promise<void>;
}

/** Counts of what happened, by name and label (rejections by reason, events by kind). */
export interface MetricsSink {
  count(name: string, labels?: Record<string, string>, value?: number): void;
  observe?(name: string, value: number, labels?: Record<string, string>): void;
}

/** Where a query written for analysts is saved under a name: Athena named queries in AWS, `.sql` files in the data dir locally. */
export interface SavedQueryStore {
  save(query: { name: string; description: string; sql: string }): Promise<void>;
}
