import { describe, expect, it } from 'vitest';
import { MemoryCounterStore } from '../../lib/adapters/memory/index.js';
import { INGEST_HEARTBEAT, recordIngestHeartbeat, WATERMARK, writeWatermark } from '../../lib/counters/state.js';
import { retentionFromEnv } from '../../lib/counters/retention.js';
import { CounterStateReads, planFor, readWindow, STATE_CACHE_MS } from '../../lib/query/window-read.js';
import type { Granularity } from '../../lib/ports.js';

const HOUR = 3600;
const NOW = 1_800_000_000; // unix seconds
const retention = retentionFromEnv({});

/** A memory store that counts its state reads and Queries, and can be made to fail or to hold its state reads. */
class WatchedStore extends MemoryCounterStore {
  stateReads = 0;
  queries: { granularity: Granularity; from: number; to: number; stateReadsPending: number }[] = [];
  failing = false;
  /** state reads wait for this, when set */
  gate: Promise<void> | undefined;
  private pending = 0;

  override async getState(namespace: string, id: number): Promise<Record<string, unknown> | null> {
    this.stateReads++;
    this.pending++;
    try {
      if (this.gate) await this.gate;
      if (this.failing) throw Object.assign(new Error('throttled'), { name: 'ProvisionedThroughputExceededException' });
      return await super.getState(namespace, id);
    } finally {
      this.pending--;
    }
  }

  override async range(scope: string, granularity: Granularity, fromBucket: number, toBucket: number) {
    this.queries.push({ granularity, from: fromBucket, to: toBucket, stateReadsPending: this.pending });
    return super.range(scope, granularity, fromBucket, toBucket);
  }
}

async function storeWithWatermark(settledThrough: number): Promise<WatchedStore> {
  const store = new WatchedStore();
  await store.putState(WATERMARK, 0, { settledThrough });
  await store.putState(INGEST_HEARTBEAT, 0, { lastIngestAt: NOW * 1000 - 5_000 });
  await store.put([{ scope: 'g', granularity: 'h', bucket: NOW - 3 * HOUR, values: { events: 2 } }]);
  await store.add([{ scope: 'g', granularity: 'm', bucket: NOW - 20 * 60, add: { events: 1 } }]);
  return store;
}

describe('the counters state, as queries read it', () => {
  it('answers planFor from a read that started within STATE_CACHE_MS, and reads again after', async () => {
    let now = 0;
    const reads = new CounterStateReads(STATE_CACHE_MS, () => now);
    const store = await storeWithWatermark(NOW - HOUR);
    expect(await reads.recent(store)).toEqual({ watermark: NOW - HOUR, weeksThrough: 0, ingestAt: NOW * 1000 - 5_000 });
    expect(store.stateReads).toBe(2); // the watermark and the heartbeat, together
    await store.putState(WATERMARK, 0, { settledThrough: NOW });
    now = STATE_CACHE_MS;
    expect((await reads.recent(store)).watermark).toBe(NOW - HOUR);
    expect(store.stateReads).toBe(2);
    now = STATE_CACHE_MS + 1;
    expect((await reads.recent(store)).watermark).toBe(NOW);
    expect(store.stateReads).toBe(4);
  });

  it('shares one read among the callers that ask while it is in flight', async () => {
    const reads = new CounterStateReads();
    const store = await storeWithWatermark(NOW - HOUR);
    let open!: () => void;
    store.gate = new Promise((resolve) => (open = resolve));
    const asked = [reads.fresh(store), reads.fresh(store), reads.recent(store)];
    open();
    const answers = await Promise.all(asked);
    expect(answers.map((a) => a.watermark)).toEqual([NOW - HOUR, NOW - HOUR, NOW - HOUR]);
    expect(store.stateReads).toBe(2);
    // once it is in, a fresh read is a new read
    await reads.fresh(store);
    expect(store.stateReads).toBe(4);
  });

  it('keeps no failed read: the failure reaches its callers, the next caller reads again', async () => {
    let now = 0;
    const reads = new CounterStateReads(STATE_CACHE_MS, () => now);
    const store = await storeWithWatermark(NOW - HOUR);
    await reads.recent(store);
    store.failing = true;
    now = STATE_CACHE_MS + 1;
    await expect(reads.recent(store)).rejects.toThrow('throttled');
    await expect(reads.fresh(store)).rejects.toThrow('throttled');
    // the last good state is still what a read plans ahead on
    expect(reads.lastKnown(store)?.watermark).toBe(NOW - HOUR);
    store.failing = false;
    await store.putState(WATERMARK, 0, { settledThrough: NOW });
    expect((await reads.recent(store)).watermark).toBe(NOW);
  });

  it('answers from the cached state, with no state read, within STATE_CACHE_MS; a state write of this process voids it', async () => {
    let now = 0;
    const store = await storeWithWatermark(NOW - 2 * HOUR);
    const deps = { counters: store, clock: { now: () => NOW * 1000 }, retention, stateReads: new CounterStateReads(STATE_CACHE_MS, () => now) };
    const window = { type: 'custom' as const, startTs: NOW - 6 * HOUR, endTs: NOW };
    const first = await readWindow('g', window, deps, { hourly: true });
    expect(store.stateReads).toBe(2);
    // another process moves the watermark: a read within the second still plans on the cached one, and says so
    await store.putState(WATERMARK, 0, { settledThrough: NOW - HOUR });
    now = STATE_CACHE_MS;
    const cached = await readWindow('g', window, deps, { hourly: true });
    expect(store.stateReads).toBe(2);
    expect(cached.meta).toEqual(first.meta);
    expect(cached.items).toEqual(first.items);
    now = STATE_CACHE_MS + 1;
    expect((await readWindow('g', window, deps, { hourly: true })).meta.freshness.snapshotAsOf).toBe(new Date((NOW - HOUR) * 1000).toISOString());
    expect(store.stateReads).toBe(4);
    // this process's own writes (a settle, an ingest batch) void the cache at once
    await writeWatermark(store, NOW, NOW * 1000);
    expect((await readWindow('g', window, deps, { hourly: true })).meta.freshness.snapshotAsOf).toBe(new Date(NOW * 1000).toISOString());
    expect(store.stateReads).toBe(6);
    await recordIngestHeartbeat(store, NOW * 1000 - 1_000, 1);
    expect((await readWindow('g', window, deps, { hourly: true })).meta.freshness.deltaAsOf).toBe(new Date(NOW * 1000 - 1_000).toISOString());
    expect(store.stateReads).toBe(8);
  });

  it('reads the state concurrently with the Queries, planned on the last watermark seen', async () => {
    let now = 0;
    const store = await storeWithWatermark(NOW - HOUR);
    const deps = { counters: store, clock: { now: () => NOW * 1000 }, retention, stateReads: new CounterStateReads(STATE_CACHE_MS, () => now) };
    const window = { type: 'custom' as const, startTs: NOW - 6 * HOUR, endTs: NOW };
    const first = await readWindow('g', window, deps, { hourly: true });
    // the first read of a store has no watermark to plan on: state, then Queries
    expect(store.queries.every((q) => q.stateReadsPending === 0)).toBe(true);
    store.queries = [];
    let open!: () => void;
    store.gate = new Promise((resolve) => (open = resolve));
    now = STATE_CACHE_MS + 1;
    const second = readWindow('g', window, deps, { hourly: true });
    await new Promise((resolve) => setTimeout(resolve, 5));
    // every Query went out while the state reads were still waiting
    expect(store.queries.length).toBeGreaterThan(0);
    expect(store.queries.every((q) => q.stateReadsPending === 2)).toBe(true);
    open();
    store.gate = undefined;
    expect((await second).meta).toEqual(first.meta);
    expect((await second).items).toEqual(first.items);
  });

  it('plans and reads again when the watermark moved, so the answer states the watermark it is planned on', async () => {
    let now = 0;
    const store = await storeWithWatermark(NOW - 2 * HOUR);
    const deps = { counters: store, clock: { now: () => NOW * 1000 }, retention, stateReads: new CounterStateReads(STATE_CACHE_MS, () => now) };
    const window = { type: 'custom' as const, startTs: NOW - 6 * HOUR, endTs: NOW };
    const before = await readWindow('g', window, deps, { hourly: true });
    expect(before.plan.segments.find((s) => s.live)?.from).toBe(NOW - 2 * HOUR);
    await store.putState(WATERMARK, 0, { settledThrough: NOW - HOUR });
    now = STATE_CACHE_MS + 1;
    const after = await readWindow('g', window, deps, { hourly: true });
    expect(after.plan.segments.find((s) => s.live)?.from).toBe(NOW - HOUR);
    expect(after.meta.freshness.snapshotAsOf).toBe(new Date((NOW - HOUR) * 1000).toISOString());
    expect(after.meta.plan.segments).toEqual(after.plan.segments);
    // and a store that fails fails the read, as before
    store.failing = true;
    now = 2 * STATE_CACHE_MS + 2;
    await expect(readWindow('g', window, deps, { hourly: true })).rejects.toThrow('throttled');
    await expect(planFor('g', window, deps, true)).rejects.toThrow('throttled');
    // no failure is kept: once the store answers, so do the reads
    store.failing = false;
    await expect(readWindow('g', window, deps, { hourly: true })).resolves.toMatchObject({ meta: { freshness: { snapshotAsOf: new Date((NOW - HOUR) * 1000).toISOString() } } });
    await expect(planFor('g', window, deps, true)).resolves.toBeDefined();
  });
});
