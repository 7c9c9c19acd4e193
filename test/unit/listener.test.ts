import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import WebSocket from 'ws';
import { finalizeEvent, generateSecretKey } from 'nostr-tools/pure';
import { Relay, useWebSocketImplementation } from 'nostr-tools/relay';
import { Listener, NOTICE_LOG_LINES_PER_MINUTE, NOTICE_MAX_CHARS } from '../../lib/listener/listener.js';
import { LocalQueue } from '../../lib/adapters/local/local-queue.js';
import { MetricsRegistry } from '../../lib/metrics/registry.js';
import { startRelay, type EmbeddedRelay } from '../../lib/local/relay.js';
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

const secretKey = generateSecretKey();
const note = (content: string, createdAt = Math.floor(Date.now() / 1000)) => finalizeEvent({ kind: 1, created_at: createdAt, tags: [], content }, secretKey);

function queuedEvents(queue: LocalQueue): { source: string; id: string }[] {
  return queue.bodies().flatMap((body) => {
    const message = JSON.parse(body) as { source: string; events: { id: string }[] };
    return message.events.map((e) => ({ source: message.source, id: e.id }));
  });
}

async function waitFor(condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function publish(url: string, events: ReturnType<typeof note>[]) {
  const relay = await Relay.connect(url);
  for (const event of events) await relay.publish(event);
  relay.close();
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function makeListener(relays: string[], checkpoints = new MemoryCheckpoints(), queue = new LocalQueue({ visibilityTimeoutMs: 1000, maxReceives: 5 })) {
  const listener = new Listener({ relays, queue, checkpoints, metrics: new MetricsRegistry(), flushIntervalMs: 20, catchUpSeconds: 60, log: () => {} });
  cleanups.push(() => listener.stop());
  return { listener, queue, checkpoints };
}

async function relayOn(port = 0): Promise<EmbeddedRelay> {
  const relay = await startRelay(port);
  cleanups.push(() => relay.close());
  return relay;
}

describe('Listener', () => {
  it('forwards events from every relay once, packed into queue messages, and checkpoints what it sent', async () => {
    const a = await relayOn();
    const b = await relayOn();
    const shared = note('on both relays');
    const onlyB = note('only on b');
    await publish(a.url, [shared]);
    await publish(b.url, [shared, onlyB]);
    const { listener, queue, checkpoints } = makeListener([a.url, b.url]);
    await listener.start();
    await waitFor(() => queuedEvents(queue).length >= 2 && (listener.counts['rejected:duplicate'] ?? 0) >= 1);
    expect(queuedEvents(queue).map((e) => e.id).sort()).toEqual([shared.id, onlyB.id].sort());
    expect(listener.counts['rejected:duplicate']).toBe(1);
    await listener.stop();
    expect(checkpoints.saved.get(b.url)).toBe(onlyB.created_at);
  });

  it('resumes from its checkpoint minus the catch-up margin', async () => {
    const relay = await relayOn();
    const now = Math.floor(Date.now() / 1000);
    const old = note('long before the checkpoint', now - 3600);
    const inMargin = note('just before the checkpoint', now - 30);
    await publish(relay.url, [old, inMargin]);
    const checkpoints = new MemoryCheckpoints();
    await checkpoints.save(relay.url, now);
    const { listener, queue } = makeListener([relay.url], checkpoints);
    await listener.start();
    await waitFor(() => queuedEvents(queue).length >= 1);
    await new Promise((r) => setTimeout(r, 200));
    expect(queuedEvents(queue).map((e) => e.id)).toEqual([inMargin.id]);
  });

  it('counts and drops bad frames without stopping, and keeps reading good events', async () => {
    const good = note('good event after junk');
    const wss = new WebSocketServer({ port: 0 });
    cleanups.push(() => new Promise<void>((r) => wss.close(() => r())));
    wss.on('connection', (socket) => {
      socket.on('message', () => {
        socket.send('this is not json');
        socket.send(JSON.stringify({ not: 'an array' }));
        socket.send(JSON.stringify(['EVENT', 'funnel', { id: 42 }]));
        socket.send(JSON.stringify(['EVENT', 'funnel', { ...good, content: 'x'.repeat(70 * 1024) }]));
        socket.send(JSON.stringify(['EVENT', 'funnel', good]));
        socket.send(JSON.stringify(['EOSE', 'funnel']));
      });
    });
    const url = `ws://127.0.0.1:${(wss.address() as { port: number }).port}`;
    const { listener, queue } = makeListener([url]);
    await listener.start();
    await waitFor(() => queuedEvents(queue).length === 1);
    expect(queuedEvents(queue)[0]!.id).toBe(good.id);
    expect(listener.counts).toMatchObject({ 'rejected:non_json': 1, 'rejected:invalid_frame': 2, 'rejected:oversized': 1 });
  });

  it('forwards a forged copy seen first and the genuine event, and drops only the exact copy', async () => {
    const genuine = note('the genuine text');
    const forged = { ...genuine, content: 'altered by a lax relay' };
    const notices: Record<string, unknown>[] = [];
    const wss = new WebSocketServer({ port: 0 });
    cleanups.push(() => new Promise<void>((r) => wss.close(() => r())));
    wss.on('connection', (socket) => {
      socket.on('message', () => {
        socket.send(JSON.stringify(['EVENT', 'funnel', forged]));
        socket.send(JSON.stringify(['EVENT', 'funnel', genuine]));
        socket.send(JSON.stringify(['EVENT', 'funnel', genuine]));
        for (let i = 0; i < 20; i++) socket.send(JSON.stringify(['NOTICE', 'y'.repeat(10_000)]));
        socket.send(JSON.stringify(['EOSE', 'funnel']));
      });
    });
    const url = `ws://127.0.0.1:${(wss.address() as { port: number }).port}`;
    const listener = new Listener({ relays: [url], queue: new LocalQueue({ visibilityTimeoutMs: 1000, maxReceives: 5 }), checkpoints: new MemoryCheckpoints(), metrics: new MetricsRegistry(), flushIntervalMs: 20, log: (r) => notices.push(r) });
    cleanups.push(() => listener.stop());
    const queue = (listener as unknown as { options: { queue: LocalQueue } }).options.queue;
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
    const now = Math.floor(Date.now() / 1000);
    const events = Array.from({ length: 6 }, (_, i) => note(`event ${i}`, now - 60 + i));
    await publish(relay.url, events);
    const queue = new LocalQueue({ visibilityTimeoutMs: 1000, maxReceives: 5, maxMessages: 0 });
    const checkpoints = new MemoryCheckpoints();
    const listener = new Listener({ relays: [relay.url], queue, checkpoints, metrics: new MetricsRegistry(), flushIntervalMs: 20, maxBufferedEvents: 2, pauseAtEvents: 2, maxHeldEvents: 4, log: () => {} });
    cleanups.push(() => listener.stop());
    await listener.start();
    await waitFor(() => (listener.counts['send_retries'] ?? 0) >= 2);
    expect(checkpoints.saved.get(relay.url)).toBeUndefined();
    expect(listener.isPaused).toBe(true);
    // Room again: everything arrives (the dropped ones by the resubscription), and the checkpoint moves.
    (queue as unknown as { maxMessages: number }).maxMessages = 1000;
    await waitFor(() => new Set(queuedEvents(queue).map((e) => e.id)).size === 6, 20_000);
    await waitFor(() => checkpoints.saved.get(relay.url) === events[5]!.created_at, 20_000);
    expect(listener.isPaused).toBe(false);
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
    // Published while the listener is still disconnected: the resumed subscription must pick it up.
    const after = note('after restart');
    await publish(relay.url, [after]);
    await waitFor(() => queuedEvents(queue).length === 2, 20_000);
    expect(queuedEvents(queue).map((e) => e.id)).toEqual([before.id, after.id]);
    expect(listener.status()[0]!.reconnects).toBeGreaterThanOrEqual(1);
  });
});
