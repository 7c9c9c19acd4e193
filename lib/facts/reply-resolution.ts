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
 * Before hours settle: their replies and comments that still name nobody (no hint, several `p`, the
 * parent unseen at ingest) are looked up again in the event index, for parents that arrived after
 * them. Each one now resolved is written back into its hour as a copy of its fact with the parent's
 * author (`resolved-<ids>.parquet`): deduplication prefers a resolved copy (dedupedFacts), the settle
 * rewrites the live items a copied event touches (the parent's author was not credited live), and the
 * merge keeps the resolved fact, so counters, jobs and the Glue table agree. One statement for all the
 * hours (a day's backlog is one query, not 24); the rows are read back REPLY_RESOLUTION_CHUNK at a time.
 * Returns how many it resolved per hour. Every hour needs at least one fact object (the caller checks).
 */
export async function resolveReplies(hourStarts: readonly number[], deps: ReplyResolutionDeps): Promise<Map<number, number>> {
  const resolved = new Map<number, number>();
  if (!hourStarts.length) return resolved;
  const staging = `${COMPACTION_STAGING_PREFIX}replies-${Math.min(...hourStarts)}-${randomUUID()}/`;
  // The relation reads only these hours' objects; the window spans them (a fact lies in its created_at's hour).
  const window = { startTs: Math.min(...hourStarts), endTs: Math.max(...hourStarts) + 3600 };
  // Only the hours' replies and comments are deduplicated (the same first-arrival rule, a resolved copy
  // first), not the whole hours: this runs before every settle, and replies are a tenth of the facts.
  const replies = `(SELECT * FROM ${deps.tables.hours(hourStarts)} WHERE type IN ('reply', 'comment') AND parent_event_id IS NOT NULL)`;
  await deps.sql.export(
    `SELECT ${FACT_COLUMNS.join(', ')} FROM (${dedupedFacts(replies, window, deps.tables.dialect)}) WHERE target_pubkey IS NULL`,
    staging,
    'jsonl',
  );
  try {
    for (const key of await deps.objects.list(staging)) {
      for await (const rows of readJsonLines(deps.objects, key, REPLY_RESOLUTION_CHUNK)) {
        const facts = rows.map(factOfRow);
        if ((await resolveReplyTargets(facts, deps.counters)) === 0) continue;
        const byHour = new Map<number, Fact[]>();
        for (const fact of facts) {
          if (fact.target_pubkey === null) continue;
          const hour = partitionOf(fact.created_at).start;
          (byHour.get(hour) ?? byHour.set(hour, []).get(hour)!).push(fact);
        }
        for (const [hour, found] of byHour) {
          const name = createHash('sha256').update(found.map((f) => f.event_id).sort().join(',')).digest('hex').slice(0, 20);
          await deps.objects.put(`${partitionPrefix(partitionOf(hour))}resolved-${name}.parquet`, encodeFacts(found), 'application/vnd.apache.parquet');
          resolved.set(hour, (resolved.get(hour) ?? 0) + found.length);
        }
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
