import { copyFile, open, mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ObjectSize, ObjectStore } from '../../ports.js';

/** A temp file older than this is a put that died (crash, disk full): `list` removes it. */
export const ORPHAN_TEMP_MAX_AGE_MS = 60 * 60_000;

/**
 * S3 as a directory: the object key is the relative path, so DuckDB and people can read it directly.
 * Each object written carries the store's clock as its mtime, as S3 stamps LastModified with its own:
 * the age the storage tiers are judged by (lib/facts/storage-tiers.ts) then follows the stack's clock.
 */
export class FsObjectStore implements ObjectStore {
  constructor(
    private readonly root: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** Durable and atomic (see writeDurably): a reader or a crash never sees a half-written object, as with S3. */
  async put(key: string, body: Uint8Array | string): Promise<void> {
    await writeDurably(this.pathOf(key), async (temp) => {
      await writeFile(temp, body);
      await this.stamp(temp);
    });
  }

  async get(key: string): Promise<Uint8Array | null> {
    try {
      return new Uint8Array(await readFile(this.pathOf(key)));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  /** Keys under the prefix; temp files are never listed, and those older than ORPHAN_TEMP_MAX_AGE_MS are removed. */
  async list(prefix: string): Promise<string[]> {
    return (await this.listSizes(prefix)).map((object) => object.key);
  }

  /** `list` with each file's size (one stat per file; the directory walk is the same). */
  async listSizes(prefix: string): Promise<ObjectSize[]> {
    const objects: ObjectSize[] = [];
    // Only directories that can hold a key under the prefix are entered: `facts/dt=2026-01-` walks
    // the January days, not the whole of facts/.
    const walk = async (dirKey: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(join(this.root, dirKey), { withFileTypes: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw error;
      }
      for (const entry of entries) {
        const key = `${dirKey}${entry.name}`;
        const full = join(this.root, key);
        if (entry.isDirectory()) {
          if (`${key}/`.startsWith(prefix) || prefix.startsWith(`${key}/`)) await walk(`${key}/`);
        } else if (entry.name.endsWith('.tmp')) await this.removeIfOrphan(full);
        else if (key.startsWith(prefix)) {
          const info = await stat(full).catch(
            // removed between readdir and stat (a concurrent delete): it is not there to list
            (error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? null : Promise.reject(error)),
          );
          if (info !== null) objects.push({ key, bytes: info.size, modifiedAt: info.mtimeMs });
        }
      }
    };
    await walk(prefix.slice(0, prefix.lastIndexOf('/') + 1));
    return objects.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(keys: string[]): Promise<void> {
    await Promise.all(keys.map((key) => rm(this.pathOf(key), { force: true })));
  }

  async stream(key: string): Promise<AsyncIterable<Uint8Array> | null> {
    // Opened here, so a missing object is null now (not an error event on a stream nobody reads yet),
    // and a delete after this point cannot pull the file from under the reader.
    let handle;
    try {
      handle = await open(this.pathOf(key), 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
    return handle.createReadStream({ highWaterMark: 1 << 20, autoClose: true });
  }

  /** The same guarantees as put; the copy is a new object, written now (S3 CopyObject's LastModified too). */
  async copy(fromKey: string, toKey: string): Promise<void> {
    await writeDurably(this.pathOf(toKey), async (temp) => {
      await copyFile(this.pathOf(fromKey), temp);
      await this.stamp(temp);
    });
  }

  private async stamp(path: string): Promise<void> {
    const seconds = this.now() / 1000;
    await utimes(path, seconds, seconds);
  }

  private async removeIfOrphan(path: string): Promise<void> {
    try {
      const info = await stat(path);
      // A temp file's mtime is the store's clock once stamped and the real one before (and always for
      // engines writing through writeDurably): only a file old by both is an orphan, never a write in flight.
      const old = (now: number) => now - info.mtimeMs > ORPHAN_TEMP_MAX_AGE_MS;
      if (old(Date.now()) && old(this.now())) await rm(path, { force: true });
    } catch {
      // gone already (its put finished or another list removed it)
    }
  }

  private pathOf(key: string): string {
    if (key.split('/').includes('..') || key.startsWith('/')) throw new Error(`invalid object key: ${key}`);
    return join(this.root, key);
  }
}

/**
 * Fills a temp file beside `path` (its `.tmp` name is never listed), fsyncs it, renames it into place
 * and fsyncs the directory: a reader or a crash never sees a partial file, and a write that resolved
 * survives a power cut. A failed fill (disk full) removes the temp file and rethrows. Exported for the
 * engines that write the store's files themselves (DuckDB's COPY).
 */
export async function writeDurably(path: string, fill: (temp: string) => Promise<unknown>): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    await fill(temp);
    await syncPath(temp);
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true }).catch(() => {});
    throw error;
  }
  await syncPath(dirname(path));
}

/** fsync of a file or a directory. */
export async function syncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
