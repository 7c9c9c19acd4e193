import { parseVariables, wholeNumberVariable, type Environment } from '../util/env.js';

/**
 * The per-caller request limit: a token bucket per caller identity (lib/api/identity.ts), refilled at
 * `perSecond` up to `burst`, kept in memory. It costs no storage write per request, so it can stand in
 * front of every read at the design load. The callers tracked are a bounded LRU (`trackedCallers`):
 * memory stays constant, and a caller pushed out by newer ones simply starts again with a full bucket.
 *
 * In AWS every api container keeps its own buckets, so a caller whose requests are spread over N warm
 * containers can reach up to N × the limit in aggregate; the stage throttle bounds the total, and the
 * expensive routes (job submission) keep their shared hourly quota in DynamoDB. Locally there is one
 * process, so the limit is exact.
 */
export interface RateLimitSettings {
  /** tokens added per second (sustained requests per second per caller) */
  perSecond: number;
  /** bucket size (requests a caller may send at once) */
  burst: number;
  /** callers remembered at once (least recently seen out first) */
  trackedCallers: number;
}

export const DEFAULT_RATE_LIMIT: RateLimitSettings = { perSecond: 20, burst: 100, trackedCallers: 10_000 };

const positiveInt = (fallback: number, max: number) => wholeNumberVariable(fallback, 1, max);

/** API_RATE_LIMIT_PER_SECOND, API_RATE_LIMIT_BURST, API_RATE_LIMIT_TRACKED_CALLERS (defaults DEFAULT_RATE_LIMIT). */
export const rateLimitEnvShape = {
  API_RATE_LIMIT_PER_SECOND: positiveInt(DEFAULT_RATE_LIMIT.perSecond, 100_000),
  API_RATE_LIMIT_BURST: positiveInt(DEFAULT_RATE_LIMIT.burst, 1_000_000),
  API_RATE_LIMIT_TRACKED_CALLERS: positiveInt(DEFAULT_RATE_LIMIT.trackedCallers, 1_000_000),
};

/** Parsed rate limit variables (rateLimitEnvShape) as RateLimitSettings. */
export function rateLimitOf(env: { [K in keyof typeof rateLimitEnvShape]: number }): RateLimitSettings {
  return { perSecond: env.API_RATE_LIMIT_PER_SECOND, burst: env.API_RATE_LIMIT_BURST, trackedCallers: env.API_RATE_LIMIT_TRACKED_CALLERS };
}

/** The rate limit `env` configures; a bad value throws, naming the variable and the value. */
export function rateLimitSettingsFromEnv(env: Environment): RateLimitSettings {
  return rateLimitOf(parseVariables(rateLimitEnvShape, env));
}

/** The environment that configures `settings` (the api function's, as the CDK writes it). */
export function rateLimitEnvironment(settings: RateLimitSettings): Record<keyof typeof rateLimitEnvShape, string> {
  return {
    API_RATE_LIMIT_PER_SECOND: String(settings.perSecond),
    API_RATE_LIMIT_BURST: String(settings.burst),
    API_RATE_LIMIT_TRACKED_CALLERS: String(settings.trackedCallers),
  };
}

export type RateLimitVerdict = { allowed: true } | { allowed: false; retryAfterSeconds: number };

export class RequestRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    readonly settings: RateLimitSettings = DEFAULT_RATE_LIMIT,
    /** milliseconds, monotonic enough for refills */
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one token from the caller's bucket, or says how many seconds until one is there. */
  take(caller: string): RateLimitVerdict {
    const now = this.now();
    const { perSecond, burst, trackedCallers } = this.settings;
    const bucket = this.buckets.get(caller) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(burst, bucket.tokens + (Math.max(0, now - bucket.at) / 1000) * perSecond);
    bucket.at = now;
    // re-insert: Map order is the LRU order
    this.buckets.delete(caller);
    this.buckets.set(caller, bucket);
    while (this.buckets.size > trackedCallers) this.buckets.delete(this.buckets.keys().next().value!);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true };
    }
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / perSecond)) };
  }

  get trackedCount(): number {
    return this.buckets.size;
  }
}
