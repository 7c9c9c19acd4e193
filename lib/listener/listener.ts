import WebSocket from 'ws';
import type { CheckpointStore, MetricsSink, QueueSender } from '../ports.js';
import { MAX_EVENT_BYTES, packEvents } from '../ingest/message.js';
import { RecentEvents, eventDigest } from './recent-ids.js';

/** Past this many buffered events (waiting for the queue) the listener stops reading its sockets. */
export const LISTENER_PAUSE_EVENTS = 5_000;
/** Hard bound on the buffer: events past it are dropped, and the relay's checkpoint is held before them. */
export const LISTENER_MAX_BUFFERED_EVENTS = 20_000;
export const LISTENER_MAX_BUFFERED_BYTES = 32 * 1024 * 1024;
/** A relay's NOTICE or CLOSED text is logged up to this many characters... */
export const NOTICE_MAX_CHARS = 256;
/** ...and at most this many lines per relay per minute (the rest are counted). */
export const NOTICE_LOG_LINES_PER_MINUTE = 6;
/** On stop, how long to keep retrying a full queue before leaving the rest to the next start's re-read. */
export const LISTENER_STOP_FLUSH_MS = 15_000;

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
  /** flush as soon as this many events are buffered */
  maxBufferedEvents?: number;
  recentIdsCapacity?: number;
  /** pause reading at this many buffered events (LISTENER_PAUSE_EVENTS) */
  pauseAtEvents?: number;
  /** drop past this many (LISTENER_MAX_BUFFERED_EVENTS) */
  maxHeldEvents?: number;
  stopFlushMs?: number;
  log?: (record: Record<string, unknown>) => void;
}

export type FrameRejectReason = 'non_json' | 'invalid_frame' | 'oversized' | 'duplicate' | 'backpressure';

interface Buffered {
  relay: string;
  json: string;
  createdAt: number;
  /** arrival order, so a relay's gap is cleared only once everything before its re-read is sent */
  seq: number;
}

/**
 * Subscribes to every relay, forwards each new event to the ingest queue packed into messages, and
 * checkpoints per relay only what the queue has accepted. Shape checks only: signatures are verified
 * by the ingest function, which scales out, so duplicates are dropped by a digest of the whole event.
 *
 * Backpressure: while the queue refuses messages the buffer fills and checkpoints stay put; at
 * LISTENER_PAUSE_EVENTS the sockets stop being read (TCP pushes back on the relay). Events still
 * arriving past the hard bound are dropped, the relay's checkpoint is held below the oldest dropped
 * one, and the relay is resubscribed so its re-read brings them back.
 */
export class Listener {
  private readonly relays: RelayConnection[];
  private readonly recent: RecentEvents;
  private buffer: Buffered[] = [];
  private bufferedBytes = 0;
  private seq = 0;
  private paused = false;
  private giveUpAt: number | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private stopped = false;
  readonly counts: Record<string, number> = {};

  constructor(private readonly options: ListenerOptions) {
    this.recent = new RecentEvents(options.recentIdsCapacity ?? 200_000);
    this.relays = options.relays.map((url) => new RelayConnection(url, this));
  }

  async start(): Promise<void> {
    await Promise.all(this.relays.map((relay) => relay.start()));
    this.flushTimer = setInterval(() => void this.flush(), this.options.flushIntervalMs ?? 250);
  }

  /** Stops reading, sends everything buffered, saves checkpoints. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.giveUpAt = Date.now() + (this.options.stopFlushMs ?? LISTENER_STOP_FLUSH_MS);
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
        const event = frame[2] as { id?: unknown; created_at?: unknown } | undefined | null;
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
        const bytes = Buffer.byteLength(json);
        if (this.buffer.length >= (this.options.maxHeldEvents ?? LISTENER_MAX_BUFFERED_EVENTS) || this.bufferedBytes + bytes > LISTENER_MAX_BUFFERED_BYTES) {
          // Before dedupe: a dropped event must not be remembered as seen, or its re-read would be dropped too.
          this.count('rejected', 'backpressure');
          relay.dropped(event.created_at);
          return;
        }
        if (!this.recent.add(eventDigest(event as Record<string, unknown>))) {
          this.count('rejected', 'duplicate');
          return;
        }
        this.count('events_received');
        this.buffer.push({ relay: relay.url, json, createdAt: event.created_at, seq: ++this.seq });
        relay.lastBufferedSeq = this.seq;
        this.bufferedBytes += bytes;
        if (this.buffer.length >= (this.options.pauseAtEvents ?? LISTENER_PAUSE_EVENTS)) this.setPaused(true);
        if (this.buffer.length >= (this.options.maxBufferedEvents ?? 500)) void this.flush();
        return;
      }
      case 'EOSE':
        // A flush (even of nothing) lets a gap the re-read has covered release the checkpoint.
        if (relay.onEose()) void this.flush();
        return;
      case 'NOTICE':
      case 'CLOSED': {
        this.count('relay_notices');
        const suppressed = relay.noticeAllowance(Date.now());
        if (suppressed === null) return;
        const detail = JSON.stringify(frame.slice(1));
        this.log({
          level: 'warn',
          relay: relay.url,
          msg: `relay said ${frame[0]}`,
          detail: detail.length > NOTICE_MAX_CHARS ? `${detail.slice(0, NOTICE_MAX_CHARS)}…` : detail,
          ...(suppressed ? { suppressedSinceLast: suppressed } : {}),
        });
        return;
      }
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
    if (!this.buffer.length) {
      for (const relay of this.relays) await relay.advanceCheckpoint(null, null);
      return;
    }
    const batch = this.buffer;
    this.buffer = [];
    this.bufferedBytes = 0;
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
        let failed: string[];
        try {
          ({ failed } = await this.options.queue.sendBatch(pending));
        } catch (error) {
          this.log({ level: 'warn', relay: url, msg: 'queue send failed', error: String(error) });
          failed = pending;
        }
        pending = failed;
        if (pending.length && this.giveUpAt !== undefined && Date.now() > this.giveUpAt) break;
        if (pending.length) {
          this.count('send_retries');
          await sleep(Math.min(5_000, 100 * 2 ** attempt) * Math.random());
        }
      }
      const relay = this.relays.find((r) => r.url === url);
      if (pending.length) {
        // Stopping with the queue still full: these were never accepted, so the checkpoint stays
        // before them and the next start re-reads them.
        this.log({ level: 'warn', relay: url, msg: 'stopped before the queue took every message; the next start re-reads them', messages: pending.length });
        continue;
      }
      this.count('messages_sent');
      const maxCreatedAt = Math.max(...items.map((i) => i.createdAt));
      await relay?.advanceCheckpoint(maxCreatedAt, Math.max(...items.map((i) => i.seq)));
    }
    if (this.buffer.length < (this.options.pauseAtEvents ?? LISTENER_PAUSE_EVENTS) / 2) {
      this.setPaused(false);
      for (const relay of this.relays) relay.resubscribeAfterGap();
    }
  }

  private setPaused(paused: boolean): void {
    if (this.paused === paused) return;
    this.paused = paused;
    for (const relay of this.relays) relay.setPaused(paused);
  }

  get isPaused(): boolean {
    return this.paused;
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
  /** created_at of the oldest event dropped for backpressure: the checkpoint stays below it until re-read */
  private gapFloor: number | null = null;
  private generation = 0;
  private gapGeneration = 0;
  /** once everything buffered up to this seq is sent, the re-read after the gap has been handed over */
  private gapClearSeq: number | null = null;
  lastBufferedSeq = 0;
  private lastSentSeq = 0;
  private maxSentCreatedAt: number | null = null;
  private noticeWindowStart = 0;
  private noticeLines = 0;
  private noticesSuppressed = 0;
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
    this.generation++;
    socket.on('open', () => {
      this.connected = true;
      if (this.listener.isPaused) socket.pause();
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
      if (this.socket !== socket) return;
      this.scheduleReconnect();
    });
  }

  /** true when a gap is now waiting only for what is buffered to be sent */
  onEose(): boolean {
    this.attempts = 0;
    if (this.gapFloor === null || this.generation <= this.gapGeneration) return false;
    this.gapClearSeq = this.lastBufferedSeq;
    return true;
  }

  setPaused(paused: boolean): void {
    if (paused) this.socket?.pause();
    else this.socket?.resume();
  }

  /** An event was dropped for backpressure: hold the checkpoint below it and resubscribe to re-read it. */
  dropped(createdAt: number): void {
    const fresh = this.gapFloor === null || this.gapGeneration !== this.generation;
    this.gapFloor = Math.min(this.gapFloor ?? createdAt, createdAt);
    this.gapGeneration = this.generation;
    this.gapClearSeq = null;
    if (fresh) this.listener.log({ level: 'warn', relay: this.url, msg: 'buffer full: dropping events; resubscribing from the checkpoint once there is room' });
  }

  /**
   * After a gap, once the buffer has room: a new subscription from the held checkpoint re-reads what was
   * dropped. Only while the gap is on the current connection: a reconnect since has re-read it already.
   */
  resubscribeAfterGap(): void {
    if (this.gapFloor === null || this.gapGeneration !== this.generation || this.closed || this.listener.isStopped) return;
    const old = this.socket;
    this.connect();
    old?.terminate();
  }

  /** null when this NOTICE/CLOSED line is over the per-minute budget, else how many were suppressed before it. */
  noticeAllowance(nowMs: number): number | null {
    if (nowMs - this.noticeWindowStart >= 60_000) {
      this.noticeWindowStart = nowMs;
      this.noticeLines = 0;
    }
    if (this.noticeLines >= NOTICE_LOG_LINES_PER_MINUTE) {
      this.noticesSuppressed++;
      return null;
    }
    this.noticeLines++;
    const suppressed = this.noticesSuppressed;
    this.noticesSuppressed = 0;
    return suppressed;
  }

  /** Exponential backoff with full jitter, so many listeners do not reconnect in lockstep. */
  private scheduleReconnect(): void {
    const ceiling = Math.min(30_000, 500 * 2 ** this.attempts++);
    const delay = Math.random() * ceiling;
    this.reconnects++;
    this.listener.count('reconnects');
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  /** After a send of events up to `sentSeq` (or, with nulls, just to release a gap the re-read covered). */
  async advanceCheckpoint(createdAt: number | null, sentSeq: number | null): Promise<void> {
    if (sentSeq !== null) this.lastSentSeq = Math.max(this.lastSentSeq, sentSeq);
    if (createdAt !== null) this.maxSentCreatedAt = Math.max(this.maxSentCreatedAt ?? createdAt, createdAt);
    if (this.gapClearSeq !== null && this.lastSentSeq >= this.gapClearSeq) {
      this.gapFloor = null;
      this.gapClearSeq = null;
    }
    if (this.maxSentCreatedAt === null) return;
    // Authors set created_at; never let a future-dated event push the checkpoint past now, nor past a gap.
    let capped = Math.min(this.maxSentCreatedAt, Math.floor(Date.now() / 1000));
    if (this.gapFloor !== null) capped = Math.min(capped, this.gapFloor - 1);
    if (this.checkpoint === null || capped > this.checkpoint) this.checkpoint = capped;
    if (this.checkpoint !== this.savedCheckpoint && this.checkpoint !== null) {
      this.savedCheckpoint = this.checkpoint;
      await this.listener.checkpoints.save(this.url, this.checkpoint);
    }
  }
}
