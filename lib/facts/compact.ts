import { createHash } from 'node:crypto';
import type { Clock, CounterStore, MetricsSink, ObjectStore } from '../ports.js';
import { decodeFacts, encodeFacts } from './parquet.js';
import { partitionOf, partitionPrefix } from './partition.js';
import type { Fact } from './schema.js';
import { clearDirty, DIRTY_DAYS, DIRTY_HOURS, markDirty, readWatermark, WATERMARK } from '../counters/state.js';
import { rollMonthTotals, settleAllTimeTotals } from '../counters/all-time.js';
import { METRIC } from '../metrics/names.js';
import { createLogger } from '../log.js';
import { rollDay, settleHour } from '../counters/settle.js';
import type { Retention } from '../counters/retention.js';

export interface CompactionResult {
  hourStart: number;
  inputObjects: number;
  inputRows: number;
  outputRows: number;
  outputKey: string | null;
  /** the hour's facts after deduplication, in file order */
  facts: Fact[];
}

const COMPACTED_PREFIX = 'compacted-';

/**
 * Merges one hour partition's objects into one file, one row per event id, sorted by
 * (created_at, event_id) so time-range scans read contiguous row groups. The merged file is written
 * before any input is deleted, and its name is derived from the inputs, so a crash at any step
 * leaves every fact in place (at worst twice, until the next run merges again).
 */
export async function compactHour(objects: ObjectStore, hourStart: number, onCorrupt: CorruptObjectHandler = () => {}): Promise<CompactionResult> {
  const prefix = partitionPrefix(partitionOf(hourStart));
  const keys = (await objects.list(prefix)).filter((k) => k.endsWith('.parquet'));
  const base = { hourStart, inputObjects: keys.length, inputRows: 0 };
  if (keys.length === 0) return { ...base, outputRows: 0, outputKey: null, facts: [] };
  if (keys.length === 1 && isCompacted(prefix, keys[0]!)) {
    const facts = await readFactsOrQuarantine(objects, keys[0]!, onCorrupt);
    return { ...base, inputRows: facts?.length ?? 0, outputRows: facts?.length ?? 0, outputKey: facts ? keys[0]! : null, facts: facts ?? [] };
  }

  const byId = new Map<string, Fact>();
  let inputRows = 0;
  const readable: string[] = [];
  for (const key of keys) {
    const facts = await readFactsOrQuarantine(objects, key, onCorrupt);
    if (!facts) continue;
    readable.push(key);
    for (const fact of facts) {
      inputRows++;
      const seen = byId.get(fact.event_id);
      // The first arrival wins, so a compacted hour does not change when it is compacted again.
      if (!seen || fact.ingested_at < seen.ingested_at) byId.set(fact.event_id, fact);
    }
  }
  if (readable.length === 0) return { ...base, outputRows: 0, outputKey: null, facts: [] };
  const merged = [...byId.values()].sort((a, b) => a.created_at - b.created_at || (a.event_id < b.event_id ? -1 : 1));
  const name = createHash('sha256').update(readable.join('\n')).digest('hex').slice(0, 20);
  const outputKey = `${prefix}${COMPACTED_PREFIX}${name}.parquet`;
  await objects.put(outputKey, encodeFacts(merged), 'application/vnd.apache.parquet');
  await objects.delete(readable.filter((k) => k !== outputKey));
  return { ...base, inputRows, outputRows: merged.length, outputKey, facts: merged };
}

const isCompacted = (prefix: string, key: string) => key.slice(prefix.length).startsWith(COMPACTED_PREFIX);

/** Corrupt objects are moved here under their original key, so they can be inspected or restored. */
export const QUARANTINE_PREFIX = 'quarantine/';
export type CorruptObjectHandler = (key: string, error: unknown) => void;

/**
 * An object's facts; null when it is gone (deleted by a concurrent run after listing: its rows live
 * in that run's output) or undecodable. An undecodable object is moved to quarantine/ and reported, so
 * one damaged file never blocks its hour, the watermark, or every SQL read of the facts. A failing
 * read is a storage fault, not corruption: it throws, and the hour is retried.
 */
async function readFactsOrQuarantine(objects: ObjectStore, key: string, onCorrupt: CorruptObjectHandler): Promise<Fact[] | null> {
  const bytes = await objects.get(key);
  if (!bytes) return null;
  try {
    return await decodeFacts(bytes);
  } catch (error) {
    await objects.put(`${QUARANTINE_PREFIX}${key}`, bytes, 'application/octet-stream');
    await objects.delete([key]);
    onCorrupt(key, error);
    return null;
  }
}

/** Whether an hour's listing holds anything a compactor run has not merged yet. */
export function hourNeedsCompaction(prefix: string, keys: readonly string[]): boolean {
  const parquet = keys.filter((k) => k.endsWith('.parquet'));
  return parquet.length > 1 || (parquet.length === 1 && !isCompacted(prefix, parquet[0]!));
}

export interface CompactorDeps {
  objects: ObjectStore;
  counters: CounterStore;
  clock: Clock;
  retention: Retention;
  /** an hour is settled this long after it ends, so stragglers make the first settle */
  graceSeconds?: number;
  metrics?: MetricsSink;
  /** called with each hour's deduplicated facts once its counters are settled (rebuild restores the event index here) */
  onHourSettled?: (hourStart: number, facts: readonly Fact[]) => Promise<void>;
  /** structured warnings and errors (a failed hour, a quarantined object); stderr JSON by default */
  logIssue?: (level: 'warn' | 'error', msg: string, fields: Record<string, unknown>) => void;
}

export interface CompactionRun {
  hours: Omit<CompactionResult, 'facts'>[];
  /** hours that failed (left dirty, retried next run; the watermark stays before the first) */
  failedHours: number[];
  /** objects moved to quarantine/ because they could not be decoded */
  quarantined: string[];
  daysRolled: number[];
  watermark: number;
}

/**
 * How far back a run also looks at the object listing for hours with unmerged objects but no dirty
 * mark (written by a version that marked after writing, or by hand). Ingest marks before it writes, so
 * this is a safety net for the hours the watermark is about to pass, not the source of truth.
 */
export const RECONCILE_HOURS = 48;

/**
 * One compactor run: every completed hour marked dirty by ingest (or found unmerged in the listing)
 * is merged and deduplicated, its counters settled from the facts, and its mark cleared only if no
 * batch re-marked it meanwhile, so late events are never left unsettled. Then the watermark advances to
 * the first hour not yet settled (never backwards), completed days are rolled up from their hours,
 * their months recomputed, and the all-time totals with them.
 */
export async function compactAndSettle(deps: CompactorDeps): Promise<CompactionRun> {
  const log = deps.logIssue ?? createLogger({ component: 'compactor' }, (line) => console.error(line));
  const nowSeconds = Math.floor(deps.clock.now() / 1000);
  const settleBefore = Math.floor((nowSeconds - (deps.graceSeconds ?? 120)) / 3600) * 3600;
  const previous = await readWatermark(deps.counters);
  const dirty = await dirtyHours(deps, previous, settleBefore);
  const hours: CompactionRun['hours'] = [];
  const failedHours: number[] = [];
  const quarantined: string[] = [];
  const onCorrupt: CorruptObjectHandler = (key, error) => {
    quarantined.push(key);
    deps.metrics?.count(METRIC.objectsQuarantined);
    log('error', 'corrupt fact object moved to quarantine', { key, quarantinedAs: `${QUARANTINE_PREFIX}${key}`, error: String(error) });
  };
  for (const { id: hourStart, value } of dirty) {
    if (hourStart >= settleBefore) break;
    try {
      const { facts, ...result } = await compactHour(deps.objects, hourStart, onCorrupt);
      await settleHour(hourStart, facts, deps);
      await deps.onHourSettled?.(hourStart, facts);
      hours.push(result);
      // The day is marked before the hour's mark is cleared: a crash in between re-settles, never skips.
      await markDirty(deps.counters, [Math.floor(hourStart / 86400) * 86400], deps.clock.now(), DIRTY_DAYS);
      await clearDirty(deps.counters, DIRTY_HOURS, hourStart, value);
    } catch (error) {
      // Leave the mark: the next run retries this hour, and the watermark stays before it.
      failedHours.push(hourStart);
      deps.metrics?.count(METRIC.storageFaults, { Store: 'objects' });
      log('error', 'compaction of an hour failed; it stays dirty', { hourStart, error: String(error), stack: (error as Error)?.stack });
    }
  }
  const watermark = Math.max(previous, Math.min(settleBefore, ...failedHours));
  if (watermark !== previous) await deps.counters.putState(WATERMARK, 0, { settledThrough: watermark, updatedAt: deps.clock.now() });

  const daysRolled: number[] = [];
  let dayPending = false;
  for (const { id: dayStart, value } of (await deps.counters.listState(DIRTY_DAYS)).sort((a, b) => a.id - b.id)) {
    if (dayStart + 86400 > watermark) continue; // the day is not complete yet: its hours serve
    try {
      await rollDay(dayStart, deps);
      // The month before the mark: a crash in between rolls the day (and so the month) again.
      await rollMonthTotals(dayStart, deps.counters);
      daysRolled.push(dayStart);
      await clearDirty(deps.counters, DIRTY_DAYS, dayStart, value);
    } catch (error) {
      dayPending = true;
      log('error', 'rolling a day failed; it stays dirty', { dayStart, error: String(error) });
    }
  }
  // Only a consistent total is published: every completed day before settled_through is in a month.
  if (!dayPending) await settleAllTimeTotals(deps.counters, Math.floor(watermark / 86400) * 86400);
  return { hours, failedHours, quarantined, daysRolled, watermark };
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
    await markDirty(deps.counters, found, deps.clock.now());
    return (await deps.counters.listState(DIRTY_HOURS)).sort((a, b) => a.id - b.id);
  }
  return marked.sort((a, b) => a.id - b.id);
}
