import WebSocket from 'ws';
import type { CheckpointStore, MetricsSink, QueueSender } from '../ports.js';
import { MAX_EVENT_BYTES, packEvents } from '../ingest/message.js';
import { RecentIds } from './recent-ids.js';

export interface ListenerOptions {
  relays: string[];
  queue: QueueSender;
  checkpoints: CheckpointStore;
  metrics: MetricsSink;
  /** re-read this many seconds before the checkpoint on resume: relays deliver out of created_at order */
  catchUpSeconds?: number;
  /** with no checkpoint yet, start this many seconds back */
  initialLookbackSeconds?: number;
  flushIntervalMs?: number;
  maxBufferedEvents?: number;
  recentIdsCapacity?: number;
  log?: (record: Record<string, unknown>) => void;
}

export type FrameRejectReason = 'non_json' | 'invalid_frame' | 'oversized' | 'duplicate';

interface Buffered {
  relay: string;
  json: string;
  createdAt: number;
}

/**
 * Subscribes to every relay, forwards each new event to the ingest queue packed into messages, and
 * checkpoints per relay only what the queue has accepted. Shape checks only: signatures are verified
 * by the ingest function, which scales out.
 */
export class Listener {
  private readonly relays: RelayConnection[];
  private readonly recent: RecentIds;
  private buffer: Buffered[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private stopped = false;
  readonly counts: Record<string, number> = {};

  constructor(private readonly options: ListenerOptions) {
    this.recent = new RecentIds(options.recentIdsCapacity ?? 200_000);
    this.relays = options.relays.map((url) => new RelayConnection(url, this));
  }

  async start(): Promise<void> {
    await Promise.all(this.relays.map((relay) => relay.start()));
    this.flushTimer = setInterval(() => void this.flush(), this.options.flushIntervalMs ?? 250);
  }

  /** Stops reading, sends everything buffered, saves checkpoints. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.flushTimer);
    for (const relay of this.relays) relay.close();
    await this.flush();
    await this.flushing;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  status() {
    return this.relays.map((r) => ({ url: r.url, connected: r.connected, checkpoint: r.checkpoint, reconnects: r.reconnects }));
  }

  count(name: string, reason?: string): void {
    const key = reason ? `${name}:${reason}` : name;
    this.counts[key] = (this.counts[key] ?? 0) + 1;
    // `events_received` → ListenerEventsReceived; rejections carry their Reason.
    const metric = `Listener${name.replace(/(^|_)([a-z])/g, (_m, _s, c: string) => c.toUpperCase())}`;
    this.options.metrics.count(metric, reason ? { Reason: reason } : undefined);
  }

  log(record: Record<string, unknown>): void {
    (this.options.log ?? ((r) => console.log(JSON.stringify(r))))({ component: 'listener', ...record });
  }

  get catchUpSeconds(): number {
    return this.options.catchUpSeconds ?? 600;
  }

  get initialLookbackSeconds(): number {
    return this.options.initialLookbackSeconds ?? 600;
  }

  get checkpoints(): CheckpointStore {
    return this.options.checkpoints;
  }

  /** Takes one raw frame from a relay. Never throws: a bad frame is counted and dropped. */
  onFrame(relay: RelayConnection, data: string): void {
    let frame: unknown;
    try {
      frame = JSON.parse(data);
    } catch {
      this.count('rejected', 'non_json');
      return;
    }
    if (!Array.isArray(frame) || typeof frame[0] !== 'string') {
      this.count('rejected', 'invalid_frame');
      return;
    }
    switch (frame[0]) {
      case 'EVENT': {
        const event = frame[2] as { id?: unknown; created_at?: unknown } | undefined;
        if (!event || typeof event !== 'object' || typeof event.id !== 'string' || typeof event.created_at !== 'number') {
          this.count('rejected', 'invalid_frame');
          return;
        }
        // Size before dedupe: an oversized copy must not mark its id as seen for a valid copy.
        const json = JSON.stringify(event);
        if (data.length > MAX_EVENT_BYTES && Buffer.byteLength(json) > MAX_EVENT_BYTES) {
          this.count('rejected', 'oversized');
          return;
        }
        if (!this.recent.add(event.id)) {
          this.count('rejected', 'duplicate');
          return;
        }
        this.count('events_received');
        this.buffer.push({ relay: relay.url, json, createdAt: event.created_at });
        if (this.buffer.length >= (this.options.maxBufferedEvents ?? 500)) void this.flush();
        return;
      }
      case 'EOSE':
        relay.onEose();
        return;
      case 'NOTICE':
      case 'CLOSED':
        this.log({ level: 'warn', relay: relay.url, msg: `relay said ${frame[0]}`, detail: frame.slice(1) });
        return;
      default:
        return;
    }
  }

  /** Serialised: one flush at a time, in order, so checkpoints only move past enqueued events. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.flushOnce());
    return this.flushing;
  }

  private async flushOnce(): Promise<void> {
    if (!this.buffer.length) return;
    const batch = this.buffer;
    this.buffer = [];
    const byRelay = new Map<string, Buffered[]>();
    for (const item of batch) {
      let list = byRelay.get(item.relay);
      if (!list) byRelay.set(item.relay, (list = []));
      list.push(item);
    }
    for (const [url, items] of byRelay) {
      const { bodies } = packEvents(url, items.map((i) => i.json));
      let pending = bodies;
      for (let attempt = 0; pending.length; attempt++) {
        const { failed } = await this.options.queue.sendBatch(pending);
        pending = failed;
        if (pending.length) {
          this.count('send_retries');
          await sleep(Math.min(5_000, 100 * 2 ** attempt) * Math.random());
        }
      }
      this.count('messages_sent');
      const relay = this.relays.find((r) => r.url === url);
      const maxCreatedAt = Math.max(...items.map((i) => i.createdAt));
      await relay?.advanceCheckpoint(maxCreatedAt);
    }
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One relay's socket, subscription and reconnect state. */
class RelayConnection {
  private socket: WebSocket | undefined;
  private attempts = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private savedCheckpoint: number | null = null;
  checkpoint: number | null = null;
  connected = false;
  reconnects = 0;

  constructor(
    readonly url: string,
    private readonly listener: Listener,
  ) {}

  async start(): Promise<void> {
    this.checkpoint = await this.listener.checkpoints.load(this.url);
    this.savedCheckpoint = this.checkpoint;
    this.connect();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    this.socket?.close();
  }

  private connect(): void {
    if (this.closed) return;
    const nowSeconds = Math.floor(Date.now() / 1000);
    const since = this.checkpoint !== null ? this.checkpoint - this.listener.catchUpSeconds : nowSeconds - this.listener.initialLookbackSeconds;
    // 1 MiB: frames above it close the socket (counted) instead of buffering without bound.
    const socket = new WebSocket(this.url, { maxPayload: 1024 * 1024, handshakeTimeout: 10_000 });
    this.socket = socket;
    socket.on('open', () => {
      this.connected = true;
      socket.send(JSON.stringify(['REQ', 'funnel', { since: Math.max(0, since) }]));
      this.listener.log({ level: 'info', relay: this.url, msg: 'subscribed', since });
    });
    socket.on('message', (data, isBinary) => {
      if (isBinary) {
        this.listener.count('rejected', 'non_json');
        return;
      }
      this.listener.onFrame(this, data.toString());
    });
    socket.on('error', (error) => {
      if ((error as { code?: string }).code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.listener.count('rejected', 'oversized');
      this.listener.log({ level: 'warn', relay: this.url, msg: 'socket error', error: error.message });
    });
    socket.on('close', () => {
      this.connected = false;
      if (this.closed || this.listener.isStopped) return;
      this.scheduleReconnect();
    });
  }

  onEose(): void {
    this.attempts = 0;
  }

  /** Exponential backoff with full jitter, so many listeners do not reconnect in lockstep. */
  private scheduleReconnect(): void {
    const ceiling = Math.min(30_000, 500 * 2 ** this.attempts++);
    const delay = Math.random() * ceiling;
    this.reconnects++;
    this.listener.count('reconnects');
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  async advanceCheckpoint(createdAt: number): Promise<void> {
    // Authors set created_at; never let a future-dated event push the checkpoint past now.
    const capped = Math.min(createdAt, Math.floor(Date.now() / 1000));
    if (this.checkpoint === null || capped > this.checkpoint) this.checkpoint = capped;
    if (this.checkpoint !== this.savedCheckpoint && this.checkpoint !== null) {
      this.savedCheckpoint = this.checkpoint;
      await this.listener.checkpoints.save(this.url, this.checkpoint);
    }
  }
}
