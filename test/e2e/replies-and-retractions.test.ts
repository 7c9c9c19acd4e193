import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { finalizeEvent, generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { openPipeline, type Pipeline } from '../../lib/local/stack/stack.js';
import { backfill } from '../../lib/local/cli/backfill.js';
import { createApiHandler } from '../../functions/api/handler.js';
import { lambdaContext } from '../../lib/local/stack/queue-consumer.js';
import { retentionFromEnv } from '../../lib/counters/retention.js';
import { normalise } from '../../lib/nostr/normalise.js';
import { decodeFacts } from '../../lib/facts/parquet.js';
import { FACTS_PREFIX } from '../../lib/facts/partition.js';
import { userDailySql } from '../../lib/jobs/user-job-sql.js';
import { factsRelation } from '../../lib/adapters/local/duckdb-sql-engine.js';
import type { Fact } from '../../lib/facts/schema.js';
import type { NostrEvent } from '../../lib/nostr/event.js';
import { FIXTURE_FILES, loadFixture } from '../support/fixtures.js';
import { DIRTY_HOURS } from '../../lib/counters/state.js';

/**
 * Whom a reply credits and what a retraction takes back, through the real pipeline (backfill → queue →
 * ingest → dynalite and the facts directory → compactor → api), as docs/metrics.md defines them.
 */
const clock = { now: () => Date.parse('2030-01-01T00:00:00Z') };
// Years after the fixtures: the reads below keep counters that long (dynalite has no TTL anyway).
const retention = retentionFromEnv({ MINUTE_TTL_DAYS: '5000', HOUR_TTL_DAYS: '5000', DAY_TTL_DAYS: '5000' });
const opened: { pipeline: Pipeline; dir: string }[] = [];

async function open(events: readonly NostrEvent[]) {
  const dir = await mkdtemp(join(tmpdir(), 'funnel-credit-'));
  const pipeline = await openPipeline({ dataDir: dir, clock, batchWindowMs: 0, ephemeralCounters: true });
  opened.push({ pipeline, dir });
  const api = createApiHandler({ counters: pipeline.counters, clock, retention });
  const get = async (path: string) => {
    const url = new URL(path, 'http://x');
    const response = await api(
      { rawPath: url.pathname, queryStringParameters: Object.fromEntries(url.searchParams), headers: {}, requestContext: { http: { method: 'GET', sourceIp: '10.0.0.1' } } } as unknown as APIGatewayProxyEventV2,
      lambdaContext('test'),
    );
    return { status: response.statusCode, body: JSON.parse(response.body ?? 'null') };
  };
  const ingest = async (batch: readonly NostrEvent[], name: string) => {
    const file = join(dir, `${name}.jsonl`);
    await writeFile(file, batch.map((e) => JSON.stringify(e)).join('\n') + '\n');
    return backfill(file, pipeline);
  };
  await ingest(events, 'first');
  return { pipeline, get, ingest };
}

afterAll(async () => {
  for (const { pipeline, dir } of opened) {
    await pipeline.close();
    await rm(dir, { recursive: true, force: true });
  }
});

/** The facts as the compactor left them (every hour merged, one row per event). */
async function storedFacts(pipeline: Pipeline): Promise<Fact[]> {
  const facts: Fact[] = [];
  for (const key of await pipeline.objects.list(FACTS_PREFIX)) if (key.endsWith('.parquet')) facts.push(...(await decodeFacts((await pipeline.objects.get(key))!)));
  return facts;
}

describe('replies credited through their parent (the fixtures)', () => {
  const events = FIXTURE_FILES.flatMap(loadFixture);
  const authorOf = new Map(events.map((e) => [e.id, e.pubkey]));
  const replies = events.map((e) => normalise(e, { relay: null, ingestedAt: 0 })).filter((f) => f.type === 'reply' || f.type === 'comment');
  const withKnownParent = replies.filter((f) => authorOf.has(f.parent_event_id ?? ''));

  const check = async (pipeline: Pipeline) => {
    await pipeline.compact();
    const stored = new Map((await storedFacts(pipeline)).map((f) => [f.event_id, f]));
    // Every reply whose parent is among the fixtures credits the parent's author, in the compacted facts.
    for (const reply of withKnownParent) expect({ id: reply.event_id, target: stored.get(reply.event_id)?.target_pubkey }).toEqual({ id: reply.event_id, target: authorOf.get(reply.parent_event_id!) });
    // The rest keep what their tags say: a hint or a single `p`, else nobody.
    for (const reply of replies.filter((r) => !authorOf.has(r.parent_event_id ?? ''))) expect(stored.get(reply.event_id)?.target_pubkey).toBe(reply.target_pubkey);
    return [...stored.values()].filter((f) => (f.type === 'reply' || f.type === 'comment') && f.target_pubkey !== null).length;
  };

  it('resolved at ingest from the event index when the parent came first (140 credited by tags, 159 with the parents)', async () => {
    expect(replies).toHaveLength(291);
    expect(replies.filter((f) => f.target_pubkey !== null)).toHaveLength(140);
    expect(withKnownParent.filter((f) => f.target_pubkey === null)).toHaveLength(19);
    const { pipeline } = await open(events);
    expect(await check(pipeline)).toBe(159);
  }, 60_000);

  it('resolved when the hour settles when the replies came before their parents, and the settled counters credit the parent author', async () => {
    // The author most replied to (by others) in replies whose tags name nobody: only the settle's lookup credits them.
    const byLookup = withKnownParent.filter((f) => f.target_pubkey === null && f.author !== authorOf.get(f.parent_event_id!));
    const counts = new Map<string, number>();
    for (const f of byLookup) counts.set(authorOf.get(f.parent_event_id!)!, (counts.get(authorOf.get(f.parent_event_id!)!) ?? 0) + 1);
    const [parentAuthor] = [...counts].sort((a, b) => b[1] - a[1])[0]!;
    const to = Math.max(...byLookup.filter((f) => authorOf.get(f.parent_event_id!) === parentAuthor).map((f) => f.created_at)) + 3600;
    const from = to - 55 * 86400;
    const isReply = (e: NostrEvent) => replies.some((r) => r.event_id === e.id);
    const { pipeline, ingest, get } = await open(events.filter(isReply));
    await ingest(events.filter((e) => !isReply(e)), 'parents');
    expect(await check(pipeline)).toBe(159);

    const stored = await storedFacts(pipeline);
    const received = stored.filter((f) => (f.type === 'reply' || f.type === 'comment') && f.target_pubkey === parentAuthor && f.author !== parentAuthor && f.created_at >= from && f.created_at < to);
    expect(received.some((f) => byLookup.some((r) => r.event_id === f.event_id))).toBe(true);
    const summary = await get(`/api/v2/analytics/user/${parentAuthor}/summary?startTs=${from}&endTs=${to}`);
    expect(summary.body).toMatchObject({ data: { totals: {} } });
    expect(summary.body.data.totals.repliesReceived).toBe(received.length);
  }, 60_000);
});

describe('retractions (NIP-09) take engagement back out once its hour settles', () => {
  const keys = Object.fromEntries(['alice', 'bob', 'carol', 'dave', 'eve', 'mallory', 'zapper'].map((name) => [name, generateSecretKey()])) as Record<string, Uint8Array>;
  const pk = (name: string) => getPublicKey(keys[name]!);
  const base = Date.parse('2029-12-20T10:00:00Z') / 1000;
  const sign = (name: string, kind: number, createdAt: number, tags: string[][], content = '') => finalizeEvent({ kind, created_at: createdAt, tags, content }, keys[name]!) as NostrEvent;

  const note = sign('alice', 1, base, [], 'a note');
  const like = sign('bob', 7, base + 60, [['e', note.id], ['p', pk('alice')]], '+');
  const repost = sign('carol', 6, base + 120, [['e', note.id], ['p', pk('alice')]]);
  const request = sign('dave', 9734, base + 180, [['p', pk('alice')], ['e', note.id], ['amount', '21000'], ['relays', 'wss://r']]);
  const zap = sign('zapper', 9735, base + 181, [['p', pk('alice')], ['P', pk('dave')], ['e', note.id], ['bolt11', 'lnbc210n1pqqqq'], ['description', JSON.stringify(request)]]);
  const laterLike = sign('eve', 7, base + 240, [['e', note.id], ['p', pk('alice')]], '+');

  type Get = (path: string) => Promise<{ body: { data: Record<string, Record<string, unknown>> } }>;
  const stats = async (get: Get) => (await get(`/api/events/${note.id}/stats`)).body.data.stats;
  const totals = async (get: Get) =>
    (await get(`/api/v2/analytics/user/${pk('alice')}/summary?startTs=${base - 3600}&endTs=${base + 2 * 86400}`)).body.data.totals;

  it('a like, a zap request and (before its target arrived) another like, each deleted by its author, stop counting; a stranger cannot delete', async () => {
    // Eve's deletion is ingested before the like it names (relays deliver in any order).
    const eveDeletes = sign('eve', 5, base + 300, [['e', laterLike.id], ['k', '7']]);
    const { pipeline, ingest, get } = await open([note, like, repost, zap, eveDeletes]);
    await ingest([laterLike], 'later-like');
    await pipeline.compact();
    expect(await stats(get)).toMatchObject({ reactions: { total: 1, likes: 1 }, reposts: 1, zaps: 1, zapSats: 21 });
    expect(await totals(get)).toMatchObject({ reactionsReceived: { likes: 1 }, repostsReceived: 1, zapsReceived: 1, zapSatsReceived: 21 });

    // Three hours later (another hour): Bob un-likes, Dave deletes his zap request, Mallory tries to delete Carol's repost.
    await ingest(
      [
        sign('bob', 5, base + 3 * 3600, [['e', like.id], ['k', '7']]),
        sign('dave', 5, base + 3 * 3600, [['e', request.id], ['k', '9734']]),
        sign('mallory', 5, base + 3 * 3600, [['e', repost.id], ['k', '6']]),
      ],
      'deletions',
    );
    // The deletions' hour settles and marks the note's hour, settled already; the next run settles it again.
    const noteHour = Math.floor(base / 3600) * 3600;
    await pipeline.compact();
    expect((await pipeline.counters.listState(DIRTY_HOURS)).map((m) => m.id)).toContain(noteHour);
    await pipeline.compact();
    // The hour's own items: the settled user hour and the note's live-counted hour (rewritten, zero where the like was alone).
    const [userHour] = await pipeline.counters.range(`u:${pk('alice')}`, 'h', noteHour, noteHour);
    expect(userHour!.values).toMatchObject({ likes_rcv: 0, reposts_rcv: 1 });
    expect(userHour!.values.zaps_rcv ?? 0).toBe(0);
    const [noteItem] = await pipeline.counters.range(`e:${note.id}`, 'h', noteHour, noteHour);
    expect(noteItem!.values).toMatchObject({ likes: 0, reposts: 1, zaps: 0, zap_msats: 0 });
    expect(await stats(get)).toMatchObject({ reactions: { total: 0, likes: 0 }, reposts: 1, zaps: 0, zapSats: 0 });
    expect(await totals(get)).toMatchObject({ reactionsReceived: { total: 0, likes: 0 }, repostsReceived: 1, zapsReceived: 0, zapSatsReceived: 0 });

    // A job over the facts (DuckDB here, Athena in AWS) agrees with the counters.
    const [day] = await pipeline.sql.query(userDailySql(factsRelation(pipeline.dataDir), { startTs: base - 3600, endTs: base + 2 * 86400 }, 'duckdb', pk('alice')));
    expect([day!.likes_rcv, day!.reposts_rcv, day!.zaps_rcv].map(Number)).toEqual([0, 1, 0]);
    // The facts keep what was published: the retracted events and the deletions are still there.
    expect((await storedFacts(pipeline)).filter((f) => [like.id, laterLike.id, zap.id].includes(f.event_id))).toHaveLength(3);
  }, 60_000);
});
