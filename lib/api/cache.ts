/**
 * How long past its TTL an answer is kept as the last good copy, answered (marked stale) while it
 * cannot be computed again. An hour rides out a DynamoDB throttling episode or a short outage; it
 * costs no memory of its own, since the copy is the entry itself, within the same `maxEntries` bound.
 */
export const STALE_IF_ERROR_MS = 3_600_000;
/**
 * After a failed refresh, the stale copy answers for this long before its key is computed again: a
 * throttled table is asked at most once a second per key, not by every request.
 */
export const STALE_RETRY_MS = 1_000;

/** What `get` answers. */
export interface CacheRead<T> {
  value: T;
  /** answered from memory: a live entry, a computation already under way, or a stale copy */
  cached: boolean;
  /** present when `value` is the last good copy, answered because computing it again failed: its age in ms */
  staleMs?: number;
}

/** May the last good copy answer for this failure? (The caller classifies errors and values; the cache only keeps copies.) */
export type StaleIfError<T> = (error: unknown, lastGood: T) => boolean;

interface Entry<T> {
  value: T;
  storedAt: number;
  expiresAt: number;
  /** after a failed refresh: the stale copy answers until then without computing */
  retryAt: number;
}

/**
 * The api function's in-memory cache: one computation per key at a time (concurrent requests for the
 * same key share it), entries kept for a jittered TTL so a fleet of functions does not expire in
 * step, and a bounded size (least recently used out first). An expired entry stays, within that
 * bound, as the key's last good copy for `staleIfErrorMs`: when computing the key again fails and the
 * caller's `staleIfError` allows it, the copy answers, with its age.
 */
export class ResponseCache<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private readonly inFlight = new Map<string, Promise<CacheRead<T>>>();
  hits = 0;
  misses = 0;

  constructor(
    private readonly options: { maxEntries: number; staleIfErrorMs?: number; staleRetryMs?: number; now?: () => number; random?: () => number } = { maxEntries: 5000 },
  ) {}

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  private touch(key: string, entry: Entry<T>): void {
    this.entries.delete(key);
    this.entries.set(key, entry); // refresh recency
  }

  /**
   * Returns the cached value, or computes it once for every concurrent caller. If that computation
   * fails and `staleIfError` allows the key's last good copy for the error, every one of those callers
   * gets the copy (with `staleMs`) instead of the error.
   */
  async get(key: string, ttlMs: number, compute: () => Promise<T>, staleIfError?: StaleIfError<T>): Promise<CacheRead<T>> {
    const now = this.now();
    let entry = this.entries.get(key);
    if (entry && entry.expiresAt > now) {
      this.touch(key, entry);
      this.hits++;
      return { value: entry.value, cached: true };
    }
    if (entry && now - entry.storedAt > (this.options.staleIfErrorMs ?? STALE_IF_ERROR_MS)) {
      this.entries.delete(key); // too old to answer even when the stores fail
      entry = undefined;
    }
    if (entry && entry.retryAt > now) {
      this.touch(key, entry);
      this.hits++;
      return { value: entry.value, cached: true, staleMs: now - entry.storedAt };
    }
    const pending = this.inFlight.get(key);
    if (pending) {
      this.hits++;
      return { ...(await pending), cached: true };
    }
    this.misses++;
    const run = this.refresh(key, ttlMs, compute, entry, staleIfError);
    this.inFlight.set(key, run);
    try {
      return await run;
    } finally {
      this.inFlight.delete(key);
    }
  }

  private async refresh(key: string, ttlMs: number, compute: () => Promise<T>, lastGood: Entry<T> | undefined, staleIfError: StaleIfError<T> | undefined): Promise<CacheRead<T>> {
    let value: T;
    try {
      value = await compute();
    } catch (error) {
      if (!lastGood || !staleIfError?.(error, lastGood.value)) throw error;
      const now = this.now();
      lastGood.retryAt = now + (this.options.staleRetryMs ?? STALE_RETRY_MS);
      if (this.entries.get(key) === lastGood) this.touch(key, lastGood);
      return { value: lastGood.value, cached: true, staleMs: now - lastGood.storedAt };
    }
    const now = this.now();
    // ±20% jitter around the TTL.
    const jitter = 0.8 + 0.4 * (this.options.random ?? Math.random)();
    this.entries.delete(key);
    this.entries.set(key, { value, storedAt: now, expiresAt: now + ttlMs * jitter, retryAt: 0 });
    while (this.entries.size > this.options.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    return { value, cached: false };
  }

  get size(): number {
    return this.entries.size;
  }
}

/** Cache lifetime by window class: short windows move by the second, long ones barely. */
export function ttlForWindow(windowSeconds: number): number {
  // A day's window ends in the live minute: a client polling it must see a new event within seconds.
  if (windowSeconds <= 86400) return 2_000;
  if (windowSeconds <= 7 * 86400) return 30_000;
  return 300_000;
}
