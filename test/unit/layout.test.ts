import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../..', import.meta.url).pathname;
/** Every folder holding a file of the repository, committed or not (what .gitignore leaves out is not the repository's). */
function foldersWithFiles(): string[] {
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' }).split('\n').filter(Boolean);
  return [...new Set(files.map((file) => dirname(file)).filter((dir) => dir !== '.'))].map((dir) => `${dir}/`);
}

/** The folders of the README's Layout map, one per line. */
function readmeLayout(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Layout'));
  const block = section.slice(section.indexOf('```') + 3, section.indexOf('```', section.indexOf('```') + 3));
  return block.split('\n').map((line) => line.split(/\s+/)[0]!).filter(Boolean);
}

/** The relative imports of every TypeScript file under `dir`, by file. */
function importsUnder(dir: string): Array<{ file: string; target: string }> {
  const found: Array<{ file: string; target: string }> = [];
  for (const entry of readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const file = join(entry.parentPath, entry.name);
    for (const match of readFileSync(file, 'utf8').matchAll(/(?:from\s+|import\()\s*'(\.{1,2}\/[^']+)'/g)) {
      found.push({ file: relative(ROOT, file), target: relative(ROOT, join(entry.parentPath, match[1]!)) });
    }
  }
  return found;
}

describe('the layout', () => {
  it("the README's Layout section lists every folder, and only folders that exist", () => {
    expect(readmeLayout().sort()).toEqual(foldersWithFiles().sort());
  });

  it('nothing in the core imports an adapter, the local stack, the CLI, the benchmarks or a handler', () => {
    const core = importsUnder('lib').filter(({ file }) => !file.startsWith('lib/adapters/') && !file.startsWith('lib/local/'));
    expect(core.length).toBeGreaterThan(300);
    const outward = core.filter(({ target }) => /^(lib\/adapters|lib\/local|bench|functions|infra|test)\//.test(target));
    expect(outward).toEqual([]);
  });

  it('the adapters import the core and each other, never an application', () => {
    const outward = importsUnder('lib/adapters').filter(({ target }) => /^(lib\/local|bench|functions|infra|test)\//.test(target));
    expect(outward).toEqual([]);
  });
});
