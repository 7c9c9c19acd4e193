import { existsSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

// Test data dirs are throwaway: on a memory-backed /dev/shm the stores' real fsyncs cost next to nothing
// (on disk they took a third of the suite), and no code path changes.
const scratch = existsSync('/dev/shm') ? { TMPDIR: '/dev/shm' } : {};

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // The e2e and dynalite tests start servers; two workers match the 2-core machines.
    maxWorkers: 2,
    // Node 20 here, 22 in Lambda: the SDK's runtime notice is noise in test output.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...scratch },
  },
});
