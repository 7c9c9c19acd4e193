import { createHash } from 'node:crypto';
import type { CounterStore, ObjectStore } from '../ports.js';
import { decodeFacts, encodeFacts } from './parquet.js';
import { partitionOf, partitionPrefix } from './partition.js';
import type { Fact } from './schema.js';
import { DIRTY_HOURS } from '../counters/state.js';

export interface CompactionResult {
  hourStart: number;
  inputObjects: number;
  inputRows: number;
  outputRows: number;
  outputKey: string | null;
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
  if (keys.length === 0) return { ...base, outputRows: 0, outputKey: null };
  if (keys.length === 1 && keys[0]!.slice(prefix.length).startsWith(COMPACTED_PREFIX)) {
    return { ...base, outputRows: -1, outputKey: keys[0]! };
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
  return { ...base, inputRows, outputRows: merged.length, outputKey };
}

/**
 * Compacts every hour marked dirty by ingest, then clears each mark only if no batch re-marked the
 * hour meanwhile (conditional delete on markedAt), so late events are never left uncompacted.
 */
export async function compactDirtyHours(deps: { objects: ObjectStore; counters: CounterStore }): Promise<CompactionResult[]> {
  const dirty = await deps.counters.listState(DIRTY_HOURS);
  const results: CompactionResult[] = [];
  for (const { id: hourStart, value } of dirty.sort((a, b) => a.id - b.id)) {
    results.push(await compactHour(deps.objects, hourStart));
    if (typeof value.markedAt === 'number') await deps.counters.deleteStateIf(DIRTY_HOURS, hourStart, 'markedAt', value.markedAt);
  }
  return results;
}
