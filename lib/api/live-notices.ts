/**
 * Notices that new data is readable, for live dashboards (`GET /api/analytics/stream`, Server-Sent
 * Events). The local stack publishes one when a live batch is counted, a compaction settles or the
 * feeds are recomputed; the page re-fetches what it shows (with If-None-Match). A notice carries no
 * data, only what moved, so a client that misses one loses nothing but a few seconds.
 *
 * In AWS there is no publisher (API Gateway and Lambda cannot hold a stream open): the route answers
 * 404 there and the page polls instead (docs/deploy.md).
 */
export const NOTICE_TOPICS = ['counted', 'settled', 'feeds'] as const;
export type NoticeTopic = (typeof NOTICE_TOPICS)[number];

export interface LiveNotice {
  topic: NoticeTopic;
  /** ISO time the notice was sent */
  at: string;
}

/** What the stream route and the HTTP server need: someone to listen to. */
export interface LiveNoticeSource {
  subscribe(listener: (notice: LiveNotice) => void): () => void;
  readonly subscribers: number;
}

/** How often one topic is sent at most: the live queue flushes every half second, a page re-fetches at most about once a second. */
export const NOTICE_MIN_INTERVAL_MS = 1_000;

/**
 * Fans notices out to subscribers, at most one per topic per `minIntervalMs`: a notice inside that
 * interval is held and sent when it ends (so the last change is always announced, never dropped).
 */
export class LiveNotices implements LiveNoticeSource {
  private readonly listeners = new Set<(notice: LiveNotice) => void>();
  private readonly lastSent = new Map<NoticeTopic, number>();
  private readonly held = new Map<NoticeTopic, NodeJS.Timeout>();

  constructor(
    private readonly options: { minIntervalMs?: number; now?: () => number } = {},
  ) {}

  get subscribers(): number {
    return this.listeners.size;
  }

  subscribe(listener: (notice: LiveNotice) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  publish(topic: NoticeTopic): void {
    if (this.held.has(topic)) return;
    const now = this.now();
    const wait = (this.lastSent.get(topic) ?? -Infinity) + (this.options.minIntervalMs ?? NOTICE_MIN_INTERVAL_MS) - now;
    if (wait <= 0) return this.send(topic);
    const timer = setTimeout(() => {
      this.held.delete(topic);
      this.send(topic);
    }, wait);
    timer.unref();
    this.held.set(topic, timer);
  }

  /** Drops held notices and listeners (the stack is stopping). */
  close(): void {
    for (const timer of this.held.values()) clearTimeout(timer);
    this.held.clear();
    this.listeners.clear();
  }

  private send(topic: NoticeTopic): void {
    const now = this.now();
    this.lastSent.set(topic, now);
    const notice: LiveNotice = { topic, at: new Date(now).toISOString() };
    for (const listener of this.listeners) {
      try {
        listener(notice);
      } catch {
        // one broken connection must not keep the notice from the others
      }
    }
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }
}

/** How long a browser waits before reconnecting a dropped stream (the SSE `retry` field). */
export const STREAM_RETRY_MS = 3_000;
/** A comment line this often keeps proxies and idle timers from closing a quiet stream. */
export const STREAM_HEARTBEAT_MS = 15_000;

/** One Server-Sent Events message: `event: name` and its JSON data (one line: JSON has no raw newlines). */
export function sseMessage(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** What a new stream starts with: the reconnect delay and a `ready` event naming the topics to expect. */
export function streamPreamble(now: number): string {
  return `retry: ${STREAM_RETRY_MS}\n\n${sseMessage('ready', { topics: NOTICE_TOPICS, at: new Date(now).toISOString() })}`;
}

export const sseNotice = (notice: LiveNotice) => sseMessage('update', notice);
export const SSE_HEARTBEAT = ': keep-alive\n\n';
