import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SavedQueryStore } from '../../ports.js';
import { writeDurably } from './fs-object-store.js';

/** A saved query's name as a file name: no separator, nothing hidden, no `.` or `..`. */
const FILE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$/;

/**
 * Saved queries as `<dir>/<name>.sql`, the description as the leading comment, for the local stack:
 * what Athena's Saved queries tab is in AWS. Written atomically (writeDurably), so a reader never opens
 * half a query; saving a name again replaces its file.
 */
export class FsSavedQueries implements SavedQueryStore {
  constructor(private readonly dir: string) {}

  async save(query: { name: string; description: string; sql: string }): Promise<void> {
    if (!FILE_NAME.test(query.name)) throw new Error(`not a saved query name: ${JSON.stringify(query.name.slice(0, 140))}`);
    // every line of the description commented, so none of it can end the comment and run as SQL
    const comment = query.description
      .split(/\r\n|\r|\n/)
      .map((line) => `-- ${line}`.trimEnd())
      .join('\n');
    await writeDurably(join(this.dir, `${query.name}.sql`), (temp) => writeFile(temp, `${comment}\n${query.sql}\n`));
  }
}
