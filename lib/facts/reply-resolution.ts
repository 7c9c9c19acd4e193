import { createHash, randomUUID } from 'node:crypto';
import type { CounterStore, ObjectStore, SqlEngine } from '../ports.js';
import { dedupedFacts } from '../jobs/metrics-sql.js';
import { resolveReplyTargets } from '../counters/event-index.js';
import { readJsonLines } from '../util/json-lines.js';
import { encodeFacts } from './parquet.js';
import { partitionOf, partitionPrefix } from './partition.js';
import { FACT_COLUMN_KINDS, FACT_COLUMNS, type Fact } from './schema.js';
import { COMPACTION_STAGING_PREFIX, type SettleTables } from './tables.js';

/** Unresolved replies read back, looked up and written per chunk: the memory bound of a resolution. */
export const REPLY_RESOLUTION_CHUNK = 5_000;

export interface ReplyResolutionDeps {
  objects: ObjectStore;
  sql: SqlEngine;
  tables: SettleTables;
  counters: Pick<CounterStore, 'getState'>;
}

/**
 * Before an hour settles: its replies and comments that still name nobody (no hint, several `p`, the
 * parent unseen at ingest) are looked up again in the event index, for parents that arrived after
 * them. Each one now resolved is written back into the hour as a copy of its fact with the parent's
 * author (`resolved-<ids>.parquet`): deduplication prefers a resolved copy (dedupedFacts), the settle
 * rewrites the live items a copied event touches (the parent's author was not credited live), and the
 * merge keeps the resolved fact, so counters, jobs and the Glue table agree. Returns how many it resolved.
 * An hour needs at least one fact object (the caller checks).
 */
export async function resolveHourReplies(hourStart: number, deps: ReplyResolutionDeps): Promise<number> {
  const staging = `${COMPACTION_STAGING_PREFIX}replies-${hourStart}-${randomUUID()}/`;
  const window = { startTs: hourStart, endTs: hourStart + 3600 };
  // Only the hour's replies and comments are deduplicated (the same first-arrival rule, a resolved copy
  // first), not the whole hour: this runs before every settle, and replies are a tenth of the facts.
  const replies = `(SELECT * FROM ${deps.tables.hours([hourStart])} WHERE type IN ('reply', 'comment') AND parent_event_id IS NOT NULL)`;
  await deps.sql.export(
    `SELECT ${FACT_COLUMNS.join(', ')} FROM (${dedupedFacts(replies, window, deps.tables.dialect)}) WHERE target_pubkey IS NULL`,
    staging,
    'jsonl',
  );
  let resolved = 0;
  try {
    for (const key of await deps.objects.list(staging)) {
      for await (const rows of readJsonLines(deps.objects, key, REPLY_RESOLUTION_CHUNK)) {
        const facts = rows.map(factOfRow);
        if ((await resolveReplyTargets(facts, deps.counters)) === 0) continue;
        const found = facts.filter((f) => f.target_pubkey !== null);
        const name = createHash('sha256').update(found.map((f) => f.event_id).sort().join(',')).digest('hex').slice(0, 20);
        await deps.objects.put(`${partitionPrefix(partitionOf(hourStart))}resolved-${name}.parquet`, encodeFacts(found), 'application/vnd.apache.parquet');
        resolved += found.length;
      }
    }
  } finally {
    await deps.objects.delete(await deps.objects.list(staging));
  }
  return resolved;
}

/** A fact from a row the engine exported as JSON (lists as arrays, absent columns as null). */
export function factOfRow(row: Record<string, unknown>): Fact {
  const fact = {} as Record<string, unknown>;
  for (const name of FACT_COLUMNS) fact[name] = row[name] ?? (FACT_COLUMN_KINDS[name] === 'list' ? [] : null);
  return fact as unknown as Fact;
}
