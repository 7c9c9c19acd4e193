import { createGunzip } from 'node:zlib';
import { Readable } from 'node:stream';
import type { ObjectStore } from '../ports.js';

/**
 * The rows of a gzipped newline-delimited JSON object (a `SqlEngine.export` in `jsonl`), in chunks of
 * at most `chunkRows`, streamed: memory holds one chunk and one decompressed buffer, whatever the
 * object's size. A missing object yields nothing.
 */
export async function* readJsonLines(objects: ObjectStore, key: string, chunkRows = 1000): AsyncGenerator<Record<string, unknown>[]> {
  const body = await objects.stream(key);
  if (!body) return;
  const lines = Readable.from(body).pipe(createGunzip());
  let rest = '';
  let chunk: Record<string, unknown>[] = [];
  for await (const piece of lines as AsyncIterable<Buffer>) {
    const text = rest + piece.toString('utf8');
    const parts = text.split('\n');
    rest = parts.pop()!;
    for (const line of parts) {
      if (!line.trim()) continue;
      chunk.push(JSON.parse(line) as Record<string, unknown>);
      if (chunk.length >= chunkRows) {
        yield chunk;
        chunk = [];
      }
    }
  }
  if (rest.trim()) chunk.push(JSON.parse(rest) as Record<string, unknown>);
  if (chunk.length) yield chunk;
}
