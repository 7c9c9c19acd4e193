import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** a directory for this run's throwaway output that no test removes itself (CDK assemblies), removed after the run */
    runTempDir: string;
  }
}

/**
 * Vitest global setup: one temp directory per project run, removed when the run ends. The suite's temp
 * dir is /dev/shm where there is one (vitest.config.ts), so what is left behind there is memory.
 */
export default async function setup(project: TestProject) {
  const dir = await mkdtemp(join(process.env.TMPDIR ?? tmpdir(), 'funnel-run-'));
  project.provide('runTempDir', dir);
  return () => rm(dir, { recursive: true, force: true });
}
