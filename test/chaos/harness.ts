import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import WebSocket, { WebSocketServer } from 'ws';
import { generateSecretKey } from 'nostr-tools/pure';
import { loadWasmSigner } from '../../lib/nostr/sign.js';
import type { NostrEvent } from '../../lib/nostr/event.js';
import { listen } from '../../lib/util/listen.js';

export const CLI = new URL('../../lib/local/cli/funnel.mjs', import.meta.url).pathname;

/** `funnel local` as its own process, so it can be killed with SIGKILL like a power cut. */
export class StackProcess {
  private child: ChildProcess | undefined;
  private output = '';
  apiUrl = '';

  constructor(
    private readonly dataDir: string,
    private readonly relayUrls: string[],
  ) {}

  async start(timeoutMs = 30_000): Promise<void> {
    this.output = '';
    const child = spawn(process.execPath, [CLI, 'local'], {
      env: { ...process.env, FUNNEL_DATA_DIR: this.dataDir, PORT: '0', RELAY_URLS: this.relayUrls.join(','), FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout!.on('data', (chunk) => (this.output += chunk));
    child.stderr!.on('data', (chunk) => (this.output += chunk));
    const deadline = Date.now() + timeoutMs;
    while (!/API\s+(http:\/\/\S+)/.test(this.output)) {
      if (child.exitCode !== null) throw new Error(`funnel local exited ${child.exitCode}:\n${this.output}`);
      if (Date.now() > deadline) throw new Error(`funnel local did not come up in ${timeoutMs} ms:\n${this.output}`);
      await sleep(50);
    }
    this.apiUrl = /API\s+(http:\/\/\S+)/.exec(this.output)![1]!;
  }

  /** SIGKILL: no flush, no drain, no cleanup. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  /** SIGTERM: the graceful stop. */
  async stop(): Promise<number | null> {
    return this.signal('SIGTERM');
  }

  get log(): string {
    return this.output;
  }

  private async signal(signal: NodeJS.Signals): Promise<number | null> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill(signal);
    return exited;
  }
}

/**
 * A relay that does not check anything (one lax or hostile relay among RELAY_URLS): it answers every
 * subscription with the frames it was given, in order, then EOSE.
 */
export async function startLaxRelay(frames: () => unknown[]): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer();
  const wss = new WebSocketServer({ server });
  wss.on('connection', (socket) => {
    socket.on('message', (data) => {
      const message = JSON.parse(data.toString()) as unknown[];
      if (message[0] !== 'REQ') return;
      for (const event of frames()) socket.send(JSON.stringify(['EVENT', message[1], event]));
      socket.send(JSON.stringify(['EOSE', message[1]]));
    });
  });
  const port = await listen(server, 0, '127.0.0.1');
  return {
    url: `ws://127.0.0.1:${port}`,
    async close() {
      for (const client of wss.clients) client.terminate();
      wss.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Publishes events to a relay over one socket and resolves when the relay has answered every OK. */
export async function publish(relayUrl: string, events: NostrEvent[]): Promise<void> {
  if (!events.length) return;
  const socket = new WebSocket(relayUrl);
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  const pending = new Set(events.map((e) => e.id));
  const done = new Promise<void>((resolve) =>
    socket.on('message', (data) => {
      const [type, id] = JSON.parse(data.toString()) as [string, string];
      if (type === 'OK' && pending.delete(id) && pending.size === 0) resolve();
    }),
  );
  for (const event of events) socket.send(JSON.stringify(['EVENT', event]));
  await done;
  socket.close();
}

/**
 * A small signed social workload around `now`: notes, replies, reactions and reposts among a few
 * users, each engagement aimed at an earlier note. Deterministic in shape, fresh keys each run.
 */
export async function socialWorkload(count: number, nowSeconds: number): Promise<NostrEvent[]> {
  const sign = await loadWasmSigner();
  const users = Array.from({ length: 6 }, () => generateSecretKey());
  const events: NostrEvent[] = [];
  const notes: NostrEvent[] = [];
  for (let i = 0; i < count; i++) {
    const author = users[i % users.length]!;
    // Spread over the last ten minutes: inside the listener's catch-up margin after a restart.
    const created_at = nowSeconds - 600 + Math.floor((i / count) * 590);
    const target = notes[(i * 7) % Math.max(1, notes.length)];
    const shape = !target ? 0 : i % 4;
    const template =
      shape === 0
        ? { kind: 1, created_at, tags: [['t', `tag${i % 3}`]], content: `note ${i}` }
        : shape === 1
          ? { kind: 7, created_at, tags: [['e', target!.id], ['p', target!.pubkey]], content: '+' }
          : shape === 2
            ? { kind: 1, created_at, tags: [['e', target!.id, '', 'root', target!.pubkey], ['p', target!.pubkey]], content: `reply ${i}` }
            : { kind: 6, created_at, tags: [['e', target!.id], ['p', target!.pubkey]], content: '' };
    const event = sign(author, template) as NostrEvent;
    events.push(event);
    if (shape === 0) notes.push(event);
  }
  return events;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

