import WebSocket from 'ws';
import type { CheckpointStore, MetricsSink, QueueSender } from '../ports.js';
import { MAX_EVENT_BYTES, packEvents } from '../ingest/message.js';
import { MAX_CREATED_AT_AHEAD_SECONDS, MIN_CREATED_AT } from '../facts/partition.js';
import { RecentEvents, eventDigest } from './recent-ids.js';
import { METRIC } from '../metrics/names.js';
import { createLogger, recordLogger } from '../log.js';

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
/**
 * Default catch-up margin: after a restart or reconnect the listener re-reads every stored event with
 * created_at from this long before its checkpoint. Two days, as the seed plan keeps for back-dated
 * events (imported archives, scheduled posts) published while it was away; replays are dropped by
 * digest here and deduplicated by event id at compaction.
 */
export const LISTENER_CATCH_UP_SECONDS = 2 * 86_400;
/**
 * The `limit` of each catch-up page. Relays cap results per filter below what is asked (strfry 500,
 * @nostr-relay/sqlite 100 by default), so the catch-up pages backwards by `until` instead of trusting
 * one answer to be complete; 500 is strfry's cap, the largest most relays give.
 */
export const CATCH_UP_PAGE_EVENTS = 500;
/** A relay that never ends its live (limit 0) subscription's stored part gets its catch-up after this long. */
export const LIVE_EOSE_WAIT_MS = 5_000;
/**
 * The in-memory checkpoint advances every flush; it is written only when it moved this far (or back, or
 * on stop): the margin re-reads far more than this on a restart, so saving more often buys nothing.
 */
export const CHECKPOINT_SAVE_EVERY_SECONDS = 10;
/** Subscription ids: the live one per connection, and one per catch-up page (both carry the connection). */
export const LIVE_SUBSCRIPTION_PREFIX = 'funnel-live-';
export const CATCH_UP_SUBSCRIPTION_PREFIX = 'funnel-catch-up-';

export interface ListenerOptions {
  relays: string[];
  queue: QueueSender;
  checkpoints: CheckpointStore;
  metrics: MetricsSink;
  /** the catch-up after a restart or reconnect reads from this many seconds before the checkpoint (LISTENER_CATCH_UP_SECONDS) */
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
  /** catch-up page size (CATCH_UP_PAGE_EVENTS) */
  catchUpPageEvents?: number;
  log?: (record: Record<string, unknown>) => void;
}

export type FrameRejectReason = 'non_json' | 'invalid_frame' | 'oversized' | 'duplicate' | 'backpressure';

/** The listener's counters (the keys of `Listener.counts`) and the catalogue metric each is emitted as; `rejected` carries its Reason. */
export const LISTENER_METRICS = {
  events_received: METRIC.listenerEventsReceived,
  rejected: METRIC.listenerRejected,
  messages_sent: METRIC.listenerMessagesSent,
  send_retries: METRIC.listenerSendRetries,
  reconnects: METRIC.listenerReconnects,
  relay_notices: METRIC.listenerRelayNotices,
  catch_up_pages: METRIC.listenerCatchUpPages,
  catch_up_second_steps: METRIC.listenerCatchUpSecondSteps,
} as const;
export type ListenerCount = keyof typeof LISTENER_METRICS;

const defaultLog = recordLogger(createLogger({ component: 'listener' }));

interface Buffered {
  relay: RelayConnection;
  json: string;
  createdAt: number;
}

/**
 * Subscribes to every relay, forwards each new event to the ingest queue packed into messages, and
 * checkpoints per relay only what the queue has accepted. Shape checks only: signatures are verified
 * by the ingest function, which scales out, so duplicates are dropped by a digest of the whole event.
 *
 * Per connection, two subscriptions: a live one with no `since` (`limit: 0`: no stored events, then
 * every newly published event whatever its created_at, so back-dated events are not lost), and a
 * bounded catch-up (`since` = checkpoint − margin, `until` = now) paged backwards and closed on EOSE,
 * for what was published while the listener was away. The checkpoint is a wall-clock second up to
 * which everything the relay delivered has been accepted by the queue (see RelayConnection).
 *
 * Backpressure: while the queue refuses messages the buffer fills and checkpoints stay put; at
 * LISTENER_PAUSE_EVENTS the sockets stop being read (TCP pushes back on the relay). Events still
 * arriving past the hard bound are dropped, the relay's checkpoint is held (and lowered so a restart's
 * re-read reaches the oldest dropped one), and the relay is resubscribed so its catch-up brings them back.
 */
export class Listener {
  private readonly relays: RelayConnection[];
  private readonly recent: RecentEvents;
  private buffer: Buffered[] = [];
  private bufferedBytes = 0;
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
    return this.relays.map((r) => ({ url: r.url, connected: r.connected, catchingUp: r.catchingUp, checkpoint: r.checkpoint, reconnects: r.reconnects }));
  }

  count(name: ListenerCount, reason?: FrameRejectReason): void {
    const key = reason ? `${name}:${reason}` : name;
    this.counts[key] = (this.counts[key] ?? 0) + 1;
    this.options.metrics.count(LISTENER_METRICS[name], reason ? { Reason: reason } : undefined);
  }

  log(record: Record<string, unknown>): void {
    (this.options.log ?? defaultLog)({ component: 'listener', ...record });
  }

  get catchUpSeconds(): number {
    return this.options.catchUpSeconds ?? LISTENER_CATCH_UP_SECONDS;
  }

  get initialLookbackSeconds(): number {
    return this.options.initialLookbackSeconds ?? 600;
  }

  get catchUpPageEvents(): number {
    return this.options.catchUpPageEvents ?? CATCH_UP_PAGE_EVENTS;
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
        // Whatever becomes of the event below, the catch-up's paging saw it.
        relay.onEvent(frame[1], event.created_at);
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
        this.buffer.push({ relay, json, createdAt: event.created_at });
        this.bufferedBytes += bytes;
        if (this.buffer.length >= (this.options.pauseAtEvents ?? LISTENER_PAUSE_EVENTS)) this.setPaused(true);
        if (this.buffer.length >= (this.options.maxBufferedEvents ?? 500)) void this.flush();
        return;
      }
      case 'EOSE':
        // The catch-up's last page: a flush (even of nothing) sends what it brought and moves the checkpoint.
        if (relay.onEose(frame[1])) void this.flush();
        return;
      case 'NOTICE':
      case 'CLOSED': {
        this.count('relay_notices');
        const suppressed = relay.noticeAllowance(Date.now());
        if (suppressed !== null) {
          const detail = JSON.stringify(frame.slice(1));
          this.log({
            level: 'warn',
            relay: relay.url,
            msg: `relay said ${frame[0]}`,
            detail: detail.length > NOTICE_MAX_CHARS ? `${detail.slice(0, NOTICE_MAX_CHARS)}…` : detail,
            ...(suppressed ? { suppressedSinceLast: suppressed } : {}),
          });
        }
        if (frame[0] === 'CLOSED') relay.onClosed(frame[1]);
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
    // Taken with the buffer: once this batch is accepted, everything each relay delivered before now is.
    const nowMs = Date.now();
    const marks = new Map(this.relays.map((relay) => [relay, relay.coverageMark(nowMs)]));
    const batch = this.buffer;
    this.buffer = [];
    this.bufferedBytes = 0;
    const byRelay = new Map<RelayConnection, Buffered[]>();
    for (const item of batch) {
      let list = byRelay.get(item.relay);
      if (!list) byRelay.set(item.relay, (list = []));
      list.push(item);
    }
    for (const relay of this.relays) {
      const items = byRelay.get(relay);
      if (items?.length && !(await this.send(relay, items))) continue;
      await relay.advanceCheckpoint(marks.get(relay)!);
    }
    if (this.buffer.length < (this.options.pauseAtEvents ?? LISTENER_PAUSE_EVENTS) / 2) {
      this.setPaused(false);
      for (const relay of this.relays) relay.resubscribeAfterGap();
    }
  }

  /** true once the queue took every message; false only when stopping gave up on a full queue. */
  private async send(relay: RelayConnection, items: Buffered[]): Promise<boolean> {
    const { bodies } = packEvents(relay.url, items.map((i) => i.json));
    let pending = bodies;
    for (let attempt = 0; pending.length; attempt++) {
      let failed: string[];
      try {
        ({ failed } = await this.options.queue.sendBatch(pending));
      } catch (error) {
        this.log({ level: 'warn', relay: relay.url, msg: 'queue send failed', error });
        failed = pending;
      }
      pending = failed;
      if (pending.length && this.giveUpAt !== undefined && Date.now() > this.giveUpAt) break;
      if (pending.length) {
        this.count('send_retries');
        await sleep(Math.min(5_000, 100 * 2 ** attempt) * Math.random());
      }
    }
    if (pending.length) {
      // Stopping with the queue still full: these were never accepted, so the checkpoint stays before
      // them (lowered, for a back-dated one) and the next start re-reads them.
      this.log({ level: 'warn', relay: relay.url, msg: 'stopped before the queue took every message; the next start re-reads them', messages: pending.length });
      await relay.abandoned(Math.min(...items.map((i) => i.createdAt)));
      return false;
    }
    this.count('messages_sent');
    return true;
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

/** The current catch-up page of a connection, and what it has brought so far. */
interface CatchUpPage {
  id: string;
  number: number;
  since: number;
  until: number;
  /** events of this page within [since, until] (a lax relay may send others) */
  events: number;
  oldest: number | null;
  /** the most events an earlier page of this catch-up brought: the relay's cap is at least that */
  mostPerPage: number;
}

/**
 * One relay's socket, subscriptions and reconnect state.
 *
 * The checkpoint is a wall-clock second: everything this relay delivered before it has been accepted
 * by the queue. It moves only while the current connection has finished its catch-up (its last page's
 * EOSE arrived before the flush that sends what the catch-up brought), has no gap and was open at the
 * moment the flush took the buffer (or, once it closed, up to when it closed). Until the catch-up is
 * done it stays where it was, not even at the catch-up's `until`: a crash mid-catch-up must re-read
 * the whole window again, whose older pages are still unread. A restart reads from checkpoint − margin,
 * so an event dropped (or left unsent at stop) lowers it to that event's created_at + margin.
 */
class RelayConnection {
  private socket: WebSocket | undefined;
  private attempts = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private liveEoseTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private savedCheckpoint: number | null = null;
  private generation = 0;
  private catchUp: CatchUpPage | null = null;
  /** the current connection finished its catch-up */
  private caughtUp = false;
  /** when the current connection closed: coverage stops there */
  private disconnectedAtMs: number | null = null;
  /** created_at of the oldest event dropped for backpressure: the checkpoint is held until a catch-up re-read it */
  private gapFloor: number | null = null;
  private gapGeneration = 0;
  /** stopping left events the queue never took: nothing more may be acknowledged */
  private gaveUp = false;
  private saving: Promise<void> = Promise.resolve();
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

  get catchingUp(): boolean {
    return !this.caughtUp;
  }

  async start(): Promise<void> {
    this.checkpoint = await this.listener.checkpoints.load(this.url);
    this.savedCheckpoint = this.checkpoint;
    this.connect();
  }

  close(): void {
    this.closed = true;
    this.disconnectedAtMs ??= Date.now();
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.liveEoseTimer);
    this.socket?.close();
  }

  private connect(): void {
    if (this.closed) return;
    // 1 MiB: frames above it close the socket (counted) instead of buffering without bound.
    const socket = new WebSocket(this.url, { maxPayload: 1024 * 1024, handshakeTimeout: 10_000 });
    this.socket = socket;
    const generation = ++this.generation;
    this.caughtUp = false;
    this.catchUp = null;
    this.disconnectedAtMs = null;
    clearTimeout(this.liveEoseTimer);
    socket.on('open', () => {
      if (this.socket !== socket) return;
      this.connected = true;
      if (this.listener.isPaused) socket.pause();
      socket.send(JSON.stringify(['REQ', `${LIVE_SUBSCRIPTION_PREFIX}${generation}`, { limit: 0 }]));
      // The catch-up follows the live subscription's EOSE, so an event stored in between is in one or the other.
      this.liveEoseTimer = setTimeout(() => this.startCatchUp(generation), LIVE_EOSE_WAIT_MS);
    });
    socket.on('message', (data, isBinary) => {
      if (isBinary) {
        this.listener.count('rejected', 'non_json');
        return;
      }
      // Frames of a superseded socket still count as delivered events; their EOSEs name an old connection.
      this.listener.onFrame(this, data.toString());
    });
    socket.on('error', (error) => {
      if ((error as { code?: string }).code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.listener.count('rejected', 'oversized');
      this.listener.log({ level: 'warn', relay: this.url, msg: 'socket error', error });
    });
    socket.on('close', () => {
      if (this.socket !== socket) return;
      this.connected = false;
      this.disconnectedAtMs ??= Date.now();
      this.catchUp = null;
      clearTimeout(this.liveEoseTimer);
      if (this.closed || this.listener.isStopped) return;
      this.scheduleReconnect();
    });
  }

  private startCatchUp(generation: number): void {
    clearTimeout(this.liveEoseTimer);
    if (generation !== this.generation || this.catchUp || this.caughtUp || !this.connected) return;
    const nowSeconds = Math.floor(Date.now() / 1000);
    let since = this.checkpoint !== null ? this.checkpoint - this.listener.catchUpSeconds : nowSeconds - this.listener.initialLookbackSeconds;
    if (this.gapFloor !== null) since = Math.min(since, this.gapFloor);
    since = Math.max(0, since);
    // Ingest accepts created_at up to MAX_CREATED_AT_AHEAD_SECONDS ahead (clock skew): read those too.
    const until = nowSeconds + MAX_CREATED_AT_AHEAD_SECONDS;
    this.listener.log({ level: 'info', relay: this.url, msg: 'subscribed', since, until });
    this.requestPage({ id: '', number: 0, since, until, events: 0, oldest: null, mostPerPage: 0 }, until);
  }

  private requestPage(previous: CatchUpPage, until: number): void {
    const number = previous.number + 1;
    const mostPerPage = Math.max(previous.mostPerPage, previous.events);
    const page: CatchUpPage = { id: `${CATCH_UP_SUBSCRIPTION_PREFIX}${this.generation}-${number}`, number, since: previous.since, until, events: 0, oldest: null, mostPerPage };
    this.catchUp = page;
    this.listener.count('catch_up_pages');
    this.socket?.send(JSON.stringify(['REQ', page.id, { since: page.since, until: page.until, limit: this.listener.catchUpPageEvents }]));
  }

  onEvent(subscription: unknown, createdAt: number): void {
    const page = this.catchUp;
    if (!page || subscription !== page.id || createdAt < page.since || createdAt > page.until) return;
    page.events++;
    if (page.oldest === null || createdAt < page.oldest) page.oldest = createdAt;
  }

  /**
   * The catch-up page ended: close it, then ask for the page before it (inclusive `until`, so the
   * boundary second comes again and its copies are dropped by digest), or finish. true when finished.
   */
  onEose(subscription: unknown): boolean {
    if (subscription === `${LIVE_SUBSCRIPTION_PREFIX}${this.generation}`) {
      this.startCatchUp(this.generation);
      return false;
    }
    const page = this.catchUp;
    if (!page || subscription !== page.id) return false;
    this.socket?.send(JSON.stringify(['CLOSE', page.id]));
    if (page.oldest === null) return this.finishCatchUp(page);
    if (page.oldest < page.until) {
      this.requestPage(page, page.oldest);
      return false;
    }
    // A page all in its `until` second. Fewer events than the relay has been seen to give per page:
    // it had room and nothing older, so this was only the boundary again. As many: the relay may have
    // cut the page inside that second, and `until` alone cannot reach past it; step below the second
    // (events of it past the relay's cap are missed, hence the count and the log).
    const mayBeCut = page.events >= this.listener.catchUpPageEvents || (page.events > 1 && page.events >= page.mostPerPage);
    if (!mayBeCut) return this.finishCatchUp(page);
    this.listener.count('catch_up_second_steps');
    this.listener.log({ level: 'warn', relay: this.url, msg: 'a catch-up page was all one second; stepping below it', second: page.until, events: page.events });
    if (page.until - 1 < page.since) return this.finishCatchUp(page);
    this.requestPage(page, page.until - 1);
    return false;
  }

  private finishCatchUp(page: CatchUpPage): boolean {
    this.catchUp = null;
    this.caughtUp = true;
    this.attempts = 0;
    // A gap from an earlier connection is covered: this catch-up started after it, from below it.
    if (this.gapFloor !== null && this.gapGeneration < this.generation) this.gapFloor = null;
    this.listener.log({ level: 'info', relay: this.url, msg: 'caught up', pages: page.number, since: page.since });
    return true;
  }

  /** The relay ended one of this connection's subscriptions: without it nothing is covered, so reconnect (with backoff). */
  onClosed(subscription: unknown): void {
    const ours = subscription === `${LIVE_SUBSCRIPTION_PREFIX}${this.generation}` || subscription === this.catchUp?.id;
    if (ours && !this.closed && !this.listener.isStopped) this.socket?.terminate();
  }

  /** The second the checkpoint may move to once a flush taken now is accepted, or null when it must hold. */
  coverageMark(nowMs: number): number | null {
    if (!this.caughtUp || this.gapFloor !== null || this.gaveUp) return null;
    return Math.floor((this.disconnectedAtMs ?? nowMs) / 1000);
  }

  setPaused(paused: boolean): void {
    if (paused) this.socket?.pause();
    else this.socket?.resume();
  }

  /** An event was dropped for backpressure: hold the checkpoint below it and resubscribe to re-read it. */
  dropped(createdAt: number): void {
    const fresh = this.gapFloor === null || this.gapGeneration !== this.generation;
    // Older than any fact ingest accepts: nothing to re-read below that.
    const floor = Math.max(createdAt, MIN_CREATED_AT);
    this.gapFloor = Math.min(this.gapFloor ?? floor, floor);
    this.gapGeneration = this.generation;
    this.lowerCheckpointFor(floor);
    void this.save();
    if (fresh) this.listener.log({ level: 'warn', relay: this.url, msg: 'buffer full: dropping events; resubscribing from the checkpoint once there is room' });
  }

  /** Stopping gave up on events the queue never took: acknowledge nothing more, and make the next start re-read them. */
  async abandoned(oldestCreatedAt: number): Promise<void> {
    this.gaveUp = true;
    this.lowerCheckpointFor(Math.max(oldestCreatedAt, MIN_CREATED_AT));
    await this.save();
  }

  /** A checkpoint this low makes a restart's catch-up (checkpoint − margin) reach back to createdAt. */
  private lowerCheckpointFor(createdAt: number): void {
    if (this.checkpoint !== null) this.checkpoint = Math.min(this.checkpoint, createdAt + this.listener.catchUpSeconds);
  }

  /**
   * After a gap, once the buffer has room: a new connection, whose catch-up from below the oldest
   * dropped event re-reads what was dropped. Only while the gap is on the current connection: a
   * reconnect since has re-read it already.
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

  /** After a flush accepted everything of this relay it took: move to the flush's mark, if any. */
  async advanceCheckpoint(mark: number | null): Promise<void> {
    if (mark !== null && (this.checkpoint === null || mark > this.checkpoint)) this.checkpoint = mark;
    await this.save();
  }

  /** Saves in order (a lowered checkpoint is saved at once, while a flush may be waiting on the queue). */
  private save(): Promise<void> {
    const checkpoint = this.checkpoint;
    if (checkpoint === null || checkpoint === this.savedCheckpoint) return this.saving;
    const due = this.savedCheckpoint === null || checkpoint < this.savedCheckpoint || checkpoint - this.savedCheckpoint >= CHECKPOINT_SAVE_EVERY_SECONDS || this.listener.isStopped;
    if (!due) return this.saving;
    this.savedCheckpoint = checkpoint;
    this.saving = this.saving
      .then(() => this.listener.checkpoints.save(this.url, checkpoint))
      .catch((error) => {
        // Not fatal: the next save retries; until then a restart re-reads from an older checkpoint.
        if (this.savedCheckpoint === checkpoint) this.savedCheckpoint = null;
        this.listener.log({ level: 'warn', relay: this.url, msg: 'checkpoint save failed', error });
      });
    return this.saving;
  }
}
