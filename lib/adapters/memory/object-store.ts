import type { ObjectStore } from '../../ports.js';

/*
 * The in-memory ObjectStore: the third adapter beside lib/adapters/aws (S3) and lib/adapters/local (a
 * directory). It keeps the bytes and counts the writes; nothing leaves the process and nothing is
 * durable. `funnel bench` measures the ingest core on it without I/O, and unit tests use it where no
 * engine reads the objects (DuckDB reads the local adapter's directory, so the compactor needs that one).
 */

/** Keeps object bytes in a Map. */
export class MemoryObjectStore implements ObjectStore {
  private readonly objects = new Map<string, Uint8Array>();
  /** put() calls, i.e. S3 PutObject requests */
  puts = 0;
  /** bytes written by put() in total (overwrites included) */
  bytesWritten = 0;

  async put(key: string, body: Uint8Array | string): Promise<void> {
    const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
    this.objects.set(key, bytes);
    this.puts++;
    this.bytesWritten += bytes.byteLength;
  }

  async get(key: string): Promise<Uint8Array | null> {
    return this.objects.get(key) ?? null;
  }

  async list(prefix: string): Promise<string[]> {
    return [...this.objects.keys()].filter((key) => key.startsWith(prefix)).sort();
  }

  async delete(keys: string[]): Promise<void> {
    for (const key of keys) this.objects.delete(key);
  }

  async stream(key: string): Promise<AsyncIterable<Uint8Array> | null> {
    const bytes = this.objects.get(key);
    return bytes ? (async function* () { yield bytes; })() : null;
  }

  async copy(fromKey: string, toKey: string): Promise<void> {
    const bytes = this.objects.get(fromKey);
    if (!bytes) throw new Error(`copy: no object ${fromKey}`);
    this.objects.set(toKey, bytes);
  }

  /** bytes currently stored */
  get size(): number {
    let total = 0;
    for (const bytes of this.objects.values()) total += bytes.byteLength;
    return total;
  }
}
