import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { finalizeEvent, generateSecretKey } from 'nostr-tools/pure';
import { ingestBatch, type IngestDeps } from '../../lib/ingest/ingest.js';
import { MAX_D_TAG_CHARS } from '../../lib/nostr/normalise.js';
import { applyLiveDeltas, queuedLiveCounters } from '../../lib/counters/live-queue.js';
import { loadVerifier } from '../../lib/nostr/verify.js';
import { decodeFacts, encodeFacts } from '../../lib/facts/parquet.js';
import { compactAndSettle, QUARANTINE_PREFIX } from '../../lib/facts/compact.js';
import { rebuildCounters } from '../../lib/counters/rebuild.js';
import { MAX_CREATED_AT_AHEAD_SECONDS, MIN_CREATED_AT, partitionOf, partitionPrefix } from '../../lib/facts/partition.js';
import { DIRTY_HOURS, readWatermark } from '../../lib/counters/state.js';
import { MetricsRegistry } from '../../lib/metrics/registry.js';
import { METRIC } from '../../lib/metrics/names.js';
import { globalStatsResponse } from '../../lib/query/stats.js';
import { userSummary } from '../../lib/query/summary.js';
import { customWindow } from '../../lib/query/window.js';
import { retentionFromEnv } from '../../lib/counters/retention.js';
import { normalise } from '../../lib/nostr/normalise.js';
import { DuckDbSqlEngine, factsRelation } from '../../lib/adapters/local/duckdb-sql-engine.js';
import { startDynalite } from '../../lib/adapters/local/dynalite.js';
import type { CounterStore, ObjectStore, QueueRecord } from '../../lib/ports.js';
import { loadFixture, tampered } from '../support/fixtures.js';
import { fixedClock, memoryStores } from '../support/local.js';
import { likersList, zappersList } from '../../lib/counters/engager-lists.js';
import { signedZap } from '../../lib/local/stack/simulator.js';

const NOW = Date.parse('2026-11-22T00:00:00Z');
const NOW_S = NOW / 1000;
// Long retention, so settled windows over the (older) fixtures stay answerable at NOW.
const retention = retentionFromEnv({ MINUTE_TTL_DAYS: '3650', HOUR_TTL_DAYS: '3650', DAY_TTL_DAYS: '3650' });
const clock = fixedClock(NOW);

const message = (messageId: string, events: unknown[], source = 'wss://relay.example'): QueueRecord => ({
  messageId,
  body: JSON.stringify({ v: 1, source, events }),
  receiveCount: 1,
});

const signed = (createdAt: number, content: string) => finalizeEvent({ kind: 1, created_at: createdAt, tags: [], content }, generateSecretKey());

describe('hostile input costs only itself', () => {
  let stores: Awaited<ReturnType<typeof memoryStores>>;
  let metrics: MetricsRegistry;
  let deps: IngestDeps;

  beforeEach(async () => {
    stores = await memoryStores();
    metrics = new MetricsRegistry();
    deps = { objects: stores.objects, counters: stores.counters, verify: await loadVerifier(), clock, metrics, minuteTtlSeconds: retention.minuteSeconds, logError: () => {} };
  });
  afterEach(() => stores.close());

  const settle = () => compactAndSettle({ objects: stores.objects, counters: stores.counters, sql: stores.sql, tables: stores.tables, clock, retention, logIssue: () => {} });
  const stats = async () => (await globalStatsResponse({ counters: stores.counters, clock, retention })).data;

  it('a correctly signed event with created_at 10^13, or before the floor, is rejected alone; its 50 neighbours are stored', async () => {
    const good = Array.from({ length: 50 }, (_, i) => signed(NOW_S - 3600 - i, `good ${i}`));
    const poison = [signed(1e13, 'far future'), signed(NOW_S + MAX_CREATED_AT_AHEAD_SECONDS + 60, 'an hour ahead'), signed(MIN_CREATED_AT - 1, 'before the floor')];
    const result = await ingestBatch([message('m1', [good[0], ...poison, ...good.slice(1)])], deps);
    expect(result.failedMessageIds).toEqual([]);
    expect(result.accepted).toBe(50);
    expect(result.rejected).toEqual({ created_at_out_of_range: 3 });
    expect(metrics.byLabel(METRIC.eventsRejected, 'Reason')).toEqual({ created_at_out_of_range: 3 });
    const stored = (await Promise.all(result.objectKeys.map(async (k) => decodeFacts((await stores.objects.get(k))!)))).flat();
    expect(new Set(stored.map((f) => f.event_id))).toEqual(new Set(good.map((e) => e.id)));

    // App events: a millisecond timestamp 10^13 is year 2286.
    const app = await ingestBatch(
      [{ messageId: 'app', body: JSON.stringify({ v: 1, source: 'app', project: 'demo', events: [{ name: 'view', userId: 'u', timestamp: 1e13 }, { name: 'view', userId: 'u2' }] }), receiveCount: 1 }],
      deps,
    );
    expect(app).toMatchObject({ failedMessageIds: [], accepted: 1, rejected: { created_at_out_of_range: 1 } });
  });

  it('an addressable video with a d tag past MAX_D_TAG_CHARS is refused as oversized, and a reaction to such an address counts for the event it names; the neighbours and the live counts are whole', async () => {
    const key = generateSecretKey();
    const long = 'x'.repeat(MAX_D_TAG_CHARS + 1);
    const video = finalizeEvent({ kind: 34235, created_at: NOW_S - 60, tags: [['d', long], ['title', 't'], ['url', 'https://v.example/a.mp4']], content: '' }, key);
    const target = signed(NOW_S - 120, 'the post');
    const like = finalizeEvent({ kind: 7, created_at: NOW_S - 30, tags: [['e', target.id], ['p', target.pubkey], ['a', `34235:${video.pubkey}:${long}`]], content: '+' }, generateSecretKey());
    const liveBodies: string[] = [];
    const result = await ingestBatch([message('m1', [target, video, like])], { ...deps, liveCounters: queuedLiveCounters({ sendBatch: async (bodies) => (liveBodies.push(...bodies), { failed: [] }) }) });
    expect(result).toMatchObject({ failedMessageIds: [], accepted: 2, rejected: { oversized: 1 } });
    const applied = await applyLiveDeltas(liveBodies.map((body, i) => ({ messageId: `l${i}`, body, receiveCount: 1 })), { counters: stores.counters, clock });
    expect(applied.failedMessageIds).toEqual([]);
    expect((await stores.counters.range(`e:${target.id}`, 'h', 0, Number.MAX_SAFE_INTEGER))[0]?.values).toEqual({ likes: 1 });
  });

  it('a forged copy seen first (real id and signature, other content) never hides the genuine event', async () => {
    const events = loadFixture('thread-and-reactions.jsonl').slice(0, 20);
    const forged = events.map((e) => tampered(e, { content: `${e.content} — forged` }));
    // Forged copies first in the same message, and in an earlier message of the same batch.
    const result = await ingestBatch([message('m1', [...forged.slice(0, 10), ...events.slice(0, 10)]), message('m2', forged.slice(10)), message('m3', events.slice(10))], deps);
    expect(result.accepted).toBe(20);
    expect(result.rejected).toEqual({ bad_id: 20 });
    await settle();
    expect((await stats()).totalEvents).toBe(20);
  });

  it('a storage fault fails only the message whose write fails; its redelivery settles exactly', async () => {
    const thread = loadFixture('thread-and-reactions.jsonl');
    const small = loadFixture('reactions-small.jsonl');
    const badHour = partitionPrefix(partitionOf(thread[0]!.created_at));
    let failing = true;
    const flaky: ObjectStore = {
      get: (key) => stores.objects.get(key),
      stream: (key) => stores.objects.stream(key),
      copy: (from, to) => stores.objects.copy(from, to),
      list: (prefix) => stores.objects.list(prefix),
      delete: (keys) => stores.objects.delete(keys),
      put: async (key, body) => {
        if (failing && key.startsWith(badHour)) throw Object.assign(new Error(`ENOSPC: no space left on device, open '${key}'`), { code: 'ENOSPC' });
        return stores.objects.put(key, body);
      },
    };
    const batch = [message('thread', thread), message('small', small)];
    const first = await ingestBatch(batch, { ...deps, objects: flaky });
    expect(first.failedMessageIds).toEqual(['thread']);
    expect(first.accepted).toBe(small.length);
    expect(metrics.byLabel(METRIC.storageFaults, 'Store')).toEqual({ objects: 2 }); // the batch write, then the message's own
    // The hour the failed write was for is already marked: the compactor will look at it whatever happens.
    expect((await stores.counters.listState(DIRTY_HOURS)).map((m) => m.id)).toContain(partitionOf(thread[0]!.created_at).start);

    failing = false;
    const again = await ingestBatch([batch[0]!], { ...deps, objects: flaky });
    expect(again.failedMessageIds).toEqual([]);
    await settle();
    expect((await stats()).totalEvents).toBe(new Set([...thread, ...small].map((e) => e.id)).size);
  });

  it('all-time totals count each event once after settling, whatever was delivered twice or by two relays', async () => {
    const events = loadFixture('thread-and-reactions.jsonl');
    await ingestBatch([message('a', events, 'wss://one')], deps);
    await ingestBatch([message('b', [...events].reverse(), 'wss://two')], deps);
    await ingestBatch([message('a', events, 'wss://one')], deps); // a redelivery
    await settle();
    const all = await stats();
    expect(all.totalEvents).toBe(new Set(events.map((e) => e.id)).size);
    const byKind: Record<string, number> = {};
    for (const e of new Map(events.map((e) => [e.id, e])).values()) byKind[e.kind] = (byKind[e.kind] ?? 0) + 1;
    expect(all.eventsByKind).toEqual(byKind);
    // Settling again (a re-run, or a crash and retry) changes nothing.
    await settle();
    expect(await stats()).toEqual(all);
  });

  it('a corrupt fact object is quarantined and reported; its hour settles from the rest and the watermark moves on', async () => {
    const events = loadFixture('thread-and-reactions.jsonl');
    await ingestBatch([message('m1', events)], deps);
    const hour = partitionOf(events[0]!.created_at);
    const corruptKey = `${partitionPrefix(hour)}torn-upload.parquet`;
    await stores.objects.put(corruptKey, new TextEncoder().encode('PAR1 this is not a parquet file'));
    const quarantined: string[] = [];
    const run = await compactAndSettle({ objects: stores.objects, counters: stores.counters, sql: stores.sql, tables: stores.tables, clock, retention, metrics, logIssue: (_l, _m, f) => quarantined.push(String(f.key)) });

    expect(run.quarantined).toEqual([corruptKey]);
    expect(quarantined).toEqual([corruptKey]);
    expect(metrics.total(METRIC.objectsQuarantined)).toBe(1);
    expect(run.failedHours).toEqual([]);
    expect(await stores.objects.get(corruptKey)).toBeNull();
    expect(new TextDecoder().decode((await stores.objects.get(`${QUARANTINE_PREFIX}${corruptKey}`))!)).toContain('not a parquet');
    expect(await readWatermark(stores.counters)).toBe(run.watermark);
    expect(run.watermark).toBeGreaterThan(hour.start);
    expect((await stats()).totalEvents).toBe(new Set(events.map((e) => e.id)).size);
    // Every SQL read of the facts works again (DuckDB reads the whole directory).
    const sql = new DuckDbSqlEngine();
    try {
      const [row] = await sql.query(`select count(distinct event_id) as n from ${factsRelation(stores.dir)}`);
      expect(Number(row!.n)).toBe(new Set(events.map((e) => e.id)).size);
    } finally {
      await sql.close();
    }
  });

  it('an hour with facts but no dirty mark (written by an older version, or by hand) is still settled before the watermark passes it', async () => {
    const events = loadFixture('reactions-small.jsonl').map((e) => ({ ...e }));
    // Facts put straight into an hour the watermark has not passed, with no mark.
    const recent = Math.floor((NOW_S - 5 * 3600) / 3600) * 3600;
    const facts = events.map((e) => ({ ...normalise(e, { relay: null, ingestedAt: NOW }), created_at: recent + 60 }));
    await stores.objects.put(`${partitionPrefix(partitionOf(recent))}orphan.parquet`, encodeFacts(facts));
    await stores.counters.putState('watermark', 0, { settledThrough: recent - 3600 });
    expect(await stores.counters.listState(DIRTY_HOURS)).toEqual([]);
    const run = await settle();
    expect(run.hours.map((h) => h.hourStart)).toContain(recent);
    expect((await stats()).totalEvents).toBe(facts.length);
  });

  it('funnel rebuild recomputes every counter from the facts into an empty store, equal to what compaction produced', async () => {
    // a video with a like naming it by id and kind (NIP-25 `k`) and a zap: rows of the engager lists
    const at = loadFixture('thread-and-reactions.jsonl')[0]!.created_at;
    const video = finalizeEvent({ kind: 22, created_at: at, tags: [['title', 'v'], ['url', 'https://v.example/v.mp4']], content: '' }, generateSecretKey());
    const like = finalizeEvent({ kind: 7, created_at: at + 60, tags: [['e', video.id], ['p', video.pubkey], ['k', '22']], content: '+' }, generateSecretKey());
    const zap = signedZap(generateSecretKey(), { id: video.id, pubkey: video.pubkey }, 21, at + 120);
    const events = [...loadFixture('thread-and-reactions.jsonl'), ...loadFixture('reactions-small.jsonl'), video, like, zap];
    await ingestBatch([message('m1', events)], deps);
    await settle();
    const times = loadFixture('thread-and-reactions.jsonl').map((e) => e.created_at);
    const window = customWindow(Math.min(...times) - 3600, Math.max(...times) + 3600, NOW_S);
    const authors = [...new Set(events.map((e) => e.pubkey))];
    const snapshot = async (counters: CounterStore) => ({
      stats: (await globalStatsResponse({ counters, clock, retention })).data.totalEvents,
      users: await Promise.all(authors.map(async (a) => (await userSummary(a, window, { counters, clock, retention })).data.totals)),
      likers: await counters.engagerPage(likersList(`e:${video.id}`), { limit: 10 }),
      zappers: await counters.engagerPage(zappersList(`e:${video.id}`), { limit: 10 }),
    });
    const before = await snapshot(stores.counters);
    expect([before.likers.length, before.zappers.length]).toEqual([1, 1]);

    const fresh = await startDynalite(undefined);
    try {
      const report = await rebuildCounters({ objects: stores.objects, counters: fresh.counters, sql: stores.sql, tables: stores.tables, clock, retention, logIssue: () => {} });
      expect(report.hoursFailed).toBe(0);
      expect(report.facts).toBe(new Set(events.map((e) => e.id)).size);
      expect(await snapshot(fresh.counters)).toEqual(before);
    } finally {
      await fresh.close();
    }
  });
});
