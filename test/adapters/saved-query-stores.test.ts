import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { AthenaClient, CreateNamedQueryCommand, InvalidRequestException } from '@aws-sdk/client-athena';
import { AthenaSavedQueries } from '../../lib/adapters/aws/athena-saved-queries.js';
import { FsSavedQueries } from '../../lib/adapters/local/fs-saved-queries.js';

const QUERY = { name: 'funnel-app-shop-purchase-v2', description: 'Project shop, app events of type app:purchase', sql: 'SELECT 1' };

describe('AthenaSavedQueries', () => {
  let athena: AwsClientStub<AthenaClient>;
  let store: AthenaSavedQueries;
  beforeEach(() => {
    athena = mockClient(AthenaClient);
    athena.on(CreateNamedQueryCommand).resolves({ NamedQueryId: 'nq-1' });
    store = new AthenaSavedQueries(new AthenaClient({}), { workGroup: 'funnel', database: 'funnel_db' });
  });
  afterEach(() => athena.restore());

  it('creates a named query in the workgroup and database', async () => {
    await store.save(QUERY);
    const calls = athena.commandCalls(CreateNamedQueryCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0]!.args[0].input;
    expect(input).toMatchObject({ Name: QUERY.name, Description: QUERY.description, QueryString: 'SELECT 1', Database: 'funnel_db', WorkGroup: 'funnel' });
    // Athena takes 32 to 128 characters
    expect(input.ClientRequestToken).toMatch(/^[0-9a-f]{64}$/);
  });

  it('saves the same query under the same request token (one named query), another under another', async () => {
    await store.save(QUERY);
    await store.save({ ...QUERY });
    await store.save({ ...QUERY, sql: 'SELECT 2' });
    await new AthenaSavedQueries(new AthenaClient({}), { workGroup: 'other', database: 'funnel_db' }).save(QUERY);
    const tokens = athena.commandCalls(CreateNamedQueryCommand).map((call) => call.args[0].input.ClientRequestToken);
    expect(tokens[0]).toBe(tokens[1]);
    expect(new Set(tokens).size).toBe(3);
  });

  it("passes Athena's refusal on to the caller", async () => {
    athena.on(CreateNamedQueryCommand).rejects(new InvalidRequestException({ message: 'Name too long', $metadata: {} }));
    await expect(store.save(QUERY)).rejects.toThrow(/Name too long/);
  });
});

describe('FsSavedQueries', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'funnel-saved-queries-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('writes <dir>/<name>.sql, the description as its leading comment, and leaves no temp file', async () => {
    const store = new FsSavedQueries(join(dir, 'saved-queries'));
    await store.save(QUERY);
    expect(await readdir(join(dir, 'saved-queries'))).toEqual(['funnel-app-shop-purchase-v2.sql']);
    expect(await readFile(join(dir, 'saved-queries', 'funnel-app-shop-purchase-v2.sql'), 'utf8')).toBe('-- Project shop, app events of type app:purchase\nSELECT 1\n');
  });

  it('replaces the file when the name is saved again', async () => {
    const store = new FsSavedQueries(dir);
    await store.save(QUERY);
    await store.save({ ...QUERY, sql: 'SELECT 2' });
    expect(await readdir(dir)).toEqual(['funnel-app-shop-purchase-v2.sql']);
    expect(await readFile(join(dir, 'funnel-app-shop-purchase-v2.sql'), 'utf8')).toMatch(/\nSELECT 2\n$/);
  });

  it('comments every line of a description, so none of it runs as SQL', async () => {
    const store = new FsSavedQueries(dir);
    await store.save({ ...QUERY, description: 'first\nDROP TABLE facts;\r\nlast\r' });
    const text = await readFile(join(dir, `${QUERY.name}.sql`), 'utf8');
    expect(text).toBe('-- first\n-- DROP TABLE facts;\n-- last\n--\nSELECT 1\n');
  });

  it('refuses a name that is not a plain file name', async () => {
    const store = new FsSavedQueries(join(dir, 'inner'));
    for (const name of ['../escape', 'a/b', 'a\\b', '.hidden', '..', '', 'x'.repeat(129)]) {
      await expect(store.save({ ...QUERY, name }), name).rejects.toThrow(/not a saved query name/);
    }
    expect(await readdir(dir)).toEqual([]);
  });
});
