import { beforeAll, describe, expect, it } from 'vitest';
import { DESIGN_MIX, DesignLoad } from '../../bench/workload.js';
import { PricingCounterStore, WRITE_KINDS } from '../../bench/pricing-store.js';
import { runWriteLoad, scopesAt, type WriteLoadReport } from '../../bench/load-writes.js';
import { retentionFromEnv } from '../../lib/counters/retention.js';
import { DIRTY_HOURS } from '../../lib/counters/state.js';

// Properties of the load bench's parts; its figures are measured by `npm run bench -- --only load`, never asserted here.
describe('DesignLoad', () => {
  const startTs = 1_767_225_600;
  const load = new DesignLoad({ eventsPerSecond: 100, startTs, authors: 2_000, seed: 3 });
  const deliveries = Array.from({ length: 40_000 }, () => load.next());

  it('draws the design-load mix of types', () => {
    const byType: Record<string, number> = {};
    for (const { fact, copy } of deliveries) if (!copy) byType[fact.type] = (byType[fact.type] ?? 0) + 1;
    const originals = deliveries.filter((d) => !d.copy).length;
    for (const [type, share] of Object.entries(DESIGN_MIX)) expect(byType[type]! / originals, type).toBeCloseTo(share!, 1.5);
    // the groups: notes + replies 25 %, videos + comments 5 %, other kinds 15 %
    const group = (...types: string[]) => types.reduce((n, t) => n + (byType[t] ?? 0), 0) / originals;
    expect(group('note', 'reply')).toBeCloseTo(0.25, 1.5);
    expect(group('video', 'comment')).toBeCloseTo(0.05, 1.5);
    expect(group('profile', 'contacts', 'deletion', 'other')).toBeCloseTo(0.15, 1.5);
  });

  it('back-dates about 1 % up to two days and delivers about 0.5 % twice, later, with the same id', () => {
    const backdated = deliveries.filter((d) => !d.copy && d.fact.created_at < Math.floor(d.arrivalMs / 1000));
    expect(backdated.length / deliveries.length).toBeGreaterThan(0.006);
    expect(backdated.length / deliveries.length).toBeLessThan(0.014);
    for (const { fact, arrivalMs } of backdated) expect(Math.floor(arrivalMs / 1000) - fact.created_at).toBeLessThanOrEqual(2 * 86400);
    const copies = deliveries.filter((d) => d.copy);
    expect(copies.length / deliveries.length).toBeGreaterThan(0.002);
    expect(copies.length / deliveries.length).toBeLessThan(0.008);
    const firstArrival = new Map<string, number>();
    for (const d of deliveries) if (!d.copy && !firstArrival.has(d.fact.event_id)) firstArrival.set(d.fact.event_id, d.arrivalMs);
    for (const copy of copies) {
      expect(firstArrival.get(copy.fact.event_id)).toBeLessThan(copy.arrivalMs);
      expect(copy.fact.ingested_at).toBe(copy.arrivalMs);
    }
    // arrivals in order, at the stated rate
    for (let i = 1; i < deliveries.length; i++) expect(deliveries[i]!.arrivalMs).toBeGreaterThanOrEqual(deliveries[i - 1]!.arrivalMs);
    expect(deliveries.at(-1)!.arrivalMs - deliveries[0]!.arrivalMs).toBe(Math.floor(((deliveries.length - 1) * 1000) / 100));
  });

  it('aims engagement at posts of the last two days, before the run too', () => {
    const engaged = deliveries.filter((d) => d.fact.type === 'reaction' && d.fact.target_event_id);
    const ownIds = new Set(deliveries.map((d) => d.fact.event_id));
    const seeded = engaged.filter((d) => !ownIds.has(d.fact.target_event_id!));
    expect(engaged.length).toBeGreaterThan(1_000);
    // 400 s of a two-day window: the targets are nearly all posts from before the run
    expect(seeded.length / engaged.length).toBeGreaterThan(0.9);
  });
});

describe('PricingCounterStore', () => {
  it('prices UpdateItems, Puts, state writes and deletes by DynamoDB rules', async () => {
    const store = new PricingCounterStore();
    // pk 'pk' + 'u:ab#m' (4 + 6), sk 60 (2 bytes: one significant digit), ttl 3 + 120 (2), posts 5 + 1 (2) = 24 bytes
    await store.add([{ scope: 'u:ab', granularity: 'm', bucket: 60, add: { posts: 1 }, expiresAt: 120 }]);
    expect(store.tally.live_m).toMatchObject({ writes: 1, writeUnits: 1, bytes: 24, maxBytes: 24 });
    // 250 odd 7-digit members at 5 bytes each + 'engagers' (8): 12 + 8 + 1,250 = 1,270 bytes: 2 WCU
    const members = Array.from({ length: 250 }, (_, i) => 1_000_001 + 2 * i);
    await store.add([{ scope: 'u:cd', granularity: 'm', bucket: 60, add: {}, union: { engagers: members } }]);
    expect(store.tally.live_m.writeUnits).toBe(1 + 2);
    expect(store.tally.live_m.maxBytes).toBe(1_270);
    // members already there add nothing; a new metric adds 'likes_rcv' (9) + 1 (2) = 11 bytes; still 2 WCU
    await store.add([{ scope: 'u:cd', granularity: 'm', bucket: 60, add: { likes_rcv: 1 }, union: { engagers: members.slice(0, 10) } }]);
    expect(store.tally.live_m.maxBytes).toBe(1_281);
    expect(store.tally.live_m.writeUnits).toBe(1 + 2 + 2);
    // a delta with nothing to add is not sent
    await store.add([{ scope: 'u:ef', granularity: 'm', bucket: 60, add: {}, union: { engagers: [] } }]);
    expect(store.tally.live_m.writes).toBe(3);

    // a settled Put replacing the 1,281-byte item bills its size, not the small new one's: 2 WCU
    await store.put([{ scope: 'u:cd', granularity: 'm', bucket: 60, values: { likes_rcv: 1 } }]);
    expect(store.tally.settled_m).toMatchObject({ writes: 1, writeUnits: 2 });
    // after it, an ADD is priced on the settled item (12 + 'likes_rcv' 9 + 2 = 23 bytes; 1 + 9 = 10 is still 2 bytes)
    await store.add([{ scope: 'u:cd', granularity: 'm', bucket: 60, add: { likes_rcv: 9 } }]);
    expect(store.tally.live_m.writeUnits).toBe(1 + 2 + 2 + 1);
    // a new hour item: 'u:cd#h' (6) + 4 + sk 3600 (36: 2) + ttl 3 + 7200 (72: 2) + posts 7 = 24 bytes
    await store.put([{ scope: 'u:cd', granularity: 'h', bucket: 3600, values: { posts: 1 }, expiresAt: 7200 }]);
    expect(store.tally.settled_h).toMatchObject({ writes: 1, writeUnits: 1, bytes: 24 });
    await store.put([{ scope: 'g:total', granularity: 'all', bucket: 0, values: { events: 5 } }]);
    expect(store.tally.settled_total.writes).toBe(1);

    // state: 'pk' 'sk' (4) + 's:ev:abc' (8) + sk 0 (2) + 'v' (1) + '{"id":"x"}' (10) = 25 bytes (only guard fields are mirrored)
    await store.putStates([
      { namespace: 'ev:abc', id: 0, value: { id: 'y' } },
      { namespace: 'ev:abc', id: 0, value: { id: 'x' } },
    ]);
    expect(store.tally.ev).toMatchObject({ writes: 1, writeUnits: 1, bytes: 25 });
    await store.putStates([{ namespace: 'vtag:nostr', id: 7, value: {} }, { namespace: 'dela:1:p:d', id: 1, value: {} }]);
    expect(store.tally.vtag.writes).toBe(1);
    expect(store.tally.dela.writes).toBe(1);
    await store.putState(DIRTY_HOURS, 3600, { markedAt: 1, mark: 'a' });
    expect(await store.listState(DIRTY_HOURS)).toEqual([{ id: 3600, value: { markedAt: 1, mark: 'a' } }]);
    expect(await store.deleteStateIf(DIRTY_HOURS, 3600, 'mark', 'b')).toBe(false);
    expect(await store.deleteStateIf(DIRTY_HOURS, 3600, 'mark', 'a')).toBe(true);
    expect(store.tally.dirty_hour.writes).toBe(1);
    expect(store.tally.dirty_clear).toMatchObject({ writes: 2, writeUnits: 2 });

    expect(store.tally.unclassified.writes).toBe(0);
    const totals = store.totals();
    expect(totals.writes).toBe(Object.values(store.tally).reduce((n, t) => n + t.writes, 0));
    // what the settle code reads back is kept; anything else refuses to answer rather than answer wrong
    await store.put([{ scope: 'g', granularity: 'd', bucket: 86400, values: { events: 5 } }]);
    expect(await store.range('g', 'd', 0, 86400)).toEqual([{ scope: 'g', granularity: 'd', bucket: 86400, values: { events: 5 } }]);
    await expect(store.range('u:cd', 'h', 0, 7200)).rejects.toThrow(/keeps no h items/);
    await expect(store.range('u:cd', 'm', 0, 7200)).rejects.toThrow(/keeps no m items/);
    await expect(store.getState('ev:abc', 0)).rejects.toThrow(/keeps no ev:abc/);
    // the item written most often
    expect(store.hottest(1).counters[0]).toMatchObject({ key: 'u:cd#m#60', writes: 4 });
    expect(store.hottest(1).records[0]).toMatchObject({ key: 'ev:abc#0', writes: 1, maxBytes: 25 });
    // written 4 times and over 1 KB: the one item above 3 writes, and over a 1 KB limit
    expect(store.hotAbove(3, 1024)).toEqual({ items: 1, over: 1, largest: { key: 'u:cd#m#60', writes: 4, maxBytes: 1_281 } });
  });
});

describe('runWriteLoad on a tiny mix', () => {
  let report: WriteLoadReport;
  beforeAll(async () => {
    report = await runWriteLoad({ eventsPerSecond: 40, minutes: 1, authors: 2_000, retention: retentionFromEnv(process.env) });
  }, 60_000);

  it('feeds every delivery in batches of the batching window and classifies every write', () => {
    expect(report.deliveries).toBe(2_400);
    expect(report.batchEvents).toBe(200);
    expect(report.batches).toBe(12);
    expect(Object.values(report.byType).reduce((a, b) => a + b, 0)).toBe(2_400);
    expect(report.unencodable).toBe(0);
    const writes = Object.fromEntries(report.kinds.map((k) => [k.kind, k.writes]));
    expect(writes.unclassified).toBe(0);
    for (const kind of ['live_m', 'live_h', 'settled_m', 'settled_h', 'settled_d', 'settled_total', 'ev', 'dirty_hour', 'dirty_day', 'dirty_clear', 'watermark']) expect(writes[kind], kind).toBeGreaterThan(0);
    // one heartbeat per batch that stored facts
    expect(writes.heartbeat).toBe(report.batches);
    expect(report.kinds.map((k) => k.kind)).toEqual(WRITE_KINDS.map((k) => k.kind));
    expect(report.totals.writes).toBe(report.kinds.reduce((n, k) => n + k.writes, 0));
    // the write units are the sum of the per-kind figures, each kind's at least one a write
    expect(report.totals.writeUnits).toBe(report.kinds.reduce((n, k) => n + k.writeUnits, 0));
    for (const k of report.kinds) expect(k.writeUnits, k.kind).toBeGreaterThanOrEqual(k.writes);
    expect(report.totals.writeUnits).toBeGreaterThanOrEqual(report.totals.writes);
    // the per-1,000 figures are the counts over the deliveries, and the means the bytes over the writes
    const per1000 = (n: number) => (n * 1000) / report.deliveries;
    expect(report.totals.writesPer1000).toBeCloseTo(per1000(report.totals.writes), 9);
    expect(report.totals.writeUnitsPer1000).toBeCloseTo(per1000(report.totals.writeUnits), 9);
    expect(report.naive.writeUnitsPer1000).toBeCloseTo(per1000(report.naive.writes), 9);
    for (const k of report.kinds) {
      expect(k.writesPer1000, k.kind).toBeCloseTo(per1000(k.writes), 9);
      expect(k.writeUnitsPer1000, k.kind).toBeCloseTo(per1000(k.writeUnits), 9);
      expect(k.meanBytes, k.kind).toBeCloseTo(k.writes ? k.bytes / k.writes : 0, 9);
      expect(k.maxBytes, k.kind).toBeLessThanOrEqual(report.largest.bytes);
    }
    // the largest item is the largest of some kind
    expect(report.kinds.find((k) => k.kind === report.largest.kind)!.maxBytes).toBe(report.largest.bytes);
    // per-batch aggregation writes fewer live items than one update per metric per event
    expect(writes.live_m + writes.live_h).toBeLessThan(report.naive.writes);
  });

  it('settles the simulated hour and its day on the simulated schedule', () => {
    const last = report.compactorRuns.at(-1)!;
    expect(last.watermark).toBe(report.endTs);
    expect(last.atTs).toBeGreaterThanOrEqual(report.endTs + 120);
    expect(report.compactorRuns.some((r) => r.backdatedHours > 0)).toBe(true);
    expect(report.inventory.m!.items).toBeGreaterThan(0);
    expect(report.inventory.h!.items).toBeGreaterThan(0);
    expect(report.inventory.d!.items).toBeGreaterThan(0);
    expect(report.storedFacts).toBe(report.deliveries - report.copies);
    // what the compactor runs' settles Put is what the settled item kinds were billed for (the month and all-time totals are Put beside them)
    const settled = report.kinds.filter((k) => ['settled_m', 'settled_t', 'settled_h', 'settled_q', 'settled_d', 'settled_w'].includes(k.kind)).reduce((n, k) => n + k.writes, 0);
    expect(report.compactorRuns.reduce((n, r) => n + r.itemsPut, 0)).toBe(settled);
    expect(report.compactorRuns.every((r) => r.failedHours === 0)).toBe(true);
    expect(report.parquetBytes).toBeGreaterThan(0);
    for (const hot of [report.hot.counters, report.hot.records]) {
      expect(hot.length).toBeGreaterThan(0);
      expect(hot.length).toBeLessThanOrEqual(10);
      for (let i = 1; i < hot.length; i++) expect(hot[i]!.writes).toBeLessThanOrEqual(hot[i - 1]!.writes);
    }
    expect(report.hot.counters.every((h) => !h.key.startsWith('dirty-hour'))).toBe(true);
  });

  it('extrapolates scope growth no lower than measured, and caps users at the authors', () => {
    const measured = Object.fromEntries(Object.entries(report.scopeGrowth.byKind).map(([k, c]) => [k, c.at(-1)!]));
    const hour = scopesAt(report.scopeGrowth, 60, report.authors);
    for (const [kind, n] of Object.entries(measured)) expect(hour[kind]!).toBeGreaterThanOrEqual(n);
    expect(hour.u!).toBeLessThanOrEqual(Math.max(measured.u!, report.authors));
    expect(hour.g).toBe(1);
  });
});
