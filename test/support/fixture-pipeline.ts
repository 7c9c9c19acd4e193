import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openPipeline, type Pipeline } from '../../lib/local/stack/stack.js';
import { backfill } from '../../lib/local/cli/backfill.js';
import type { Clock } from '../../lib/ports.js';
import { FIXTURE_FILES, fixturePath } from './fixtures.js';

/** Every fixture file through the real ingest path and the compactor, on a temporary data dir and the given clock. */
export async function fixturePipeline(name: string, clock: Clock): Promise<{ pipeline: Pipeline; close: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `funnel-${name}-`));
  const pipeline = await openPipeline({ dataDir: dir, clock, batchWindowMs: 0, ephemeralCounters: true });
  for (const file of FIXTURE_FILES) await backfill(fixturePath(file), pipeline);
  await pipeline.compact();
  return {
    pipeline,
    async close() {
      await pipeline.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
