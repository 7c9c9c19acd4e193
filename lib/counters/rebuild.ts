import type { NostrEvent } from '../nostr/event.js';
import type { Fact } from '../facts/schema.js';
import { FACTS_PREFIX, partitionFromKey } from '../facts/partition.js';
import { compactAndSettle, compactHour, hourFacts as openHourFacts, type CompactorDeps } from '../facts/compact.js';
import { settleBuckets } from './settle-run.js';
import { indexRecords } from './event-index.js';
import { engagerWritesFromFacts } from './engager-lists.js';
import { markDirty } from './state.js';
import { deletionHoursFor } from '../facts/retractions.js';

/**
 * Disaster recovery (`funnel rebuild`): recomputes every counter from the Parquet facts, the canonical
 * record. Every hour that has facts is marked dirty and goes through the compactor's own path (merge,
 * deduplicate, quarantine what is corrupt, settle hour and minute items, roll days, months and the
 * all-time totals, move the watermark), so a rebuilt store is what compaction would have produced.
 * The event index (authors, video revisions, deletions) is rewritten from the same facts as each hour
 * settles, deletions with every event they name (`deleted_event_ids`; facts written before that column
 * keep only the first `e`) and their first `a`; so are the engager lists (likers, zappers). The facts are streamed back in chunks, so memory is bounded
 * whatever an hour holds.
 */
export async function rebuildCounters(deps: CompactorDeps & { onProgress?: (settledHours: number, totalHours: number) => void }): Promise<Record<string, number>> {
  const hours = new Set<number>();
  for (const key of await deps.objects.list(FACTS_PREFIX)) {
    const partition = partitionFromKey(key);
    if (partition && key.endsWith('.parquet')) hours.add(partition.start);
  }
  const all = [...hours].sort((a, b) => a - b);
  await markDirty(deps.counters, all, deps.clock.now());
  let settled = 0;
  let facts = 0;
  let indexRecordsWritten = 0;
  let engagerRowsWritten = 0;
  const restoreIndex = async (chunks: AsyncIterable<Fact[]>) => {
    for await (const chunk of chunks) {
      const records = indexRecords(chunk, deletionEvents(chunk), deps.retention.noteIndexSeconds);
      await deps.counters.putStates(records);
      indexRecordsWritten += records.length;
      const engagers = await engagerWritesFromFacts(chunk, deps.counters);
      if (engagers.length) await deps.counters.addEngagers(engagers);
      engagerRowsWritten += engagers.length;
      facts += chunk.length;
    }
    deps.onProgress?.(++settled, all.length);
  };
  // A rebuilt store has no live minutes: every settled hour writes its minute items too.
  const run = await compactAndSettle({ ...deps, settleMinutes: 'always', rewriteSettled: true, onHourSettled: (_hour, hourFacts) => restoreIndex(hourFacts) });
  // Hours still open (not settled by this run): their minute items are written from the facts so far;
  // ingest adds to them, and their marks stay, so the compactor settles them again once they close.
  const settledNow = new Set(run.hours.map((r) => r.hourStart));
  for (const hour of all.filter((h) => h >= run.watermark && !settledNow.has(h))) {
    const result = await compactHour(hour, deps);
    const empty = result.outputKeys.length === 0;
    const deletionHours = await deletionHoursFor(deps.objects, hour, hour + 3600, Math.floor(deps.clock.now() / 1000));
    await settleBuckets('h', [hour], empty ? '' : deps.tables.hours([hour]), deps, { liveHours: [hour], empty: empty ? [hour] : [], nowMs: deps.clock.now(), rewrite: true, deletionHours });
    if (result.outputKeys.length) await restoreIndex(openHourFacts(hour, deps));
  }
  return {
    hours: all.length,
    hoursSettled: run.hours.length,
    hoursFailed: run.failedHours.length,
    facts,
    indexRecords: indexRecordsWritten,
    engagerRows: engagerRowsWritten,
    daysRolled: run.daysRolled.length,
    quarantinedObjects: run.quarantined.length,
    // hours whose facts may be archived are not rebuilt from what is readable of them: restore first (docs/deploy.md, "Storage tiers")
    archivedHoursNotRebuilt: run.closedHours.length,
    watermark: run.watermark,
  };
}

/** The deletion requests as far as facts keep them: author, the events named (at most MAX_DELETION_TARGETS), the first `a`. */
function deletionEvents(facts: readonly Fact[]): Map<string, NostrEvent> {
  const events = new Map<string, NostrEvent>();
  for (const fact of facts) {
    if (fact.type !== 'deletion') continue;
    const tags: string[][] = [];
    const ids = fact.deleted_event_ids?.length ? fact.deleted_event_ids : fact.target_event_id ? [fact.target_event_id] : [];
    for (const id of ids) tags.push(['e', id]);
    if (fact.target_address) tags.push(['a', fact.target_address]);
    events.set(fact.event_id, { id: fact.event_id, pubkey: fact.author, created_at: fact.created_at, kind: 5, tags, content: '', sig: '' });
  }
  return events;
}
