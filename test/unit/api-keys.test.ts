import { describe, expect, it } from 'vitest';
import { cachedApiKeys, hashApiKey, MAX_API_KEY_CHARS, parseApiKeys, staticApiKeys } from '../../lib/app/api-keys.js';
import { callerIdentity, ipIdentity, resolveAppKey } from '../../lib/api/identity.js';
import { RequestRateLimiter, rateLimitEnvironment, rateLimitSettingsFromEnv, DEFAULT_RATE_LIMIT } from '../../lib/api/rate-limit.js';
import { healthMonitor, runHealthChecks } from '../../lib/api/health.js';

const KEY = 'k3y-for-tests-0123456789';

describe('API keys are kept as hashes', () => {
  it('accepts sha256:<hex>:project entries and raw key:project entries, and resolves both by hash', async () => {
    const resolve = staticApiKeys(`sha256:${hashApiKey(KEY)}:shop, raw-key-local:demo, bare-raw-key`);
    expect(await resolve(KEY)).toEqual({ project: 'shop', keyHash: hashApiKey(KEY) });
    expect(await resolve('raw-key-local')).toEqual({ project: 'demo', keyHash: hashApiKey('raw-key-local') });
    expect((await resolve('bare-raw-key'))?.project).toBe('default');
    expect(await resolve('raw-key-loca')).toBeNull();
    expect(await resolve(`sha256:${hashApiKey(KEY)}`)).toBeNull(); // the hash itself is not a key
  });

  it('keeps no raw key after loading', () => {
    const stored = parseApiKeys('raw-key-local:demo');
    expect(JSON.stringify(stored)).not.toContain('raw-key-local');
    expect(stored[0]!.hash.toString('hex')).toBe(hashApiKey('raw-key-local'));
  });

  it('names a bad entry by position, never by its text', () => {
    expect(() => parseApiKeys('good-key-123:demo, short')).toThrow(/entry 2/);
    expect(() => parseApiKeys('good-key-123:demo, short')).not.toThrow(/short/);
    expect(() => parseApiKeys('secret-key-1:a:b')).toThrow(/entry 1/);
    expect(() => parseApiKeys('secret-key-1:bad project')).toThrow(/project name/);
  });

  it('refuses an oversized key without loading anything', async () => {
    let loads = 0;
    const resolve = cachedApiKeys(async () => {
      loads++;
      return 'raw-key-local:demo';
    });
    expect(await resolve('x'.repeat(MAX_API_KEY_CHARS + 1))).toBeNull();
    expect(loads).toBe(0);
  });

  it('keeps the previous keys when a reload fails, and retries later rather than on every request', async () => {
    let now = 0;
    let loads = 0;
    let failing = false;
    const resolve = cachedApiKeys(
      async () => {
        loads++;
        if (failing) throw new Error('secrets manager is down');
        return 'raw-key-local:demo';
      },
      1_000,
      () => now,
    );
    expect((await resolve('raw-key-local'))?.project).toBe('demo');
    failing = true;
    now = 5_000;
    expect((await resolve('raw-key-local'))?.project).toBe('demo');
    expect((await resolve('raw-key-local'))?.project).toBe('demo');
    expect(loads).toBe(2);
  });

  it('a key store that cannot load at all is "unavailable", not an exception', async () => {
    const resolve = cachedApiKeys(async () => {
      throw new Error('AccessDenied');
    });
    expect(await resolveAppKey('raw-key-local', resolve)).toBe('unavailable');
  });
});

describe('caller identity', () => {
  it('is the key hash for a valid key and the source address otherwise, never a header', async () => {
    const key = await staticApiKeys('raw-key-local:demo')('raw-key-local');
    expect(callerIdentity('203.0.113.9', key)).toBe(`key:${hashApiKey('raw-key-local').slice(0, 32)}`);
    expect(callerIdentity('203.0.113.9', null)).toBe('ip:203.0.113.9');
    expect(callerIdentity('203.0.113.9', 'unavailable')).toBe('ip:203.0.113.9');
  });

  it('groups IPv6 callers by /64 and maps IPv4-mapped addresses to IPv4', () => {
    expect(ipIdentity('2001:db8:1:2:aaaa::1')).toBe('ip:2001:db8:1:2::/64');
    expect(ipIdentity('2001:db8:1:2:ffff:ffff:ffff:fffe')).toBe('ip:2001:db8:1:2::/64');
    expect(ipIdentity('2001:db8::1')).toBe('ip:2001:db8:0:0::/64');
    expect(ipIdentity('::1')).toBe('ip:0:0:0:0::/64');
    expect(ipIdentity('::ffff:10.0.0.1')).toBe('ip:10.0.0.1');
    expect(ipIdentity('fe80::1%eth0')).toBe('ip:fe80:0:0:0::/64');
  });

  it('is bounded whatever the input', () => {
    expect(ipIdentity(undefined)).toBe('ip:unknown');
    expect(ipIdentity('x'.repeat(10_000))).toBe('ip:unknown');
    expect(ipIdentity('1.2.3.4, 5.6.7.8')).toBe('ip:unknown');
  });
});

describe('the per-caller token bucket', () => {
  it('admits a burst, then refuses with Retry-After until tokens refill', () => {
    let now = 0;
    const limiter = new RequestRateLimiter({ perSecond: 2, burst: 3, trackedCallers: 10 }, () => now);
    expect([1, 2, 3].map(() => limiter.take('ip:a').allowed)).toEqual([true, true, true]);
    expect(limiter.take('ip:a')).toEqual({ allowed: false, retryAfterSeconds: 1 });
    expect(limiter.take('ip:b').allowed).toBe(true);
    now = 500; // one token back
    expect(limiter.take('ip:a').allowed).toBe(true);
    expect(limiter.take('ip:a').allowed).toBe(false);
  });

  it('remembers a bounded number of callers', () => {
    const limiter = new RequestRateLimiter({ perSecond: 1, burst: 1, trackedCallers: 3 }, () => 0);
    for (let i = 0; i < 100; i++) limiter.take(`ip:10.0.0.${i}`);
    expect(limiter.trackedCount).toBe(3);
  });

  it('reads its settings from the environment and refuses bad values', () => {
    expect(rateLimitSettingsFromEnv({})).toEqual(DEFAULT_RATE_LIMIT);
    expect(rateLimitSettingsFromEnv({ API_RATE_LIMIT_PER_SECOND: '5', API_RATE_LIMIT_BURST: '9', API_RATE_LIMIT_TRACKED_CALLERS: '50' })).toEqual({ perSecond: 5, burst: 9, trackedCallers: 50 });
    expect(() => rateLimitSettingsFromEnv({ API_RATE_LIMIT_BURST: '0' })).toThrow(/API_RATE_LIMIT_BURST/);
    expect(() => rateLimitSettingsFromEnv({ API_RATE_LIMIT_PER_SECOND: 'fast' })).toThrow(/API_RATE_LIMIT_PER_SECOND/);
  });

  it('writes the environment it reads (what the CDK sets on the api function)', () => {
    const settings = { perSecond: 7, burst: 70, trackedCallers: 700 };
    expect(rateLimitSettingsFromEnv(rateLimitEnvironment(settings))).toEqual(settings);
    expect(() => rateLimitSettingsFromEnv(rateLimitEnvironment({ ...settings, burst: 0.5 }))).toThrow(/API_RATE_LIMIT_BURST/);
  });
});

describe('health checks', () => {
  it('is degraded when a check fails, throws or does not answer in time', async () => {
    const report = await runHealthChecks(
      [
        { name: 'fine', run: () => ({ ok: true }) },
        { name: 'disk', run: () => ({ ok: false, detail: 'disk 99% full' }) },
        { name: 'boom', run: async () => Promise.reject(new Error('secret internal text')) },
        { name: 'slow', run: () => new Promise(() => {}) },
      ],
      20,
    );
    expect(report.status).toBe('degraded');
    expect(report.checks).toEqual({ fine: { ok: true }, disk: { ok: false, detail: 'disk 99% full' }, boom: { ok: false, detail: 'failed' }, slow: { ok: false, detail: 'no answer within 20 ms' } });
  });

  it('runs the checks at most once per TTL', async () => {
    let now = 0;
    let runs = 0;
    const report = healthMonitor([{ name: 'counted', run: () => ({ ok: ++runs > 0 }) }], { ttlMs: 1_000, now: () => now });
    await Promise.all([report(), report(), report()]);
    now = 999;
    await report();
    expect(runs).toBe(1);
    now = 1_000;
    expect((await report()).status).toBe('ok');
    expect(runs).toBe(2);
  });
});
