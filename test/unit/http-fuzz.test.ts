import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createApiHandler } from '../../functions/api/handler.js';
import { lambdaContext } from '../../lib/local/stack/queue-consumer.js';
import { startHttpApi } from '../../lib/local/stack/http-server.js';
import { LocalQueue } from '../../lib/adapters/local/local-queue.js';
import { staticApiKeys } from '../../lib/app/api-keys.js';
import { ERROR_CODES } from '../../lib/api/http.js';
import { retentionFromEnv } from '../../lib/counters/retention.js';
import { fixedClock, memoryStores } from '../support/local.js';
import { rawExchange } from '../support/raw-http.js';

/**
 * Generated hostile requests (a fixed seed, a bounded count) against the api handler and the local
 * server: no answer is a 5xx, and every error body is the `{"error":{"code","message"}}` envelope
 * with a code from the one list.
 */
const HANDLER_CASES = 400;
const SERVER_CASES = 120;
const APP_KEY = 'fuzz-app-key-0001';

function prng(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function generator(seed: number) {
  const random = prng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const ascii = (n: number) => Array.from({ length: n }, () => String.fromCharCode(33 + Math.floor(random() * 94))).join('');
  const segment = () =>
    pick([
      'a'.repeat(64),
      'npub1' + ascii(58).toLowerCase(),
      ascii(1 + Math.floor(random() * 20)),
      '%',
      '%z',
      '%zz',
      '%E0%A4%A',
      '%C3',
      '%00',
      '%2F..%2F',
      '%F0%9F%92%A5',
      'x'.repeat(5000),
      '..',
      '',
      '__proto__',
      'constructor',
      '-1',
      '1e308',
      `34235:${'b'.repeat(64)}:${ascii(5)}`,
      'top-posts',
      'daily_active_users',
      '0'.repeat(32),
    ]);
  const template = () =>
    pick([
      '/health',
      '/metrics',
      '/api/stats',
      '/api/v2/analytics/user/{}/summary',
      '/api/v2/analytics/user/{}/drilldown/{}',
      '/api/v2/analytics/jobs/{}',
      '/api/analytics/summary',
      '/api/events/{}/stats',
      '/v1/events',
      '/v1/metrics/{}',
      '/api/videos',
      '/api/users/{}/videos',
      '/api/search',
      '/api/videos/{}/stats',
      '/{}',
      '/api/{}/{}',
      '//',
    ]).replace(/\{\}/g, segment);
  const value = () =>
    pick(['24h', '400d', '90d', '-1', '1e9', '99999999999999', '', 'y'.repeat(3000), 'NaN', '%zz', '💥', '0', '2026-01-01', 'forever', '+99:99', '-0800', '101', 'trending', '21', ascii(8)]);
  const query = () => {
    const q: Record<string, string> = {};
    const n = Math.floor(random() * 4);
    for (let i = 0; i < n; i++) q[pick(['interval', 'startTs', 'endTs', 'tz', 'limit', 'from', 'to', 'sort', 'kind', 'tag', 'q', 'startTime', 'endTime', '__proto__', 'constructor', ascii(4)])] = value();
    return q;
  };
  const headers = () => {
    const h: Record<string, string> = {};
    if (random() < 0.4) h['x-api-key'] = pick([APP_KEY, ascii(12), 'k'.repeat(300), 'k'.repeat(20_000), '', 'sha256:' + 'c'.repeat(64)]);
    if (random() < 0.3) h['x-forwarded-for'] = pick(['1.2.3.4', '1'.repeat(3000), ascii(40), '::1, 10.0.0.1']);
    if (random() < 0.2) h[`x-${ascii(6).toLowerCase().replace(/[^a-z]/g, 'a')}`] = 'v'.repeat(Math.floor(random() * 20_000));
    if (random() < 0.3) h['content-type'] = pick(['application/json', 'text/plain', ascii(10)]);
    return h;
  };
  const body = () =>
    pick([
      '',
      '{',
      'null',
      '[]',
      '{"events":[]}',
      '{"events":[{"name":"view","userId":"u1"}]}',
      JSON.stringify({ events: Array.from({ length: 150 }, (_, i) => ({ name: 'view', userId: `u${i}` })) }),
      JSON.stringify({ events: [{ name: 'x'.repeat(10_000), userId: 1, properties: { a: { b: { c: [1, 2, 3] } } } }] }),
      '['.repeat(20_000),
      `{"events":[${'{"name":"view","userId":"u"},'.repeat(50)}"end"]}`,
      ascii(200),
    ]);
  const method = () => pick(['GET', 'GET', 'GET', 'POST', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']);
  return { random, pick, template, query, headers, body, method, ascii };
}

let stores: Awaited<ReturnType<typeof memoryStores>>;
let api: ReturnType<typeof createApiHandler>;
beforeAll(async () => {
  stores = await memoryStores();
  api = createApiHandler({
    counters: stores.counters,
    clock: fixedClock(Date.parse('2026-11-22T12:00:30Z')),
    retention: retentionFromEnv({}),
    jobs: { queue: new LocalQueue({ visibilityTimeoutMs: 60_000, maxReceives: 3 }), objects: stores.objects, settings: { resultTtlSeconds: 3600, perClientPerHour: 1000 } },
    app: { ingestQueue: new LocalQueue({ visibilityTimeoutMs: 60_000, maxReceives: 3 }), apiKeys: staticApiKeys(`${APP_KEY}:fuzz`) },
    metricsText: () => '# none\n',
  });
});
afterAll(() => stores.close());

function expectEnvelope(where: string, status: number, body: string) {
  expect(status, where).toBeLessThan(500);
  if (status < 400) return;
  let parsed: { error?: { code?: unknown; message?: unknown } };
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new Error(`${where}: ${status} with a body that is not JSON: ${body.slice(0, 200)}`);
  }
  expect(ERROR_CODES, where).toContain(parsed.error?.code);
  expect(typeof parsed.error?.message, where).toBe('string');
}

describe('fuzzing the api handler', () => {
  it(`${HANDLER_CASES} generated requests: no 5xx, every error in the envelope`, async () => {
    const gen = generator(9);
    for (let i = 0; i < HANDLER_CASES; i++) {
      const method = gen.method();
      const path = gen.template();
      const query = gen.query();
      const headers = gen.headers();
      const body = method === 'GET' ? undefined : gen.body();
      const base64 = body !== undefined && gen.random() < 0.2;
      const event = {
        rawPath: path,
        rawQueryString: new URLSearchParams(query).toString(),
        queryStringParameters: Object.keys(query).length ? query : undefined,
        headers,
        body: base64 ? Buffer.from(body!).toString('base64') : body,
        isBase64Encoded: base64,
        requestContext: { requestId: `fuzz-${i}`, http: { method, sourceIp: gen.pick(['203.0.113.1', '2001:db8::7', 'not-an-ip', '']) } },
      } as unknown as APIGatewayProxyEventV2;
      const response = await api(event, lambdaContext('fuzz'));
      expectEnvelope(`#${i} ${method} ${path.slice(0, 120)} ${JSON.stringify(query).slice(0, 120)}`, response.statusCode!, response.body ?? '');
    }
  }, 30_000);
});

describe('fuzzing the local server', () => {
  let server: Awaited<ReturnType<typeof startHttpApi>>;
  beforeAll(async () => {
    server = await startHttpApi(api, 0);
  });
  afterAll(() => server.close());

  it(`${SERVER_CASES} generated raw requests: no 5xx, every error in the envelope`, async () => {
    const gen = generator(17);
    for (let i = 0; i < SERVER_CASES; i++) {
      const method = gen.method();
      const query = new URLSearchParams(gen.query()).toString();
      // raw targets: as sent by a client that does not encode, with the odd absolute or broken form
      const target = gen.pick([
        () => `${gen.template()}${query ? `?${query}` : ''}`,
        () => gen.template().replace(/ /g, '%20'),
        () => `http://[::1${gen.template()}`,
        () => `http://example.com${gen.template()}?${query}`,
        () => `*`,
        () => gen.ascii(30),
      ])();
      const headers = gen.headers();
      const body = method === 'GET' ? '' : gen.body();
      const head = [`${method} ${target.replace(/[\r\n]/g, '')} HTTP/1.1`, 'host: fuzz', 'connection: close', `content-length: ${Buffer.byteLength(body)}`]
        .concat(Object.entries(headers).map(([k, v]) => `${k}: ${v}`))
        .join('\r\n');
      const answer = await rawExchange(server.port, Buffer.from(`${head}\r\n\r\n${body}`));
      expectEnvelope(`#${i} ${method} ${target.slice(0, 120)}`, answer.status, answer.body);
    }
  }, 30_000);
});
