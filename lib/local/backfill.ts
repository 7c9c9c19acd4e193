import { createReadStream, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { basename } from 'node:path';
import { packEvents } from '../ingest/message.js';
import type { Pipeline } from './stack.js';
import { METRIC } from '../metrics/names.js';

export interface BackfillReport {
  lines: number;
  accepted: number;
  /** lines whose event id appeared earlier in the same file (sent once) */
  duplicates: number;
  rejected: Record<string, number>;
  unreadableLines: number;
  deadLettered: number;
}

/**
 * Streams a JSONL file (one event per line, or `["EVENT", sub, event]` lines as relays send them)
 * through the same queue and ingest handler as live traffic, a bounded chunk at a time.
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
  // The first 16 hex digits of an id are plenty to spot repeats within one file, at a quarter of the memory.
  const seen = new Set<string>();
  const acceptedBefore = pipeline.metrics.total(METRIC.eventsAccepted);

  const flush = async () => {
    if (!chunk.length) return;
    const { bodies, oversized } = packEvents(source, chunk, 100);
    if (oversized) pipeline.metrics.count(METRIC.eventsRejected, { Reason: 'oversized' }, oversized);
    await pipeline.queue.sendBatch(bodies);
    chunk = [];
    await pipeline.consumer.drain();
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
    const id = (value as { id?: unknown } | null)?.id;
    if (typeof id === 'string') {
      const key = id.slice(0, 16);
      if (seen.has(key)) {
        duplicates++;
        continue;
      }
      seen.add(key);
    }
    chunk.push(JSON.stringify(value));
    if (chunk.length >= 2000) await flush();
  }
  await flush();
  // Messages that failed come back after their visibility timeout; wait for them to succeed or dead-letter.
  await pipeline.consumer.drain(5 * 60_000);

  const accepted = pipeline.metrics.total(METRIC.eventsAccepted) - acceptedBefore;
  return { lines: lineCount, accepted, duplicates, rejected: pipeline.metrics.byLabel(METRIC.eventsRejected, 'Reason'), unreadableLines, deadLettered: pipeline.deadLetter.depth };
}
