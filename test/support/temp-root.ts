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

/** Vitest global setup: one temp directory per project run, removed when the run ends. */
export default async function setup(project: TestProject) {
  const dir = await mkdtemp(join(tmpdir(), 'funnel-run-'));
  project.provide('runTempDir', dir);
  return () => rm(dir, { recursive: true, force: true });
}
