/**
 * The api function's in-memory cache: one computation per key at a time (concurrent requests for the
 * same key share it), entries kept for a jittered TTL so a fleet of functions does not expire in
 * step, and a bounded size (least recently used out first).
 */
export class ResponseCache<T> {
  private readonly entries = new Map<string, { value: T; expiresAt: number }>();
  private readonly inFlight = new Map<string, Promise<T>>();
  hits = 0;
  misses = 0;

  constructor(
    private readonly options: { maxEntries: number; now?: () => number; random?: () => number } = { maxEntries: 5000 },
  ) {}

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  /** Returns the cached value, or computes it once for every concurrent caller. */
  async get(key: string, ttlMs: number, compute: () => Promise<T>): Promise<{ value: T; cached: boolean }> {
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt > this.now()) {
      this.entries.delete(key);
      this.entries.set(key, entry); // refresh recency
      this.hits++;
      return { value: entry.value, cached: true };
    }
    const pending = this.inFlight.get(key);
    if (pending) {
      this.hits++;
      return { value: await pending, cached: true };
    }
    this.misses++;
    const run = compute();
    this.inFlight.set(key, run);
    try {
      const value = await run;
      // ±20% jitter around the TTL.
      const jitter = 0.8 + 0.4 * (this.options.random ?? Math.random)();
      this.entries.set(key, { value, expiresAt: this.now() + ttlMs * jitter });
      while (this.entries.size > this.options.maxEntries) this.entries.delete(this.entries.keys().next().value!);
      return { value, cached: false };
    } finally {
      this.inFlight.delete(key);
    }
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
