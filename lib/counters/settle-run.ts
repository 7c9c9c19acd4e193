import { randomUUID } from 'node:crypto';
import type { CounterItem, CounterStore, ObjectStore, SqlEngine } from '../ports.js';
import { SETTLE_CHANGES_PREFIX, SETTLE_RESULTS_PREFIX, settleResultsPrefix, type SettleTables } from '../facts/tables.js';
import { forEachLimited } from '../util/concurrency.js';
import { readJsonLines } from '../util/json-lines.js';
import { GLOBAL_SCOPE, isTargetScope } from './contributions.js';
import { keptSeconds, type Retention } from './retention.js';
import { isTargetScopeSql, SETTLED_GRANULARITIES, type SettleGranularity, SETTLE_PART_COLUMN, settleSql, settledItemOfRow } from './settle-sql.js';
import { MANIFESTS_PREFIX } from './settle.js';

/**
 * Settling one hour or one day (docs/scaling.md): the engine recomputes every item of the bucket from
 * its deduplicated facts and exports them (the run's *result*); a second query diffs that result with
 * the last committed one and exports only what changed (the run's *changes*); the changes are Put,
 * streamed in chunks; then the bucket's manifest commits the run. So a re-settle (late events, a
 * redelivery) writes only the items whose numbers moved, and no step holds more than one chunk.
 *
 * Crash safety: the manifest names the committed run and any run that started Putting but did not
 * commit (`pending`). While a pending run exists, DynamoDB may hold any mix of it and the committed
 * run, so the next run Puts its whole result and clears every scope either of them had: idempotent,
 * whatever step the crash hit.
 */
export interface SettleDeps {
  objects: ObjectStore;
  counters: CounterStore;
  sql: SqlEngine;
  tables: SettleTables;
  retention: Retention;
  /**
   * Who settles the shards of a bucket too big for one statement: this process, one after another
   * (the default), or workers of their own (AWS: the settle queue, lib/counters/settle-shards.ts).
   */
  runShard?: (task: ShardTask) => Promise<SettleOutcome>;
}

/** One shard of a settle run, as a worker takes it: everything but the relation, which the worker's tables name. */
export interface ShardTask {
  granularity: SettleGranularity;
  buckets: number[];
  options: Omit<SettleOptions, 'shards'>;
  shard: Shard;
  /** the run's id prefix: an attempt commits `<run>-a<attempt>`, so the coordinator knows its own */
  run: string;
}

/**
 * The facts a settle of these buckets reads, as the engine names them: the hours that have facts, the
 * day, or the week's days that have facts (`weekDays`); '' when there are none.
 */
export function settleRelation(granularity: SettleGranularity, buckets: readonly number[], options: Pick<SettleOptions, 'empty' | 'weekDays'>, tables: SettleTables): string {
  const none = new Set(options.empty ?? []);
  const withFacts = buckets.filter((b) => !none.has(b));
  if (!withFacts.length) return '';
  if (granularity === 'w') return options.weekDays?.length ? tables.days(options.weekDays) : '';
  return granularity === 'h' ? tables.hours(withFacts) : tables.days(withFacts);
}

/** Whether a shard's manifest has committed a run of this id prefix (the task is done, whichever attempt did it). */
export async function shardCommitted(objects: ObjectStore, task: ShardTask): Promise<{ done: boolean; itemsPut: number }> {
  const manifests = await Promise.all(task.buckets.map((b) => readManifest(objects, task.granularity, b, task.shard)));
  return { done: manifests.every((m) => m.run?.startsWith(task.run) === true), itemsPut: manifests[0]?.itemsPut ?? 0 };
}

/** A worker's side of a shard task: settled under the attempt's own run id, unless an earlier attempt committed it. */
export async function settleShardTask(task: ShardTask, deps: SettleDeps, attempt: number): Promise<SettleOutcome> {
  const committed = await shardCommitted(deps.objects, task);
  if (committed.done) return { run: task.run, itemsPut: 0 };
  return settleShard(task.granularity, task.buckets, settleRelation(task.granularity, task.buckets, task.options, deps.tables), deps, task.options, task.shard, `${task.run}-a${attempt}`);
}

/** Items Put per chunk of a changes object (the BatchWriteItem requests are 25 each under it). */
export const SETTLE_PUT_CHUNK = 500;
/** Changes objects Put at once (Athena's UNLOAD writes several; DuckDB one). */
export const SETTLE_PUT_OBJECTS_IN_PARALLEL = 4;

interface Manifest {
  run: string | null;
  pending: string[];
  /** scopes of a manifest written before runs existed: cleared once, then forgotten */
  legacyScopes?: string[];
  settledAt?: number;
  /** items the committed run Put (a shard's coordinator reads it) */
  itemsPut?: number;
  /** on a bucket's own manifest: its scopes are settled in this many shards, each with a manifest of its own */
  shards?: number;
}

/** A shard of a bucket's scopes (`scopeShard`); a bucket of one shard keeps its manifest in the bucket's own key. */
export interface Shard {
  index: number;
  count: number;
}

const manifestKey = (granularity: SettleGranularity, bucket: number, shard?: Shard) =>
  `${MANIFESTS_PREFIX}${granularity}/${bucket}${shard && shard.count > 1 ? `.shard-${shard.index}-of-${shard.count}` : ''}.json`;

/** When the bucket was last settled (ms), or null if it never was: the compactor paces re-settles by it. */
export async function lastSettledAt(objects: ObjectStore, granularity: SettleGranularity, bucket: number): Promise<number | null> {
  const manifest = await readManifest(objects, granularity, bucket);
  return manifest.run || (manifest.shards ?? 1) > 1 ? (manifest.settledAt ?? 0) : null;
}

/**
 * How many shards the bucket's scopes are settled in: fixed by its first settle (a scope's shard, and
 * so which shard's results it is diffed against, must not move), null for a bucket never settled.
 */
export async function settledShards(objects: ObjectStore, granularity: SettleGranularity, bucket: number): Promise<number | null> {
  const manifest = await readManifest(objects, granularity, bucket);
  if ((manifest.shards ?? 1) > 1) return manifest.shards!;
  return manifest.run || manifest.pending.length || manifest.legacyScopes ? 1 : null;
}

async function readManifest(objects: ObjectStore, granularity: SettleGranularity, bucket: number, shard?: Shard): Promise<Manifest> {
  const bytes = await objects.get(manifestKey(granularity, bucket, shard));
  if (!bytes) return { run: null, pending: [] };
  const raw = JSON.parse(new TextDecoder().decode(bytes)) as Partial<Manifest> & { scopes?: string[] };
  if (raw.scopes && raw.run === undefined) return { run: null, pending: [], legacyScopes: raw.scopes };
  return { run: raw.run ?? null, pending: raw.pending ?? [], settledAt: raw.settledAt, itemsPut: raw.itemsPut, ...(raw.shards && raw.shards > 1 ? { shards: raw.shards } : {}) };
}

async function writeManifest(objects: ObjectStore, granularity: SettleGranularity, bucket: number, manifest: Manifest, shard?: Shard): Promise<void> {
  await objects.put(manifestKey(granularity, bucket, shard), JSON.stringify(manifest), 'application/json');
}

/** When a settled item may expire (DynamoDB TTL): ten-minute items as minutes, quarter days as hours; per-event, per-address and global days never do. */
export function settledExpiry(item: CounterItem, retention: Retention): number | undefined {
  if (item.granularity === 'all') return undefined;
  if (item.granularity === 'd' && (isTargetScope(item.scope) || item.scope === GLOBAL_SCOPE)) return undefined;
  return item.bucket + keptSeconds(item.granularity, retention);
}

/** The settled granularities of a run (SETTLED_GRANULARITIES) as an SQL list. */
const settledGranularitiesSql = (granularity: SettleGranularity) => SETTLED_GRANULARITIES[granularity].map((g) => `'${g}'`).join(', ');

/** One bucket of a settle run, and what it is diffed against. */
interface BucketPlan {
  bucket: number;
  manifest: Manifest;
  /** earlier runs whose rows for this bucket exist (the committed run, then any pending ones) */
  bases: string[];
  /** Put every row: the table may not hold the committed run's items (a crash mid-Put, a rebuild) */
  force: boolean;
}

/**
 * The changes of a run: rows that are new or differ from the bucket's committed run (the SQL writes
 * canonical JSON, so equal text is equal content), every row of a forced bucket, and an empty item
 * for every scope a base had and the result has not. Rows of live-counted items (minutes, and the
 * hours of per-event and per-address scopes) are produced only where live counting may have drifted,
 * so they are always written (the table may hold a second drift the results cannot show) and never
 * cleared (a run without them leaves the live ones alone).
 */
function changesSql(tables: SettleTables, run: string, plans: readonly BucketPlan[], granularity: SettleGranularity): string {
  const columns = 'scope, granularity, bucket, vals, sketches, tops';
  const select = (source: string, part: number, forced: boolean) => `SELECT ${columns}, ${part} AS part, ${forced ? 1 : 0} AS forced FROM ${source}`;
  const fresh = plans.map((p) => select(tables.results(run, p.bucket), p.bucket, p.force)).join('\n  UNION ALL ');
  const based = plans.flatMap((p) => p.bases.map((b) => select(tables.results(b, p.bucket), p.bucket, p.force)));
  if (!based.length) return `SELECT ${columns} FROM (${fresh})`;
  const same = 'o.scope = n.scope AND o.granularity = n.granularity AND o.bucket = n.bucket';
  const settledOnly = (t: string) => `${t}.granularity IN (${settledGranularitiesSql(granularity)}) AND NOT (${granularity === 'h' ? isTargetScopeSql(`${t}.scope`) : 'FALSE'})`;
  // A forced bucket may have several bases (one key twice): it skips the comparison, not the clearing.
  return `WITH n AS (${fresh}),
o AS (${based.join('\n  UNION ALL ')})
SELECT n.scope, n.granularity, n.bucket, n.vals, n.sketches, n.tops FROM n LEFT JOIN (SELECT * FROM o WHERE forced = 0) o ON ${same}
WHERE n.forced = 1 OR NOT (${settledOnly('n')}) OR o.scope IS NULL OR o.vals <> n.vals OR o.sketches IS DISTINCT FROM n.sketches OR o.tops IS DISTINCT FROM n.tops
UNION ALL
SELECT DISTINCT o.scope, o.granularity, o.bucket, '{}' AS vals, CAST(NULL AS VARCHAR) AS sketches, CAST(NULL AS VARCHAR) AS tops
FROM o LEFT JOIN n ON ${same} WHERE n.scope IS NULL AND ${settledOnly('o')}`;
}

export interface SettleOutcome {
  run: string;
  /** items Put (changed or cleared) */
  itemsPut: number;
}

/** Buckets settled by one run at most (one statement; an hour's day is the natural group). */
export const MAX_BUCKETS_PER_RUN = 24;

export interface SettleOptions {
  /** hours whose live-counted items are rewritten from the facts (settleSql's `liveHours`) */
  liveHours?: readonly number[];
  /** and the live-counted items that events found in two objects touch (settleSql's `copiedLive`) */
  copiedLive?: boolean;
  empty?: readonly number[];
  nowMs: number;
  rewrite?: boolean;
  /** the buckets' scopes are settled in this many shards (every bucket of the run has this count; see settledShards) */
  shards?: number;
  /** hours whose facts hold the deletion requests that may retract engagement in the buckets (settleSql's `deletions`) */
  deletionHours?: readonly number[];
  /** a week's days that hold facts (the relation of a week's settle: settleRelation) */
  weekDays?: readonly number[];
  /** a week settled to date: its days before this time only (settleSql's `through`) */
  weekThrough?: number;
}

/**
 * Settles hours (`h`; with their live-counted items where `liveHours` says) or days (`d`) in one run:
 * one statement per shard of their scopes over the facts `relation` holds (it must cover every
 * bucket), partitioned by bucket. Buckets listed in `empty` have no facts left: every scope they had
 * is cleared. Each shard commits on its own manifest; the buckets' own manifests record the shard
 * count and when the last shard committed.
 */
export async function settleBuckets(granularity: SettleGranularity, buckets: readonly number[], relation: string, deps: SettleDeps, options: SettleOptions): Promise<SettleOutcome> {
  if (buckets.length > MAX_BUCKETS_PER_RUN) throw new Error(`a settle run takes at most ${MAX_BUCKETS_PER_RUN} buckets, got ${buckets.length}`);
  const count = Math.max(1, options.shards ?? 1);
  if (count === 1) return settleShard(granularity, buckets, relation, deps, options, { index: 0, count: 1 });
  // The count is recorded before any shard runs, so a crash mid-way cannot let a later run pick another.
  const owned = await Promise.all(buckets.map((b) => readManifest(deps.objects, granularity, b)));
  await Promise.all(buckets.map((b, i) => (owned[i]!.shards === count ? undefined : writeManifest(deps.objects, granularity, b, { run: null, pending: [], shards: count, settledAt: owned[i]!.settledAt }))));
  const runs: SettleOutcome[] = [];
  const base = `${granularity}-${buckets[0]}-${randomUUID()}`;
  const { shards: _, ...shardOptions } = options;
  await forEachLimited(
    Array.from({ length: count }, (_, index) => index),
    // Dispatched shards all at once (their workers' concurrency bounds them); local ones as the engine allows.
    deps.runShard ? count : Math.max(1, deps.tables.shardsInParallel),
    async (index) => {
      const shard = { index, count };
      const run = `${base}-s${index}of${count}`;
      runs.push(deps.runShard ? await deps.runShard({ granularity, buckets: [...buckets], options: shardOptions, shard, run }) : await settleShard(granularity, buckets, relation, deps, options, shard, run));
    },
  );
  await Promise.all(buckets.map((b) => writeManifest(deps.objects, granularity, b, { run: null, pending: [], shards: count, settledAt: options.nowMs })));
  return { run: runs.map((r) => r.run).join(','), itemsPut: runs.reduce((n, r) => n + r.itemsPut, 0) };
}

async function settleShard(
  granularity: SettleGranularity,
  buckets: readonly number[],
  relation: string,
  deps: SettleDeps,
  options: SettleOptions,
  shard: Shard,
  run = `${granularity}-${buckets[0]}-${randomUUID()}`,
): Promise<SettleOutcome> {
  const manifests = await Promise.all(buckets.map((b) => readManifest(deps.objects, granularity, b, shard)));
  // Registered before anything is written: from here DynamoDB may hold this run's items.
  await Promise.all(buckets.map((b, i) => writeManifest(deps.objects, granularity, b, { ...manifests[i]!, pending: [...manifests[i]!.pending, run] }, shard)));

  const empty = new Set(options.empty ?? []);
  const withFacts = buckets.filter((b) => !empty.has(b));
  if (withFacts.length) {
    const deletions = options.deletionHours?.length ? deps.tables.hours(options.deletionHours) : undefined;
    const sql = settleSql(relation, { dialect: deps.tables.dialect, granularity, buckets: withFacts, liveHours: options.liveHours, copiedLive: options.copiedLive, shard, deletions, through: options.weekThrough });
    await deps.sql.export(sql, `${SETTLE_RESULTS_PREFIX}${run}/`, 'jsonl', { partitionBy: SETTLE_PART_COLUMN });
  }
  const hasRows = async (b: string, bucket: number) => (await deps.objects.list(settleResultsPrefix(b, bucket))).length > 0;
  const plans: BucketPlan[] = await Promise.all(
    buckets.map(async (bucket, i) => {
      const manifest = manifests[i]!;
      const candidates = [...(manifest.run ? [manifest.run] : []), ...manifest.pending];
      const bases: string[] = [];
      for (const b of candidates) if (await hasRows(b, bucket)) bases.push(b);
      // `rewrite`: the table is not what the manifests say (a rebuild into an empty store, a restored backup).
      return { bucket, manifest, bases, force: manifest.pending.length > 0 || options.rewrite === true };
    }),
  );
  const present: BucketPlan[] = [];
  for (const p of plans) if (await hasRows(run, p.bucket)) present.push(p);
  const basedOnly = plans.filter((p) => p.bases.length && !present.includes(p));

  let itemsPut = 0;
  const putRows = async (prefix: string) => {
    await forEachLimited(await deps.objects.list(prefix), SETTLE_PUT_OBJECTS_IN_PARALLEL, async (key) => {
      for await (const rows of readJsonLines(deps.objects, key, SETTLE_PUT_CHUNK)) {
        await deps.counters.put(
          rows.map((row) => {
            const item = settledItemOfRow(row);
            return { ...item, expiresAt: settledExpiry(item, deps.retention) };
          }),
        );
        itemsPut += rows.length;
      }
    });
  };
  // A manifest from before runs: its scopes are cleared first, then the result overwrites what remains.
  for (const [i, manifest] of manifests.entries()) {
    const cleared = (manifest.legacyScopes ?? []).map((scope) => ({ scope, granularity, bucket: buckets[i]!, values: {} }) as CounterItem);
    for (let j = 0; j < cleared.length; j += SETTLE_PUT_CHUNK) {
      await deps.counters.put(cleared.slice(j, j + SETTLE_PUT_CHUNK).map((item) => ({ ...item, expiresAt: settledExpiry(item, deps.retention) })));
    }
    itemsPut += cleared.length;
  }
  if (plans.every((p) => p.bases.length === 0)) {
    // Nothing to diff against: the changes are the result (no second query).
    await putRows(`${SETTLE_RESULTS_PREFIX}${run}/`);
  } else {
    // Buckets with rows now, and buckets that had rows and have none now (their scopes are cleared).
    const changes = `${SETTLE_CHANGES_PREFIX}${run}/`;
    const diffed = [...present, ...basedOnly];
    const query = changesSql(deps.tables, run, present, granularity);
    const clearOnly = basedOnly.flatMap((p) => p.bases.map((b) => `SELECT DISTINCT scope, granularity, bucket, '{}' AS vals, CAST(NULL AS VARCHAR) AS sketches, CAST(NULL AS VARCHAR) AS tops FROM ${deps.tables.results(b, p.bucket)} WHERE granularity IN (${settledGranularitiesSql(granularity)})`));
    const parts = [...(present.length ? [query] : []), ...clearOnly];
    if (diffed.length && parts.length) {
      await deps.sql.export(parts.length === 1 ? parts[0]! : parts.map((q) => `SELECT * FROM (${q})`).join('\nUNION ALL\n'), changes, 'jsonl');
      await putRows(changes);
    }
  }

  await Promise.all(buckets.map((b) => writeManifest(deps.objects, granularity, b, { run, pending: [], settledAt: options.nowMs, itemsPut }, shard)));
  // Superseded rows and the changes are garbage once the manifests have moved.
  for (const p of plans) for (const b of p.bases) await deps.objects.delete(await deps.objects.list(settleResultsPrefix(b, p.bucket)));
  await deps.objects.delete(await deps.objects.list(`${SETTLE_CHANGES_PREFIX}${run}/`));
  return { run, itemsPut };
}
