import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appEventTypeQuery, appEventTypeQueryName, saveAppEventTypeQuery, MAX_SAVED_QUERY_NAME_CHARS, type AppEventTypeVersion } from '../../lib/jobs/saved-queries.js';
import { DuckDbSqlEngine, factsRelation } from '../../lib/adapters/local/duckdb-sql-engine.js';
import { FsObjectStore } from '../../lib/adapters/local/fs-object-store.js';
import { FsSavedQueries } from '../../lib/adapters/local/fs-saved-queries.js';
import { encodeFacts } from '../../lib/facts/parquet.js';
import { partitionOf, partitionPrefix } from '../../lib/facts/partition.js';
import { newFact, type Fact } from '../../lib/facts/schema.js';
import { appFact } from '../../lib/app/events.js';

const DAY = 86_400;
const PURCHASE: AppEventTypeVersion = { project: 'shop', eventType: 'purchase', version: 2, dimensions: ['country', 'premium'], measures: ['amount'] };

/** A deterministic stream of numbers in [0, 1): the same facts on every run. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

describe('the Athena (Trino) form of an app event type query', () => {
  it('is pinned', () => {
    expect(appEventTypeQuery('"funnel"."facts"', 'athena', PURCHASE)).toMatchInlineSnapshot(`
      "SELECT dt,
        json_extract_scalar(properties, '$.country') AS "country",
        json_extract_scalar(properties, '$.premium') AS "premium",
        count(*) AS events,
        count(DISTINCT author) AS users,
        sum(TRY_CAST(json_extract_scalar(properties, '$.amount') AS DOUBLE)) AS "amount_sum",
        avg(TRY_CAST(json_extract_scalar(properties, '$.amount') AS DOUBLE)) AS "amount_avg"
      FROM (SELECT * FROM (
            SELECT *, row_number() OVER (PARTITION BY event_id ORDER BY ingested_at) AS arrival
            FROM "funnel"."facts" WHERE dt >= date_format(date_add('day', -30, current_date), '%Y-%m-%d') AND project = 'shop' AND type = 'app:purchase'
          ) WHERE arrival = 1) f
      GROUP BY dt, json_extract_scalar(properties, '$.country'), json_extract_scalar(properties, '$.premium')
      ORDER BY dt, json_extract_scalar(properties, '$.country'), json_extract_scalar(properties, '$.premium')"
    `);
  });

  it('reads properties with json_extract_string in DuckDB, over the days asked', () => {
    const sql = appEventTypeQuery('f', 'duckdb', PURCHASE, 7);
    expect(sql).toContain("json_extract_string(properties, '$.country')");
    expect(sql).not.toContain('json_extract_scalar');
    expect(sql).toContain('dt >= current_date - INTERVAL 7 DAY');
  });

  it('refuses a project, event type or version that is not one, rather than quoting it', () => {
    expect(() => appEventTypeQuery('f', 'athena', { ...PURCHASE, project: "shop' OR 1=1 --" })).toThrow(/project/);
    expect(() => appEventTypeQuery('f', 'athena', { ...PURCHASE, project: '' })).toThrow(/project/);
    expect(() => appEventTypeQuery('f', 'athena', { ...PURCHASE, eventType: "purchase' OR type <> '" })).toThrow(/event type/);
    expect(() => appEventTypeQuery('f', 'athena', { ...PURCHASE, eventType: 'Purchase' })).toThrow(/event type/);
    expect(() => appEventTypeQuery('f', 'athena', { ...PURCHASE, version: 0 })).toThrow(/version/);
    expect(() => appEventTypeQuery('f', 'athena', PURCHASE, 0)).toThrow(/days/);
  });

  it('gives a hostile property name no column: nothing of it reaches the SQL', () => {
    const hostile = [
      `country') AS x FROM facts; DROP TABLE facts; --`,
      `a"b`,
      `a'b`,
      `x"]`,
      'a b',
      '$.x',
      '1st',
      'naïve',
      `x\n--`,
      'a'.repeat(65),
    ];
    for (const dialect of ['athena', 'duckdb'] as const) {
      const sql = appEventTypeQuery('f', dialect, { ...PURCHASE, dimensions: ['country', ...hostile, 'premium'], measures: ['amount', ...hostile] });
      expect(sql).toBe(appEventTypeQuery('f', dialect, PURCHASE));
    }
  });

  it('names colliding columns apart (names are case-insensitive in both engines)', () => {
    const sql = appEventTypeQuery('f', 'athena', { ...PURCHASE, dimensions: ['events', 'Users', 'amount_sum'], measures: ['amount', 'amount'] });
    expect(sql).toContain(`AS "events_2"`);
    expect(sql).toContain(`AS "Users_2"`);
    expect(sql).toContain(`json_extract_scalar(properties, '$.amount_sum') AS "amount_sum",`);
    expect(sql).toContain(`AS "amount_sum_2"`);
    expect(sql.match(/\$\.amount'\) AS DOUBLE\)\) AS "amount_avg"/g)).toHaveLength(1);
  });
});

describe('the saved query name and description', () => {
  it('is funnel-app-<project>-<eventType>-v<version>', () => {
    expect(appEventTypeQueryName(PURCHASE)).toBe('funnel-app-shop-purchase-v2');
  });

  it('stays within Athena\'s 128 characters, two long names apart', () => {
    const long = { project: 'p'.repeat(64), eventType: `e${'x'.repeat(62)}1`, version: 100 };
    const other = { ...long, eventType: `e${'x'.repeat(62)}2` };
    const name = appEventTypeQueryName(long);
    expect(name.length).toBe(MAX_SAVED_QUERY_NAME_CHARS);
    expect(name).toMatch(/^funnel-app-p+-ex+-[0-9a-f]{12}-v100$/);
    expect(appEventTypeQueryName(other)).not.toBe(name);
    expect(appEventTypeQueryName(other).length).toBe(MAX_SAVED_QUERY_NAME_CHARS);
  });

  it('saves nothing without a store, and names the project, type and version with one', async () => {
    await expect(saveAppEventTypeQuery(undefined, 'f', PURCHASE)).resolves.toBeUndefined();
    const saved: { name: string; description: string; sql: string }[] = [];
    await saveAppEventTypeQuery({ save: async (query) => void saved.push(query) }, '"funnel"."facts"', { ...PURCHASE, dimensions: ['country', 'a"b'] });
    expect(saved).toHaveLength(1);
    expect(saved[0]!.name).toBe('funnel-app-shop-purchase-v2');
    expect(saved[0]!.sql).toBe(appEventTypeQuery('"funnel"."facts"', 'athena', { ...PURCHASE, dimensions: ['country'] }));
    expect(saved[0]!.description).toContain('Project shop');
    expect(saved[0]!.description).toContain('app:purchase');
    expect(saved[0]!.description).toContain('schema version 2');
    expect(saved[0]!.description).toContain('1 property has no column');
    expect(saved[0]!.description).not.toContain('a"b');
  });
});

describe('an app event type query on facts (DuckDB), against a brute-force count', () => {
  let dir: string;
  const sql = new DuckDbSqlEngine();
  const nowSeconds = Math.floor(Date.now() / 1000);
  const next = random(7);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)]!;
  const users = ['u1', 'u2', 'u3', 'u4', 'u5'];
  const event = (daysAgo: number, properties: Record<string, unknown>, overrides: { project?: string; name?: string; userId?: string } = {}) =>
    appFact(
      { name: overrides.name ?? 'purchase', userId: overrides.userId ?? pick(users), timestamp: nowSeconds - daysAgo * DAY - Math.floor(next() * 3_600), properties },
      overrides.project ?? 'shop',
      1_000 + Math.floor(next() * 1_000),
    );
  const purchase = () => ({
    ...(next() < 0.9 ? { country: pick(['de', 'fr', 'us']) } : {}),
    ...(next() < 0.9 ? { premium: next() < 0.5 } : {}),
    // whole and quarter amounts: their sums are exact in a DOUBLE, in any order
    ...(next() < 0.85 ? { amount: Math.floor(next() * 400) / 4 } : next() < 0.5 ? { amount: 'n/a' } : {}),
  });
  const counted: Fact[] = [];
  for (const daysAgo of [0, 1, 2, 3, 5]) for (let i = 0; i < 40; i++) counted.push(event(daysAgo, purchase()));
  const others: Fact[] = [
    // older than the 30 days, another project, another type, and a Nostr fact: none counted
    ...Array.from({ length: 5 }, () => event(40, purchase())),
    ...Array.from({ length: 5 }, () => event(1, purchase(), { project: 'shop2' })),
    ...Array.from({ length: 5 }, () => event(1, purchase(), { name: 'purchase.refund' })),
    newFact({ event_id: 'f'.repeat(64), source: 'nostr', kind: 1, type: 'note', created_at: nowSeconds - DAY, author: 'a'.repeat(64), ingested_at: 1, properties: '{"amount":5}' }),
  ];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'funnel-app-query-'));
    const objects = new FsObjectStore(dir);
    const byHour = new Map<number, Fact[]>();
    for (const fact of [...counted, ...others]) {
      const start = partitionOf(fact.created_at).start;
      byHour.set(start, [...(byHour.get(start) ?? []), fact]);
    }
    for (const [start, facts] of byHour) await objects.put(`${partitionPrefix(partitionOf(start))}f.parquet`, encodeFacts(facts));
    // Two hours held twice, as before compaction: each event is still counted once.
    for (const [start, facts] of [...byHour].slice(0, 2)) await objects.put(`${partitionPrefix(partitionOf(start))}dup.parquet`, encodeFacts(facts));
  });
  afterAll(async () => {
    await sql.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** What the query must say, computed in JavaScript: per day and dimension values, from the counted facts. */
  function bruteForce() {
    const asText = (value: unknown) => (value === undefined || value === null ? null : String(value));
    const groups = new Map<string, { dt: string; country: string | null; premium: string | null; events: number; users: Set<string>; amounts: number[] }>();
    for (const fact of counted) {
      const properties = JSON.parse(fact.properties!) as Record<string, unknown>;
      const key = { dt: partitionOf(fact.created_at).dt, country: asText(properties.country), premium: asText(properties.premium) };
      const id = JSON.stringify(key);
      const group = groups.get(id) ?? { ...key, events: 0, users: new Set<string>(), amounts: [] };
      group.events++;
      group.users.add(fact.author);
      if (typeof properties.amount === 'number') group.amounts.push(properties.amount);
      groups.set(id, group);
    }
    return groups;
  }

  it('counts events, distinct users, and the sum and average of the measure per day and group', async () => {
    const rows = await sql.query(appEventTypeQuery(factsRelation(dir), 'duckdb', PURCHASE));
    const expected = bruteForce();
    expect(rows).toHaveLength(expected.size);
    expect(new Set(counted.map((f) => f.event_id)).size).toBe(counted.length);
    for (const row of rows) {
      const key = { dt: String(row.dt), country: row.country === null ? null : String(row.country), premium: row.premium === null ? null : String(row.premium) };
      const group = expected.get(JSON.stringify(key));
      expect(group, JSON.stringify(key)).toBeDefined();
      expect(Number(row.events)).toBe(group!.events);
      expect(Number(row.users)).toBe(group!.users.size);
      if (group!.amounts.length === 0) {
        expect([row.amount_sum, row.amount_avg]).toEqual([null, null]);
      } else {
        const sum = group!.amounts.reduce((a, b) => a + b, 0);
        expect(Number(row.amount_sum)).toBe(sum);
        expect(Number(row.amount_avg)).toBeCloseTo(sum / group!.amounts.length, 9);
      }
    }
    expect(rows.reduce((n, r) => n + Number(r.events), 0)).toBe(counted.length);
    expect(Object.keys(rows[0]!)).toEqual(['dt', 'country', 'premium', 'events', 'users', 'amount_sum', 'amount_avg']);
  });

  it('runs with hostile and colliding property names, which change nothing but the columns', async () => {
    const rows = await sql.query(
      appEventTypeQuery(factsRelation(dir), 'duckdb', { ...PURCHASE, dimensions: ['country', `premium') AS x FROM facts; --`, 'events'], measures: ['amount', `amount"`] }),
    );
    expect(Object.keys(rows[0]!)).toEqual(['dt', 'country', 'events_2', 'events', 'users', 'amount_sum', 'amount_avg']);
    expect(rows.reduce((n, r) => n + Number(r.events), 0)).toBe(counted.length);
    expect(rows.every((r) => r.events_2 === null)).toBe(true);
  });

  it('is saved locally as a .sql file that runs as it is', async () => {
    const store = new FsSavedQueries(join(dir, 'saved-queries'));
    await saveAppEventTypeQuery(store, factsRelation(dir), PURCHASE, 'duckdb');
    const text = await readFile(join(dir, 'saved-queries', 'funnel-app-shop-purchase-v2.sql'), 'utf8');
    expect(text.startsWith('-- Project shop')).toBe(true);
    const fromFile = await sql.query(text);
    expect(fromFile).toEqual(await sql.query(appEventTypeQuery(factsRelation(dir), 'duckdb', PURCHASE)));
  });
});
