import { existsSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

// Test data dirs are throwaway: on a memory-backed /dev/shm the stores' real fsyncs cost next to nothing
// (on disk they took a third of the suite), and no code path changes.
const scratch = existsSync('/dev/shm') ? { TMPDIR: '/dev/shm' } : {};
const SHARED_MODULES = { isolate: false, unstubEnvs: true, unstubGlobals: true };

/*
 * Three projects, all run by `vitest run` (so `npm test` runs everything); one alone with `--project`:
 *  - unit: test/unit/**, the core on the in-memory ports (lib/adapters/memory): no dynalite, no local
 *    stack, no compaction run, so it answers in seconds (a few files run DuckDB statements over a handful
 *    of rows, and a few start the HTTP server on a free port);
 *  - adapters: test/adapters/**, each adapter held to its port (the CounterStore contract on memory and
 *    dynalite, DuckDB, the local durability of dynalite, the queue journal and the file store, the AWS SDK mocked);
 *  - e2e: test/e2e/**, test/chaos/**, test/infra/**: whatever runs the pipeline through DuckDB's
 *    compaction and jobs (ingest, settle, crash matrix, brute force), real relays and the local stack,
 *    the benchmarks' figures checked on a small run, the dashboard in Chromium, chaos, and the CDK app synthesised.
 */
export default defineConfig({
  test: {
    testTimeout: 60_000,
    // a temp dir per run for output no test removes itself (test/support/temp-root.ts)
    globalSetup: ['test/support/temp-root.ts'],
    hookTimeout: 60_000,
    // The e2e and dynalite tests start servers; two workers match the 2-core machines.
    maxWorkers: 2,
    // Node 20 here, 22 in Lambda: the SDK's runtime notice is noise in test output.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...scratch },
    projects: [
      // One module graph per worker, not one per file: importing the SDK, DuckDB, the CDK and the handlers
      // again for each file was half the unit project's time, and 38 s of the suite's 221. Each file builds
      // its own stores, clocks, servers and handlers; only modules (and their module-level caches) are
      // shared, and stubbed env vars and globals are undone after each file.
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'], ...SHARED_MODULES } },
      { extends: true, test: { name: 'adapters', include: ['test/adapters/**/*.test.ts'], ...SHARED_MODULES } },
      { extends: true, test: { name: 'e2e', include: ['test/e2e/**/*.test.ts', 'test/chaos/**/*.test.ts', 'test/infra/**/*.test.ts'], ...SHARED_MODULES } },
    ],
  },
});
