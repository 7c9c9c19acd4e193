import { beforeAll, describe, expect, it } from 'vitest';
import { formatIngestBench, runIngestBench, type IngestBenchReport } from '../../bench/ingest-bench.js';
import { fixed, int, median } from '../../bench/stats.js';
import { MemoryCounterStore, MemoryObjectStore } from '../../lib/adapters/memory/index.js';

// Structure and invariants only: performance is measured by `npm run bench`, never asserted in tests.
// Every figure is checked against the others it is derived from, and the table against the report.
describe('runIngestBench', () => {
  const EVENTS = 300;
  let report: IngestBenchReport;
  const lines: string[] = [];
  beforeAll(async () => {
    report = await runIngestBench({ events: EVENTS, log: (line) => lines.push(line) });
  }, 60_000);

  it('describes the workload it ran: every event in a message, every message in a batch, every kind counted', () => {
    expect(lines.some((line) => line.startsWith('setup:'))).toBe(true);
    expect(report.workload.events).toBe(EVENTS);
    expect(report.workload.messages).toBe(Math.ceil(EVENTS / report.workload.eventsPerMessage));
    expect(report.workload.batches).toBe(Math.ceil(report.workload.messages / report.workload.messagesPerBatch));
    expect(Object.values(report.workload.byKind).reduce((a, b) => a + b, 0)).toBe(EVENTS);
    expect(report.workload.spanSeconds).toBe(Math.ceil(EVENTS / report.workload.eventsPerSecond));
    expect(report.workload.setupMs).toBeGreaterThan(0);
  });

  it('reports medians of its runs, and the ratio as the median of the paired per-run ratios', () => {
    expect(report.runs).toBe(3);
    for (const t of [report.verifyOnly, report.ingest]) {
      expect(t.runsMicrosPerEvent).toHaveLength(3);
      for (const run of t.runsMicrosPerEvent) expect(run).toBeGreaterThan(0);
      expect(t.microsPerEvent).toBe(median(t.runsMicrosPerEvent));
      expect(t.eventsPerSecond * t.microsPerEvent).toBeCloseTo(1e6, 3);
    }
    expect(report.runRatios).toHaveLength(3);
    report.runRatios.forEach((r, i) => expect(r).toBeCloseTo(report.ingest.runsMicrosPerEvent[i]! / report.verifyOnly.runsMicrosPerEvent[i]!, 9));
    expect(report.ratio).toBe(median(report.runRatios));
    expect(report.goal).toBe(1.3);
    expect(report.withinGoal).toBe(report.ratio <= 1.3);
    // progress lines, one per timed run
    expect(lines.filter((line) => /^run \d\/3: /.test(line))).toHaveLength(3);
  });

  it('accepts every workload event exactly once', () => {
    expect(report.ingest.accepted).toBe(EVENTS);
    expect(report.ingest.rejected).toBe(0);
    expect(report.ingest.duplicatesInBatch).toBe(0);
    expect(report.ingest.failedMessages).toBe(0);
  });

  it('breaks the cost down by stage, verification being the baseline itself, the stages adding up to the whole', () => {
    expect(report.stages.map((s) => s.stage)).toEqual(['json_parse', 'zod_validate', 'size_check', 'verify', 'normalise', 'rollup', 'parquet_encode', 'other']);
    for (const s of report.stages.filter((s) => s.stage !== 'other')) expect(s.microsPerEvent).toBeGreaterThan(0);
    expect(report.stages.find((s) => s.stage === 'verify')!.microsPerEvent).toBe(report.verifyOnly.microsPerEvent);
    const total = report.stages.reduce((sum, s) => sum + s.microsPerEvent, 0);
    expect(total).toBeCloseTo(report.ingest.microsPerEvent, 6);
    expect(report.stages.reduce((sum, s) => sum + s.shareOfIngest, 0)).toBeCloseTo(1, 9);
    for (const s of report.stages) {
      expect(s.shareOfIngest).toBeCloseTo(s.microsPerEvent / report.ingest.microsPerEvent, 10);
      expect(s.ofVerify).toBeCloseTo(s.microsPerEvent / report.verifyOnly.microsPerEvent, 10);
    }
  });

  it('reports counter writes far below one update per metric per event, consistently per 1,000 events, and Parquet bytes per event', () => {
    const c = report.counters;
    expect(c.updateItems).toBeGreaterThan(0);
    expect(Number.isInteger(c.updateItems)).toBe(true);
    expect(c.updateItemsPer1000Events).toBeCloseTo((c.updateItems * 1000) / EVENTS, 6);
    expect(c.updateItemsPer1000Events).toBeLessThan(c.naiveUpdatesPer1000Events);
    expect(c.reduction).toBeCloseTo(c.naiveUpdatesPer1000Events / c.updateItemsPer1000Events, 9);
    expect(c.reduction).toBeGreaterThan(1);
    expect(c.statePutsPer1000Events).toBeGreaterThan(0);
    expect(c.totalWritesPer1000Events).toBeCloseTo(c.updateItemsPer1000Events + c.statePutsPer1000Events, 6);

    // One object per hour partition per batch: at least one per batch, at most one per hour the workload spans.
    const hours = Math.ceil(report.workload.spanSeconds / 3600) + 1;
    expect(report.facts.objects).toBeGreaterThanOrEqual(report.workload.batches);
    expect(report.facts.objects).toBeLessThanOrEqual(report.workload.batches * hours);
    expect(report.facts.bytes).toBeGreaterThan(0);
    expect(report.facts.bytesPerEvent).toBeCloseTo(report.facts.bytes / EVENTS, 6);
  });

  it('prints the numbers of the report, as the report has them', () => {
    const table = formatIngestBench(report);
    const r = report;
    for (const text of [
      `${int(r.workload.events)} signed events`,
      `median of ${r.runs} timed runs`,
      `-> ${int(r.workload.messages)} messages, ${r.workload.batches} batches`,
      `${int(r.verifyOnly.eventsPerSecond).padStart(10)}${fixed(r.verifyOnly.microsPerEvent).padStart(11)}`,
      `${int(r.ingest.eventsPerSecond).padStart(10)}${fixed(r.ingest.microsPerEvent).padStart(11)}${fixed(r.ratio, 2).padStart(10)}`,
      `goal <= 1.30: ${r.withinGoal ? 'met' : 'NOT MET'}`,
      `per-run ratios ${r.runRatios.map((x) => fixed(x, 3)).join(', ')}`,
      `${fixed(r.counters.updateItemsPer1000Events)} UpdateItems per 1,000 events vs ${fixed(r.counters.naiveUpdatesPer1000Events)} naive`,
      `${fixed(r.counters.reduction)}× fewer`,
      `${fixed(r.counters.totalWritesPer1000Events)} DynamoDB writes per 1,000 events in all`,
      `${fixed(r.facts.bytesPerEvent)} bytes per event (${int(r.facts.objects)} objects, ${int(r.facts.bytes)} bytes)`,
      `accepted ${int(r.ingest.accepted)} of ${int(r.workload.events)}, rejected 0, duplicates 0, failed messages 0`,
    ]) {
      expect(table).toContain(text);
    }
    for (const s of r.stages) expect(table).toContain(`${s.label.padEnd(44)}${fixed(s.microsPerEvent, 2).padStart(21)}`);
    expect(table).toContain('verification alone (baseline)');
    expect(table).toContain('Parquet encode');
  });
});

describe('memory ports', () => {
  it('applies counter deltas as UpdateItems and answers ranges in bucket order', async () => {
    const store = new MemoryCounterStore();
    await store.add([
      { scope: 'u:a', granularity: 'm', bucket: 120, add: { posts: 1 } },
      { scope: 'u:a', granularity: 'm', bucket: 60, add: { posts: 2 }, union: { engagers: [3, 5] } },
      { scope: 'u:a', granularity: 'm', bucket: 0, add: {} },
    ]);
    await store.add([{ scope: 'u:a', granularity: 'm', bucket: 60, add: { posts: 1, likes_rcv: 4 }, union: { engagers: [5, 7] } }]);
    expect(store.updateItems).toBe(3);
    const items = await store.range('u:a', 'm', 0, 120);
    expect(items.map((i) => i.bucket)).toEqual([60, 120]);
    expect(items[0]!.values).toEqual({ posts: 3, likes_rcv: 4 });
    expect(items[0]!.sets!.engagers!.sort()).toEqual([3, 5, 7]);
    expect(await store.range('u:a', 'h', 0, 120)).toEqual([]);

    await store.put([{ scope: 'u:a', granularity: 'm', bucket: 60, values: { posts: 9 } }]);
    expect((await store.range('u:a', 'm', 60, 60))[0]!.values).toEqual({ posts: 9 });
  });

  it('keeps state records, lists them by id and deletes conditionally', async () => {
    const store = new MemoryCounterStore();
    await store.putState('dirty-hour', 7200, { markedAt: 2 });
    await store.putStates([
      { namespace: 'dirty-hour', id: 3600, value: { markedAt: 1 } },
      { namespace: 'other', id: 0, value: { x: 1 } },
    ]);
    expect(store.statePuts).toBe(3);
    expect(await store.getState('dirty-hour', 3600)).toEqual({ markedAt: 1 });
    expect(await store.getState('dirty-hour', 1)).toBeNull();
    expect((await store.listState('dirty-hour')).map((r) => r.id)).toEqual([3600, 7200]);
    expect(await store.deleteStateIf('dirty-hour', 3600, 'markedAt', 99)).toBe(false);
    expect(await store.deleteStateIf('dirty-hour', 3600, 'markedAt', 1)).toBe(true);
    expect(await store.listState('dirty-hour')).toEqual([{ id: 7200, value: { markedAt: 2 } }]);
  });

  it('keeps object bytes by key', async () => {
    const store = new MemoryObjectStore();
    await store.put('facts/b', new Uint8Array([1, 2, 3]));
    await store.put('facts/a', 'hi');
    await store.put('other/c', 'x');
    expect(await store.list('facts/')).toEqual(['facts/a', 'facts/b']);
    expect(await store.get('facts/b')).toEqual(new Uint8Array([1, 2, 3]));
    expect(await store.get('missing')).toBeNull();
    await store.delete(['facts/a']);
    expect(await store.list('facts/')).toEqual(['facts/b']);
    expect(store.bytesWritten).toBe(6);
  });
});
