import { createReadStream, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { basename } from 'node:path';
import { packEvents } from '../../ingest/message.js';
import type { Pipeline } from '../stack/stack.js';
import { METRIC } from '../../metrics/names.js';
import { eventDigest } from '../../listener/recent-ids.js';
import { factsRelation } from '../../adapters/local/duckdb-sql-engine.js';
import { StorageFaultError, describeStorageFault } from '../stack/health.js';

export interface BackfillReport {
  lines: number;
  /** distinct events whose facts this run stored (read back from the facts, not counted on the way in) */
  accepted: number;
  /** lines that were exact copies of an earlier line's event (sent once) */
  duplicates: number;
  rejected: Record<string, number>;
  unreadableLines: number;
  deadLettered: number;
}

/** Events read per chunk: one chunk is sent, ingested and checked before the next is read. */
export const BACKFILL_CHUNK_EVENTS = 2000;

/**
 * Streams a JSONL file (one event per line, or `["EVENT", sub, event]` lines as relays send them)
 * through the same queue and ingest handler as live traffic, a bounded chunk at a time. Only exact
 * copies are skipped (a digest of the whole event): a forged copy with a real id is sent too, and
 * ingest's verification keeps the genuine one. A batch that fails to store stops the run with a
 * StorageFaultError; its messages stay in the queue journal and are delivered by the next open.
 */
export async function backfill(file: string, pipeline: Pipeline, onProgress?: (bytesRead: number, totalBytes: number, lines: number) => void): Promise<BackfillReport> {
  const totalBytes = statSync(file).size;
  const source = `backfill:${basename(file)}`;
  const stream = createReadStream(file, { encoding: 'utf8' });
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let chunk: string[] = [];
  let lineCount = 0;
  let unreadableLines = 0;
  let duplicates = 0;
  const seen = new Set<string>();
  const startedAt = Date.now();
  const batchErrorsBefore = pipeline.metrics.total(METRIC.ingestBatchErrors);

  const failIfNotStored = () => {
    const fault = pipeline.faults.first;
    if (fault) throw new StorageFaultError(describeStorageFault(fault.store, fault.error, pipeline.dataDir));
    if (pipeline.metrics.total(METRIC.ingestBatchErrors) > batchErrorsBefore) {
      throw new StorageFaultError(`an ingest batch failed to store (see the lines above); nothing after it was read, and its messages stay queued under ${pipeline.dataDir}/queue for the next run`);
    }
  };

  const flush = async () => {
    if (!chunk.length) return;
    const { bodies, oversized } = packEvents(source, chunk, 100);
    if (oversized) pipeline.metrics.count(METRIC.eventsRejected, { Reason: 'oversized' }, oversized);
    let pending = bodies;
    while (pending.length) {
      pending = (await pipeline.queue.sendBatch(pending)).failed;
      // The queue is full (or its journal failed): let ingest make room, then send the rest.
      if (pending.length) await pipeline.consumer.processOnce();
      failIfNotStored();
    }
    chunk = [];
    await pipeline.consumer.drain();
    failIfNotStored();
    onProgress?.(stream.bytesRead, totalBytes, lineCount);
  };

  for await (const line of lines) {
    const trimmed = line.trim();
    if (!trimmed) continue;
    lineCount++;
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch {
      unreadableLines++;
      pipeline.metrics.count(METRIC.eventsRejected, { Reason: 'non_json' });
      continue;
    }
    if (Array.isArray(value) && value[0] === 'EVENT') value = value[2] ?? value[1];
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      const digest = eventDigest(value as Record<string, unknown>);
      if (seen.has(digest)) {
        duplicates++;
        continue;
      }
      seen.add(digest);
    }
    chunk.push(JSON.stringify(value));
    if (chunk.length >= BACKFILL_CHUNK_EVENTS) await flush();
  }
  await flush();
  // Messages that failed come back after their visibility timeout; wait for them to succeed or dead-letter.
  await pipeline.consumer.drain(5 * 60_000);
  failIfNotStored();

  return {
    lines: lineCount,
    accepted: await eventsStoredSince(pipeline, startedAt),
    duplicates,
    rejected: pipeline.metrics.byLabel(METRIC.eventsRejected, 'Reason'),
    unreadableLines,
    deadLettered: pipeline.deadLetter.depth,
  };
}

/** Distinct events with a fact ingested at or after `sinceMs`: what the run durably stored. */
async function eventsStoredSince(pipeline: Pipeline, sinceMs: number): Promise<number> {
  if (!(await pipeline.objects.list('facts/')).length) return 0;
  const [row] = await pipeline.sql.query(`select count(distinct event_id) as n from ${factsRelation(pipeline.dataDir)} where ingested_at >= ${Math.floor(sinceMs)}`);
  return Number(row?.n ?? 0);
}
