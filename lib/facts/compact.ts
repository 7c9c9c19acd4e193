import { createHash } from 'node:crypto';
import type { Clock, CounterStore, ObjectStore } from '../ports.js';
import { decodeFacts, encodeFacts } from './parquet.js';
import { partitionOf, partitionPrefix } from './partition.js';
import type { Fact } from './schema.js';
import { DIRTY_DAYS, DIRTY_HOURS, readWatermark, WATERMARK } from '../counters/state.js';
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
export async function compactHour(objects: ObjectStore, hourStart: number): Promise<CompactionResult> {
  const prefix = partitionPrefix(partitionOf(hourStart));
  const keys = (await objects.list(prefix)).filter((k) => k.endsWith('.parquet'));
  const base = { hourStart, inputObjects: keys.length, inputRows: 0 };
  if (keys.length === 0) return { ...base, outputRows: 0, outputKey: null, facts: [] };
  if (keys.length === 1 && keys[0]!.slice(prefix.length).startsWith(COMPACTED_PREFIX)) {
    const bytes = await objects.get(keys[0]!);
    const facts = bytes ? await decodeFacts(bytes) : [];
    return { ...base, inputRows: facts.length, outputRows: facts.length, outputKey: keys[0]!, facts };
  }

  const byId = new Map<string, Fact>();
  let inputRows = 0;
  for (const key of keys) {
    const bytes = await objects.get(key);
    if (!bytes) continue; // deleted by a concurrent run after listing: its rows live in that run's output
    for (const fact of await decodeFacts(bytes)) {
      inputRows++;
      const seen = byId.get(fact.event_id);
      // The first arrival wins, so a compacted hour does not change when it is compacted again.
      if (!seen || fact.ingested_at < seen.ingested_at) byId.set(fact.event_id, fact);
    }
  }
  const merged = [...byId.values()].sort((a, b) => a.created_at - b.created_at || (a.event_id < b.event_id ? -1 : 1));
  const name = createHash('sha256').update(keys.join('\n')).digest('hex').slice(0, 20);
  const outputKey = `${prefix}${COMPACTED_PREFIX}${name}.parquet`;
  await objects.put(outputKey, encodeFacts(merged), 'application/vnd.apache.parquet');
  await objects.delete(keys.filter((k) => k !== outputKey));
  return { ...base, inputRows, outputRows: merged.length, outputKey, facts: merged };
}

export interface CompactorDeps {
  objects: ObjectStore;
  counters: CounterStore;
  clock: Clock;
  retention: Retention;
  /** an hour is settled this long after it ends, so stragglers make the first settle */
  graceSeconds?: number;
}

export interface CompactionRun {
  hours: Omit<CompactionResult, 'facts'>[];
  daysRolled: number[];
  watermark: number;
}

/**
 * One compactor run: every completed hour marked dirty by ingest is merged and deduplicated, its
 * counters settled from the facts, and its mark cleared only if no batch re-marked it meanwhile
 * (conditional delete on markedAt), so late events are never left unsettled. Then the watermark
 * advances to the first hour not yet settled, and completed days are rolled up from their hours.
 */
export async function compactAndSettle(deps: CompactorDeps): Promise<CompactionRun> {
  const nowSeconds = Math.floor(deps.clock.now() / 1000);
  const settleBefore = Math.floor((nowSeconds - (deps.graceSeconds ?? 120)) / 3600) * 3600;
  const dirty = (await deps.counters.listState(DIRTY_HOURS)).sort((a, b) => a.id - b.id);
  const hours: CompactionRun['hours'] = [];
  let firstUnsettled = settleBefore;
  for (const { id: hourStart, value } of dirty) {
    if (hourStart >= settleBefore) break;
    try {
      const { facts, ...result } = await compactHour(deps.objects, hourStart);
      await settleHour(hourStart, facts, deps);
      hours.push(result);
      await deps.counters.putState(DIRTY_DAYS, Math.floor(hourStart / 86400) * 86400, { markedAt: deps.clock.now() });
      if (typeof value.markedAt === 'number') await deps.counters.deleteStateIf(DIRTY_HOURS, hourStart, 'markedAt', value.markedAt);
    } catch (error) {
      // Leave the mark: the next run retries this hour, and the watermark stays before it.
      firstUnsettled = Math.min(firstUnsettled, hourStart);
      console.error(JSON.stringify({ level: 'error', msg: 'compaction of an hour failed', hourStart, error: String(error) }));
    }
  }
  const previous = await readWatermark(deps.counters);
  const watermark = Math.max(previous, firstUnsettled);
  if (watermark !== previous) await deps.counters.putState(WATERMARK, 0, { settledThrough: watermark, updatedAt: deps.clock.now() });

  const daysRolled: number[] = [];
  for (const { id: dayStart, value } of (await deps.counters.listState(DIRTY_DAYS)).sort((a, b) => a.id - b.id)) {
    if (dayStart + 86400 > watermark) continue; // the day is not complete yet: its hours serve
    await rollDay(dayStart, deps);
    daysRolled.push(dayStart);
    if (typeof value.markedAt === 'number') await deps.counters.deleteStateIf(DIRTY_DAYS, dayStart, 'markedAt', value.markedAt);
  }
  return { hours, daysRolled, watermark };
}
