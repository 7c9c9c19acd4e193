import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { finalizeEvent, generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import { Relay, useWebSocketImplementation } from 'nostr-tools/relay';
import { startLocalStack, type LocalStack } from '../../lib/local/stack/stack.js';
import { DuckDbSqlEngine, factsRelation } from '../../lib/adapters/local/duckdb-sql-engine.js';
import { fixturePath, loadFixture } from '../support/fixtures.js';

useWebSocketImplementation(WebSocket);
const run = promisify(execFile);
const CLI = new URL('../../lib/local/cli/funnel.mjs', import.meta.url).pathname;

/** `read`'s value once `done` holds, asked again every 100 ms (vi.waitFor); fails with the last value at `ms`. */
const eventually = <T>(read: () => Promise<T>, done: (value: T) => boolean, ms = 15_000): Promise<T> =>
  vi.waitFor(
    async () => {
      const value = await read();
      if (!done(value)) throw new Error(`not yet: ${JSON.stringify(value)?.slice(0, 500)}`);
      return value;
    },
    { timeout: ms, interval: 100 },
  );

const getJson = async (url: string) => (await fetch(url)).json() as Promise<any>;

function stackOn(dataDir: string) {
  return startLocalStack({ dataDir, port: 0, relayPort: 0, simulate: false, batchWindowMs: 20, compactEveryMs: 3_600_000 });
}

describe('the local stack, end to end', () => {
  let dataDir: string;
  let stack: LocalStack;
  const alice = generateSecretKey();
  const bob = generateSecretKey();
  const carol = generateSecretKey();
  const alicePk = getPublicKey(alice);
  const now = Math.floor(Date.now() / 1000);

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'funnel-e2e-'));
    stack = await stackOn(dataDir);
  });
  afterAll(async () => {
    await stack?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('serves /health', async () => {
    expect(await getJson(`${stack.apiUrl}/health`)).toMatchObject({ status: 'ok' });
  });

  it('turns signed events published to the relay into a user summary, and rejects tampered ones', async () => {
    const post = finalizeEvent({ kind: 1, created_at: now - 120, tags: [['t', 'Nostr']], content: 'hello' }, alice);
    const second = finalizeEvent({ kind: 1, created_at: now - 60, tags: [], content: 'again' }, alice);
    const reply = finalizeEvent({ kind: 1, created_at: now - 50, tags: [['e', post.id, '', 'root', alicePk], ['p', alicePk]], content: 'hi alice' }, bob);
    const like = finalizeEvent({ kind: 7, created_at: now - 40, tags: [['e', post.id], ['p', alicePk]], content: '+' }, bob);
    const emoji = finalizeEvent({ kind: 7, created_at: now - 40, tags: [['e', post.id], ['p', alicePk]], content: '🔥' }, carol);
    const repost = finalizeEvent({ kind: 6, created_at: now - 30, tags: [['e', post.id, ''], ['p', alicePk]], content: '' }, carol);
    const zapRequest = finalizeEvent({ kind: 9734, created_at: now - 20, tags: [['p', alicePk], ['e', post.id], ['amount', '21000']], content: '' }, bob);
    const zap = finalizeEvent(
      {
        kind: 9735,
        created_at: now - 20,
        tags: [['p', alicePk], ['P', getPublicKey(bob)], ['e', post.id], ['bolt11', 'lnbc210n1pexample'], ['description', JSON.stringify(zapRequest)]],
        content: '',
      },
      generateSecretKey(),
    );
    const forgedLike = { ...finalizeEvent({ kind: 7, created_at: now - 10, tags: [['e', post.id], ['p', alicePk]], content: '+' }, carol), content: '-' };

    const relay = await Relay.connect(stack.relayUrl!);
    for (const event of [post, second, reply, like, emoji, repost, zap]) await relay.publish(event);
    // The embedded relay refuses forged events, as good relays do; a lax relay would pass them on,
    // so the forgery enters the queue the way such a relay's events would.
    await expect(relay.publish(forgedLike)).rejects.toThrow(/id/);
    relay.close();
    await stack.pipeline.queue.sendBatch([JSON.stringify({ v: 1, source: 'wss://lax.relay', events: [forgedLike] })]);

    const url = `${stack.apiUrl}/api/v2/analytics/user/${alicePk}/summary?interval=24h`;
    const summary = await eventually(() => getJson(url), (s) => s.data?.totals?.zapsReceived === 1);
    expect(summary.data.totals).toEqual({
      posts: 2,
      replies: 0,
      comments: 0,
      videos: 0,
      reactionsReceived: { total: 2, likes: 1, dislikes: 0, emoji: 1 },
      repostsReceived: 1,
      repliesReceived: 1,
      zapsReceived: 1,
      zapSatsReceived: 21,
      // the 21-sat zap: counted live, in its decade of sats
      zapAmounts: [
        { minSats: 0, maxSats: 10, zaps: 0 },
        { minSats: 10, maxSats: 100, zaps: 1 },
        { minSats: 100, maxSats: 1000, zaps: 0 },
        { minSats: 1000, maxSats: 10000, zaps: 0 },
        { minSats: 10000, maxSats: 100000, zaps: 0 },
        { minSats: 100000, maxSats: null, zaps: 0 },
      ],
      // bob (reply, like, zap) and carol (emoji, repost) engaged, but sketches are settled, not live:
      // the engagement is in the live minutes' counts now and in uniqueEngagers (and bob in uniqueZappers) once its hour settles
      uniqueEngagers: 0,
      uniqueZappers: 0,
    });
    expect(summary.meta.source).toBe('canonical+delta');
    expect(summary.meta.freshness.stalenessMs).toBeGreaterThanOrEqual(0);

    const stats = await eventually(() => getJson(`${stack.apiUrl}/api/stats`), (s) => s.data.rejectedByReason.bad_id === 1);
    expect(stats.data).toEqual({ totalEvents: 7, eventsByKind: { '1': 3, '6': 1, '7': 2, '9735': 1 }, rejectedByReason: { bad_id: 1 } });

    const metrics = await (await fetch(`${stack.apiUrl}/metrics`)).text();
    expect(metrics).toContain('funnel_events_rejected_total{reason="bad_id"} 1');

    const bad = await fetch(`${stack.apiUrl}/api/v2/analytics/user/${alicePk}/summary?startTs=10&endTs=5`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toContain('before startTs');
  });

  it('takes first-party app events behind an API key, counts views and daily active users', async () => {
    const video = finalizeEvent({ kind: 34236, created_at: now - 300, tags: [['d', 'clip'], ['title', 'A clip'], ['imeta', 'url https://v.example/c.mp4']], content: '' }, alice);
    const relay = await Relay.connect(stack.relayUrl!);
    await relay.publish(video);
    relay.close();
    const address = `34236:${alicePk}:clip`;
    const post = (body: unknown, key?: string) =>
      fetch(`${stack.apiUrl}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', ...(key ? { 'x-api-key': key } : {}) }, body: JSON.stringify(body) });

    expect((await post({ events: [{ name: 'view', userId: 'u1' }] })).status).toBe(401);
    expect((await post({ events: [{ name: 'view', userId: 'u1' }] }, 'wrong-key-123')).status).toBe(401);
    const response = await post(
      {
        events: [
          { name: 'view', userId: 'u1', target: address, timestamp: now - 60 },
          { name: 'play', userId: 'u2', target: video.id, timestamp: now - 50 },
          { name: 'view', userId: 'u1', target: address, timestamp: now - 60 }, // a retry: the same fact
          { name: 'Bad Name', userId: 'u3' },
          { name: 'signup', userId: 'u3', properties: { plan: 'free' } },
        ],
      },
      'dev-key-local',
    );
    expect(response.status).toBe(202);
    const accepted = ((await response.json()) as { data: { accepted: number; rejected: { index: number; message: string }[] } }).data;
    expect(accepted.accepted).toBe(4);
    expect(accepted.rejected).toEqual([{ index: 3, reason: 'invalid_shape', message: expect.stringContaining('name must be lower-case') }]);

    const stats = await eventually(() => getJson(`${stack.apiUrl}/api/videos/${encodeURIComponent(address)}/stats`), (s) => s.data?.stats?.views === 2);
    expect(stats.data.stats.views).toBe(2);
    const dau = await eventually(
      async () => (await fetch(`${stack.apiUrl}/v1/metrics/daily_active_users?startTime=${now - 86400}`, { headers: { 'x-api-key': 'dev-key-local' } })).json() as Promise<any>,
      (d) => d.data?.total === 3,
    );
    expect(dau.data).toMatchObject({ metric: 'daily_active_users', project: 'demo', total: 3 });
    expect(dau.data.series.reduce((n: number, p: { value: number }) => Math.max(n, p.value), 0)).toBeGreaterThanOrEqual(1);
  });

  it('serves the video feeds: recent, trending, by author and search, without deleted videos', async () => {
    const tagged = finalizeEvent({ kind: 34236, created_at: now - 200, tags: [['d', 'surf'], ['title', 'Surfing at dawn'], ['t', 'Surf'], ['imeta', 'url https://v.example/s.mp4']], content: '' }, bob);
    const doomed = finalizeEvent({ kind: 22, created_at: now - 100, tags: [['title', 'Oops'], ['url', 'https://v.example/o.mp4']], content: '' }, carol);
    const relay = await Relay.connect(stack.relayUrl!);
    await relay.publish(tagged);
    await relay.publish(doomed);
    await relay.publish(finalizeEvent({ kind: 5, created_at: now - 90, tags: [['e', doomed.id]], content: '' }, carol));
    relay.close();

    const recent = await eventually(() => getJson(`${stack.apiUrl}/api/videos?sort=recent&limit=10`), (r) => r.data?.length === 2);
    expect(recent.data.map((v: { title: string }) => v.title)).toEqual(['Surfing at dawn', 'A clip']);
    const trending = await getJson(`${stack.apiUrl}/api/videos?sort=trending`);
    // The clip has two views (app events above); the surf video none yet.
    expect(trending.data[0]).toMatchObject({ title: 'A clip', stats: { views: 2 } });
    expect((await getJson(`${stack.apiUrl}/api/users/${getPublicKey(bob)}/videos`)).data.map((v: { id: string }) => v.id)).toEqual([tagged.id]);
    expect((await getJson(`${stack.apiUrl}/api/search?tag=surf`)).data.map((v: { id: string }) => v.id)).toEqual([tagged.id]);
    expect((await getJson(`${stack.apiUrl}/api/search?q=CLIP`)).data.map((v: { title: string }) => v.title)).toEqual(['A clip']);
    expect((await getJson(`${stack.apiUrl}/api/videos?kind=22`)).data).toEqual([]);
    const bad = await fetch(`${stack.apiUrl}/api/videos?limit=1000`);
    expect(bad.status).toBe(400);
  });

  it('keeps counters and facts across a restart, and DuckDB reads the facts', async () => {
    await stack.stop();
    stack = await stackOn(dataDir);
    const stats = await getJson(`${stack.apiUrl}/api/stats`);
    // 7 Nostr events, the clip, 3 distinct app events, 2 more videos and a deletion.
    expect(stats.data.totalEvents).toBe(14);
    const sql = new DuckDbSqlEngine();
    const rows = await sql.query(`select type, count(distinct event_id) as n from ${factsRelation(dataDir)} group by type order by type`);
    await sql.close();
    expect(rows).toEqual([
      { type: 'app:play', n: '1' },
      { type: 'app:signup', n: '1' },
      { type: 'app:view', n: '1' },
      { type: 'deletion', n: '1' },
      { type: 'note', n: '2' },
      { type: 'reaction', n: '2' },
      { type: 'reply', n: '1' },
      { type: 'repost', n: '1' },
      { type: 'video', n: '3' },
      { type: 'zap', n: '1' },
    ]);
  });
});

describe('funnel backfill and funnel compact, as commands', () => {
  it('load a file into a stopped data dir that a later start serves', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'funnel-backfill-'));
    const env = { ...process.env, FUNNEL_DATA_DIR: dataDir };
    try {
      const events = loadFixture('mixed-kinds.jsonl');
      const unique = new Set(events.map((e) => e.id)).size;
      const { stdout } = await run(process.execPath, [CLI, 'backfill', fixturePath('mixed-kinds.jsonl')], { env });
      const report = JSON.parse(stdout);
      expect(report).toMatchObject({ lines: events.length, accepted: unique, rejected: {}, deadLettered: 0 });

      const compacted = JSON.parse((await run(process.execPath, [CLI, 'compact'], { env })).stdout);
      expect(compacted.outputRows).toBe(unique);

      const stack = await stackOn(dataDir);
      try {
        const stats = await getJson(`${stack.apiUrl}/api/stats`);
        expect(stats.data.totalEvents).toBe(unique);
      } finally {
        await stack.stop();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
