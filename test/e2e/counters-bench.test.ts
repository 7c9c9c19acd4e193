import { beforeAll, describe, expect, it } from 'vitest';
import { encodeTopList } from '../../lib/counters/topn.js';
import { formatCountersBench, runCountersBench, type CountersBenchReport } from '../../bench/counters-bench.js';
import { counterItemBytes, numberBytes } from '../../lib/adapters/aws/dynamodb-item-size.js';
import { generateFacts } from '../../bench/workload.js';
import { DRILLDOWNS } from '../../lib/query/drilldown.js';

// Structure and invariants only: performance is measured by `npm run bench`, never asserted in tests.
describe('runCountersBench', () => {
  let report: CountersBenchReport;
  const lines: string[] = [];

  beforeAll(async () => {
    // No cached-poll run here: it waits out the API's 10 s response cache, which tells a test nothing.
    // Few timed runs (five of the summary, three per query kind with one DuckDB scan among them, two
    // publishes): the figures' consistency is what is checked here, not latency.
    report = await runCountersBench({ facts: 20_000, queryRuns: 5, duckdbRuns: 1, kindRuns: 3, kindDuckdbScans: 1, latencyRuns: 2, cachedLatencyRuns: 0, log: (line) => lines.push(line) });
  }, 120_000);

  it('generates the workload, writes it as hourly Parquet and prints setup timings', () => {
    const w = report.workload;
    expect(w.facts).toBe(20_000);
    expect(Object.values(w.byType).reduce((a, b) => a + b, 0)).toBe(20_000);
    for (const type of ['note', 'reply', 'reaction', 'repost', 'zap', 'video', 'comment', 'deletion']) expect(w.byType[type]).toBeGreaterThan(0);
    expect(w.endTs - w.startTs).toBe(60 * 86400 + 20 * 60);
    expect(w.hourPartitions).toBeGreaterThan(1000);
    expect(w.parquetBytes).toBeGreaterThan(0);
    expect(w.loadedItems).toBeGreaterThan(0);
    for (const ms of Object.values(w.setup)) expect(ms).toBeGreaterThan(0);
    expect(lines.some((line) => line.startsWith('counters setup:'))).toBe(true);
  });

  it('answers the 30-day summary from counters exactly as DuckDB and a brute-force count do', () => {
    const q = report.query;
    expect(q.pubkey).toMatch(/^[0-9a-f]{64}$/);
    expect(q.window.endTs - q.window.startTs).toBe(30 * 86400);
    expect(q.window.watermark).toBeLessThan(q.window.endTs);
    expect(q.counters.source).toBe('canonical+delta');
    expect(q.totals.length).toBeGreaterThanOrEqual(12);
    for (const c of q.totals) {
      expect(c.counters, c.metric).toBe(c.duckdb);
      expect(c.memory, c.metric).toBe(c.duckdb);
      expect(c.agree).toBe(true);
    }
    expect(q.agree).toBe(true);
    expect(q.totals.find((c) => c.metric === 'posts')!.counters).toBeGreaterThan(0);
    expect(q.totals.find((c) => c.metric === 'zap sats received')!.counters).toBeGreaterThan(0);
    // HyperLogLog: close to the exact count, not equal to it.
    expect(Math.abs(q.uniqueEngagers.hll - q.uniqueEngagers.exact)).toBeLessThanOrEqual(Math.max(5, q.uniqueEngagers.exact * 0.15));
  });

  it('reads no more items than the window plan allows, whatever the user did', () => {
    const c = report.query.counters;
    expect(c.itemsRead).toBeGreaterThan(0);
    expect(c.itemsRead).toBeLessThanOrEqual(c.maxItems);
    expect(report.query.userEventsInWindow).toBeGreaterThan(0);
    expect(report.query.userEventsInWindow).toBeLessThanOrEqual(report.query.userEventsTotal);
    expect(c.bytesRead).toBeGreaterThan(0);
    // half a unit per 4 KB per Query, rounded up per call (state cached: no GetItem)
    expect(c.queries).toBeGreaterThanOrEqual(c.segments.split(' + ').length);
    expect(c.readUnits).toBeGreaterThanOrEqual(c.queries / 2);
    expect(c.readUnits).toBeLessThanOrEqual(c.queries / 2 + c.bytesRead / 8192);
    expect(report.network.counters.itemsRead).toBeLessThanOrEqual(report.network.counters.maxItems);
  });

  it('times both sides in the same run and reports the ratio', () => {
    const q = report.query;
    expect(q.counters.runsMs).toHaveLength(5);
    expect(q.duckdb.runsMs).toHaveLength(1);
    for (const ms of [...q.counters.runsMs, ...q.duckdb.runsMs]) expect(ms).toBeGreaterThan(0);
    expect(q.ratio).toBeCloseTo(q.duckdb.medianMs / q.counters.medianMs, 10);
    expect(q.goal).toBe(50);
    expect(q.withinGoal).toBe(q.ratio >= 50);
    expect(q.duckdb.rowsScanned).toBeGreaterThan(0);
  });

  it('answers the network summary (scope g) as DuckDB does', () => {
    for (const c of report.network.totals) expect(c.counters, c.metric).toBe(c.duckdb);
    expect(report.network.agree).toBe(true);
  });

  it('measures every query kind: latency, and the items, bytes, read units and Queries of one request', () => {
    expect(report.queries.map((k) => k.kind)).toEqual(['totals', 'summary', ...DRILLDOWNS.map((name) => `drilldown ${name}`), 'network summary']);
    for (const k of report.queries) {
      expect(k.runsMs, k.kind).toHaveLength(3);
      for (const ms of k.runsMs) expect(ms, k.kind).toBeGreaterThan(0);
      expect(k.medianMs, k.kind).toBeGreaterThan(0);
      expect(k.itemsRead, k.kind).toBeGreaterThan(0);
      expect(k.itemsRead, k.kind).toBeLessThanOrEqual(k.maxItems);
      expect(k.bytes, k.kind).toBeGreaterThan(0);
      expect(k.queries, k.kind).toBeGreaterThan(0);
      // half a unit per 4 KB per Query, rounded up per call; steady state: no state GetItem
      expect(k.readUnits, k.kind).toBeGreaterThanOrEqual(k.queries / 2);
      expect(k.readUnits, k.kind).toBeLessThanOrEqual(k.queries / 2 + k.bytes / 8192);
    }
    const byKind = new Map(report.queries.map((k) => [k.kind, k]));
    // The summary metered here is the read metered above.
    const summary = byKind.get('summary')!;
    const c = report.query.counters;
    expect([summary.itemsRead, summary.maxItems, summary.bytes, summary.readUnits, summary.queries]).toEqual([c.itemsRead, c.maxItems, c.bytesRead, c.readUnits, c.queries]);
    expect(byKind.get('network summary')!.itemsRead).toBe(report.network.counters.itemsRead);
    // Totals (counts only), the summary and the network summary answer what DuckDB and the brute force count.
    for (const kind of ['totals', 'summary', 'network summary']) {
      const k = byKind.get(kind)!;
      expect(k.checks!.length, kind).toBeGreaterThanOrEqual(kind === 'network summary' ? 2 : 12);
      for (const check of k.checks!) {
        expect(check.counters, `${kind} ${check.metric}`).toBe(check.memory);
        expect(check.duckdb, `${kind} ${check.metric}`).toBe(check.memory);
      }
      expect(k.agree, kind).toBe(true);
    }
    expect(byKind.get('totals')!.checks!.map((x) => x.counters)).toEqual(report.query.totals.map((x) => x.counters));
    expect(report.memory.peakRssBytes).toBeGreaterThanOrEqual(report.memory.setupPeakRssBytes);
    expect(report.memory.setupPeakRssBytes).toBeGreaterThan(0);
  });

  it('writes fewer live counter updates per 1,000 events than one per metric per event', () => {
    const wr = report.writes;
    expect(wr.batches).toBe(Math.ceil(20_000 / wr.batchEvents));
    expect(wr.live.updateItemsPer1000).toBeGreaterThan(0);
    expect(wr.live.updateItemsPer1000).toBeLessThan(wr.naive.per1000);
    expect(wr.live.writeUnitsPer1000).toBeLessThan(wr.naive.writeUnitsPer1000);
    expect(wr.live.writeUnits).toBeGreaterThanOrEqual(wr.live.updateItems);
    expect(wr.reduction).toBeGreaterThan(1);
    expect(wr.settled.items).toBeGreaterThan(0);
    expect(wr.settled.writeUnits).toBeGreaterThanOrEqual(wr.settled.items);
    expect(wr.state.writes).toBeGreaterThan(0);
  });

  it('keeps every item far below DynamoDB’s 400 KB', () => {
    const items = report.items;
    expect(items.limitBytes).toBe(400 * 1024);
    for (const stats of [items.settled.h, items.settled.m, items.settled.d, items.settled.w, items.live]) {
      expect(stats.items).toBeGreaterThan(0);
      expect(stats.maxBytes).toBeGreaterThan(0);
      expect(stats.maxBytes).toBeLessThan(items.limitBytes);
    }
    expect(items.largest.bytes).toBe(Math.max(...Object.values(items.settled).map((stats) => stats.maxBytes), items.live.maxBytes));
    expect(items.largest.bytes).toBeLessThan(items.limitBytes);
    expect(items.global.allTimeBytes).toBeGreaterThan(0);
  });

  it('measures publish-to-visible through the local stack', () => {
    const l = report.latency;
    expect(l.runsMs).toHaveLength(2);
    for (const ms of l.runsMs) expect(ms).toBeGreaterThan(0);
    expect(l.medianMs).toBeGreaterThan(0);
    expect(l.maxMs).toBe(Math.max(...l.runsMs));
    expect(l.withinGoal).toBe(l.maxMs <= l.goalMs);
    expect(l.cachedPoll.runsMs).toEqual([]);
    expect(l.cachedPoll.medianMs).toBeNull();
  });

  it('formats a readable table', () => {
    const table = formatCountersBench(report);
    expect(table).toContain('30-day summary of the most active user');
    expect(table).toContain('DuckDB scan of the facts');
    expect(table).toContain('ALL AGREE');
    expect(table).toContain('items read per query');
    expect(table).toContain('per query kind');
    for (const k of report.queries) expect(table).toContain(k.kind);
    expect(table).toContain('peak RSS');
    expect(table).toContain('naive: one UpdateItem per metric per event');
    expect(table).toContain('largest');
    expect(table).toContain('publish to visible');
  });
});

describe('the counters bench workload', () => {
  it('is reproducible and aims every engagement at an earlier post of the target user', () => {
    const options = { facts: 5_000, users: 500, zipf: 1.1, seed: 3, startTs: 1_767_225_600, endTs: 1_767_225_600 + 86400 };
    const facts = generateFacts(options);
    expect(generateFacts(options)).toEqual(facts);
    const seen = new Map<string, { author: string; address: string | null }>();
    let aimed = 0;
    for (const f of facts) {
      expect(f.event_id).toMatch(/^[0-9a-f]{64}$/);
      expect(f.created_at).toBeGreaterThanOrEqual(options.startTs);
      expect(f.created_at).toBeLessThan(options.endTs);
      if (['reaction', 'repost', 'reply', 'comment'].includes(f.type) || (f.type === 'zap' && f.target_event_id)) {
        const target = seen.get(f.target_event_id!);
        expect(target, `${f.type} ${f.event_id}`).toBeDefined();
        if (f.target_pubkey !== null) expect(f.target_pubkey).toBe(target!.author);
        if (f.type !== 'reply') expect(f.target_address).toBe(target!.address);
        aimed++;
      }
      if (f.type === 'zap') {
        expect(f.target_pubkey).toMatch(/^[0-9a-f]{64}$/);
        if (f.zap_msats !== null) expect(f.zap_msats % 1000).toBe(0);
      }
      if (f.type === 'deletion' && seen.has(f.target_event_id!)) expect(seen.get(f.target_event_id!)!.author).toBe(f.author);
      if (['note', 'reply', 'comment', 'video'].includes(f.type)) seen.set(f.event_id, { author: f.author, address: f.target_address });
    }
    expect(aimed).toBeGreaterThan(2_000);
  });
});

describe('DynamoDB item size estimate', () => {
  it('counts numbers as one byte per two significant digits plus one', () => {
    expect(numberBytes(7)).toBe(2);
    expect(numberBytes(12)).toBe(2);
    expect(numberBytes(123)).toBe(3);
    expect(numberBytes(21_000_000)).toBe(2); // trailing zeros are trimmed
    expect(numberBytes(1_767_225_600)).toBe(5);
    expect(numberBytes(-45)).toBe(2);
  });

  it('sums attribute names and values', () => {
    const bytes = counterItemBytes({ scope: 'u:ab', granularity: 'h', bucket: 3600, expiresAt: 7200, values: { posts: 3 }, sets: { engagers: [100, 201] }, tops: { top_tags: encodeTopList([['nostr', 12]]) } });
    // pk: 2 + 'u:ab#h' 6; sk: 2 + 2 (36); ttl: 3 + 2 (72); posts: 5 + 2; engagers: 8 + 2 (1) + 3 (201); top_tags: 8 + 9 (format, header, length, 'nostr', 12)
    expect(bytes).toBe(8 + 4 + 5 + 7 + 13 + 17);
  });
});
