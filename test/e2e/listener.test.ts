import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import WebSocket from 'ws';
import { finalizeEvent, generateSecretKey } from 'nostr-tools/pure';
import { Relay, useWebSocketImplementation } from 'nostr-tools/relay';
import {
  CATCH_UP_PAGE_EVENTS,
  CATCH_UP_SUBSCRIPTION_PREFIX,
  LISTENER_CATCH_UP_SECONDS,
  LIVE_SUBSCRIPTION_PREFIX,
  Listener,
  NOTICE_LOG_LINES_PER_MINUTE,
  NOTICE_MAX_CHARS,
  type ListenerOptions,
} from '../../lib/listener/listener.js';
import { listenerEnvSchema } from '../../functions/listener/env.js';
import { MAX_CREATED_AT_AHEAD_SECONDS } from '../../lib/facts/partition.js';
import { LocalQueue } from '../../lib/adapters/local/local-queue.js';
import { MetricsRegistry } from '../../lib/metrics/registry.js';
import { startRelay, type EmbeddedRelay } from '../../lib/local/stack/relay.js';
import type { CheckpointStore } from '../../lib/ports.js';

useWebSocketImplementation(WebSocket);

class MemoryCheckpoints implements CheckpointStore {
  readonly saved = new Map<string, number>();
  async load(relay: string) {
    return this.saved.get(relay) ?? null;
  }
  async save(relay: string, createdAt: number) {
    this.saved.set(relay, createdAt);
  }
}

type Note = ReturnType<typeof note>;
const secretKey = generateSecretKey();
const nowSeconds = () => Math.floor(Date.now() / 1000);
const note = (content: string, createdAt = nowSeconds()) => finalizeEvent({ kind: 1, created_at: createdAt, tags: [], content }, secretKey);
const DAY = 86_400;

function queuedEvents(queue: LocalQueue): { source: string; id: string }[] {
  return queue.bodies().flatMap((body) => {
    const message = JSON.parse(body) as { source: string; events: { id: string }[] };
    return message.events.map((e) => ({ source: message.source, id: e.id }));
  });
}
const queuedIds = (queue: LocalQueue) => new Set(queuedEvents(queue).map((e) => e.id));

const waitFor = (condition: () => boolean, ms = 10_000) => expect.poll(condition, { timeout: ms, interval: 20 }).toBe(true);

async function publish(url: string, events: Note[]) {
  const relay = await Relay.connect(url);
  for (const event of events) await relay.publish(event);
  relay.close();
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const newQueue = (maxMessages?: number) => new LocalQueue({ visibilityTimeoutMs: 1000, maxReceives: 5, maxMessages });
const setQueueRoom = (queue: LocalQueue, maxMessages: number) => ((queue as unknown as { maxMessages: number }).maxMessages = maxMessages);

function makeListener(relays: string[], checkpoints = new MemoryCheckpoints(), queue = newQueue(), options: Partial<ListenerOptions> = {}) {
  const listener = new Listener({ relays, queue, checkpoints, metrics: new MetricsRegistry(), flushIntervalMs: 20, catchUpSeconds: 60, log: () => {}, ...options });
  cleanups.push(() => listener.stop());
  return { listener, queue, checkpoints };
}

async function relayOn(port = 0): Promise<EmbeddedRelay> {
  const relay = await startRelay(port);
  cleanups.push(() => relay.close());
  return relay;
}

interface Filter {
  since?: number;
  until?: number;
  limit?: number;
}
interface Req {
  id: string;
  filter: Filter;
  socket: WebSocket;
  /** 0 for the first REQ on any socket of this relay */
  n: number;
}

/**
 * A scripted relay: records every message the listener sends, and answers each REQ with the frames
 * `answer` returns followed by EOSE, or with nothing when it returns 'hold' (the test answers later).
 */
async function fakeRelay(answer: (req: Req) => unknown[] | 'hold' = () => []) {
  const wss = new WebSocketServer({ port: 0 });
  cleanups.push(() => new Promise<void>((r) => wss.close(() => r())));
  const received: unknown[][] = [];
  let n = 0;
  wss.on('connection', (socket) => {
    socket.on('message', (data) => {
      const message = JSON.parse(data.toString()) as unknown[];
      received.push(message);
      if (message[0] !== 'REQ') return;
      const req = { id: message[1] as string, filter: message[2] as Filter, socket, n: n++ };
      const frames = answer(req);
      if (frames === 'hold') return;
      for (const frame of frames) socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
      socket.send(JSON.stringify(['EOSE', req.id]));
    });
  });
  const url = `ws://127.0.0.1:${(wss.address() as { port: number }).port}`;
  const reqs = () => received.filter((m) => m[0] === 'REQ') as [string, string, Filter][];
  return { url, received, reqs, wss };
}

/** A relay holding `events` that answers filters the way strfry does: newest first, at most `cap` per filter. */
function cappedAnswer(events: Note[], cap: number) {
  return (req: Req): unknown[] => {
    const { since = 0, until = Infinity, limit = Infinity } = req.filter;
    if (req.id.startsWith(LIVE_SUBSCRIPTION_PREFIX)) return [];
    return events
      .filter((e) => e.created_at >= since && e.created_at <= until)
      .sort((a, b) => b.created_at - a.created_at)
      .slice(0, Math.min(cap, limit))
      .map((e) => ['EVENT', req.id, e]);
  };
}

describe('Listener', () => {
  it('forwards events from every relay once, packed into queue messages, and checkpoints a wall-clock second', async () => {
    const a = await relayOn();
    const b = await relayOn();
    const shared = note('on both relays');
    const onlyB = note('only on b');
    await publish(a.url, [shared]);
    await publish(b.url, [shared, onlyB]);
    const { listener, queue, checkpoints } = makeListener([a.url, b.url]);
    const started = nowSeconds();
    await listener.start();
    await waitFor(() => queuedEvents(queue).length >= 2 && listener.status().every((r) => !r.catchingUp));
    expect(queuedEvents(queue).map((e) => e.id).sort()).toEqual([shared.id, onlyB.id].sort());
    // The second relay's copy, and the catch-up's boundary second read again by its next page.
    expect(listener.counts['rejected:duplicate']).toBeGreaterThanOrEqual(1);
    await listener.stop();
    expect(checkpoints.saved.get(b.url)).toBeGreaterThanOrEqual(started);
    expect(checkpoints.saved.get(b.url)).toBeLessThanOrEqual(nowSeconds());
  });

  it('subscribes live with limit 0 and no since, then catches up from checkpoint − margin to now in a bounded page, closed on EOSE', async () => {
    const relay = await fakeRelay();
    const checkpoint = nowSeconds() - 1000;
    const checkpoints = new MemoryCheckpoints();
    await checkpoints.save(relay.url, checkpoint);
    const { listener } = makeListener([relay.url], checkpoints, newQueue(), { catchUpSeconds: 600 });
    await listener.start();
    await waitFor(() => relay.received.some((m) => m[0] === 'CLOSE'));
    const [live, catchUp, close] = relay.received as [string, string, Filter][];
    expect(live).toEqual(['REQ', `${LIVE_SUBSCRIPTION_PREFIX}1`, { limit: 0 }]);
    expect(catchUp[0]).toBe('REQ');
    expect(catchUp[1]).toBe(`${CATCH_UP_SUBSCRIPTION_PREFIX}1-1`);
    expect(catchUp[2]).toEqual({ since: checkpoint - 600, until: expect.any(Number), limit: CATCH_UP_PAGE_EVENTS });
    // until = now, plus the clock skew ingest accepts
    expect(catchUp[2].until! - MAX_CREATED_AT_AHEAD_SECONDS).toBeGreaterThanOrEqual(nowSeconds() - 5);
    expect(catchUp[2].until! - MAX_CREATED_AT_AHEAD_SECONDS).toBeLessThanOrEqual(nowSeconds());
    expect(close).toEqual(['CLOSE', `${CATCH_UP_SUBSCRIPTION_PREFIX}1-1`]);
    await waitFor(() => listener.status()[0]!.catchingUp === false);
    expect(relay.received).toHaveLength(3);
  });

  it('with no checkpoint, catches up over the initial lookback', async () => {
    const relay = await fakeRelay();
    const { listener } = makeListener([relay.url], undefined, undefined, { initialLookbackSeconds: 3600 });
    const started = nowSeconds();
    await listener.start();
    await waitFor(() => relay.reqs().length === 2);
    const since = relay.reqs()[1]![2].since!;
    expect(since).toBeGreaterThanOrEqual(started - 3600);
    expect(since).toBeLessThanOrEqual(nowSeconds() - 3600);
  });

  it('defaults the catch-up margin to two days, and CATCH_UP_SECONDS too', () => {
    expect(LISTENER_CATCH_UP_SECONDS).toBe(172_800);
    const env = listenerEnvSchema.parse({ RELAY_URLS: 'wss://relay.example', QUEUE_URL: 'https://sqs.example/q', COUNTERS_TABLE: 't' });
    expect(env.CATCH_UP_SECONDS).toBe(172_800);
    expect(listenerEnvSchema.safeParse({ RELAY_URLS: 'wss://relay.example', QUEUE_URL: 'https://sqs.example/q', COUNTERS_TABLE: 't', CATCH_UP_SECONDS: '-1' }).success).toBe(false);
  });

  it('receives an event back-dated by three days that is published while it runs', async () => {
    const relay = await relayOn();
    const { listener, queue } = makeListener([relay.url]);
    await listener.start();
    await waitFor(() => !listener.status()[0]!.catchingUp);
    const backdated = note('an imported archive post', nowSeconds() - 3 * DAY);
    await publish(relay.url, [backdated]);
    await waitFor(() => queuedIds(queue).has(backdated.id));
  });

  it('resumes from its checkpoint minus the catch-up margin', async () => {
    const relay = await relayOn();
    const now = nowSeconds();
    const old = note('long before the checkpoint', now - 3600);
    const inMargin = note('just before the checkpoint', now - 30);
    await publish(relay.url, [old, inMargin]);
    const checkpoints = new MemoryCheckpoints();
    await checkpoints.save(relay.url, now);
    const { listener, queue } = makeListener([relay.url], checkpoints);
    await listener.start();
    await waitFor(() => !listener.status()[0]!.catchingUp && queuedEvents(queue).length >= 1);
    // The catch-up is over (its events come before its EOSE): once what is buffered is sent, the queue is all it brought.
    await listener.flush();
    expect(queuedEvents(queue).map((e) => e.id)).toEqual([inMargin.id]);
  });

  it('pages the catch-up backwards past a relay that caps each answer below the page size', async () => {
    const now = nowSeconds();
    // 11 events; two share the second at the first page's boundary, so its copies come twice.
    const events = Array.from({ length: 10 }, (_, i) => note(`event ${i}`, now - 100 + i * 5));
    events.push(note('same second as event 6', events[6]!.created_at));
    const relay = await fakeRelay(cappedAnswer(events, 5));
    const checkpoints = new MemoryCheckpoints();
    await checkpoints.save(relay.url, now);
    const { listener, queue } = makeListener([relay.url], checkpoints, newQueue(), { catchUpSeconds: 600 });
    await listener.start();
    await waitFor(() => !listener.status()[0]!.catchingUp);
    await waitFor(() => queuedIds(queue).size === 11);
    const pages = relay.reqs().slice(1);
    // until steps to the oldest created_at of each page; the last page brings only its boundary again.
    expect(pages.map((p) => p[2].until)).toEqual([pages[0]![2].until, events[6]!.created_at, events[3]!.created_at, events[0]!.created_at]);
    expect(pages.every((p) => p[2].since === now - 600 && p[2].limit === CATCH_UP_PAGE_EVENTS)).toBe(true);
    expect(relay.received.filter((m) => m[0] === 'CLOSE').map((m) => m[1])).toEqual(pages.map((p) => p[1]));
    expect(listener.counts['catch_up_pages']).toBe(4);
    expect(listener.counts['catch_up_second_steps']).toBeUndefined();
  });

  it('pages the real relay by a small page size and misses nothing at the page boundaries', async () => {
    const relay = await relayOn();
    const now = nowSeconds();
    const events = Array.from({ length: 9 }, (_, i) => note(`paged ${i}`, now - 300 + Math.floor(i / 2) * 10));
    await publish(relay.url, events);
    const checkpoints = new MemoryCheckpoints();
    await checkpoints.save(relay.url, now);
    const { listener, queue } = makeListener([relay.url], checkpoints, newQueue(), { catchUpSeconds: 600, catchUpPageEvents: 3 });
    await listener.start();
    await waitFor(() => !listener.status()[0]!.catchingUp);
    await waitFor(() => queuedIds(queue).size === 9);
    expect(listener.counts['catch_up_pages']).toBeGreaterThanOrEqual(4);
  });

  it('steps below a page made entirely of one second, and counts it', async () => {
    const now = nowSeconds();
    const crowded = Array.from({ length: 7 }, (_, i) => note(`crowded ${i}`, now - 50));
    const older = note('older than the crowded second', now - 80);
    const logs: Record<string, unknown>[] = [];
    const relay = await fakeRelay(cappedAnswer([...crowded, older], 4));
    const checkpoints = new MemoryCheckpoints();
    await checkpoints.save(relay.url, now);
    const { listener, queue } = makeListener([relay.url], checkpoints, newQueue(), { catchUpSeconds: 600, log: (r) => logs.push(r) });
    await listener.start();
    await waitFor(() => !listener.status()[0]!.catchingUp);
    await waitFor(() => queuedIds(queue).has(older.id));
    const untils = relay.reqs().slice(1).map((p) => p[2].until);
    // Page 2 (until = the crowded second) is that second only, as full as page 1: the relay may have cut
    // it there, so page 3 steps below it and finds the older event; page 4 is only its boundary again.
    expect(untils.slice(1)).toEqual([now - 50, now - 51, now - 80]);
    expect(listener.counts['catch_up_second_steps']).toBe(1);
    expect(logs.some((r) => r.msg === 'a catch-up page was all one second; stepping below it' && r.second === now - 50)).toBe(true);
    // The relay's cap hid 3 events of that second: the documented cost of the guard.
    expect(queuedIds(queue).size).toBe(5);
  });

  it('holds the checkpoint until the catch-up has reached its final EOSE and the queue took what it brought; wall-clock afterwards', async () => {
    const held: Req[] = [];
    const relay = await fakeRelay((req) => {
      if (req.id.startsWith(LIVE_SUBSCRIPTION_PREFIX)) return [];
      held.push(req);
      return 'hold';
    });
    const checkpoint = nowSeconds() - 100;
    const checkpoints = new MemoryCheckpoints();
    await checkpoints.save(relay.url, checkpoint);
    const queue = newQueue();
    const { listener } = makeListener([relay.url], checkpoints, queue, { catchUpSeconds: 600 });
    const started = nowSeconds();
    await listener.start();
    await waitFor(() => held.length === 1);
    const live = note('live while catching up');
    held[0]!.socket.send(JSON.stringify(['EVENT', `${LIVE_SUBSCRIPTION_PREFIX}1`, live]));
    await waitFor(() => queuedIds(queue).has(live.id));
    // A flush is where the checkpoint moves: after one more, sent, but the catch-up has not finished: not even its `until`, nor the wall clock.
    await listener.flush();
    expect(listener.status()[0]!.checkpoint).toBe(checkpoint);

    // The last page ends while the queue refuses: what it brought is not accepted yet, so still held.
    setQueueRoom(queue, 0);
    const caughtUp = note('published while away', checkpoint - 50);
    held[0]!.socket.send(JSON.stringify(['EVENT', held[0]!.id, caughtUp]));
    held[0]!.socket.send(JSON.stringify(['EOSE', held[0]!.id]));
    await waitFor(() => held.length === 2);
    held[1]!.socket.send(JSON.stringify(['EOSE', held[1]!.id]));
    await waitFor(() => !listener.status()[0]!.catchingUp);
    await waitFor(() => (listener.counts['send_retries'] ?? 0) >= 1);
    expect(listener.status()[0]!.checkpoint).toBe(checkpoint);
    expect(checkpoints.saved.get(relay.url)).toBe(checkpoint);

    setQueueRoom(queue, 1000);
    await waitFor(() => queuedIds(queue).has(caughtUp.id));
    await waitFor(() => (listener.status()[0]!.checkpoint ?? 0) >= started);
    expect(checkpoints.saved.get(relay.url)).toBeGreaterThanOrEqual(started);
    // With nothing to send, it keeps up with the wall clock (saved every CHECKPOINT_SAVE_EVERY_SECONDS, and on stop).
    const first = listener.status()[0]!.checkpoint!;
    await waitFor(() => listener.status()[0]!.checkpoint! > first, 3_000);
    expect(listener.status()[0]!.checkpoint!).toBeLessThanOrEqual(nowSeconds());
    await listener.stop();
    expect(checkpoints.saved.get(relay.url)).toBe(listener.status()[0]!.checkpoint);
  });

  it('answers a CLOSED catch-up by reconnecting, and catches up on the next connection', async () => {
    const relay = await fakeRelay((req) => {
      if (req.id.startsWith(LIVE_SUBSCRIPTION_PREFIX) || req.n > 1) return [];
      req.socket.send(JSON.stringify(['CLOSED', req.id, 'rate-limited: slow down']));
      return 'hold';
    });
    const { listener } = makeListener([relay.url]);
    await listener.start();
    await waitFor(() => !listener.status()[0]!.catchingUp, 15_000);
    expect(listener.status()[0]!.reconnects).toBe(1);
    expect(relay.reqs().map((r) => r[1])).toEqual([`${LIVE_SUBSCRIPTION_PREFIX}1`, `${CATCH_UP_SUBSCRIPTION_PREFIX}1-1`, `${LIVE_SUBSCRIPTION_PREFIX}2`, `${CATCH_UP_SUBSCRIPTION_PREFIX}2-1`]);
  });

  it('counts and drops bad frames without stopping, and keeps reading good events', async () => {
    const good = note('good event after junk');
    const relay = await fakeRelay((req) =>
      req.n === 0
        ? [
            'this is not json',
            { not: 'an array' },
            ['EVENT', req.id, { id: 42 }],
            ['EVENT', req.id, { ...good, content: 'x'.repeat(70 * 1024) }],
            ['EVENT', req.id, good],
          ]
        : [],
    );
    const { listener, queue } = makeListener([relay.url]);
    await listener.start();
    await waitFor(() => queuedEvents(queue).length === 1);
    expect(queuedEvents(queue)[0]!.id).toBe(good.id);
    expect(listener.counts).toMatchObject({ 'rejected:non_json': 1, 'rejected:invalid_frame': 2, 'rejected:oversized': 1 });
  });

  it('forwards a forged copy seen first and the genuine event, and drops only the exact copy', async () => {
    const genuine = note('the genuine text');
    const forged = { ...genuine, content: 'altered by a lax relay' };
    const notices: Record<string, unknown>[] = [];
    const relay = await fakeRelay((req) =>
      req.n === 0 ? [['EVENT', req.id, forged], ['EVENT', req.id, genuine], ['EVENT', req.id, genuine], ...Array.from({ length: 20 }, () => ['NOTICE', 'y'.repeat(10_000)])] : [],
    );
    const { listener, queue } = makeListener([relay.url], undefined, undefined, { log: (r) => notices.push(r) });
    await listener.start();
    await waitFor(() => queuedEvents(queue).length === 2 && (listener.counts['relay_notices'] ?? 0) === 20);
    const contents = queue.bodies().flatMap((b) => (JSON.parse(b) as { events: { content: string }[] }).events.map((e) => e.content));
    expect(contents).toEqual(['altered by a lax relay', 'the genuine text']);
    expect(listener.counts['rejected:duplicate']).toBe(1);
    // NOTICE text is cut to a bound and at most NOTICE_LOG_LINES_PER_MINUTE lines are logged per relay.
    const logged = notices.filter((r) => r.msg === 'relay said NOTICE');
    expect(logged).toHaveLength(NOTICE_LOG_LINES_PER_MINUTE);
    expect(Math.max(...logged.map((r) => String(r.detail).length))).toBeLessThanOrEqual(NOTICE_MAX_CHARS + 1);
  });

  it('holds its checkpoint while the queue refuses messages, pauses reading, and delivers once there is room', async () => {
    const relay = await relayOn();
    const now = nowSeconds();
    const events = Array.from({ length: 6 }, (_, i) => note(`event ${i}`, now - 60 + i));
    await publish(relay.url, events);
    const queue = newQueue(0);
    const { listener, checkpoints } = makeListener([relay.url], undefined, queue, { maxBufferedEvents: 2, pauseAtEvents: 2, maxHeldEvents: 4, catchUpSeconds: undefined });
    await listener.start();
    await waitFor(() => (listener.counts['send_retries'] ?? 0) >= 2);
    expect(checkpoints.saved.get(relay.url)).toBeUndefined();
    expect(listener.isPaused).toBe(true);
    // Room again: everything arrives (the dropped ones by the resubscription), and the checkpoint moves.
    setQueueRoom(queue, 1000);
    await waitFor(() => queuedIds(queue).size === 6, 20_000);
    await waitFor(() => checkpoints.saved.get(relay.url) !== undefined, 20_000);
    expect(listener.isPaused).toBe(false);
  });

  it('holds (and lowers) the checkpoint over a gap, and its re-read brings back a dropped back-dated event', async () => {
    const relay = await relayOn();
    const checkpoints = new MemoryCheckpoints();
    const queue = newQueue();
    const { listener } = makeListener([relay.url], checkpoints, queue, { maxBufferedEvents: 1000, pauseAtEvents: 1000, maxHeldEvents: 3 });
    const started = nowSeconds();
    await listener.start();
    await waitFor(() => checkpoints.saved.get(relay.url) !== undefined);
    const before = listener.status()[0]!.checkpoint!;
    expect(before).toBeGreaterThanOrEqual(started);

    setQueueRoom(queue, 0);
    // One batch stuck in the flush's retries, then one more than the buffer holds: it is full.
    const recent = Array.from({ length: 5 }, (_, i) => note(`fills the buffer ${i}`));
    await publish(relay.url, recent.slice(0, 1));
    await waitFor(() => (listener.counts['send_retries'] ?? 0) >= 1);
    await publish(relay.url, recent.slice(1));
    await waitFor(() => (listener.counts['rejected:backpressure'] ?? 0) >= 1);
    const backdated = note('dropped, back-dated by three days', nowSeconds() - 3 * DAY);
    await publish(relay.url, [backdated]);
    await waitFor(() => (listener.counts['rejected:backpressure'] ?? 0) >= 2);
    // Held, and lowered so that even a restart's catch-up (checkpoint − 60 s) reaches the dropped one: at once in memory, and saved.
    expect(listener.status()[0]!.checkpoint).toBe(backdated.created_at + 60);
    await expect.poll(() => checkpoints.saved.get(relay.url), { timeout: 5_000, interval: 10 }).toBe(backdated.created_at + 60);
    expect(listener.status()[0]!.checkpoint).toBe(backdated.created_at + 60);

    setQueueRoom(queue, 1000);
    await waitFor(() => queuedIds(queue).has(backdated.id) && recent.every((e) => queuedIds(queue).has(e.id)), 20_000);
    await waitFor(() => (listener.status()[0]!.checkpoint ?? 0) >= before, 20_000);
    expect(listener.status()[0]!.reconnects).toBe(0);
  });

  it('reconnects after the relay restarts and loses no event published across the restart', async () => {
    let relay = await startRelay(0);
    const port = relay.port;
    const before = note('before restart');
    await publish(relay.url, [before]);
    const { listener, queue } = makeListener([relay.url]);
    await listener.start();
    await waitFor(() => queuedEvents(queue).length === 1);
    await relay.close();
    relay = await startRelay(port);
    cleanups.push(() => relay.close());
    // Published while the listener is still disconnected: the resumed catch-up must pick it up.
    const after = note('after restart');
    await publish(relay.url, [after]);
    await waitFor(() => queuedEvents(queue).length === 2, 20_000);
    expect(queuedEvents(queue).map((e) => e.id)).toEqual([before.id, after.id]);
    expect(listener.status()[0]!.reconnects).toBeGreaterThanOrEqual(1);
  });
});
