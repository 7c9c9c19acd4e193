import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ingestBatch } from '../../lib/ingest/ingest.js';
import { packEvents } from '../../lib/ingest/message.js';
import { loadVerifier } from '../../lib/nostr/verify.js';
import { decodeFacts, encodeFacts } from '../../lib/facts/parquet.js';
import { compactAndSettle, compactHour } from '../../lib/facts/compact.js';
import { retentionFromEnv } from '../../lib/counters/retention.js';
import { normalise } from '../../lib/nostr/normalise.js';
import { DuckDbSqlEngine, factsRelation } from '../../lib/adapters/local/duckdb-sql-engine.js';
import { MetricsRegistry } from '../../lib/metrics/registry.js';
import { DIRTY_HOURS } from '../../lib/counters/state.js';
import { partitionOf, partitionPrefix } from '../../lib/facts/partition.js';
import { FIXTURE_FILES, loadFixture } from '../support/fixtures.js';
import { fixedClock, memoryStores } from '../support/local.js';

describe('Parquet facts', () => {
  it('round-trip every fixture event exactly', async () => {
    const facts = FIXTURE_FILES.flatMap(loadFixture).map((e) => normalise(e, { relay: 'wss://r', ingestedAt: 1_795_000_000_000 }));
    expect(await decodeFacts(encodeFacts(facts))).toEqual(facts);
  });
});

describe('ingest → facts directory → compaction → DuckDB', () => {
  let stores: Awaited<ReturnType<typeof memoryStores>>;
  beforeEach(async () => {
    stores = await memoryStores();
  });
  afterEach(() => stores.close());

  // Ingest accepts created_at up to 15 minutes ahead of its clock: run it after the fixtures' dates.
  const INGESTED = Date.parse('2026-11-22T00:00:00Z');
  async function ingest(events: object[], clockMs: number, messageId: string) {
    const { bodies } = packEvents('wss://r', events.map((e) => JSON.stringify(e)));
    return ingestBatch(
      bodies.map((body, i) => ({ messageId: `${messageId}-${i}`, body, receiveCount: 1 })),
      { objects: stores.objects, counters: stores.counters, verify: await loadVerifier(), clock: fixedClock(INGESTED + clockMs), metrics: new MetricsRegistry(), minuteTtlSeconds: 3600 },
    );
  }

  it('DuckDB reads the facts with hive partitions, and compaction merges each hour into one deduplicated file', async () => {
    const events = loadFixture('thread-and-reactions.jsonl');
    // The same events delivered twice in different batches (a redelivery, or two relays).
    await ingest(events, 1_000, 'first');
    await ingest([...events].reverse(), 2_000, 'second');

    const sql = new DuckDbSqlEngine();
    const relation = factsRelation(stores.dir);
    const before = await sql.query(`select count(*) as n, count(distinct event_id) as ids from ${relation}`);
    expect(before[0]).toEqual({ n: String(events.length * 2), ids: String(events.length) });

    const dirty = await stores.counters.listState(DIRTY_HOURS);
    expect(dirty.length).toBeGreaterThan(0);
    // Far enough ahead that every fixture hour is complete.
    const run = await compactAndSettle({ ...stores, clock: fixedClock(Date.parse('2030-01-01T00:00:00Z')), retention: retentionFromEnv(process.env) });
    expect(run.hours).toHaveLength(dirty.length);
    expect(await stores.counters.listState(DIRTY_HOURS)).toEqual([]);

    const files = await stores.objects.list('facts/');
    expect(files).toHaveLength(dirty.length);
    expect(files.every((key) => /\/compacted-[0-9a-f]{20}-000\.parquet$/.test(key))).toBe(true);

    const after = await sql.query(
      `select count(*) as n, count(distinct event_id) as ids, min(ingested_at) as first_ingest, max(ingested_at) as last_ingest,
              bool_and(strftime(to_timestamp(created_at), '%Y-%m-%d') = cast(dt as varchar) and strftime(to_timestamp(created_at), '%H') = hour) as partitioned_by_created_at
       from ${relation}`,
    );
    // One row per event, and the first arrival is the one kept.
    expect(after[0]).toEqual({ n: String(events.length), ids: String(events.length), first_ingest: String(INGESTED + 1000), last_ingest: String(INGESTED + 1000), partitioned_by_created_at: true });
    await sql.close();
  });

  it('compacting an hour again changes nothing, and a crash between write and delete loses nothing', async () => {
    const events = loadFixture('reactions-small.jsonl');
    // Two deliveries, so the hour has two objects to merge (one object is only renamed).
    await ingest(events, 1_000, 'a');
    await ingest(events.slice(0, 5), 2_000, 'b');
    const hour = partitionOf(events[0]!.created_at).start;
    const prefix = partitionPrefix(partitionOf(hour));
    const inputs = await stores.objects.list(prefix);
    const inHour = events.filter((e) => partitionOf(e.created_at).start === hour);

    // Simulate a crash after the merged file was copied in but before the inputs were deleted.
    const originalDelete = stores.objects.delete.bind(stores.objects);
    stores.objects.delete = async (keys) => {
      if (keys.some((k) => k.startsWith('facts/'))) throw new Error('crash');
      return originalDelete(keys);
    };
    await expect(compactHour(hour, stores)).rejects.toThrow('crash');
    stores.objects.delete = originalDelete;
    expect((await stores.objects.list(prefix)).length).toBe(inputs.length + 1);

    const recovered = await compactHour(hour, stores);
    expect(recovered.outputRows).toBe(inHour.length);
    expect(recovered.duplicates).toBeGreaterThan(0);
    const [only] = await stores.objects.list(prefix);
    const again = await compactHour(hour, stores);
    expect(again.outputKeys).toEqual([only]);
    expect(await stores.objects.list(prefix)).toEqual([only]);
    expect((await decodeFacts((await stores.objects.get(only!))!)).map((f) => f.event_id).sort()).toEqual(inHour.map((e) => e.id).sort());
  });
});
