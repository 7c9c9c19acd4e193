import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDynalite, type LocalDynamo } from '../../lib/adapters/local/dynalite.js';
import { FsObjectStore } from '../../lib/adapters/local/fs-object-store.js';

/** A temporary data dir with real local adapters: a facts directory and an in-memory dynalite. */
export async function localStores() {
  const dir = await mkdtemp(join(tmpdir(), 'funnel-test-'));
  const dynamo: LocalDynamo = await startDynalite(undefined);
  return {
    dir,
    objects: new FsObjectStore(dir),
    counters: dynamo.counters,
    dynamo,
    async close() {
      await dynamo.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export const fixedClock = (ms: number) => ({ now: () => ms });
