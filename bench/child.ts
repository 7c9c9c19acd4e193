import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/*
 * Runs one part of the load bench in a child process of its own: its peak RSS is then its own, it gets
 * the heap it is given (a worker's memory), and a part that runs out of memory or out of time is a
 * figure ("OOM", "over 10 min") instead of the end of the bench.
 */

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const ENTRY = fileURLToPath(new URL('./load-child.ts', import.meta.url));
const RESULT_MARK = '@@load-bench-result ';

export type ChildOutcome<T> =
  | { ok: true; result: T; ms: number }
  | { ok: false; reason: 'oom' | 'timeout' | 'crash'; detail: string; ms: number };

export interface ChildOptions {
  /** V8 old-space limit, MB */
  heapMb: number;
  timeoutMs: number;
  /** the child's stderr lines (its progress) */
  log?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

/** Starts `task` of load-child.ts with `input` (stdout and stderr piped). */
export function spawnTask(task: string, input: unknown, heapMb: number, env: NodeJS.ProcessEnv = {}) {
  return spawn(process.execPath, [`--max-old-space-size=${heapMb}`, '--import', 'tsx', ENTRY, task, JSON.stringify(input)], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** The result line in a child's stdout, if it printed one. */
export function resultIn<T>(stdout: string): T | undefined {
  const line = stdout.split('\n').find((l) => l.startsWith(RESULT_MARK));
  return line === undefined ? undefined : (JSON.parse(line.slice(RESULT_MARK.length)) as T);
}

/** Runs `task` of load-child.ts with `input`; resolves with its result or why it has none. */
export function runChild<T>(task: string, input: unknown, options: ChildOptions): Promise<ChildOutcome<T>> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawnTask(task, input, options.heapMb, options.env);
    let stdout = '';
    let tail = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    let partial = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      tail = (tail + chunk).slice(-4000);
      const lines = (partial + chunk).split('\n');
      partial = lines.pop()!;
      for (const line of lines) options.log?.(line);
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const ms = performance.now() - started;
      const result = resultIn<T>(stdout);
      if (code === 0 && result !== undefined) return resolve({ ok: true, result, ms });
      if (timedOut) return resolve({ ok: false, reason: 'timeout', detail: `no result after ${Math.round(options.timeoutMs / 1000)} s`, ms });
      // DuckDB's own limit (the SQL engine's spill did not bound it) counts as running out of memory too.
      const duckDb = /Out of Memory Error: [^"\\]*/.exec(tail)?.[0];
      const oom = /heap out of memory|Allocation failed|ENOMEM/i.test(tail) || !!duckDb || signal === 'SIGKILL';
      // V8's OOM report ends in a native stack: its FATAL ERROR line says what happened.
      const said = duckDb ? `DuckDB ${duckDb}` : (tail.split('\n').find((l) => l.includes('FATAL ERROR')) ?? tail.trim().split('\n').slice(-3).join(' | '));
      const detail = oom && signal === 'SIGKILL' && !said.includes('FATAL') ? `killed (the system out of memory?)` : said.trim().slice(0, 600);
      resolve({ ok: false, reason: oom ? 'oom' : 'crash', detail: `exit ${code ?? signal}, heap limit ${options.heapMb} MB: ${detail}`, ms });
    });
  });
}

/** For load-child.ts: hands the result to the parent. */
export function sendResult(result: unknown): void {
  process.stdout.write(`${RESULT_MARK}${JSON.stringify(result)}\n`);
}
