import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ingestBatch, type IngestDeps } from '../../lib/ingest/ingest.js';
import { packEvents } from '../../lib/ingest/message.js';
import { loadVerifier } from '../../lib/nostr/verify.js';
import { decodeFacts } from '../../lib/facts/parquet.js';
import { MetricsRegistry } from '../../lib/metrics/registry.js';
import { globalStatsResponse } from '../../lib/query/stats.js';
import { compactAndSettle } from '../../lib/facts/compact.js';
import { userSummary } from '../../lib/query/summary.js';
import { customWindow } from '../../lib/query/window.js';
import { FIXTURE_FILES, loadFixture, tampered } from '../support/fixtures.js';
import { fixedClock, memoryStores } from '../support/local.js';
import { retentionFromEnv } from '../../lib/counters/retention.js';

const NOW = Date.parse('2026-11-22T00:00:00Z');

function records(bodies: string[]) {
  return bodies.map((body, i) => ({ messageId: `m${i}`, body, receiveCount: 1 }));
}

describe('ingestBatch on the real fixtures', () => {
  let stores: Awaited<ReturnType<typeof memoryStores>>;
  let deps: IngestDeps;

  beforeEach(async () => {
    stores = await memoryStores();
    deps = {
      objects: stores.objects,
      counters: stores.counters,
      verify: await loadVerifier(),
      clock: fixedClock(NOW),
      metrics: new MetricsRegistry(),
      minuteTtlSeconds: 86400,
    };
  });
  afterEach(() => stores.close());

  it('accepts every fixture event and stores one fact per event under its hour partition', async () => {
    const events = FIXTURE_FILES.flatMap(loadFixture);
    const ids = new Set(events.map((e) => e.id));
    const { bodies } = packEvents('wss://relay.example', events.map((e) => JSON.stringify(e)));
    const result = await ingestBatch(records(bodies), deps);

    expect(result.failedMessageIds).toEqual([]);
    expect(result.rejected).toEqual({});
    expect(result.accepted + result.duplicatesInBatch).toBe(events.length);
    expect(result.accepted).toBe(ids.size);

    const facts = (await Promise.all(result.objectKeys.map(async (key) => ({ key, facts: await decodeFacts((await stores.objects.get(key))!) })))).flatMap(
      ({ key, facts }) => facts.map((fact) => ({ key, fact })),
    );
    expect(new Set(facts.map((f) => f.fact.event_id))).toEqual(ids);
    for (const { key, fact } of facts) {
      const iso = new Date(fact.created_at * 1000).toISOString();
      expect(key.startsWith(`facts/dt=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}/`)).toBe(true);
      expect(fact.relay).toBe('wss://relay.example');
      expect(fact.ingested_at).toBe(NOW);
    }

    // The fixtures are older than the live minutes: all-time totals count them once their hours settle.
    await compactAndSettle({ objects: stores.objects, counters: stores.counters, sql: stores.sql, tables: stores.tables, clock: deps.clock, retention: retentionFromEnv({}) });
    const { data: stats } = await globalStatsResponse({ counters: stores.counters, clock: deps.clock, retention: retentionFromEnv({}) });
    expect(stats.totalEvents).toBe(ids.size);
    const byKind: Record<string, number> = {};
    for (const id of ids) {
      const kind = String(events.find((e) => e.id === id)!.kind);
      byKind[kind] = (byKind[kind] ?? 0) + 1;
    }
    expect(stats.eventsByKind).toEqual(byKind);
  });

  it('rejects tampered events by reason without failing the good ones beside them', async () => {
    const [good, victim, other] = loadFixture('thread-and-reactions.jsonl');
    const badId = tampered(victim!, { content: `${victim!.content} (edited)` });
    const badSig = tampered(other!, { sig: other!.sig.replace(/^./, (c) => (c === '0' ? '1' : '0')) });
    const notAnEvent = { hello: 'world' };
    const body = JSON.stringify({ v: 1, source: 'wss://relay.example', events: [good, badId, badSig, notAnEvent] });
    const result = await ingestBatch(records([body, 'not json at all']), deps);

    expect(result.accepted).toBe(1);
    expect(result.rejected).toEqual({ bad_id: 1, bad_sig: 1, invalid_shape: 1, malformed_message: 1 });
    expect(result.failedMessageIds).toEqual(['m1']);
    await compactAndSettle({ objects: stores.objects, counters: stores.counters, sql: stores.sql, tables: stores.tables, clock: deps.clock, retention: retentionFromEnv({}) });
    const { data: stats } = await globalStatsResponse({ counters: stores.counters, clock: deps.clock, retention: retentionFromEnv({}) });
    expect(stats.totalEvents).toBe(1);
    expect(stats.rejectedByReason).toEqual({ bad_id: 1, bad_sig: 1, invalid_shape: 1, malformed_message: 1 });
  });

  it('counts a duplicated event once within a batch', async () => {
    const [event] = loadFixture('reactions-small.jsonl');
    const { bodies } = packEvents('wss://a', [JSON.stringify(event), JSON.stringify(event)]);
    const result = await ingestBatch(records(bodies), deps);
    expect(result.accepted).toBe(1);
    expect(result.duplicatesInBatch).toBe(1);
  });

  it('rolls zap receipts into the recipient summary (sats from bolt11)', async () => {
    const zaps = loadFixture('zaps-and-videos.jsonl').filter((e) => e.kind === 9735);
    const { bodies } = packEvents('wss://a', zaps.map((e) => JSON.stringify(e)));
    await ingestBatch(records(bodies), deps);
    const byRecipient = new Map<string, number>();
    for (const zap of zaps) {
      const p = zap.tags.find((t) => t[0] === 'p')![1]!;
      byRecipient.set(p, (byRecipient.get(p) ?? 0) + 1);
    }
    const times = zaps.map((z) => z.created_at);
    const window = customWindow(Math.min(...times) - 60, Math.max(...times) + 60, NOW / 1000);
    let totalSats = 0;
    let totalZaps = 0;
    for (const recipient of byRecipient.keys()) {
      const summary = await userSummary(recipient, window, { counters: stores.counters, clock: fixedClock(NOW), retention: retentionFromEnv({}) });
      totalSats += summary.data.totals.zapSatsReceived;
      totalZaps += summary.data.totals.zapsReceived;
    }
    // The fixture README: lnbc1u = 100 sat, lnbc1230n = 123 sat, lnbc100n = 10 sat.
    expect(totalZaps).toBe(3);
    expect(totalSats).toBe(233);
  });
});
