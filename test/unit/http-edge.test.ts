import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createApiHandler } from '../../functions/api/handler.js';
import { lambdaContext } from '../../lib/local/stack/queue-consumer.js';
import { startHttpApi } from '../../lib/local/stack/http-server.js';
import { LocalQueue } from '../../lib/adapters/local/local-queue.js';
import { hashApiKey, staticApiKeys } from '../../lib/app/api-keys.js';
import { RequestRateLimiter } from '../../lib/api/rate-limit.js';
import { ERROR_CODES } from '../../lib/api/http.js';
import { METRIC } from '../../lib/metrics/names.js';
import { retentionFromEnv } from '../../lib/counters/retention.js';
import { readJob } from '../../lib/jobs/jobs.js';
import type { CounterStore, MetricsSink } from '../../lib/ports.js';
import { fixedClock, memoryStores } from '../support/local.js';
import { rawExchange } from '../support/raw-http.js';

const NOW = Date.parse('2026-11-22T12:00:30Z');
const APP_KEY = 'app-key-for-edge-tests';

let stores: Awaited<ReturnType<typeof memoryStores>>;
beforeAll(async () => {
  stores = await memoryStores();
});
afterAll(() => stores.close());

function apiWith(extra: Partial<Parameters<typeof createApiHandler>[0]> = {}) {
  return createApiHandler({
    counters: stores.counters,
    clock: fixedClock(NOW),
    retention: retentionFromEnv({}),
    jobs: { queue: new LocalQueue({ visibilityTimeoutMs: 60_000, maxReceives: 3 }), objects: stores.objects, settings: { resultTtlSeconds: 3600, perClientPerHour: 20 } },
    app: { ingestQueue: new LocalQueue({ visibilityTimeoutMs: 60_000, maxReceives: 3 }), apiKeys: staticApiKeys(`sha256:${hashApiKey(APP_KEY)}:shop`) },
    ...extra,
  });
}

type Api = ReturnType<typeof createApiHandler>;
async function call(api: Api, init: { path: string; method?: string; query?: Record<string, string>; headers?: Record<string, string>; sourceIp?: string; body?: string }) {
  const event = {
    rawPath: init.path,
    rawQueryString: new URLSearchParams(init.query ?? {}).toString(),
    queryStringParameters: init.query,
    headers: init.headers ?? {},
    body: init.body,
    requestContext: { requestId: 'r1', http: { method: init.method ?? 'GET', sourceIp: init.sourceIp ?? '198.51.100.7' } },
  } as unknown as APIGatewayProxyEventV2;
  const response = await api(event, lambdaContext('test'));
  return { status: response.statusCode!, headers: (response.headers ?? {}) as Record<string, string>, body: JSON.parse(response.body ?? 'null') };
}

const pubkey = (i: number) => i.toString(16).padStart(64, '0');

describe('no input makes a 500', () => {
  let api: Api;
  beforeAll(() => {
    api = apiWith();
  });

  it.each([
    '/api/events/%E0%A4%A/stats',
    '/api/v2/analytics/user/%zz/summary',
    '/api/v2/analytics/user/%E0%A4/drilldown/top-posts',
    '/api/videos/%/stats',
    '/api/users/%C3/videos',
  ])('a malformed percent escape is a 400: %s', async (path) => {
    const { status, body } = await call(api, { path });
    expect(status).toBe(400);
    expect(body.error.code).toMatch(/^bad_/);
  });

  it('oversized headers are a 431 before anything is looked up, on a job route too', async () => {
    const path = `/api/v2/analytics/user/${pubkey(1)}/summary`;
    for (const header of ['x-forwarded-for', 'x-api-key', 'user-agent']) {
      const { status, body } = await call(api, { path, query: { interval: '400d' }, headers: { [header]: '9'.repeat(17_000) } });
      expect({ header, status, code: body.error.code }).toEqual({ header, status: 431, code: 'headers_too_large' });
    }
  });

  it('an x-api-key over 256 characters is a 401, and a 2 KB X-Forwarded-For changes nothing', async () => {
    const path = `/api/v2/analytics/user/${pubkey(2)}/summary`;
    const longKey = await call(api, { path, query: { interval: '400d' }, headers: { 'x-api-key': 'k'.repeat(2048) } });
    expect(longKey.status).toBe(401);
    expect(longKey.body.error.code).toBe('unauthorized');
    const forwarded = await call(api, { path, query: { interval: '400d' }, headers: { 'x-forwarded-for': '1'.repeat(2048) } });
    expect(forwarded.status).toBe(202);
  });

  it('a body over 1 MB is a 413', async () => {
    const { status, body } = await call(api, { path: '/v1/events', method: 'POST', headers: { 'x-api-key': APP_KEY }, body: 'x'.repeat(1024 * 1024 + 1) });
    expect(status).toBe(413);
    expect(body.error.code).toBe('payload_too_large');
  });

  it('a store that fails is a 503 that does not carry the store error text', async () => {
    const failing = new Proxy(stores.counters, {
      get: (target, prop) => (prop === 'range' || prop === 'getState' ? async () => Promise.reject(Object.assign(new Error('ECONNREFUSED 10.0.0.9:8000 secret-host'), { code: 'ECONNREFUSED' })) : Reflect.get(target, prop)),
    }) as CounterStore;
    const { status, body } = await call(apiWith({ counters: failing }), { path: '/api/stats' });
    expect(status).toBe(503);
    expect(body.error.code).toBe('unavailable');
    expect(body.error.message).not.toContain('secret-host');
  });
});

describe('caller identity for the job quota', () => {
  it('rotating X-Forwarded-For or invalid keys does not escape the quota: the 21st job from one source IP is a 429', async () => {
    const api = apiWith();
    const statuses: number[] = [];
    for (let i = 0; i < 25; i++) {
      const headers: Record<string, string> = i % 2 ? { 'x-forwarded-for': `10.9.${i}.1, 10.0.0.1` } : { 'x-api-key': `random-invalid-key-${i}` };
      const response = await call(api, { path: `/api/v2/analytics/user/${pubkey(100 + i)}/summary`, query: { interval: '400d' }, headers, sourceIp: '203.0.113.50' });
      statuses.push(response.status);
      if (response.status === 429) {
        expect(response.body.error.code).toBe('quota_exceeded');
        expect(Number(response.headers['retry-after'])).toBeGreaterThan(0);
      }
    }
    expect(statuses).toEqual([...Array(20).fill(202), ...Array(5).fill(429)]);
    // another source address still has its own quota
    expect((await call(api, { path: `/api/v2/analytics/user/${pubkey(200)}/summary`, query: { interval: '400d' }, sourceIp: '203.0.113.51' })).status).toBe(202);
  });

  it('a valid key is its own caller, recorded by hash only', async () => {
    const api = apiWith();
    const response = await call(api, { path: `/api/v2/analytics/user/${pubkey(300)}/summary`, query: { interval: '400d' }, headers: { 'x-api-key': APP_KEY }, sourceIp: '203.0.113.50' });
    expect(response.status).toBe(202);
    const job = await readJob(stores.counters, response.body.data.jobId);
    expect(job?.client).toBe(`key:${hashApiKey(APP_KEY).slice(0, 32)}`);
    expect(JSON.stringify(job)).not.toContain(APP_KEY);
    const hour = Math.floor(NOW / 3_600_000) * 3600;
    const [usage] = await stores.counters.range(`quota:key:${hashApiKey(APP_KEY).slice(0, 32)}`, 'h', hour, hour);
    expect(usage?.values.jobs).toBe(1);
  });
});

describe('the per-caller rate limit', () => {
  it('a flood from one caller gets 429 rate_limited with Retry-After while another caller is still served', async () => {
    const counted: { name: string; labels?: Record<string, string> }[] = [];
    const metrics: MetricsSink = { count: (name, labels) => void counted.push({ name, labels }) };
    const api = apiWith({ metrics, rateLimiter: new RequestRateLimiter({ perSecond: 1, burst: 5, trackedCallers: 100 }, () => 0) });
    const flood = await Promise.all(Array.from({ length: 12 }, () => call(api, { path: '/api/stats', sourceIp: '192.0.2.1' })));
    expect(flood.filter((r) => r.status === 200)).toHaveLength(5);
    const limited = flood.filter((r) => r.status === 429);
    expect(limited).toHaveLength(7);
    expect(limited[0]!.body.error.code).toBe('rate_limited');
    expect(limited[0]!.headers['retry-after']).toBe('1');
    expect((await call(api, { path: '/api/stats', sourceIp: '192.0.2.2' })).status).toBe(200);
    expect(counted.filter((c) => c.name === METRIC.requestsRateLimited)).toEqual(Array(7).fill({ name: METRIC.requestsRateLimited, labels: { Route: '/api/stats' } }));
  });

  it('over HTTP on the local server too', async () => {
    const server = await startHttpApi(apiWith({ rateLimiter: new RequestRateLimiter({ perSecond: 1, burst: 2, trackedCallers: 100 }, () => 0) }), 0);
    try {
      const statuses = [];
      let last: Response | undefined;
      for (let i = 0; i < 4; i++) {
        last = await fetch(`${server.url}/api/stats`);
        statuses.push(last.status);
      }
      expect(statuses).toEqual([200, 200, 429, 429]);
      expect(last!.headers.get('retry-after')).toBe('1');
      expect(((await last!.json()) as { error: { code: string } }).error.code).toBe('rate_limited');
    } finally {
      await server.close();
    }
  });
});

describe('GET /health', () => {
  it('is 200 ok with the counter store check, and 503 degraded when a check fails', async () => {
    const ok = await call(apiWith(), { path: '/health' });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ status: 'ok', time: new Date(NOW).toISOString(), checks: { counters: { ok: true } } });

    const degraded = await call(apiWith({ healthChecks: [{ name: 'queue', run: () => ({ ok: false, detail: '3 messages dead-lettered' }) }] }), { path: '/health' });
    expect(degraded.status).toBe(503);
    expect(degraded.body).toMatchObject({ status: 'degraded', checks: { counters: { ok: true }, queue: { ok: false, detail: '3 messages dead-lettered' } } });
  });

  it('is degraded when the counter store does not answer', async () => {
    const failing = new Proxy(stores.counters, { get: (t, p) => (p === 'getState' ? async () => Promise.reject(new Error('ResourceNotFoundException')) : Reflect.get(t, p)) }) as CounterStore;
    const { status, body } = await call(apiWith({ counters: failing }), { path: '/health' });
    expect(status).toBe(503);
    expect(body.checks.counters).toEqual({ ok: false, detail: 'failed' });
  });
});

describe('the local server refuses what it cannot parse in the envelope', () => {
  let server: Awaited<ReturnType<typeof startHttpApi>>;
  beforeAll(async () => {
    server = await startHttpApi(apiWith(), 0);
  });
  afterAll(() => server.close());

  it.each([
    ['an unparsable absolute target', 'GET http://[::1 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n', 400, 'bad_request'],
    ['an asterisk target', 'GET * HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n', 400, 'bad_request'],
    ['a garbage request line', 'HELLO\r\n\r\n', 400, 'bad_request'],
    ['headers over 16 KB', `GET /health HTTP/1.1\r\nhost: x\r\nx-forwarded-for: ${'1'.repeat(20_000)}\r\n\r\n`, 431, 'headers_too_large'],
    ['a declared body over 1 MB', `POST /v1/events HTTP/1.1\r\nhost: x\r\ncontent-length: ${1024 * 1024 + 1}\r\n\r\n`, 413, 'payload_too_large'],
  ])('%s', async (_name, request, status, code) => {
    const answer = await rawExchange(server.port, request);
    expect(answer.status).toBe(status);
    const body = JSON.parse(answer.body);
    expect(body.error.code).toBe(code);
    expect(ERROR_CODES).toContain(body.error.code);
    expect(answer.body).not.toMatch(/TypeError|Invalid URL|URIError/);
  });
});

describe('validators and CORS', () => {
  it('tags cacheable 200s, answers 304 to a matching If-None-Match (weak, listed or *), and leaves the rest alone', async () => {
    const { withValidator, matchesEtag, etagOf, json } = await import('../../lib/api/http.js');
    const answer = json(200, { a: 1 }, 'public, max-age=2');
    const tagged = withValidator(answer, 'GET', undefined);
    const etag = tagged.headers.etag!;
    expect(etag).toBe(etagOf(answer.body));
    for (const header of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
      expect(withValidator(answer, 'GET', header)).toEqual({ statusCode: 304, headers: { 'cache-control': 'public, max-age=2', etag }, body: '' });
    }
    expect(withValidator(answer, 'GET', '"other"').statusCode).toBe(200);
    expect(matchesEtag(undefined, etag)).toBe(false);
    // Not public, not a 200, not a GET: no validator.
    expect(withValidator(json(200, {}, 'no-store'), 'GET', etag).headers.etag).toBeUndefined();
    expect(withValidator(json(202, {}, 'public, max-age=2'), 'GET', undefined).headers.etag).toBeUndefined();
    expect(withValidator(answer, 'POST', etag).statusCode).toBe(200);
  });
});
