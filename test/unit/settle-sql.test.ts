import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { decodeTopList } from '../../lib/counters/topn.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDbSqlEngine, factsRelation } from '../../lib/adapters/local/duckdb-sql-engine.js';
import { aggregateFacts, toItem } from '../../lib/counters/aggregate.js';
import { retentionFromEnv } from '../../lib/counters/retention.js';
import { settledHourItems, settledQuarterItems, settledWeekItems } from '../../lib/counters/settle.js';
import { WEEK_SECONDS, weekDays } from '../../lib/counters/weeks.js';
import { settleSql, settledItemOfRow } from '../../lib/counters/settle-sql.js';
import { engagementReceived } from '../../lib/counters/read.js';
import { contributionsOf, isTargetScope } from '../../lib/counters/contributions.js';
import { encodeFacts } from '../../lib/facts/parquet.js';
import { partitionOf, partitionPrefix } from '../../lib/facts/partition.js';
import { newFact, type Fact } from '../../lib/facts/schema.js';
import { generateFacts } from '../../bench/workload.js';
import { normalise } from '../../lib/nostr/normalise.js';
import type { CounterItem } from '../../lib/ports.js';
import { FIXTURE_FILES, loadFixture } from '../support/fixtures.js';

const DAY = Date.UTC(2026, 10, 3) / 1000;
const retention = retentionFromEnv({});
const hex = (n: number) => n.toString(16).padStart(64, '0');

/** Real events (moved into one day so scopes are dense), generated Zipf traffic, app events and duplicates. */
function workload(): Fact[] {
  const real = FIXTURE_FILES.flatMap((name) => loadFixture(name)).map((event, i) => ({ ...normalise(event, { relay: 'wss://r', ingestedAt: 1_000 + i }), created_at: DAY + ((i * 4099) % 86400) }));
  const generated = generateFacts({ facts: 6_000, users: 300, zipf: 1.1, seed: 7, startTs: DAY, endTs: DAY + 86400 });
  const app: Fact[] = Array.from({ length: 40 }, (_, i) =>
    newFact({
      event_id: hex(0xa000 + i),
      source: 'app',
      kind: 0,
      type: i % 3 === 0 ? 'app:view' : i % 3 === 1 ? 'app:play' : 'app:signup',
      created_at: DAY + 3600 + i * 61,
      author: hex(0xb000 + (i % 7)),
      project: i % 2 ? 'demo' : 'other',
      target_event_id: i % 3 === 0 ? real[i]!.event_id : null,
      target_address: i % 3 === 1 ? `34235:${hex(1)}:clip` : null,
      ingested_at: 5_000 + i,
    }),
  );
  // A registered type: two dimensions (one value absent, one 'other'), two measures (one optional).
  const countries = ['DE', 'FR', '(other)', '(none)'];
  const purchases: Fact[] = Array.from({ length: 60 }, (_, i) =>
    newFact({
      event_id: hex(0xc000 + i),
      source: 'app',
      kind: -1,
      type: 'app:purchase',
      created_at: DAY + 3600 + i * 53,
      author: hex(0xd000 + (i % 11)),
      project: 'shop',
      schema_version: 1 + (i % 2),
      dimensions: [`country=${countries[i % 4]}`, `device=${i % 3 ? 'ios' : 'web'}`],
      measures: [`amount=${1250 * (i % 5) - 500}`, ...(i % 4 ? [`items=${1000 * (1 + (i % 3))}`] : [])],
      ingested_at: 6_000 + i,
    }),
  );
  const facts = [...real, ...generated, ...app, ...purchases];
  // Later copies of some facts (a second relay, a redelivery): the first arrival must win.
  const copies = facts.filter((_, i) => i % 50 === 0).map((f) => ({ ...f, ingested_at: f.ingested_at + 10_000_000, relay: 'wss://copy' }));
  return [...facts, ...copies];
}

function firstArrivals(facts: readonly Fact[]): Fact[] {
  const byId = new Map<string, Fact>();
  for (const f of facts) {
    const seen = byId.get(f.event_id);
    if (!seen || f.ingested_at < seen.ingested_at) byId.set(f.event_id, f);
  }
  return [...byId.values()];
}

/** An item in a comparable form: what it stores, not how (sets sorted, lists parsed). */
function comparable(item: CounterItem): unknown {
  return {
    key: `${item.scope}|${item.granularity}|${item.bucket}`,
    values: Object.fromEntries(Object.entries(item.values).sort(([a], [b]) => (a < b ? -1 : 1))),
    sets: Object.fromEntries(Object.entries(item.sets ?? {}).map(([k, v]) => [k, [...v].sort((a, b) => a - b)])),
    tops: Object.fromEntries(Object.entries(item.tops ?? {}).map(([k, v]) => [k, decodeTopList(v)])),
  };
}
const byKey = (items: CounterItem[]) => items.map(comparable).sort((a, b) => ((a as { key: string }).key < (b as { key: string }).key ? -1 : 1));

describe('settleSql (DuckDB) computes the settled items aggregateFacts computes', () => {
  let dir: string;
  let sql: DuckDbSqlEngine;
  const facts = workload();
  const unique = firstArrivals(facts);

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'funnel-settle-sql-'));
    // Facts as ingest leaves them: several objects per hour, copies in other objects.
    const byHour = new Map<number, Fact[]>();
    for (const f of facts) {
      const hour = Math.floor(f.created_at / 3600) * 3600;
      (byHour.get(hour) ?? byHour.set(hour, []).get(hour)!).push(f);
    }
    for (const [hour, list] of byHour) {
      const prefix = join(dir, partitionPrefix(partitionOf(hour)));
      mkdirSync(prefix, { recursive: true });
      for (let part = 0; part * 400 < list.length; part++) writeFileSync(join(prefix, `batch-${part}.parquet`), encodeFacts(list.slice(part * 400, (part + 1) * 400)));
    }
    sql = new DuckDbSqlEngine();
  });
  afterAll(async () => {
    await sql.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const hours = [DAY, DAY + 3600, DAY + 13 * 3600, DAY + 23 * 3600];
  const factsOf = (hour: number) => unique.filter((f) => f.created_at >= hour && f.created_at < hour + 3600);

  it('hour and minute items of several hours in one statement, item for item, each row tagged with its hour', async () => {
    const rows = await sql.query(settleSql(factsRelation(dir), { dialect: 'duckdb', granularity: 'h', buckets: hours, liveHours: hours }));
    for (const hour of hours) {
      const own = rows.filter((r) => r.part === String(hour));
      expect(own.length).toBeGreaterThan(50);
      expect(byKey(own.map(settledItemOfRow))).toEqual(byKey(settledHourItems(hour, factsOf(hour), retention).items));
    }
    // Ten-minute items stand in for two minute items or more, with counts (and a project's users) only.
    const tens = rows.map(settledItemOfRow).filter((i) => i.granularity === 't');
    expect(tens.filter((i) => i.scope === 'g').length).toBe(hours.length * 6);
    expect(tens.some((i) => i.scope.startsWith('u:'))).toBe(true);
    expect(tens.every((i) => !i.tops && Object.keys(i.sets ?? {}).every((name) => name === 'users'))).toBe(true);
    expect(tens.some((i) => i.sets?.users)).toBe(true);
    // The registered type's items are among them: 15 of the 60 purchases are from France, 5 of those on the web.
    const item = (scope: string) => rows.map(settledItemOfRow).find((i) => i.scope === scope && i.granularity === 'h')!;
    expect(item('p:shop:purchase').values).toMatchObject({ n: 60, 'n|country=FR': 15, 'n|country=(none)': 15, 'c.amount': 60 });
    expect(item('p:shop:purchase:country,device').values['n|FR|web']).toBe(5);
    expect(rows.every((r) => hours.map(String).includes(String(r.part)))).toBe(true);
  });

  it('live-counted items (minutes; per-event and per-address hours) only for the hours asked', async () => {
    const rows = await sql.query(settleSql(factsRelation(dir), { dialect: 'duckdb', granularity: 'h', buckets: hours.slice(0, 2), liveHours: [hours[1]!] }));
    const minuteParts = new Set(rows.filter((r) => r.granularity === 'm').map((r) => r.part));
    expect(minuteParts).toEqual(new Set([String(hours[1])]));
    const hourRows = (hour: number) => rows.filter((r) => r.granularity === 'h' && r.part === String(hour)).map(settledItemOfRow);
    const reference = (hour: number) => settledHourItems(hour, factsOf(hour), retention);
    const scopes = (items: CounterItem[]) => items.filter((i) => i.granularity === 'h').map((i) => i.scope).sort();
    // Sparse user hours have no hour item whatever the hour; per-event hours only where asked.
    expect(reference(hours[0]!).sparse.length).toBeGreaterThan(0);
    expect(scopes(reference(hours[0]!).items).some(isTargetScope)).toBe(true);
    expect(scopes(hourRows(hours[0]!))).toEqual(scopes(reference(hours[0]!).items).filter((s) => !isTargetScope(s)));
    expect(scopes(hourRows(hours[1]!))).toEqual(scopes(reference(hours[1]!).items));
  });

  it('with copiedLive, exactly the live-counted items (minutes; per-event and per-address hours) an event found in two objects touches', async () => {
    const copiedIds = new Set(facts.filter((f) => f.relay === 'wss://copy').map((f) => f.event_id));
    const rows = await sql.query(settleSql(factsRelation(dir), { dialect: 'duckdb', granularity: 'h', buckets: hours, copiedLive: true }));
    const liveCounted = (i: CounterItem) => i.granularity === 'm' || isTargetScope(i.scope);
    const minutes = rows.map(settledItemOfRow).filter(liveCounted);
    expect(minutes.some((i) => i.granularity === 'm')).toBe(true);
    expect(minutes.some((i) => i.granularity === 'h')).toBe(true);
    for (const hour of hours) {
      const reference = settledHourItems(hour, factsOf(hour), retention).items.filter(liveCounted);
      // The keys the copied events' counts land on, as the live rollup would have counted them.
      const touched = new Set<string>();
      for (const f of factsOf(hour).filter((x) => copiedIds.has(x.event_id))) {
        for (const { scope } of contributionsOf(f).counts) touched.add(`${scope}|${isTargetScope(scope) ? Math.floor(f.created_at / 3600) * 3600 : Math.floor(f.created_at / 60) * 60}`);
      }
      const own = minutes.filter((m) => m.bucket >= hour && m.bucket < hour + 3600);
      expect(new Set(own.map((m) => `${m.scope}|${m.bucket}`))).toEqual(touched);
      expect(byKey(own)).toEqual(byKey(reference.filter((i) => touched.has(`${i.scope}|${i.bucket}`))));
    }
  });

  it('day items, exact over the day, with engagement received by hour of day', async () => {
    const dayFacts = unique.filter((f) => f.created_at >= DAY && f.created_at < DAY + 86400);
    const hours = Array.from({ length: 24 }, (_, h) => aggregateFacts(dayFacts.filter((f) => f.created_at >= DAY + h * 3600 && f.created_at < DAY + (h + 1) * 3600)));
    const expected = [...aggregateFacts(dayFacts)].map(([scope, state]) => {
      if (scope.startsWith('u:')) {
        hours.forEach((hour, h) => {
          const engaged = engagementReceived(hour.get(scope)?.values ?? {});
          if (engaged) state.values[`eng_h${String(h).padStart(2, '0')}`] = engaged;
        });
      }
      return toItem(scope, 'd', DAY, state);
    });
    const quarters = settledQuarterItems(DAY, dayFacts, retention);
    const rows = await sql.query(settleSql(factsRelation(dir), { dialect: 'duckdb', granularity: 'd', buckets: [DAY] }));
    expect(rows.length).toBe(expected.length + quarters.length);
    expect(byKey(rows.map(settledItemOfRow))).toEqual(byKey([...expected, ...quarters]));
    // Quarter days stand in for two hour items or more: the network's four, and the busiest users'.
    expect(quarters.filter((q) => q.scope === 'g').map((q) => q.bucket)).toEqual([0, 1, 2, 3].map((i) => DAY + i * 21600));
    expect(quarters.some((q) => q.scope.startsWith('u:') && q.sets?.engagers && q.tops?.top_posts && Object.keys(q.values).some((m) => m.startsWith('eng_h')))).toBe(true);
    expect(quarters.some((q) => isTargetScope(q.scope))).toBe(false);
  });

  it('week items, exact over the week, with each day\'s timeline counts, for users and the network only', async () => {
    const weekStart = Math.floor(DAY / WEEK_SECONDS) * WEEK_SECONDS;
    // The workload spread over the week by event id (a copy lands with its original), and a day before it.
    const dayOf = (f: Fact) => (parseInt(f.event_id.slice(-2), 16) % 8) - 1;
    const spread = facts.map((f) => ({ ...f, created_at: weekStart + dayOf(f) * 86400 + (f.created_at - DAY) }));
    const own = mkdtempSync(join(tmpdir(), 'funnel-settle-sql-week-'));
    try {
      const byHour = new Map<number, Fact[]>();
      for (const f of spread) (byHour.get(Math.floor(f.created_at / 3600) * 3600) ?? byHour.set(Math.floor(f.created_at / 3600) * 3600, []).get(Math.floor(f.created_at / 3600) * 3600)!).push(f);
      for (const [hour, list] of byHour) {
        const prefix = join(own, partitionPrefix(partitionOf(hour)));
        mkdirSync(prefix, { recursive: true });
        writeFileSync(join(prefix, 'batch.parquet'), encodeFacts(list));
      }
      const expected = settledWeekItems(weekStart, firstArrivals(spread), retention);
      const rows = await sql.query(settleSql(factsRelation(own), { dialect: 'duckdb', granularity: 'w', buckets: [weekStart] }));
      expect(byKey(rows.map(settledItemOfRow))).toEqual(byKey(expected));
      expect(new Set(expected.map((i) => i.scope.slice(0, 2)))).toEqual(new Set(['u:', 'g']));
      // A busy user's days: each day's counts add up to the week's.
      const busiest = expected.filter((i) => i.scope.startsWith('u:')).sort((a, b) => Object.keys(b.values).length - Object.keys(a.values).length)[0]!;
      const days = weekDays(busiest);
      expect(days.size).toBeGreaterThan(3);
      for (const metric of ['posts', 'likes_rcv']) expect([...days.values()].reduce((n, v) => n + (v[metric] ?? 0), 0)).toBe(busiest.values[metric] ?? 0);
      expect(busiest.sets?.engagers).toBeDefined();
      expect(Object.keys(busiest.values).some((m) => m.startsWith('eng_h'))).toBe(false);
      // The week to date: its first three days only, and so stated.
      const toDate = settledWeekItems(weekStart, firstArrivals(spread), retention, weekStart + 3 * 86400);
      const toDateRows = await sql.query(settleSql(factsRelation(own), { dialect: 'duckdb', granularity: 'w', buckets: [weekStart], through: weekStart + 3 * 86400 }));
      expect(byKey(toDateRows.map(settledItemOfRow))).toEqual(byKey(toDate));
      expect(Math.max(...[...weekDays(toDate.find((i) => i.scope === busiest.scope)!).keys()])).toBeLessThan(weekStart + 3 * 86400);
      expect(() => settleSql('x', { dialect: 'duckdb', granularity: 'd', buckets: [DAY], through: DAY + 86400 })).toThrow(/one week/);
    } finally {
      rmSync(own, { recursive: true, force: true });
    }
  });

  it('with deletions, retracted engagement counts nowhere, and the live-counted items it touched come back, zero where it was alone', async () => {
    const hour = hours[1]!;
    const engagement = factsOf(hour).filter((f) => (f.type === 'reaction' || f.type === 'repost') && f.source === 'nostr');
    const retracted = engagement.filter((_, i) => i % 7 === 0);
    expect(retracted.length).toBeGreaterThan(5);
    const deletion = (id: number, author: string, ids: string[]) => newFact({ event_id: hex(0xdead00 + id), source: 'nostr', kind: 5, type: 'deletion', created_at: hour + 2 * 3600 + id, author, ingested_at: 9e12, deleted_event_ids: ids });
    const byAuthor = new Map<string, string[]>();
    for (const f of retracted) byAuthor.set(f.author, [...(byAuthor.get(f.author) ?? []), f.event_id]);
    const deletions = [...byAuthor].map(([author, ids], i) => deletion(i, author, ids));
    // A stranger's deletion of someone else's reaction changes nothing.
    const spared = engagement.find((f) => !retracted.includes(f) && !byAuthor.has(f.author))!;
    deletions.push(deletion(999, hex(0xbad), [spared.event_id]));
    const deletionsDir = mkdtempSync(join(tmpdir(), 'funnel-settle-sql-deletions-'));
    try {
      const prefix = join(deletionsDir, partitionPrefix(partitionOf(hour + 2 * 3600)));
      mkdirSync(prefix, { recursive: true });
      writeFileSync(join(prefix, 'deletions.parquet'), encodeFacts(deletions));
      const rows = await sql.query(settleSql(factsRelation(dir), { dialect: 'duckdb', granularity: 'h', buckets: [hour], deletions: factsRelation(deletionsDir) }));
      const items = rows.map(settledItemOfRow);
      const kept = factsOf(hour).filter((f) => !retracted.includes(f));
      // The network's hour: exactly the facts that are left.
      const network = items.find((i) => i.scope === 'g' && i.granularity === 'h')!;
      const reference = settledHourItems(hour, kept, retention).items.find((i) => i.scope === 'g' && i.granularity === 'h')!;
      expect(network.values).toEqual(reference.values);
      // Live-counted rows: exactly the keys the retracted events' counts land on, recomputed without them.
      const touched = new Set<string>();
      for (const f of retracted) for (const { scope } of contributionsOf(f).counts) touched.add(`${scope}|${isTargetScope(scope) ? hour : Math.floor(f.created_at / 60) * 60}`);
      const live = items.filter((i) => i.granularity === 'm' || isTargetScope(i.scope));
      expect(new Set(live.map((i) => `${i.scope}|${i.bucket}`))).toEqual(touched);
      const recount = (scope: string, bucket: number, metric: string) =>
        kept.filter((f) => (isTargetScope(scope) ? true : Math.floor(f.created_at / 60) * 60 === bucket)).flatMap((f) => contributionsOf(f).counts).filter((c) => c.scope === scope && c.metric === metric).reduce((n, c) => n + c.amount, 0);
      for (const item of live) for (const [metric, value] of Object.entries(item.values)) expect({ key: `${item.scope}|${item.bucket}|${metric}`, value }).toEqual({ key: `${item.scope}|${item.bucket}|${metric}`, value: recount(item.scope, item.bucket, metric) });
      expect(live.some((i) => Object.values(i.values).every((v) => v === 0))).toBe(true);
    } finally {
      rmSync(deletionsDir, { recursive: true, force: true });
    }
  });

  it('a deletion retracts by a rule of its target alone: created up to 48 h after the target\'s hour, whatever the statement', async () => {
    const hour = DAY + 5 * 3600;
    const reaction = (n: number) => newFact({ event_id: hex(0xbeef00 + n), source: 'nostr', kind: 7, type: 'reaction', reaction: '+', created_at: hour + 60 * n, author: hex(0xc0 + n), target_event_id: hex(0xf00d), target_pubkey: hex(0xf00e), ingested_at: 1 });
    const deletion = (n: number, at: number) => newFact({ event_id: hex(0xdeed00 + n), source: 'nostr', kind: 5, type: 'deletion', created_at: at, author: hex(0xc0 + n), deleted_event_ids: [hex(0xbeef00 + n)], ingested_at: 2 });
    const inTime = deletion(1, hour + 3600 + 47 * 3600);
    const tooLate = deletion(2, hour + 3600 + 49 * 3600);
    const own = mkdtempSync(join(tmpdir(), 'funnel-settle-sql-horizon-'));
    try {
      for (const [at, list] of [[hour, [reaction(1), reaction(2)]], [inTime.created_at, [inTime]], [tooLate.created_at, [tooLate]]] as const) {
        const prefix = join(own, partitionPrefix(partitionOf(at)));
        mkdirSync(prefix, { recursive: true });
        writeFileSync(join(prefix, `f-${at}.parquet`), encodeFacts([...list]));
      }
      const likes = async (buckets: number[]) => {
        const rows = await sql.query(settleSql(factsRelation(own), { dialect: 'duckdb', granularity: 'h', buckets, deletions: factsRelation(own) }));
        return rows.map(settledItemOfRow).find((i) => i.scope === `e:${hex(0xf00d)}` && i.granularity === 'h' && i.bucket === hour)?.values.likes;
      };
      // Settled alone, or with the hours around it in one statement: the same one like is left.
      expect(await likes([hour])).toBe(1);
      expect(await likes([hour - 3 * 3600, hour, hour + 3600])).toBe(1);
    } finally {
      rmSync(own, { recursive: true, force: true });
    }
  });

  it('the Athena text uses Trino functions only where the dialects differ', () => {
    const athena = settleSql('facts', { dialect: 'athena', granularity: 'h', buckets: [DAY], liveHours: [DAY] });
    expect(athena).toContain("from_base(substr(member, 1, 8), 16)");
    expect(athena).toContain('array_join(array_agg(');
    expect(athena).not.toMatch(/string_agg|to_json|'0x'/);
    expect(athena).toContain("dt BETWEEN '2026-11-03' AND '2026-11-03'");
  });
});
