import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { openPipeline, type Pipeline } from '../../lib/local/stack/stack.js';
import { backfill } from '../../lib/local/cli/backfill.js';
import { createApiHandler } from '../../functions/api/handler.js';
import { lambdaContext } from '../../lib/local/stack/queue-consumer.js';
import { retentionFromEnv } from '../../lib/counters/retention.js';
import { normalise, reactionClass } from '../../lib/nostr/normalise.js';
import { decodeFacts } from '../../lib/facts/parquet.js';
import { FIXTURE_FILES, loadFixture } from '../support/fixtures.js';
import type { Fact } from '../../lib/facts/schema.js';
import { finalizeEvent, generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import { signedZap } from '../../lib/local/stack/simulator.js';

/**
 * Every fixture file through the real ingest path (backfill → queue → ingest handler → dynalite and
 * the facts directory), then per-event stats over HTTP, compared with what the NIPs say each event is.
 */
let dataDir: string;
let pipeline: Pipeline;
let api: ReturnType<typeof createApiHandler>;
const events = FIXTURE_FILES.flatMap(loadFixture);
const facts: Fact[] = events.map((e) => normalise(e, { relay: null, ingestedAt: 0 }));
// After every fixture event, so the compactor may settle all of them.
const clock = { now: () => Date.parse('2030-01-01T00:00:00Z') };

async function post(path: string, body: unknown) {
  const response = await api({ rawPath: path, body: JSON.stringify(body), requestContext: { http: { method: 'POST' } } } as unknown as APIGatewayProxyEventV2, lambdaContext('test'));
  return { status: response.statusCode, body: JSON.parse(response.body ?? 'null') };
}

async function get(pathAndQuery: string) {
  const url = new URL(pathAndQuery, 'http://local');
  const event = { rawPath: url.pathname, rawQueryString: url.search.slice(1), queryStringParameters: Object.fromEntries(url.searchParams), requestContext: { http: { method: 'GET' } } };
  const response = await api(event as unknown as APIGatewayProxyEventV2, lambdaContext('test'));
  return { status: response.statusCode, body: JSON.parse(response.body ?? 'null') };
}

function expectedStats(id: string) {
  const onTarget = facts.filter((f) => {
    const byAddress = f.type === 'reaction' || f.type === 'repost' || f.type === 'zap';
    return byAddress && f.target_address ? false : f.target_event_id === id;
  });
  const reactions = onTarget.filter((f) => f.type === 'reaction');
  const cls = (c: string) => reactions.filter((f) => reactionClass(f.reaction ?? '') === c).length;
  const zaps = onTarget.filter((f) => f.type === 'zap');
  return {
    reactions: { total: reactions.length, likes: cls('like'), dislikes: cls('dislike'), emoji: cls('emoji') },
    replies: onTarget.filter((f) => f.type === 'reply' || f.type === 'comment').length,
    reposts: onTarget.filter((f) => f.type === 'repost').length,
    zaps: zaps.length,
    zapSats: Math.floor(zaps.reduce((n, f) => n + (f.zap_msats ?? 0), 0) / 1000),
    views: 0,
  };
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'funnel-stats-'));
  pipeline = await openPipeline({ dataDir, clock, batchWindowMs: 0 });
  const all = join(dataDir, 'all-fixtures.jsonl');
  await writeFile(all, FIXTURE_FILES.map((f) => loadFixture(f).map((e) => JSON.stringify(e)).join('\n')).join('\n') + '\n');
  const report = await backfill(all, pipeline);
  expect(report).toMatchObject({ rejected: {}, deadLettered: 0 });
  expect(report.accepted + report.duplicates).toBe(events.length);
  api = createApiHandler({ counters: pipeline.counters, clock, retention: retentionFromEnv({}) });
}, 120_000);

afterAll(async () => {
  await pipeline?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('GET /api/events/:id/stats on the fixtures', () => {
  const targets = [...new Set(facts.map((f) => f.target_event_id).filter((id): id is string => !!id))];

  it('matches NIP semantics for every engaged event, live and after compaction', async () => {
    for (const phase of ['live', 'settled']) {
      if (phase === 'settled') await pipeline.compact();
      for (const id of targets) {
        const { status, body } = await get(`/api/events/${id}/stats`);
        if (status === 404) {
          expect(body.error.code).toBe('deleted');
          continue;
        }
        expect({ phase, id, stats: body.data.stats }).toEqual({ phase, id, stats: expectedStats(id) });
      }
    }
  });

  it('the thread root collects its reactions (last e tag) and replies (NIP-10)', async () => {
    const root = 'd44ad96cb8924092a76bc2afddeb12eb85233c0d03a7d9adc42c2a85a79a4305';
    const { body } = await get(`/api/events/${root}/stats`);
    expect(body.data.stats.reactions.total).toBeGreaterThan(0);
    expect(body.data.stats.replies).toBeGreaterThan(0);
    expect(body.data.stats).toEqual(expectedStats(root));
  });

  it('zap sats come from the bolt11 amount (NIP-57)', async () => {
    const zapped = facts.find((f) => f.type === 'zap' && f.target_event_id)!;
    const { body } = await get(`/api/events/${zapped.target_event_id}/stats`);
    expect(body.data.stats).toMatchObject({ zaps: 1, zapSats: 10 });
  });

  it('NIP-09: a deletion by the author removes the event; a deletion by anyone else does nothing', async () => {
    const alice = generateSecretKey();
    const mallory = generateSecretKey();
    const t = Math.floor(clock.now() / 1000) - 86400 * 365;
    const kept = finalizeEvent({ kind: 1, created_at: t, tags: [], content: 'kept' }, alice);
    const removed = finalizeEvent({ kind: 1, created_at: t, tags: [], content: 'removed' }, alice);
    const like = finalizeEvent({ kind: 7, created_at: t + 1, tags: [['e', kept.id], ['p', kept.pubkey]], content: '+' }, mallory);
    const ownDeletion = finalizeEvent({ kind: 5, created_at: t + 2, tags: [['e', removed.id], ['k', '1']], content: '' }, alice);
    const foreignDeletion = finalizeEvent({ kind: 5, created_at: t + 3, tags: [['e', kept.id]], content: 'not yours' }, mallory);
    await pipeline.queue.sendBatch([JSON.stringify({ v: 1, source: 'wss://test', events: [kept, removed, like, ownDeletion, foreignDeletion] })]);
    await pipeline.consumer.drain();
    // These events are older than the watermark: their hours are re-settled by the next compaction.
    await pipeline.compact();

    const gone = await get(`/api/events/${removed.id}/stats`);
    expect(gone.status).toBe(404);
    expect(gone.body.error.code).toBe('deleted');
    const still = await get(`/api/events/${kept.id}/stats`);
    expect(still.status).toBe(200);
    expect(still.body.data.event).toMatchObject({ id: kept.id, author: kept.pubkey, kind: 1, type: 'note' });
    expect(still.body.data.stats.reactions).toEqual({ total: 1, likes: 1, dislikes: 0, emoji: 0 });
  });

  it('NIP-09: an address deletion removes the video versions up to its created_at', async () => {
    const author = generateSecretKey();
    const t = Math.floor(clock.now() / 1000) - 86400 * 300;
    const video = (createdAt: number, title: string) =>
      finalizeEvent({ kind: 34236, created_at: createdAt, tags: [['d', 'clip'], ['title', title], ['imeta', 'url https://v.example/clip.mp4']], content: '' }, author);
    const v1 = video(t, 'first cut');
    const v2 = video(t + 10, 'second cut');
    const address = `34236:${v1.pubkey}:clip`;
    const likeOld = finalizeEvent({ kind: 7, created_at: t + 20, tags: [['e', v1.id], ['p', v1.pubkey]], content: '+' }, generateSecretKey());
    const likeAddress = finalizeEvent({ kind: 7, created_at: t + 21, tags: [['e', v2.id], ['a', address], ['p', v1.pubkey]], content: '🔥' }, generateSecretKey());
    await pipeline.queue.sendBatch([JSON.stringify({ v: 1, source: 'wss://test', events: [v1, v2, likeOld, likeAddress] })]);
    await pipeline.consumer.drain();
    // These events are older than the watermark: their hours are re-settled by the next compaction.
    await pipeline.compact();

    const whole = await get(`/api/videos/${encodeURIComponent(address)}/stats`);
    expect(whole.body.data).toMatchObject({ address, revisions: 2, video: { id: v2.id, title: 'second cut' } });
    // Engagement on an old revision (by e) and on the address both count for the video as a whole.
    expect(whole.body.data.stats.reactions).toEqual({ total: 2, likes: 1, dislikes: 0, emoji: 1 });

    const deleteFirst = finalizeEvent({ kind: 5, created_at: t + 5, tags: [['a', address]], content: '' }, author);
    await pipeline.queue.sendBatch([JSON.stringify({ v: 1, source: 'wss://test', events: [deleteFirst] })]);
    await pipeline.consumer.drain();
    // These events are older than the watermark: their hours are re-settled by the next compaction.
    await pipeline.compact();
    expect((await get(`/api/videos/${v1.id}/stats`)).status).toBe(404);
    expect((await get(`/api/videos/${v2.id}/stats`)).body.data.video.id).toBe(v2.id);

    const deleteAll = finalizeEvent({ kind: 5, created_at: t + 30, tags: [['a', address]], content: '' }, author);
    await pipeline.queue.sendBatch([JSON.stringify({ v: 1, source: 'wss://test', events: [deleteAll] })]);
    await pipeline.consumer.drain();
    // These events are older than the watermark: their hours are re-settled by the next compaction.
    await pipeline.compact();
    const deleted = await get(`/api/videos/${encodeURIComponent(address)}/stats`);
    expect(deleted.status).toBe(404);
    expect(deleted.body.error.code).toBe('deleted');
  });

  it('a video answers by id or address with its newest revision (NIP-71)', async () => {
    const video = events.find((e) => e.kind === 34236)!;
    const d = video.tags.find((t) => t[0] === 'd')![1];
    const address = `34236:${video.pubkey}:${d}`;
    const byId = await get(`/api/videos/${video.id}/stats`);
    const byAddress = await get(`/api/videos/${encodeURIComponent(address)}/stats`);
    expect(byId.status).toBe(200);
    expect(byId.body.data.address).toBe(address);
    expect(byAddress.body.data).toEqual(byId.body.data);
    expect(byId.body.data.video).toMatchObject({ author: video.pubkey, mediaUrl: expect.stringMatching(/^https:/) });
  });

  it('the bulk routes answer, per id and in order, exactly what the single routes answer (deleted ones as errors)', async () => {
    const targets = [...new Set(facts.map((f) => f.target_event_id).filter((id): id is string => !!id))];
    expect(targets.length).toBeGreaterThan(100);
    // A full request's worth (every 3rd target), each against its single route.
    const ids = targets.filter((_, i) => i % 3 === 0).slice(0, 100);
    const bulk = await post('/api/events/stats/bulk', { ids });
    expect(bulk.status).toBe(200);
    for (const [j, id] of ids.entries()) {
      const single = await get(`/api/events/${id}/stats`);
      expect(bulk.body.data[j]).toEqual(single.status === 200 ? single.body.data : { id, error: single.body.error });
    }
    const videos = events.filter((e) => e.kind === 34236);
    const videoIds = [...videos.map((v) => v.id), `34236:${videos[0]!.pubkey}:${videos[0]!.tags.find((t) => t[0] === 'd')![1]}`, events.find((e) => e.kind === 1)!.id];
    const videoBulk = await post('/api/videos/stats/bulk', { ids: videoIds });
    for (const [j, id] of videoIds.entries()) {
      const single = await get(`/api/videos/${encodeURIComponent(id)}/stats`);
      expect(videoBulk.body.data[j]).toEqual(single.status === 200 ? single.body.data : { id, error: single.body.error });
    }
    expect(videoBulk.body.data.at(-1).error.code).toBe('not_a_video');
    // Bounded, and checked like a single id.
    expect((await post('/api/events/stats/bulk', { ids: targets.slice(0, 101) })).body.error.message).toContain('at most 100');
    expect((await post('/api/events/stats/bulk', { ids: ['nope'] })).status).toBe(400);
    expect((await post('/api/events/stats/bulk', { ids: [] })).status).toBe(400);
  });

  it('rejects a malformed id with a 400', async () => {
    const { status, body } = await get('/api/events/xyz/stats');
    expect(status).toBe(400);
    expect(body.error.message).toContain('64-character');
  });
});

describe('likers and zappers (one row per pubkey, paged)', () => {
  /** Every row of a list, walked page by page with its cursor. */
  async function walk(path: string, limit: number) {
    const rows: Record<string, unknown>[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 100; pages++) {
      const page: { status: number | undefined; body: any } = await get(`${path}?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      rows.push(...page.body.data);
      cursor = page.body.meta.pagination.nextCursor;
      if (!cursor) return rows;
    }
    throw new Error('the walk did not end');
  }

  it('a video lists its likers once each, over its address and revisions; dislikes, emoji, unmarked and retracted likes are left out', async () => {
    const author = generateSecretKey();
    const t = Math.floor(clock.now() / 1000) - 86400 * 200;
    const video = (createdAt: number) => finalizeEvent({ kind: 34235, created_at: createdAt, tags: [['d', 'liked'], ['title', 'liked'], ['imeta', 'url https://v.example/l.mp4']], content: '' }, author);
    const v1 = video(t);
    const v2 = video(t + 10);
    const address = `34235:${v1.pubkey}:liked`;
    const keys = Array.from({ length: 9 }, () => generateSecretKey());
    const react = (key: Uint8Array, tags: string[][], content: string, dt: number) => finalizeEvent({ kind: 7, created_at: t + 100 + dt, tags: [...tags, ['p', v1.pubkey]], content }, key);
    const byAddress = (key: Uint8Array, content = '+', dt = 0) => react(key, [['e', v2.id], ['a', address]], content, dt);
    const retracted = byAddress(keys[5]!, '+', 5);
    const events = [
      v1,
      v2,
      byAddress(keys[0]!),
      react(keys[1]!, [['e', v1.id], ['k', '34235']], '', 1), // an old revision by id, kind in `k`
      byAddress(keys[2]!, '-', 2), // a dislike
      byAddress(keys[3]!, '🔥', 3), // an emoji
      byAddress(keys[4]!, '+', 4),
      byAddress(keys[4]!, '+', 6), // the same pubkey again: one row
      retracted,
      finalizeEvent({ kind: 5, created_at: t + 200, tags: [['e', retracted.id], ['k', '7']], content: '' }, keys[5]!), // the un-like
      react(keys[6]!, [['e', v1.id]], '+', 7), // no `a`, no `k`: not known to be a video's like
      ...keys.slice(7).map((key, i) => byAddress(key, '+', 10 + i)),
    ];
    await pipeline.queue.sendBatch([JSON.stringify({ v: 1, source: 'wss://test', events })]);
    await pipeline.consumer.drain();
    const expected = [0, 1, 4, 7, 8].map((i) => getPublicKey(keys[i]!)).sort();
    for (const id of [address, v1.id, v2.id]) {
      const rows = await walk(`/api/videos/${encodeURIComponent(id)}/likers`, 2);
      expect(rows, id).toEqual(expected.map((pubkey) => ({ pubkey })));
    }
    // a whole page at once says so: no next cursor
    const one = await get(`/api/videos/${encodeURIComponent(address)}/likers?limit=100`);
    expect(one.body.meta.pagination).toEqual({ cursor: null, nextCursor: null, limit: 100 });
    // a note is not a video; a cursor of another list is refused
    const note = events.find((e) => e.kind === 1) ?? loadFixture('thread-and-reactions.jsonl').find((e) => e.kind === 1)!;
    expect((await get(`/api/videos/${note.id}/likers`)).body.error.code).toBe('not_a_video');
    expect((await get(`/api/videos/${v1.id}/likers?cursor=bm9wZQ`)).body.error.code).toBe('bad_cursor');
  });

  it("an event lists its zappers once each with their zaps and sats, which sum to its stats' zaps; a redelivered batch changes nothing", async () => {
    const author = generateSecretKey();
    const t = Math.floor(clock.now() / 1000) - 86400 * 190;
    const note = finalizeEvent({ kind: 1, created_at: t, tags: [], content: 'zap me' }, author);
    const senders = Array.from({ length: 5 }, () => generateSecretKey());
    const target = { id: note.id, pubkey: note.pubkey };
    const zaps = [
      signedZap(senders[0]!, target, 21, t + 1),
      signedZap(senders[0]!, target, 21, t + 2), // the same amount again: two zaps
      signedZap(senders[0]!, target, 1000, t + 3),
      ...senders.slice(1).map((key, i) => signedZap(key, target, 100 * (i + 1), t + 10 + i)),
    ];
    const batch = JSON.stringify({ v: 1, source: 'wss://test', events: [note, ...zaps] });
    await pipeline.queue.sendBatch([batch]);
    await pipeline.consumer.drain();
    const expected = [
      { pubkey: getPublicKey(senders[0]!), zaps: 3, sats: 1042 },
      ...senders.slice(1).map((key, i) => ({ pubkey: getPublicKey(key), zaps: 1, sats: 100 * (i + 1) })),
    ].sort((a, b) => (a.pubkey < b.pubkey ? -1 : 1));
    expect(await walk(`/api/events/${note.id}/zappers`, 2)).toEqual(expected);
    // the same events again, in a second message (a relay resending them): every zap stays counted once
    await pipeline.queue.sendBatch([batch]);
    await pipeline.consumer.drain();
    expect(await walk(`/api/events/${note.id}/zappers`, 3)).toEqual(expected);
    // older than the watermark: in the event's stats once its hours settle again
    await pipeline.compact();
    const stats = await get(`/api/events/${note.id}/stats`);
    expect(stats.body.data.stats.zaps).toBe(expected.reduce((n, r) => n + r.zaps, 0));
    expect(stats.body.data.stats.zapSats).toBe(expected.reduce((n, r) => n + r.sats, 0));
    expect((await get('/api/events/nope/zappers')).status).toBe(400);
  });

  it('the fixtures: every zapped event lists exactly its zap senders, and their sats add up to its stats', async () => {
    // a zap of a profile (no e or a tag) has no event to list it under
    const zapped = [...new Set(facts.filter((f) => f.type === 'zap' && f.zap_sender && (f.target_address ?? f.target_event_id)).map((f) => (f.target_address ?? f.target_event_id)!))];
    expect(zapped.length).toBeGreaterThan(0);
    for (const id of zapped) {
      const rows = (await walk(`/api/events/${encodeURIComponent(id)}/zappers`, 10)) as { pubkey: string; sats: number }[];
      const senders = new Set(facts.filter((f) => f.type === 'zap' && (f.target_address ?? f.target_event_id) === id).map((f) => f.zap_sender));
      expect(new Set(rows.map((r) => r.pubkey))).toEqual(senders);
      if (!id.includes(':')) expect(rows.reduce((n, r) => n + r.sats, 0)).toBe((await get(`/api/events/${id}/stats`)).body.data.stats.zapSats);
    }
  });
});

describe('replaying a fixture file', () => {
  it('duplicated and re-ordered, yields identical facts after compaction', async () => {
    const snapshot = async () => {
      const rows: Fact[] = [];
      for (const key of await pipeline.objects.list('facts/')) rows.push(...(await decodeFacts((await pipeline.objects.get(key))!)));
      return rows.sort((a, b) => (a.event_id < b.event_id ? -1 : 1));
    };
    await pipeline.compact();
    const before = await snapshot();
    const replay = join(dataDir, 'replay.jsonl');
    const lines = loadFixture('thread-and-reactions.jsonl').map((e) => JSON.stringify(['EVENT', 'sub', e]));
    await writeFile(replay, [...lines, ...lines].reverse().join('\n') + '\n');
    const report = await backfill(replay, pipeline);
    expect(report.duplicates).toBe(lines.length);
    await pipeline.compact();
    const after = await snapshot();
    expect(after).toEqual(before);
    expect(new Set(after.map((f) => f.event_id)).size).toBe(after.length);
  });
});

