import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { z } from 'zod';
import { startLocalStack, type LocalStack } from '../../lib/local/stack/stack.js';
import { ROUTE_SPECS } from '../../functions/api/routes.js';
import { errorBodySchema, pathPattern, type RouteSpec } from '../../lib/api/openapi.js';
import { DEFAULT_LOCAL_APP_KEYS } from '../../lib/app/api-keys.js';
import { summarySchema as contractSummary } from '../../functions/api/contract.js';

/**
 * Every route of the contract, called over HTTP on the local stack (the simulator's signed workload
 * behind it), and every answer held to the schema its route declares for that status: a route, a
 * status or a key the contract does not declare fails here.
 */
const API_KEY = DEFAULT_LOCAL_APP_KEYS.split(':')[0]!;
let dataDir: string;
let stack: LocalStack;
const called = new Set<RouteSpec>();

function specOf(method: string, path: string): RouteSpec {
  const spec = ROUTE_SPECS.find((s) => s.method === method && pathPattern(s.path).test(path));
  if (!spec) throw new Error(`no declared route for ${method} ${path}`);
  return spec;
}

/** Calls the route and checks the answer against its declaration; returns the parsed body. */
async function call(method: 'GET' | 'POST' | 'PUT', pathAndQuery: string, options: { body?: unknown; key?: boolean; status?: number } = {}) {
  const url = new URL(pathAndQuery, stack.apiUrl);
  const response = await fetch(url, {
    method,
    headers: { ...(options.key ? { 'x-api-key': API_KEY } : {}), ...(options.body ? { 'content-type': 'application/json' } : {}) },
    body: options.body ? JSON.stringify(options.body) : undefined,
  });
  const spec = specOf(method, url.pathname);
  called.add(spec);
  const text = await response.text();
  if (options.status !== undefined) expect({ route: `${method} ${pathAndQuery}`, status: response.status }).toEqual({ route: `${method} ${pathAndQuery}`, status: options.status });
  const declared = spec.responses[response.status as keyof RouteSpec['responses']];
  const schema: z.ZodType = response.status >= 400 ? errorBodySchema : declared?.schema ?? (() => { throw new Error(`${method} ${spec.path} answered ${response.status}, which it does not declare`); })();
  const contentType = response.status >= 400 ? 'application/json' : (declared?.contentType ?? 'application/json');
  expect(response.headers.get('content-type') ?? '').toContain(contentType);
  const body = contentType === 'application/json' ? JSON.parse(text) : text;
  const result = schema.safeParse(body);
  if (!result.success) throw new Error(`${method} ${pathAndQuery} (${response.status}) breaks its declared schema: ${JSON.stringify(result.error.issues.slice(0, 5))}`);
  return body;
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'funnel-contract-'));
  stack = await startLocalStack({ dataDir, port: 0, relayPort: 0, simulate: true, simulatorUsers: 20, simulatorRate: 50, batchWindowMs: 20, compactEveryMs: 3_600_000 });
  // The simulator back-dates its first events, videos among them; wait until the feed has some.
  // (a hook, where expect.poll is not available: vi.waitFor retries until the callback stops throwing)
  await vi.waitFor(
    async () => {
      const feed = (await (await fetch(`${stack.apiUrl}/api/videos?sort=recent`)).json()) as { data?: unknown[] };
      expect(feed.data?.length ?? 0).toBeGreaterThanOrEqual(2);
    },
    { timeout: 30_000, interval: 200 },
  );
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('every route answers what the contract declares', () => {
  it('on the local stack, for good requests and bad ones', async () => {
    await call('GET', '/health', { status: 200 });
    expect(await call('GET', '/metrics', { status: 200 })).toContain('funnel_');
    await call('GET', '/openapi.json', { status: 200 });
    expect(await call('GET', '/docs', { status: 200 })).toContain('<html');
    const stats = await call('GET', '/api/stats', { status: 200 });
    expect(stats.data.totalEvents).toBeGreaterThan(0);

    const feed = await call('GET', '/api/videos?sort=recent&limit=5', { status: 200 });
    await call('GET', '/api/videos?sort=trending', { status: 200 });
    expect(feed.data.length).toBeGreaterThan(0);
    const video = feed.data[0];
    await call('GET', `/api/videos/${video.id}/stats`, { status: 200 });
    if (video.address) await call('GET', `/api/videos/${encodeURIComponent(video.address)}/stats`, { status: 200 });
    await call('GET', `/api/users/${video.author}/videos?limit=3`, { status: 200 });
    await call('GET', `/api/search?tag=video`, { status: 200 });
    for (const period of ['day', 'week', 'month', 'all']) {
      await call('GET', `/api/leaderboard/videos?period=${period}&limit=3`, { status: 200 });
      await call('GET', `/api/leaderboard/creators?period=${period}`, { status: 200 });
    }
    const tags = await call('GET', '/api/hashtags/trending?period=week', { status: 200 });
    expect(tags.data.length).toBeGreaterThan(0);
    await call('GET', `/api/events/${video.id}/stats`, { status: 200 });
    await call('GET', `/api/videos/${encodeURIComponent(video.address ?? video.id)}/likers?limit=5`, { status: 200 });
    const zapped = await call('GET', `/api/v2/analytics/user/${video.author}/summary?interval=7d`, { status: 200 });
    const anyPost = zapped.data.drilldowns.topPosts[0]?.id ?? video.id;
    await call('GET', `/api/events/${encodeURIComponent(anyPost)}/zappers?limit=5`, { status: 200 });
    await call('GET', `/api/events/${video.id}/zappers?cursor=nope`, { status: 400 });
    await call('POST', '/api/events/stats/bulk', { status: 200, body: { ids: [video.id, '0'.repeat(64)] } });
    await call('POST', '/api/videos/stats/bulk', { status: 200, body: { ids: [video.id, ...(video.address ? [video.address] : [])] } });
    await call('POST', '/api/videos/stats/bulk', { status: 400, body: { ids: ['bad'] } });

    // HTTP as browsers and CDNs expect: an ETag on every public read, 304 while it is current, CORS.
    const live = await fetch(`${stack.apiUrl}/api/stats`);
    expect(live.headers.get('etag')).toMatch(/^"[\w-]{27}"$/);
    expect(live.headers.get('access-control-allow-origin')).toBe('*');
    // (the simulator keeps changing the stats; the contract document does not change)
    const first = await fetch(`${stack.apiUrl}/openapi.json`);
    const etag = first.headers.get('etag');
    const again = await fetch(`${stack.apiUrl}/openapi.json`, { headers: { 'if-none-match': `W/${etag}` } });
    expect([again.status, await again.text(), again.headers.get('etag')]).toEqual([304, '', etag]);
    const preflight = await fetch(`${stack.apiUrl}/v1/events`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-headers')).toContain('x-api-key');

    const pubkey = video.author;
    await call('GET', `/api/v2/analytics/user/${pubkey}/summary?interval=7d`, { status: 200 });
    const compared = await call('GET', `/api/v2/analytics/user/${pubkey}/summary?interval=24h&compare=previous`, { status: 200 });
    expect(compared.data.previous.change.posts.delta).toBe(compared.data.totals.posts - compared.data.previous.totals.posts);
    for (const metric of ['top-posts', 'top-hashtags', 'zappers', 'best-hours', 'best-days', 'heatmap', 'timeline']) {
      await call('GET', `/api/v2/analytics/user/${pubkey}/drilldown/${metric}?interval=30d&tz=-05:00`, { status: 200 });
    }
    // Past the synchronous budget: a job, polled until it completes.
    const accepted = await call('GET', `/api/v2/analytics/user/${pubkey}/summary?interval=200d`, { status: 202 });
    const job = await vi.waitFor(
      async () => {
        const polled = await call('GET', accepted.data.poll, { status: 200 });
        if (!polled.meta.done) throw new Error(`job not done: ${JSON.stringify(polled.data).slice(0, 300)}`);
        return polled;
      },
      { timeout: 20_000, interval: 100 },
    );
    expect(job.data.status).toBe('complete');
    // The job's answer is the synchronous route's shape.
    expect(contractSummary.safeParse(job.data.result).error?.issues ?? []).toEqual([]);

    const now = Math.floor(Date.now() / 1000);
    await call('GET', `/api/analytics/summary?from=${now - 86400}`, { status: 200 });
    await call('GET', '/api/analytics/summary?interval=7d', { status: 200 });
    await call('GET', `/api/analytics/summary?startTs=${now - 3600}&endTs=${now}`, { status: 200 });
    const purchase = { type: 'object', properties: { amount: { type: 'number' }, country: { type: 'string' } }, required: ['amount'] };
    await call('PUT', '/v1/schemas/purchase', { key: true, status: 201, body: { schema: purchase, dimensions: ['country'] } });
    await call('PUT', '/v1/schemas/purchase', { key: true, status: 200, body: { schema: purchase, dimensions: ['country'] } });
    await call('PUT', '/v1/schemas/purchase', { key: true, status: 400, body: { schema: { type: 'object', properties: { id: { type: 'string', pattern: '.*' } } } } });
    await call('GET', '/v1/schemas', { key: true, status: 200 });
    await call('GET', '/v1/schemas/purchase/versions/1', { key: true, status: 200 });
    await call('GET', '/v1/schemas/purchase/versions/2', { key: true, status: 404 });
    await call('GET', '/v1/settings', { key: true, status: 200 });
    await call('PUT', '/v1/settings', { key: true, status: 200, body: { unregisteredEvents: 'accept' } });
    const sent = await call('POST', '/v1/events', { key: true, status: 202, body: { events: [{ name: 'view', userId: 'u1', target: video.id }, { name: 'BAD NAME', userId: 'u2' }, { name: 'purchase', userId: 'u3', properties: { amount: 'x' } }] } });
    expect(sent.data.rejected.map((r: { reason: string }) => r.reason)).toEqual(['invalid_shape', 'schema_invalid']);
    await call('GET', `/v1/metrics/daily_active_users?startTime=${now - 86400}`, { key: true, status: 200 });
    await call('GET', `/v1/metrics/events?startTime=${now - 86400}&endTime=${now}`, { key: true, status: 200 });
    await call('GET', '/v1/metrics/events?interval=7d', { key: true, status: 200 });

    // Bad requests: each answers the error body, with a code from the one list.
    await call('GET', '/api/events/not-hex/stats', { status: 400 });
    await call('GET', `/api/v2/analytics/user/nobody/summary`, { status: 400 });
    await call('GET', `/api/v2/analytics/user/${pubkey}/drilldown/nope`, { status: 404 });
    await call('GET', `/api/v2/analytics/user/${pubkey}/summary?startTs=10&endTs=5`, { status: 400 });
    await call('GET', '/api/v2/analytics/jobs/0123', { status: 400 });
    await call('GET', '/api/videos?limit=0', { status: 400 });
    await call('GET', `/api/v2/analytics/user/${pubkey}/drilldown/top-posts?limit=101`, { status: 400 });
    await call('GET', '/api/analytics/summary?interval=7d&from=1', { status: 400 });
    await call('GET', '/v1/metrics/events?startTime=1', { status: 401 });
    await call('POST', '/v1/events', { key: true, status: 400, body: { nope: true } });

    // The dashboard: its page and files, the read it opens on, and the live stream (held open: read its first event, then hang up).
    expect(await call('GET', '/', { status: 200 })).toContain('<script type="module" src="/dashboard/main.js">');
    expect(await call('GET', '/dashboard/main.js', { status: 200 })).toContain('import');
    await call('GET', '/dashboard/nope.js', { status: 404 });
    await call('GET', '/dashboard/dashboard.css', { status: 200 });
    // (nothing is settled here, compaction being off: the ranking is empty and says why)
    expect((await call('GET', '/api/analytics/top-authors?interval=7d&limit=3', { status: 200 })).meta.partialReason).toContain('settled hours only');
    await call('GET', '/api/analytics/top-authors?interval=120d', { status: 400 });
    const hangUp = new AbortController();
    const stream = await fetch(`${stack.apiUrl}/api/analytics/stream`, { signal: hangUp.signal });
    const streamSpec = specOf('GET', '/api/analytics/stream');
    expect([stream.status, stream.headers.get('content-type')]).toEqual([200, `${streamSpec.responses[200]!.contentType}; charset=utf-8`]);
    expect(new TextDecoder().decode((await stream.body!.getReader().read()).value)).toContain('event: ready');
    hangUp.abort();
    called.add(streamSpec);

    expect([...ROUTE_SPECS].filter((s) => !called.has(s)).map((s) => `${s.method} ${s.path}`)).toEqual([]);
  }, 90_000);
});
