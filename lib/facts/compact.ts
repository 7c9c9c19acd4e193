import { createHash, randomUUID } from 'node:crypto';
import { parquetMetadata } from 'hyparquet';
import type { Clock, MetricsSink, ObjectSize, ObjectStore, SqlEngine } from '../ports.js';
import { FACTS_PREFIX, partitionOf, partitionPrefix } from './partition.js';
import { FACT_COLUMNS, type Fact } from './schema.js';
import { factOfRow, resolveReplies } from './reply-resolution.js';
import { deletionHoursFor, hoursWithFacts, hoursWithRetractedEvents } from './retractions.js';
import { dedupedFacts, RETRACTION_HORIZON_SECONDS, RETRACTION_SKEW_SECONDS } from '../jobs/metrics-sql.js';
import { COMPACTION_STAGING_PREFIX, type SettleTables } from './tables.js';
import { adoptHourlyTargetCounting, clearDirty, DIRTY_DAYS, DIRTY_HOURS, DIRTY_WEEKS, DRIFT_HOURS, markDirty, markDrifted, readSettledThrough, writeWatermark } from '../counters/state.js';
import { rollMonthTotals, settleAllTimeTotals } from '../counters/all-time.js';
import { METRIC } from '../metrics/names.js';
import { createLogger } from '../log.js';
import { lastSettledAt, MAX_BUCKETS_PER_RUN, settleBuckets, settledShards, settleRelation, type SettleDeps } from '../counters/settle-run.js';
import { forEachMapped } from '../util/concurrency.js';
import { ShardsPendingError } from '../counters/settle-shards.js';
import type { SettleGranularity } from '../counters/settle-sql.js';
import { WEEK_SECONDS } from '../counters/weeks.js';
import { readJsonLines } from '../util/json-lines.js';
import { DEFAULT_ARCHIVE_POLICY, hourMayHoldArchived, mayBeArchived, type ArchivePolicy } from './storage-tiers.js';

export interface CompactionResult {
  hourStart: number;
  inputObjects: number;
  /** rows in the inputs, copies included (-1: not counted, the hour was compacted already) */
  inputRows: number;
  /** rows after deduplication by event id (-1: not counted) */
  outputRows: number;
  /** the hour's objects after the run */
  outputKeys: string[];
  /** rows that were a later copy of an event already in another object of the hour */
  duplicates: number;
}

const COMPACTED_PREFIX = 'compacted-';

/** The deps of the facts side of compaction: where the facts are, and the engine that merges them. */
export interface HourCompactionDeps {
  objects: ObjectStore;
  sql: SqlEngine;
  tables: SettleTables;
}

/**
 * Merges one hour partition's objects into one compacted set, one row per event id (the first
 * arrival wins), sorted by (type, created_at, event_id): a type's rows are contiguous, so the scans for
 * one type (the deletion requests every settle reads, docs/scaling.md) skip the other row groups by
 * their statistics, and within a type time ranges are contiguous.
 * The merge runs in the SQL engine (DuckDB spilling under its memory limit, Athena's workers), never
 * in this process. The merged files are copied in before any input is deleted, and their names derive
 * from the inputs, so a crash at any step leaves every fact in place (at worst twice, until the next
 * run merges again; every reader deduplicates by event id).
 */
export async function compactHour(hourStart: number, deps: HourCompactionDeps): Promise<CompactionResult> {
  const prefix = partitionPrefix(partitionOf(hourStart));
  const { keys, bytes } = await parquetObjects(deps.objects, prefix);
  const base = { hourStart, inputObjects: keys.length };
  if (keys.length === 0) return { ...base, inputRows: 0, outputRows: 0, outputKeys: [], duplicates: 0 };
  if (!hourNeedsCompaction(prefix, keys)) return { ...base, inputRows: -1, outputRows: -1, outputKeys: keys, duplicates: 0 };

  const name = createHash('sha256').update(keys.join('\n')).digest('hex').slice(0, 20);
  const compactedKey = (part: number) => `${prefix}${COMPACTED_PREFIX}${name}-${String(part).padStart(3, '0')}.parquet`;
  // One batch object is deduplicated already (ingest keeps one fact per event id per batch): renamed, not merged.
  if (keys.length === 1) {
    // One batch's object (at most one ingest batch of rows): its footer says how many.
    const rows = await parquetRowCount(deps.objects, keys[0]!);
    await deps.objects.copy(keys[0]!, compactedKey(0));
    await deps.objects.delete(keys);
    return { ...base, inputRows: rows, outputRows: rows, outputKeys: [compactedKey(0)], duplicates: 0 };
  }
  const [counts] = await deps.sql.query(`SELECT count(*) AS n, count(DISTINCT event_id) AS ids FROM ${deps.tables.hours([hourStart])}`);
  const inputRows = Number(counts?.n ?? 0);
  const outputRows = Number(counts?.ids ?? 0);

  const staging = `${COMPACTION_STAGING_PREFIX}${hourStart}-${name}/`;
  // A crashed run with the same inputs may have left a partial export here; an export needs a new prefix.
  await deps.objects.delete(await deps.objects.list(staging));
  const columns = FACT_COLUMNS.join(', ');
  // In slices of the hour by created_at, each at most the engine's shard of bytes: a sort holds one
  // slice, and an event's copies share their created_at, so deduplicating a slice deduplicates the hour.
  const slices = Math.min(60, Math.max(1, Math.ceil(bytes / Math.max(1, deps.tables.shardBytes))));
  const staged: string[] = [];
  for (let slice = 0; slice < slices; slice++) {
    const from = hourStart + Math.floor((slice * 3600) / slices);
    const to = hourStart + Math.floor(((slice + 1) * 3600) / slices);
    const slicePrefix = `${staging}${String(slice).padStart(3, '0')}/`;
    await deps.sql.export(`SELECT ${columns} FROM (${dedupedFacts(deps.tables.hours([hourStart]), { startTs: from, endTs: to }, deps.tables.dialect)}) ORDER BY type, created_at, event_id`, slicePrefix, 'parquet');
    staged.push(...(await deps.objects.list(slicePrefix)).sort());
  }
  const outputKeys = staged.map((_, i) => compactedKey(i));
  for (const [i, key] of staged.entries()) await deps.objects.copy(key, outputKeys[i]!);
  await deps.objects.delete(keys.filter((k) => !outputKeys.includes(k)));
  await deps.objects.delete(staged);
  return { ...base, inputRows, outputRows, outputKeys, duplicates: inputRows - outputRows };
}

/** Rows of a Parquet object, from its footer; -1 when it is gone or not Parquet (the settle query will say). */
async function parquetRowCount(objects: ObjectStore, key: string): Promise<number> {
  const bytes = await objects.get(key);
  if (!bytes) return -1;
  try {
    return Number(parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer).num_rows);
  } catch {
    return -1;
  }
}

/** An hour's compacted files: every object is a part of one compaction (`compacted-<name>[-<part>]`). */
function isCompactedSet(prefix: string, keys: readonly string[]): boolean {
  const names = new Set(keys.map((k) => /^compacted-([0-9a-f]+)(?:-\d+)?\.parquet$/.exec(k.slice(prefix.length))?.[1] ?? null));
  return names.size === 1 && !names.has(null);
}

/** Corrupt objects are moved here under their original key, so they can be inspected or restored. */
export const QUARANTINE_PREFIX = 'quarantine/';
export type CorruptObjectHandler = (key: string, error: unknown) => void;
/** Objects probed per query when looking for an undecodable one (then halves of a failing group). */
const PROBE_GROUP = 64;

/**
 * After a query over an hour failed: finds the objects the engine cannot read (groups, then halves,
 * down to single objects), moves each to quarantine/ and reports it. Returns how many it moved: none
 * means the failure was not corruption (a storage fault), and the caller rethrows it.
 */
export async function quarantineUnreadable(hourStart: number, deps: HourCompactionDeps, onCorrupt: CorruptObjectHandler): Promise<number> {
  const keys = (await deps.objects.list(partitionPrefix(partitionOf(hourStart)))).filter((k) => k.endsWith('.parquet'));
  const corrupt: { key: string; error: unknown }[] = [];
  const probe = async (group: readonly string[]): Promise<void> => {
    try {
      await deps.sql.query(`SELECT count(*) AS n FROM ${deps.tables.objects(hourStart, group)}`);
    } catch (error) {
      if (group.length === 1) corrupt.push({ key: group[0]!, error });
      else {
        const half = Math.ceil(group.length / 2);
        await probe(group.slice(0, half));
        await probe(group.slice(half));
      }
    }
  };
  for (let i = 0; i < keys.length; i += PROBE_GROUP) await probe(keys.slice(i, i + PROBE_GROUP));
  let moved = 0;
  for (const { key, error } of corrupt) {
    // Gone since the listing (a concurrent run merged it): nothing to move.
    if (!(await deps.objects.list(key)).includes(key)) continue;
    await deps.objects.copy(key, `${QUARANTINE_PREFIX}${key}`);
    await deps.objects.delete([key]);
    onCorrupt(key, error);
    moved++;
  }
  return moved;
}

/** Whether an hour's listing holds anything a compactor run has not merged yet. */
export function hourNeedsCompaction(prefix: string, keys: readonly string[]): boolean {
  const parquet = keys.filter((k) => k.endsWith('.parquet'));
  return parquet.length > 0 && !isCompactedSet(prefix, parquet);
}

export interface CompactorDeps extends SettleDeps {
  clock: Clock;
  /** an hour is settled this long after it ends, so stragglers make the first settle */
  graceSeconds?: number;
  metrics?: MetricsSink;
  /**
   * Live-counted items (minute items; the hour items of per-event and per-address scopes): rewritten
   * from the facts only for hours where live counting may have drifted (a redelivered message, a copy
   * of an event in a second object), `always` for a rebuild (a rebuilt store has no live items).
   * Elsewhere live counting already counted each event once.
   */
  settleMinutes?: 'drift' | 'always';
  /**
   * Put every settled item, not only those that changed since the bucket's last settle: for a table
   * that does not hold what the manifests say (a rebuild into an empty store, a restored backup).
   */
  rewriteSettled?: boolean;
  /**
   * Seconds before an hour (or a day) that was settled already is settled again for late events; 0
   * (the default) re-settles every run. Each re-settle scans the bucket's facts again, so at the design
   * load, where back-dated events re-dirty the last two days all the time, AWS paces them
   * (docs/scaling.md): a late event is stored and in its live minute at once, and in the settled hour
   * and day items (what windows over settled time read) once its bucket settles again. A first
   * settle is never paced.
   */
  resettle?: { hourAfterSeconds: number; dayAfterSeconds: number };
  /** hours settled at once: each is its own engine queries, so they overlap their waits */
  hoursInParallel?: number;
  /** a run starts no new hour or day after this many ms (an invocation's budget); the next run goes on */
  budgetMs?: number;
  /** called with each hour's deduplicated facts, streamed in chunks, once its counters are settled (rebuild restores the event index here) */
  onHourSettled?: (hourStart: number, facts: AsyncIterable<Fact[]>) => Promise<void>;
  /** structured warnings and errors (a failed hour, a quarantined object); stderr JSON by default */
  logIssue?: (level: 'warn' | 'error', msg: string, fields: Record<string, unknown>) => void;
  /** which fact objects may be archived (FACTS_ARCHIVE_AFTER_DAYS; default DEFAULT_ARCHIVE_POLICY): their hours and days are closed */
  archive?: ArchivePolicy;
}

export interface CompactionRun {
  hours: CompactionResult[];
  /** hours that failed (left dirty, retried next run; the watermark stays before the first) */
  failedHours: number[];
  /** hours left for the next run because this one used its budget */
  deferredHours: number[];
  /** settled hours with late events, left for a later run by `resettle` */
  pacedHours: number[];
  /**
   * Dirty hours and days holding objects old enough to be archived, left as they were settled and their
   * marks cleared: a settle would read them (Athena skips archived objects: it would under-count) and a
   * merge would rewrite them. Their late events stay stored, readable until they age too, but uncounted.
   */
  closedHours: number[];
  closedDays: number[];
  /** objects moved to quarantine/ because they could not be decoded */
  quarantined: string[];
  daysRolled: number[];
  /** weeks whose week items were settled (weeks.ts), whole or to date: weeks with a day rolled since their last settle */
  weeksSettled: number[];
  /** settled items Put this run (changed or cleared; unchanged items are not written) */
  itemsPut: number;
  watermark: number;
}

/** The Parquet objects under a prefix and their bytes (0 where the store cannot list sizes), in one listing. */
export async function parquetObjects(objects: ObjectStore, prefix: string): Promise<{ keys: string[]; bytes: number; objects: ObjectSize[] }> {
  const listed = objects.listSizes ? await objects.listSizes(prefix) : (await objects.list(prefix)).map((key) => ({ key, bytes: 0 }));
  const parquet = listed.filter((o) => o.key.endsWith('.parquet'));
  return { keys: parquet.map((o) => o.key), bytes: parquet.reduce((n, o) => n + o.bytes, 0), objects: parquet };
}

interface Statement {
  buckets: { bucket: number; bytes: number; objects: number }[];
  shards: number;
}

/**
 * The settle statements for some buckets, so none aggregates more than the engine's `shardBytes` of
 * facts per shard: a bucket keeps the shard count of its first settle (settledShards), a new one gets
 * enough for its bytes; buckets of one count are settled together while their bytes fit that many shards.
 */
async function planStatements(granularity: SettleGranularity, buckets: { bucket: number; bytes: number; objects: number }[], deps: CompactorDeps): Promise<Statement[]> {
  const perShard = Math.max(1, deps.tables.shardBytes);
  const byCount = new Map<number, Statement['buckets']>();
  for (const b of buckets) {
    const shards = (await settledShards(deps.objects, granularity, b.bucket)) ?? Math.min(Math.max(1, deps.tables.maxShards), Math.max(1, Math.ceil(b.bytes / perShard)));
    (byCount.get(shards) ?? byCount.set(shards, []).get(shards)!).push(b);
  }
  const statements: Statement[] = [];
  for (const [shards, members] of byCount) {
    let current: Statement | null = null;
    let bytes = 0;
    for (const b of members) {
      if (!current || (current.buckets.length > 0 && bytes + b.bytes > shards * perShard)) {
        statements.push((current = { buckets: [], shards }));
        bytes = 0;
      }
      current.buckets.push(b);
      bytes += b.bytes;
    }
  }
  return statements;
}

/**
 * How far back a run also looks at the object listing for hours with unmerged objects but no dirty
 * mark (written by a version that marked after writing, or by hand). Ingest marks before it writes, so
 * this is a safety net for the hours the watermark is about to pass, not the source of truth.
 */
export const RECONCILE_HOURS = 48;
/** Seconds after an hour ends before its first settle, by default: stragglers make it. */
export const DEFAULT_GRACE_SECONDS = 120;
/**
 * A deletion ingested this long before its hour's last settle is looked up again: a settle reads its
 * hour's deletions a little before the time it records, and looking one up twice costs only the query.
 */
export const LOCATE_OVERLAP_MS = 10 * 60_000;
/**
 * A run of dirty hours settled together holds at most one settle statement's worth of facts (the
 * engine's shardBytes) and spans at most a week: its deletion hours stay within a shard task's bound
 * (settle-shards' MAX_DELETION_HOURS), and a busy hour is settled (and the budget checked) on its own.
 */
export const GROUP_SPAN_SECONDS = 7 * 86400;
/** Hours settled at once by default (Athena runs 20+ queries at once per account; DuckDB shares its cores). */
export const DEFAULT_HOURS_IN_PARALLEL = 4;

/**
 * One compactor run: every completed hour marked dirty by ingest (or found unmerged in the listing)
 * is merged and deduplicated, its counters settled from the facts, and its mark cleared only if no
 * batch re-marked it meanwhile, so late events are never left unsettled. Then the watermark advances to
 * the first hour not yet settled (never backwards), completed days are settled from their facts,
 * their months recomputed, and the all-time totals with them. A dirty hour or day holding an object
 * old enough to be archived (lib/facts/storage-tiers.ts) is closed instead: left as it was settled.
 */
export async function compactAndSettle(deps: CompactorDeps): Promise<CompactionRun> {
  const log = deps.logIssue ?? createLogger({ component: 'compactor' }, (line) => console.error(line));
  const startedMs = deps.clock.now();
  const withinBudget = () => deps.budgetMs === undefined || deps.clock.now() - startedMs < deps.budgetMs;
  const nowSeconds = Math.floor(startedMs / 1000);
  const settleBefore = Math.floor((nowSeconds - (deps.graceSeconds ?? DEFAULT_GRACE_SECONDS)) / 3600) * 3600;
  const { watermark: previous, weeksThrough: previousWeeksThrough } = await readSettledThrough(deps.counters);
  const dayDue = async (dayStart: number) => {
    const after = deps.resettle?.dayAfterSeconds;
    if (!after) return true;
    const settledAt = await lastSettledAt(deps.objects, 'd', dayStart);
    return settledAt === null || startedMs - settledAt >= after * 1000;
  };
  const layout = await adoptHourlyTargetCounting(deps.counters, startedMs);
  if (layout.hours.length) log('warn', 'per-event counts are now live per hour: the hours not settled since are rewritten from the facts', { hours: layout.hours.length });
  const archive = deps.archive ?? DEFAULT_ARCHIVE_POLICY;
  // Only a bucket old enough to hold an archived object is listed for it: recent hours cost nothing.
  const holdsArchived = (bucketStart: number, objects: () => Promise<ObjectSize[]>) =>
    hourMayHoldArchived(bucketStart, startedMs, archive) ? objects().then((listed) => listed.some((o) => mayBeArchived(o, startedMs, archive))) : Promise.resolve(false);
  const closed: { id: number; value: Record<string, unknown> }[] = [];
  const closedDays: number[] = [];
  const paced: number[] = [];
  const dirty: { id: number; value: Record<string, unknown> }[] = [];
  // An hour last settled under the earlier layout has hour items where sparse hours now have none and
  // minute items without their details: its first settle under this layout rewrites its live-counted items.
  const settledBeforeLayout = new Set<number>();
  const settledAtOf = new Map<number, number | null>();
  const marks = await dirtyHours(deps, previous, settleBefore);
  for (const mark of marks.filter((d) => d.id < settleBefore)) {
    if (await holdsArchived(mark.id, async () => (await parquetObjects(deps.objects, partitionPrefix(partitionOf(mark.id)))).objects)) {
      closed.push(mark);
      continue;
    }
    // One manifest read per hour answers the pacing, the layout and which deletions are new.
    const settledAt = await lastSettledAt(deps.objects, 'h', mark.id);
    settledAtOf.set(mark.id, settledAt);
    const after = deps.resettle?.hourAfterSeconds;
    if (after && settledAt !== null && startedMs - settledAt < after * 1000) {
      paced.push(mark.id);
      continue;
    }
    dirty.push(mark);
    if (settledAt !== null && settledAt < layout.adoptedAt) settledBeforeLayout.add(mark.id);
  }
  const drifted = new Map((await deps.counters.listState(DRIFT_HOURS)).map((m) => [m.id, m.value]));
  for (const { id: hourStart, value } of closed) {
    const driftMark = drifted.get(hourStart);
    if (driftMark) await clearDirty(deps.counters, DRIFT_HOURS, hourStart, driftMark);
    await clearDirty(deps.counters, DIRTY_HOURS, hourStart, value);
  }
  const hours: CompactionResult[] = [];
  const failedHours: number[] = [];
  const deferredHours: number[] = [];
  const quarantined: string[] = [];
  let itemsPut = 0;
  const onCorrupt: CorruptObjectHandler = (key, error) => {
    quarantined.push(key);
    deps.metrics?.count(METRIC.objectsQuarantined);
    log('error', 'corrupt fact object moved to quarantine', { key, quarantinedAs: `${QUARANTINE_PREFIX}${key}`, error });
  };
  // Whole hours' live-counted items (minutes; per-event and per-address hours) are rewritten where live
  // counting may be off anywhere in them: a redelivered message, facts counted live and then
  // quarantined, a rebuild. Copies of an event in two objects are handled by the settle itself, which
  // rewrites just the items those events touch.
  const liveItemsFor = (hourStart: number, quarantinedNow: boolean) => deps.settleMinutes === 'always' || quarantinedNow || drifted.has(hourStart) || settledBeforeLayout.has(hourStart);
  // Hours that will settle (again) without help: a retraction found in them needs no extra mark.
  const waiting = new Set(marks.map((m) => m.id));
  /**
   * Deletion requests in these hours that arrived since the hour last settled may retract engagement
   * in an hour settled before them (up to the retraction horizon back): such hours are marked to
   * settle again, which applies the retraction (settleSql's `deletions`).
   */
  const markRetractedHours = async (hours: number[], nowSeconds: number) => {
    if (!hours.length) return;
    const from = Math.min(...hours) - 3600 - RETRACTION_HORIZON_SECONDS;
    // A deletion may be dated up to RETRACTION_SKEW_SECONDS before its target's hour: the hour after the last can hold a target too.
    const candidates = (await hoursWithFacts(deps.objects, from, Math.max(...hours) + 3600 + RETRACTION_SKEW_SECONDS, nowSeconds)).filter((h) => h < previous && !waiting.has(h));
    // Only hours with deletions that are new since their last settle (with an overlap for ingest's clock).
    const retracted = await hoursWithRetractedEvents(hours, candidates, deps, (h) => {
      const settledAt = settledAtOf.get(h) ?? null;
      return settledAt === null ? null : settledAt - LOCATE_OVERLAP_MS;
    });
    if (!retracted.length) return;
    await markDirty(deps.counters, retracted, deps.clock.now());
    for (const h of retracted) waiting.add(h);
    log('warn', 'retracted engagement found in settled hours: they settle again', { hours: retracted.length });
  };
  const listHour = (hourStart: number) => parquetObjects(deps.objects, partitionPrefix(partitionOf(hourStart)));
  type Listing = Awaited<ReturnType<typeof listHour>>;
  const settleGroup = async (group: { id: number; value: Record<string, unknown> }[], quarantinedNow = false, listedBefore?: Listing[]) => {
    const nowSeconds = Math.floor(deps.clock.now() / 1000);
    const listed = listedBefore ?? (await forEachMapped(group, deps.hoursInParallel ?? DEFAULT_HOURS_IN_PARALLEL, (h) => listHour(h.id)));
    const withFacts = group.filter((_, i) => listed[i]!.keys.length > 0).map((h) => h.id);
    // Replies whose parent arrived after them: resolved into the hour before it settles.
    const resolved = await resolveReplies(withFacts, deps);
    await markRetractedHours(withFacts, nowSeconds);
    // Settled first, over the objects as ingest left them (so copies are visible), then merged; an hour
    // that gained resolved copies is listed again for its size.
    const changed = new Set(withFacts.filter((h) => (resolved.get(h) ?? 0) > 0));
    const sizes = await forEachMapped(group, deps.hoursInParallel ?? DEFAULT_HOURS_IN_PARALLEL, async (h) => (changed.has(h.id) ? listHour(h.id) : listed[group.indexOf(h)]!));
    const planned = await planStatements(
      'h',
      group.map((h, i) => ({ bucket: h.id, bytes: sizes[i]!.bytes, objects: sizes[i]!.keys.length })),
      deps,
    );
    for (const statement of planned) {
      const buckets = statement.buckets.map((b) => b.bucket);
      const empty = statement.buckets.filter((b) => b.objects === 0).map((b) => b.bucket);
      const settled = await settleBuckets('h', buckets, settleRelation('h', buckets, { empty }, deps.tables), deps, {
        deletionHours: await deletionHoursFor(deps.objects, Math.min(...buckets), Math.max(...buckets) + 3600, nowSeconds),
        liveHours: buckets.filter((b) => liveItemsFor(b, quarantinedNow)),
        copiedLive: true,
        empty,
        nowMs: deps.clock.now(),
        rewrite: deps.rewriteSettled,
        shards: statement.shards,
      });
      itemsPut += settled.itemsPut;
    }
    const results = await forEachMapped(group, deps.hoursInParallel ?? DEFAULT_HOURS_IN_PARALLEL, (h) => compactHour(h.id, deps));
    for (const [i, { id: hourStart, value }] of group.entries()) {
      if (deps.onHourSettled && results[i]!.outputKeys.length) await deps.onHourSettled(hourStart, hourFacts(hourStart, deps));
      hours.push(results[i]!);
      // The day is marked before the hour's mark is cleared: a crash in between re-settles, never skips.
      await markDirty(deps.counters, [Math.floor(hourStart / 86400) * 86400], deps.clock.now(), DIRTY_DAYS);
      const driftMark = drifted.get(hourStart);
      if (driftMark) await clearDirty(deps.counters, DRIFT_HOURS, hourStart, driftMark);
      await clearDirty(deps.counters, DIRTY_HOURS, hourStart, value);
    }
  };
  // A settle reads its hour and the hours around it (deletions, retracted events): an undecodable
  // object in any of them is looked for, its own hour first.
  const quarantineAround = async (hourStart: number) => {
    const own = await quarantineUnreadable(hourStart, deps, onCorrupt);
    if (own) return own;
    let moved = 0;
    const nowSeconds = Math.floor(deps.clock.now() / 1000);
    for (const h of await hoursWithFacts(deps.objects, hourStart - RETRACTION_HORIZON_SECONDS, hourStart + 3600 + RETRACTION_HORIZON_SECONDS, nowSeconds)) {
      if (h !== hourStart) moved += await quarantineUnreadable(h, deps, onCorrupt);
    }
    return moved;
  };
  // Runs of consecutive dirty hours, up to MAX_BUCKETS_PER_RUN of them, the engine's shardBytes of
  // facts and GROUP_SPAN_SECONDS: a backlog of sparse hours is a few queries, not one per hour or per
  // day, and a busy hour is a run of its own (the budget is checked between runs). Each hour is listed
  // once, when a run first looks at it, not all of a backlog up front.
  const groupBytes = Math.max(1, deps.tables.shardBytes);
  const listings = new Map<number, Listing>();
  const nextGroup = async (from: number) => {
    const candidates: typeof dirty = [];
    for (const mark of dirty.slice(from, from + MAX_BUCKETS_PER_RUN)) {
      if (mark.id + 3600 - dirty[from]!.id > GROUP_SPAN_SECONDS) break;
      candidates.push(mark);
    }
    const unlisted = candidates.filter((m) => !listings.has(m.id));
    const listed = await forEachMapped(unlisted, deps.hoursInParallel ?? DEFAULT_HOURS_IN_PARALLEL, (m) => listHour(m.id));
    unlisted.forEach((m, i) => listings.set(m.id, listed[i]!));
    let bytes = listings.get(candidates[0]!.id)!.bytes;
    let take = 1;
    while (take < candidates.length && bytes + listings.get(candidates[take]!.id)!.bytes <= groupBytes) bytes += listings.get(candidates[take++]!.id)!.bytes;
    return candidates.slice(0, take);
  };
  let batch: typeof dirty = [];
  for (let next = 0; next < dirty.length; next += batch.length) {
    if (!withinBudget()) {
      deferredHours.push(...dirty.slice(next).map((h) => h.id));
      break;
    }
    // A listing that fails leaves a run of one hour, which settles (or fails) on its own below.
    batch = [dirty[next]!];
    try {
      batch = await nextGroup(next);
      await settleGroup(batch, false, batch.map((m) => listings.get(m.id)!));
    } catch (groupError) {
      // Shards still settling elsewhere: not a failure, the next run picks the hours up again.
      if (groupError instanceof ShardsPendingError) {
        deferredHours.push(...batch.map((h) => h.id));
        continue;
      }
      // Hour by hour, so one bad hour (an undecodable object, a fault) holds back only itself.
      for (const mark of batch) {
        try {
          try {
            await settleGroup([mark]);
          } catch (error) {
            // One undecodable object must not hold its hour (and the watermark) forever: move it aside, go again.
            if (error instanceof ShardsPendingError || (await quarantineAround(mark.id)) === 0) throw error;
            await settleGroup([mark], true);
          }
        } catch (error) {
          if (error instanceof ShardsPendingError) {
            deferredHours.push(mark.id);
            continue;
          }
          // Leave the mark: the next run retries this hour, and the watermark stays before it.
          failedHours.push(mark.id);
          deps.metrics?.count(METRIC.storageFaults, { Store: 'objects' });
          log('error', 'compaction of an hour failed; it stays dirty', { hourStart: mark.id, error, groupError });
        }
      }
    }
  }
  hours.sort((a, b) => a.hourStart - b.hourStart);
  // A paced hour was settled before: the watermark passed it then, and a late event cannot pull it back.
  const watermark = Math.max(previous, Math.min(settleBefore, ...failedHours, ...deferredHours, ...paced.filter((h) => h >= previous)));
  if (watermark !== previous) await writeWatermark(deps.counters, watermark, deps.clock.now(), previousWeeksThrough);

  const daysRolled: number[] = [];
  let dayPending = false;
  // The days due, by epoch week: a backlog of a week of days is one statement (bytes permitting), and
  // its deletion hours stay within a week's (settle-shards' bound).
  const dueWeeks = new Map<number, { id: number; value: Record<string, unknown> }[]>();
  for (const mark of (await deps.counters.listState(DIRTY_DAYS)).sort((a, b) => a.id - b.id)) {
    if (mark.id + 86400 > watermark) continue; // the day is not complete yet: its hours serve
    if (!(await dayDue(mark.id))) continue; // rolled before, and again too recently: the next runs will
    const week = Math.floor(mark.id / WEEK_SECONDS) * WEEK_SECONDS;
    (dueWeeks.get(week) ?? dueWeeks.set(week, []).get(week)!).push(mark);
  }
  /** Settles some days in one statement per planStatements' bound, then rolls each (month, week mark, its own mark cleared). */
  const rollDays = async (marks: { id: number; value: Record<string, unknown> }[]) => {
    const sizes = await Promise.all(marks.map((m) => parquetObjects(deps.objects, `${FACTS_PREFIX}dt=${partitionOf(m.id).dt}/`)));
    const open: { bucket: number; bytes: number; objects: number }[] = [];
    for (const [i, mark] of marks.entries()) {
      if (await holdsArchived(mark.id, async () => sizes[i]!.objects)) {
        closedDays.push(mark.id);
        await clearDirty(deps.counters, DIRTY_DAYS, mark.id, mark.value);
      } else open.push({ bucket: mark.id, bytes: sizes[i]!.bytes, objects: sizes[i]!.keys.length });
    }
    const statements = await planStatements('d', open, deps);
    for (const { buckets: members, shards } of statements) {
      const days = members.map((b) => b.bucket);
      const empty = members.filter((b) => b.objects === 0).map((b) => b.bucket);
      const deletionHours = await deletionHoursFor(deps.objects, Math.min(...days), Math.max(...days) + 86400, Math.floor(deps.clock.now() / 1000));
      itemsPut += (await settleBuckets('d', days, settleRelation('d', days, { empty }, deps.tables), deps, { empty, nowMs: deps.clock.now(), rewrite: deps.rewriteSettled, shards, deletionHours })).itemsPut;
      for (const dayStart of days) {
        // The month and the week's mark before the day's: a crash in between rolls the day (and so the month) again.
        await rollMonthTotals(dayStart, deps.counters);
        await markDirty(deps.counters, [Math.floor(dayStart / WEEK_SECONDS) * WEEK_SECONDS], deps.clock.now(), DIRTY_WEEKS);
        daysRolled.push(dayStart);
        await clearDirty(deps.counters, DIRTY_DAYS, dayStart, marks.find((m) => m.id === dayStart)!.value);
      }
    }
  };
  for (const marks of dueWeeks.values()) {
    if (!withinBudget()) {
      dayPending = true;
      break;
    }
    try {
      await rollDays(marks);
    } catch (weekError) {
      if (weekError instanceof ShardsPendingError) {
        dayPending = true;
        continue;
      }
      // Day by day, so one bad day holds back only itself.
      for (const mark of marks.filter((m) => !daysRolled.includes(m.id) && !closedDays.includes(m.id))) {
        try {
          await rollDays([mark]);
        } catch (error) {
          dayPending = true;
          if (!(error instanceof ShardsPendingError)) log('error', 'rolling a day failed; it stays dirty', { dayStart: mark.id, error, weekError });
        }
      }
    }
  }
  // Only a consistent total is published: every completed day before settled_through is in a month.
  if (!dayPending) await settleAllTimeTotals(deps.counters, Math.floor(watermark / 86400) * 86400);
  const weeksSettled = await settleWeeks(deps, watermark, { withinBudget, holdsArchived, log });
  await advanceWeeksThrough(deps, watermark, previousWeeksThrough);
  const closedHours = closed.map((h) => h.id);
  if (closedHours.length) deps.metrics?.count(METRIC.archivedBucketsClosed, { Granularity: 'h' }, closedHours.length);
  if (closedDays.length) deps.metrics?.count(METRIC.archivedBucketsClosed, { Granularity: 'd' }, closedDays.length);
  if (closedHours.length || closedDays.length) {
    log('warn', 'late events in hours whose facts may be archived: stored, not counted; the hours and days keep their settled counters', {
      reason: 'archived',
      hours: closedHours.length,
      days: closedDays.length,
      from: Math.min(...closedHours, ...closedDays),
      to: Math.max(...closedHours, ...closedDays),
    });
  }
  return { hours, failedHours, deferredHours, pacedHours: paced, closedHours, closedDays, quarantined, daysRolled, weeksSettled: weeksSettled.weeks, itemsPut: itemsPut + weeksSettled.itemsPut, watermark };
}

/**
 * Week items are settled through the watermark's day once every day since the last such point has
 * been rolled at least once (a day waiting to be rolled again, late events paced, does not hold it:
 * its day item is as far behind as its week's) and no week of those days waits for its settle.
 */
async function advanceWeeksThrough(deps: CompactorDeps, watermark: number, previousWeeksThrough: number): Promise<void> {
  const dayEnd = Math.floor(watermark / 86400) * 86400;
  if (dayEnd <= previousWeeksThrough) return;
  const since = (start: number, length: number) => start < dayEnd && start + length > previousWeeksThrough;
  const [dayMarks, weekMarks] = await Promise.all([deps.counters.listState(DIRTY_DAYS), deps.counters.listState(DIRTY_WEEKS)]);
  if (weekMarks.some((mark) => since(mark.id, WEEK_SECONDS))) return;
  for (const mark of dayMarks) if (since(mark.id, 86400) && (await lastSettledAt(deps.objects, 'd', mark.id)) === null) return;
  await writeWatermark(deps.counters, watermark, deps.clock.now(), dayEnd);
}

/**
 * Settles the week items (weeks.ts) of every week with a day rolled since: from the facts of its days
 * before the watermark's day (the whole week once it is over, else the week to date), like a day,
 * with its own manifests, so a re-settle writes only what moved. A read takes a week item only where
 * it covers the days it needs and reads the days otherwise, so a week settled late or not at all
 * costs reads, never exactness. A week holding an archived object is closed, as its days are, and
 * emptied, so its days answer for it.
 */
async function settleWeeks(
  deps: CompactorDeps,
  watermark: number,
  run: { withinBudget: () => boolean; holdsArchived: (bucketStart: number, objects: () => Promise<ObjectSize[]>) => Promise<boolean>; log: (level: 'warn' | 'error', msg: string, fields: Record<string, unknown>) => void },
): Promise<{ weeks: number[]; itemsPut: number }> {
  const weeks: number[] = [];
  let itemsPut = 0;
  for (const { id: weekStart, value } of (await deps.counters.listState(DIRTY_WEEKS)).sort((a, b) => a.id - b.id)) {
    const through = Math.min(weekStart + WEEK_SECONDS, Math.floor(watermark / 86400) * 86400);
    if (through <= weekStart) continue; // no day of it is over yet
    if (!run.withinBudget()) break;
    try {
      const days = Array.from({ length: (through - weekStart) / 86400 }, (_, i) => weekStart + i * 86400);
      const listed = await Promise.all(days.map((day) => parquetObjects(deps.objects, `${FACTS_PREFIX}dt=${partitionOf(day).dt}/`)));
      const archived = await Promise.all(days.map((day, i) => run.holdsArchived(day, async () => listed[i]!.objects)));
      if (archived.some(Boolean)) {
        // Closed, as its archived days are, but emptied (its last run's scopes cleared, from its results,
        // not its facts): a day of it settled again since would disagree with it, so its days answer.
        const shards = (await settledShards(deps.objects, 'w', weekStart)) ?? 1;
        itemsPut += (await settleBuckets('w', [weekStart], '', deps, { empty: [weekStart], nowMs: deps.clock.now(), shards })).itemsPut;
        deps.metrics?.count(METRIC.archivedBucketsClosed, { Granularity: 'w' }, 1);
        await clearDirty(deps.counters, DIRTY_WEEKS, weekStart, value);
        continue;
      }
      const weekDays = days.filter((_, i) => listed[i]!.keys.length > 0);
      const empty = weekDays.length ? [] : [weekStart];
      // Sized for the whole week: a bucket keeps the shard count of its first settle, and a week's first is a day's worth.
      const size = { bucket: weekStart, bytes: Math.ceil((listed.reduce((n, l) => n + l.bytes, 0) * 7) / days.length), objects: listed.reduce((n, l) => n + l.keys.length, 0) };
      const [{ shards }] = (await planStatements('w', [size], deps)) as [Statement];
      const deletionHours = await deletionHoursFor(deps.objects, weekStart, through, Math.floor(deps.clock.now() / 1000));
      const weekThrough = through < weekStart + WEEK_SECONDS ? through : undefined;
      const options = { empty, weekDays, weekThrough, nowMs: deps.clock.now(), rewrite: deps.rewriteSettled, shards, deletionHours };
      itemsPut += (await settleBuckets('w', [weekStart], settleRelation('w', [weekStart], options, deps.tables), deps, options)).itemsPut;
      weeks.push(weekStart);
      await clearDirty(deps.counters, DIRTY_WEEKS, weekStart, value);
    } catch (error) {
      if (!(error instanceof ShardsPendingError)) run.log('error', 'settling a week failed; it stays dirty (and holds weeksThrough back while it is recent)', { weekStart, error });
    }
  }
  return { weeks, itemsPut };
}

/** Facts read back per chunk for onHourSettled. */
const HOUR_FACTS_CHUNK = 5_000;

/** An hour's deduplicated facts, exported by the engine and streamed back in chunks. */
export async function* hourFacts(hourStart: number, deps: HourCompactionDeps): AsyncGenerator<Fact[]> {
  const staging = `${COMPACTION_STAGING_PREFIX}facts-${hourStart}-${randomUUID()}/`;
  await deps.sql.export(`SELECT ${FACT_COLUMNS.join(', ')} FROM (${dedupedFacts(deps.tables.hours([hourStart]), { startTs: hourStart, endTs: hourStart + 3600 }, deps.tables.dialect)})`, staging, 'jsonl');
  try {
    for (const key of await deps.objects.list(staging)) {
      for await (const rows of readJsonLines(deps.objects, key, HOUR_FACTS_CHUNK)) yield rows.map(factOfRow);
    }
  } finally {
    await deps.objects.delete(await deps.objects.list(staging));
  }
}


/**
 * The hours to settle this run, in order: the dirty marks, plus hours the watermark is about to pass
 * whose listing shows unmerged objects. Those are marked first, so a crash mid-run still leaves a mark.
 */
async function dirtyHours(deps: CompactorDeps, watermark: number, settleBefore: number): Promise<{ id: number; value: Record<string, unknown> }[]> {
  const marked = await deps.counters.listState(DIRTY_HOURS);
  const known = new Set(marked.map((m) => m.id));
  const found: number[] = [];
  for (let hour = Math.max(watermark, settleBefore - RECONCILE_HOURS * 3600); hour < settleBefore; hour += 3600) {
    if (known.has(hour)) continue;
    const prefix = partitionPrefix(partitionOf(hour));
    if (hourNeedsCompaction(prefix, await deps.objects.list(prefix))) found.push(hour);
  }
  if (found.length) {
    // Facts nobody marked were not counted live either (an older version, a copy by hand): drifted.
    await markDrifted(deps.counters, found, deps.clock.now());
    return (await deps.counters.listState(DIRTY_HOURS)).sort((a, b) => a.id - b.id);
  }
  return marked.sort((a, b) => a.id - b.id);
}
