import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The repository root, computed from this file's location (infra/lib/) rather than process.cwd(),
 * so the app synthesizes and the tests run from any working directory.
 */
export const repoRoot: string = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** An absolute path inside the repository. */
export function repoPath(...segments: string[]): string {
  return resolve(repoRoot, ...segments);
}
