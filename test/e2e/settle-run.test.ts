import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compactAndSettle } from '../../lib/facts/compact.js';
import { adoptHourlyTargetCounting, COUNTING_LAYOUT, DIRTY_DAYS, DIRTY_HOURS, DRIFT_HOURS, markDirty, markDrifted, WATERMARK } from '../../lib/counters/state.js';
import { retentionFromEnv } from '../../lib/counters/retention.js';
import { decodeFacts, encodeFacts } from '../../lib/facts/parquet.js';
import { partitionOf, partitionPrefix } from '../../lib/facts/partition.js';
import { newFact, type Fact } from '../../lib/facts/schema.js';
import { MANIFESTS_PREFIX } from '../../lib/counters/settle.js';
import { isTopEntryMetric } from '../../lib/counters/topn.js';
import { DeltaRollup } from '../../lib/counters/rollup.js';
import { aggregateFacts, mergeItems } from '../../lib/counters/aggregate.js';
import { planWindow } from '../../lib/counters/planner.js';
import { readPlan } from '../../lib/counters/read.js';
import { settleBuckets, settledShards } from '../../lib/counters/settle-run.js';
import { scopeShard, scopeShardSql } from '../../lib/counters/settle-sql.js';
import type { CounterItem, CounterStore } from '../../lib/ports.js';
import { fixedClock, memoryStores } from '../support/local.js';

const HOUR = Date.UTC(2026, 10, 20, 10) / 1000;
const retention = retentionFromEnv({ MINUTE_TTL_DAYS: '3650', HOUR_TTL_DAYS: '3650', DAY_TTL_DAYS: '3650' });
const hex = (n: number) => n.toString(16).padStart(64, '0');
const author = (n: number) => hex(0xa0000 + n);
const note = (i: number, at = HOUR + i * 7): Fact =>
  newFact({ event_id: hex(i + 1), source: 'nostr', kind: 1, type: 'note', created_at: at, author: author(i % 5), ingested_at: 1_000 + i });

/** Counts the settled items Put, by granularity. */
function countingPuts(inner: CounterStore) {
  const puts: CounterItem[] = [];
  const store: CounterStore = { ...bind(inner), put: async (items) => (puts.push(...items), inner.put(items)) };
  return { store, puts };
}
const bind = (s: CounterStore): CounterStore => ({
  add: (d) => s.add(d),
  put: (i) => s.put(i),
  range: (...a) => s.range(...a),
  getState: (...a) => s.getState(...a),
  putState: (...a) => s.putState(...a),
  putStates: (r) => s.putStates(r),
  putStateIfAbsent: (...a) => s.putStateIfAbsent(...a),
  listState: (n) => s.listState(n),
  deleteStateIf: (...a) => s.deleteStateIf(...a),
  addEngagers: (r) => s.addEngagers(r),
  engagerPage: (...a) => s.engagerPage(...a),
});

describe('settle runs', () => {
  let stores: Awaited<ReturnType<typeof memoryStores>>;
  beforeEach(async () => {
    stores = await memoryStores();
  });
  afterEach(() => stores.close());

  /**
   * Facts stored and marked as ingest does; `uncounted`: and not counted live (so marked drifted, and
   * a sparse user hour gets its minute items from the settle).
   */
  async function write(name: string, facts: Fact[], options: { uncounted?: boolean } = {}) {
    await stores.objects.put(`${partitionPrefix(partitionOf(facts[0]!.created_at))}${name}.parquet`, encodeFacts(facts));
    const hours = [...new Set(facts.map((f) => partitionOf(f.created_at).start))];
    await (options.uncounted ? markDrifted(stores.counters, hours, 0) : markDirty(stores.counters, hours, 0));
  }
  const run = (counters: CounterStore, nowMs: number, extra: Partial<Parameters<typeof compactAndSettle>[0]> = {}) =>
    compactAndSettle({ objects: stores.objects, counters, sql: stores.sql, tables: stores.tables, clock: fixedClock(nowMs), retention, logIssue: () => {}, ...extra });
  /** A user's settled hour: its hour item, or a sparse hour's minute items summed (their top-list entries aside). */
  const userHour = async (n: number) => {
    const [hour] = await stores.counters.range(`u:${author(n)}`, 'h', HOUR, HOUR);
    if (hour && Object.keys(hour.values).length) return hour.values; // an emptied item is no hour item
    const values: Record<string, number> = {};
    for (const minute of await stores.counters.range(`u:${author(n)}`, 'm', HOUR, HOUR + 3540)) {
      for (const [metric, amount] of Object.entries(minute.values)) if (!isTopEntryMetric(metric)) values[metric] = (values[metric] ?? 0) + amount;
    }
    return values;
  };

  it('a re-settle Puts only the items a late event changed', async () => {
    await write('batch-1', Array.from({ length: 50 }, (_, i) => note(i)));
    const first = countingPuts(stores.counters);
    await run(first.store, (HOUR + 2 * 3600) * 1000);
    const hourItems = first.puts.filter((p) => p.granularity === 'h').length;
    expect(hourItems).toBe(6); // g + 5 authors
    expect(await userHour(1)).toEqual({ posts: 10 });

    // One late note by author 1: its scope and the global item change, nothing else.
    await write('late', [note(1000 + 1, HOUR + 3000)]);
    const second = countingPuts(stores.counters);
    const again = await run(second.store, (HOUR + 3 * 3600) * 1000);
    expect(second.puts.filter((p) => p.granularity === 'h').map((p) => p.scope).sort()).toEqual(['g', `u:${author(1)}`].sort());
    expect(again.itemsPut).toBe(second.puts.filter((p) => p.granularity === 'h' || p.granularity === 'd').length);
    expect(await userHour(1)).toEqual({ posts: 11 });
  });

  it('minute items are rewritten only for hours marked as drifted; elsewhere the live minutes stand', async () => {
    await write('batch-1', Array.from({ length: 20 }, (_, i) => note(i)));
    const plain = countingPuts(stores.counters);
    await run(plain.store, (HOUR + 2 * 3600) * 1000);
    expect(plain.puts.some((p) => p.granularity === 'm')).toBe(false);

    await markDirty(stores.counters, [HOUR], 0);
    await markDirty(stores.counters, [HOUR], 0, DRIFT_HOURS);
    const drifted = countingPuts(stores.counters);
    await run(drifted.store, (HOUR + 3 * 3600) * 1000);
    expect(drifted.puts.filter((p) => p.granularity === 'm').length).toBeGreaterThan(0);
    expect(await stores.counters.listState(DRIFT_HOURS)).toEqual([]);
  });

  it('paces re-settles of settled hours, never first settles, and keeps the watermark', async () => {
    await write('batch-1', [note(1)]);
    const t0 = (HOUR + 2 * 3600) * 1000;
    await run(stores.counters, t0, { resettle: { hourAfterSeconds: 3600, dayAfterSeconds: 0 } });
    await write('late', [note(2, HOUR + 100)], { uncounted: true });
    const soon = await run(stores.counters, t0 + 10 * 60_000, { resettle: { hourAfterSeconds: 3600, dayAfterSeconds: 0 } });
    expect(soon.pacedHours).toEqual([HOUR]);
    expect(soon.watermark).toBeGreaterThan(HOUR); // the paced hour, settled before, does not hold it back
    expect((await stores.counters.listState(DIRTY_HOURS)).map((m) => m.id)).toEqual([HOUR]);
    expect(await userHour(2)).toEqual({});
    const later = await run(stores.counters, t0 + 61 * 60_000, { resettle: { hourAfterSeconds: 3600, dayAfterSeconds: 0 } });
    expect(later.pacedHours).toEqual([]);
    expect(await userHour(2)).toEqual({ posts: 1 });
  });

  it('after a crash mid-Put, the next run Puts every item again; a rebuild (rewrite) does too', async () => {
    await write('batch-1', Array.from({ length: 30 }, (_, i) => note(i)));
    // A run that dies at its first Put: registered as pending, nothing committed.
    const dying: CounterStore = { ...bind(stores.counters), put: async () => Promise.reject(new Error('crash')) };
    await expect(settleBuckets('h', [HOUR], stores.tables.hours([HOUR]), { ...stores, counters: dying, retention }, { nowMs: 0 })).rejects.toThrow('crash');
    const manifest = JSON.parse(new TextDecoder().decode((await stores.objects.get(`${MANIFESTS_PREFIX}h/${HOUR}.json`))!));
    expect(manifest.pending).toHaveLength(1);
    const recovery = countingPuts(stores.counters);
    await settleBuckets('h', [HOUR], stores.tables.hours([HOUR]), { ...stores, counters: recovery.store, retention }, { nowMs: 1 });
    // the hour's items and, its notes spanning four minutes of one ten-minute bucket, that bucket's: for the network and each of the 5 authors
    const byGranularity = (puts: CounterItem[]) => puts.reduce<Record<string, number>>((n, p) => ({ ...n, [p.granularity]: (n[p.granularity] ?? 0) + 1 }), {});
    expect(byGranularity(recovery.puts)).toEqual({ h: 6, t: 6 });
    // Nothing changed since: a normal re-settle Puts nothing, a rewrite Puts everything.
    const quiet = countingPuts(stores.counters);
    await settleBuckets('h', [HOUR], stores.tables.hours([HOUR]), { ...stores, counters: quiet.store, retention }, { nowMs: 2 });
    expect(quiet.puts).toEqual([]);
    const rewrite = countingPuts(stores.counters);
    await settleBuckets('h', [HOUR], stores.tables.hours([HOUR]), { ...stores, counters: rewrite.store, retention }, { nowMs: 3, rewrite: true });
    expect(byGranularity(rewrite.puts)).toEqual({ h: 6, t: 6 });
    // Superseded results are gone: one result per bucket is kept.
    expect((await stores.objects.list('counters/results/')).length).toBe(1);
  });

  it("per-event hour items are live counts: a settle leaves them alone, a drifted hour rewrites them (and its minutes) from the facts, every time it drifts", async () => {
    const like = (i: number): Fact =>
      newFact({ event_id: hex(500 + i), source: 'nostr', kind: 7, type: 'reaction', reaction: '+', created_at: HOUR + 60 + i, author: author(i % 4 + 1), target_event_id: hex(1), target_pubkey: author(0), ingested_at: 2_000 + i });
    const facts = [note(0), ...Array.from({ length: 6 }, (_, i) => like(i))];
    await write('batch-1', facts);
    const post = `e:${hex(1)}`;
    const postHour = async () => (await stores.counters.range(post, 'h', HOUR, HOUR))[0]?.values ?? {};
    const received = async () => (await stores.counters.range(`u:${author(0)}`, 'm', HOUR + 60, HOUR + 60))[0]?.values ?? {};
    // Live counting as ingest does it, once per event.
    await stores.counters.add([{ scope: post, granularity: 'h', bucket: HOUR, add: { likes: 6 } }, { scope: `u:${author(0)}`, granularity: 'm', bucket: HOUR + 60, add: { likes_rcv: 6 } }]);
    const plain = countingPuts(stores.counters);
    await run(plain.store, (HOUR + 2 * 3600) * 1000);
    expect(plain.puts.filter((p) => p.scope === post && p.granularity === 'h')).toEqual([]);
    expect(await postHour()).toEqual({ likes: 6 });
    for (let drift = 1; drift <= 2; drift++) {
      // A redelivered message counted its events again: the hour is marked drifted, as live-queue does.
      await stores.counters.add([{ scope: post, granularity: 'h', bucket: HOUR, add: { likes: 6 } }, { scope: `u:${author(0)}`, granularity: 'm', bucket: HOUR + 60, add: { likes_rcv: 6 } }]);
      await markDirty(stores.counters, [HOUR], 0);
      await markDirty(stores.counters, [HOUR], 0, DRIFT_HOURS);
      await run(stores.counters, (HOUR + 2 + drift) * 3600 * 1000);
      expect(await postHour(), `drift ${drift}`).toEqual({ likes: 6 });
      expect(await received(), `drift ${drift}`).toEqual({ likes_rcv: 6 });
    }
  });

  it('a sparse user hour has no hour item; read from its live minute items it answers what an hour item would (counts, engagers, top lists)', async () => {
    const post = hex(900);
    const facts: Fact[] = [
      // author 0: two events received in the hour (sparse); author 1: five notes (an hour item)
      newFact({ event_id: hex(901), source: 'nostr', kind: 7, type: 'reaction', reaction: '+', created_at: HOUR + 100, author: author(2), target_event_id: post, target_pubkey: author(0), ingested_at: 1 }),
      newFact({ event_id: hex(902), source: 'nostr', kind: 9735, type: 'zap', created_at: HOUR + 1900, author: hex(0xbeef), zap_sender: author(3), zap_msats: 21_000, target_event_id: post, target_pubkey: author(0), ingested_at: 2 }),
      ...Array.from({ length: 5 }, (_, i) => newFact({ event_id: hex(910 + i), source: 'nostr', kind: 1, type: 'note', created_at: HOUR + 60 * i, author: author(1), hashtags: ['nostr'], ingested_at: 3 })),
    ];
    const rollup = new DeltaRollup({ minuteTtlSeconds: retention.minuteSeconds, hourTtlSeconds: retention.hourSeconds });
    for (const fact of facts) rollup.addFact(fact);
    await stores.counters.add(rollup.deltas());
    await write('batch-1', facts);
    await run(stores.counters, (HOUR + 2 * 3600) * 1000);
    expect(await stores.counters.range(`u:${author(0)}`, 'h', HOUR, HOUR)).toEqual([]);
    expect(await stores.counters.range(`u:${author(1)}`, 'h', HOUR, HOUR)).toHaveLength(1);
    const expected = aggregateFacts(facts);
    for (const n of [0, 1]) {
      const scope = `u:${author(n)}`;
      const plan = planWindow(HOUR, HOUR + 3600, { watermark: HOUR + 3600, nowSeconds: HOUR + 7200, retention, sparseHours: true });
      const read = mergeItems(await readPlan(stores.counters, scope, plan));
      const want = expected.get(scope)!;
      expect(read.values, scope).toEqual(want.values);
      expect(read.sets, scope).toEqual(want.sets);
      expect(read.tops, scope).toEqual(want.tops);
    }
  });

  it('a table settled before per-event hours were live counts has its unsettled hours rewritten once', async () => {
    await stores.counters.putState(WATERMARK, 0, { settledThrough: HOUR });
    await markDirty(stores.counters, [HOUR, HOUR + 3600], 0);
    expect((await adoptHourlyTargetCounting(stores.counters, 5)).hours).toEqual([HOUR, HOUR + 3600]);
    expect((await stores.counters.listState(DRIFT_HOURS)).map((m) => m.id)).toEqual([HOUR, HOUR + 3600]);
    expect((await adoptHourlyTargetCounting(stores.counters, 6)).hours).toEqual([]);
    // A new table only records the layout.
    const fresh = await memoryStores();
    try {
      await markDirty(fresh.counters, [HOUR], 0);
      expect((await adoptHourlyTargetCounting(fresh.counters, 5)).hours).toEqual([]);
      expect(await fresh.counters.listState(DRIFT_HOURS)).toEqual([]);
      expect(await fresh.counters.getState(COUNTING_LAYOUT, 0)).toMatchObject({ targetScopes: 'hourly' });
    } finally {
      await fresh.close();
    }
  });

  it('a manifest written before runs (a scope list) has its scopes cleared, then the result Put', async () => {
    await write('batch-1', [note(1)], { uncounted: true });
    await stores.counters.put([{ scope: 'u:gone', granularity: 'h', bucket: HOUR, values: { posts: 3 } }]);
    await stores.objects.put(`${MANIFESTS_PREFIX}h/${HOUR}.json`, JSON.stringify({ scopes: ['u:gone', `u:${author(1)}`, 'g'] }));
    await settleBuckets('h', [HOUR], stores.tables.hours([HOUR]), { ...stores, retention }, { nowMs: 0, liveHours: [HOUR] });
    expect((await stores.counters.range('u:gone', 'h', HOUR, HOUR))[0]?.values ?? {}).toEqual({});
    expect(await userHour(1)).toEqual({ posts: 1 });
  });

  it('a bucket too big for one statement is settled in shards of its scopes: the same items, each shard its own manifest, a re-settle still Puts only what changed', async () => {
    const facts = Array.from({ length: 300 }, (_, i) => ({ ...note(i), author: `${((i % 40) * 6151).toString(16).padStart(6, '0')}${'b'.repeat(58)}` }));
    // Two objects, one event in both: the merge deduplicates across them.
    await write('batch-1', facts.slice(0, 150));
    await write('batch-2', [...facts.slice(150), facts[3]!]);
    // The reference: the same hour settled in one statement, in a store of its own.
    const reference = await memoryStores();
    try {
      await reference.objects.put(`${partitionPrefix(partitionOf(HOUR))}batch-1.parquet`, encodeFacts(facts));
      await settleBuckets('h', [HOUR], reference.tables.hours([HOUR]), { ...reference, retention }, { nowMs: 0 });
      const bytes = (await stores.objects.listSizes!(partitionPrefix(partitionOf(HOUR)))).reduce((n, o) => n + o.bytes, 0);
      const sharded = countingPuts(stores.counters);
      // Shards of a third of the hour's bytes: three statements.
      await run(sharded.store, (HOUR + 2 * 3600) * 1000, { tables: { ...stores.tables, shardBytes: Math.ceil(bytes / 3) } });
      expect(await settledShards(stores.objects, 'h', HOUR)).toBe(3);
      // Merged in three slices of the hour: every fact once, in created_at order across the parts.
      const compacted = (await stores.objects.list(partitionPrefix(partitionOf(HOUR)))).sort();
      expect(compacted.length).toBe(3);
      const merged = (await Promise.all(compacted.map(async (k) => decodeFacts((await stores.objects.get(k))!)))).flat();
      expect(merged.map((f) => f.event_id).sort()).toEqual(facts.map((f) => f.event_id).sort());
      expect(merged.map((f) => f.created_at)).toEqual([...merged.map((f) => f.created_at)].sort((a, b) => a - b));
      const manifests = (await stores.objects.list(`${MANIFESTS_PREFIX}h/`)).filter((k) => k.includes(String(HOUR)));
      expect(manifests.sort()).toEqual([`${MANIFESTS_PREFIX}h/${HOUR}.json`, ...[0, 1, 2].map((i) => `${MANIFESTS_PREFIX}h/${HOUR}.shard-${i}-of-3.json`)].sort());
      const hourItems = sharded.puts.filter((p) => p.granularity === 'h');
      expect(hourItems.length).toBe(41); // g + 40 authors, each Put by its shard alone
      for (const item of hourItems) {
        expect(await stores.counters.range(item.scope, 'h', HOUR, HOUR)).toEqual(await reference.counters.range(item.scope, 'h', HOUR, HOUR));
      }
      // The shard count stays with the bucket, whatever the engine's shard size now says.
      await write('late', [{ ...note(1000), author: facts[7]!.author, created_at: HOUR + 3000 }]);
      const again = countingPuts(stores.counters);
      await run(again.store, (HOUR + 3 * 3600) * 1000);
      expect(await settledShards(stores.objects, 'h', HOUR)).toBe(3);
      expect(again.puts.filter((p) => p.granularity === 'h').map((p) => p.scope).sort()).toEqual(['g', `u:${facts[7]!.author}`].sort());
    } finally {
      await reference.close();
    }
  });

  it("a week's due days settle in one statement; if it fails, day by day, so a failing day holds back only itself", async () => {
    // Three days of one epoch week (HOUR is a Friday 10:00; Thursday starts the week): 60 notes a day.
    const days = [0, 1, 2].map((d) => Math.floor(HOUR / 86400) * 86400 + d * 86400);
    for (const [d, dayStart] of days.entries()) await write(`day-${d}`, Array.from({ length: 60 }, (_, i) => note(d * 100 + i, dayStart + 10 * 3600 + i * 7)));
    const nowMs = (days[2]! + 86400 + 2 * 3600) * 1000;
    const daySettles: string[] = [];
    const failing = new Set<string>();
    const sql: typeof stores.sql = {
      query: (q) => stores.sql.query(q),
      export: async (q, prefix, format, options) => {
        // a day settle (its week's settle reads the same days' facts, and is left alone)
        const dts = q.includes("'d' AS granularity") ? [...q.matchAll(/dt=(\d{4}-\d{2}-\d{2})\/\*\/\*\.parquet/g)].map((m) => m[1]!) : [];
        if (dts.length) daySettles.push([...new Set(dts)].sort().join(' '));
        if (dts.some((dt) => failing.has(dt))) throw new Error('injected: the engine fails on this day');
        return stores.sql.export(q, prefix, format, options);
      },
    } as typeof stores.sql;
    const dt = (dayStart: number) => partitionOf(dayStart).dt;
    failing.add(dt(days[1]!));
    const first = await run(stores.counters, nowMs, { sql: sql as never });
    // one statement for the three days, then each alone: the failing day stays dirty, the others roll
    expect(daySettles).toEqual([days.map(dt).join(' '), dt(days[0]!), dt(days[1]!), dt(days[2]!)]);
    expect(first.daysRolled.sort()).toEqual([days[0], days[2]]);
    expect((await stores.counters.listState(DIRTY_DAYS)).map((m) => m.id)).toEqual([days[1]]);
    failing.clear();
    daySettles.length = 0;
    const second = await run(stores.counters, nowMs, { sql: sql as never });
    expect(second.daysRolled).toEqual([days[1]]);
    expect(daySettles).toEqual([dt(days[1]!)]);
    // every day item counts its day's notes: each author posted 12 a day
    for (const dayStart of days) {
      const [item] = await stores.counters.range(`u:${author(0)}`, 'd', dayStart, dayStart);
      expect(item?.values.posts, dt(dayStart)).toBe(12);
    }
  });

  it("a scope's shard is the same in TypeScript and in both dialects' SQL", async () => {
    const scopes = ['g', 'p:demo', `u:${hex(0xabcdef)}`, `e:${'f'.repeat(64)}`, `a:34235:${'0123ab'.padEnd(64, '9')}:my-video`, `u:${'1'.repeat(64)}`];
    for (const count of [1, 3, 7]) {
      const rows = await stores.sql.query(`SELECT s, ${scopeShardSql('duckdb', 's', count)} AS shard FROM (VALUES ${scopes.map((x) => `('${x}')`).join(', ')}) t(s)`);
      expect(rows.map((r) => Number(r.shard))).toEqual(scopes.map((x) => scopeShard(x, count)));
    }
    expect(scopeShardSql('athena', 'scope', 4)).toContain('from_base(');
  });
});
