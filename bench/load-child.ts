import { sendResult } from './child.js';

/*
 * The entry of the load bench's child processes (see child.ts): `load-child.ts <task> <input JSON>`
 * prints the task's result for the parent and exits; anything else it prints goes to stderr.
 */
const tasks: Record<string, (input: never) => Promise<unknown>> = {
  'generate-hour': async (input) => (await import('./load-compaction.js')).generateHour(input),
  'compact-hour': async (input) => (await import('./load-compaction.js')).compactOneHour(input),
  writes: async (input) => (await import('./load-writes.js')).runWriteLoad({ ...(input as object), log: (line: string) => console.error(line) } as never),
  stack: async (input) => (await import('./load-pipeline.js')).serveStack(input),
};

const [task, raw] = process.argv.slice(2);
const run = tasks[task ?? ''];
if (!run) {
  console.error(`unknown load bench task ${task}`);
  process.exit(2);
}
try {
  sendResult(await run(JSON.parse(raw ?? '{}') as never));
  process.exit(0);
} catch (error) {
  console.error((error as Error)?.stack ?? String(error));
  process.exit(1);
}
