import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { Pipeline } from '../../lib/local/stack/stack.js';
import { createApiHandler } from '../../functions/api/handler.js';
import { ROUTE_SPECS } from '../../functions/api/routes.js';
import { lambdaContext } from '../../lib/local/stack/queue-consumer.js';
import { retentionFromEnv } from '../../lib/counters/retention.js';
import { DEFAULT_LOCAL_APP_KEYS, staticApiKeys } from '../../lib/app/api-keys.js';
import { pathPattern, type RouteSpec } from '../../lib/api/openapi.js';
import { fixturePipeline } from '../support/fixture-pipeline.js';
import { LiveNotices } from '../../lib/api/live-notices.js';

/**
 * docs/api.md: an example request and answer for every route, made by calling the routes on the
 * fixtures with a fixed clock, so the examples are real answers and stay true: the test fails when the
 * file is stale, and `UPDATE_DOCS=1 npx vitest run test/e2e/api-examples.test.ts` rewrites it.
 */
const DOC = new URL('../../docs/api.md', import.meta.url);
const clock = { now: () => Date.parse('2030-01-01T00:00:00Z') };
// The fixtures are years before the clock: the reads below keep counters that long (dynalite has no TTL).
const retention = retentionFromEnv({ MINUTE_TTL_DAYS: '5000', HOUR_TTL_DAYS: '5000', DAY_TTL_DAYS: '5000' });
const KEY = DEFAULT_LOCAL_APP_KEYS.split(':')[0]!;
const ROOT = 'd44ad96cb8924092a76bc2afddeb12eb85233c0d03a7d9adc42c2a85a79a4305';
const ROOT_AUTHOR_REPLIED = 'ee6ea13ab9fe5c4a68eaf9b1a34fe014a66b40117c50ee2a614f4cda959b6e74';
const VIDEO = '26eff0b456d3f9b0030f6897aa0f23c5fc7f52301e468d836c6c3347f3f805f0';
const THREAD = { startTs: 1689811200, endTs: 1690416000 };
let pipeline: Pipeline;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ pipeline, close } = await fixturePipeline('api-examples', clock));
}, 60_000);

afterAll(async () => close?.());

/** Arrays past 3 items are cut in the doc (the answer's shape is in docs/openapi.json). */
function shortened(value: unknown): unknown {
  if (Array.isArray(value)) return value.slice(0, 3).map(shortened);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shortened(v)]));
  return value;
}

describe('docs/api.md', () => {
  it('has a real example request and answer for every route', async () => {
    const api = createApiHandler({
      counters: pipeline.counters,
      clock,
      retention,
      jobs: { queue: pipeline.jobsQueue, objects: pipeline.objects, settings: { resultTtlSeconds: 3600, perClientPerHour: 20 } },
      app: { ingestQueue: pipeline.queue, apiKeys: staticApiKeys(DEFAULT_LOCAL_APP_KEYS) },
      // as the local stack serves it (its text depends on timings, so the doc shows its size only)
      metricsText: () => pipeline.metrics.render({}),
      // as the local stack serves GET /api/analytics/stream (in AWS it answers 404)
      liveNotices: new LiveNotices(),
    });
    const examples = new Map<RouteSpec, string[]>();
    const call = async (method: 'GET' | 'POST' | 'PUT', pathAndQuery: string, options: { body?: unknown; key?: boolean; show?: boolean } = {}) => {
      const url = new URL(pathAndQuery, 'http://x');
      const response = await api(
        {
          rawPath: url.pathname,
          rawQueryString: url.search.slice(1),
          queryStringParameters: Object.fromEntries(url.searchParams),
          headers: options.key ? { 'x-api-key': KEY } : {},
          body: options.body === undefined ? undefined : JSON.stringify(options.body),
          requestContext: { http: { method, sourceIp: '192.0.2.1' } },
        } as unknown as APIGatewayProxyEventV2,
        lambdaContext('examples'),
      );
      const spec = ROUTE_SPECS.find((s) => s.method === method && pathPattern(s.path).test(url.pathname))!;
      const json = String(response.headers?.['content-type'] ?? '').startsWith('application/json');
      const request = [`${method} ${pathAndQuery}${options.key ? '\nx-api-key: <the project\'s key>' : ''}`, ...(options.body === undefined ? [] : ['', JSON.stringify(options.body)])].join('\n');
      const answer = options.show === false || !json ? `(${response.headers?.['content-type']}; not shown)` : JSON.stringify(shortened(JSON.parse(response.body!)), null, 2);
      (examples.get(spec) ?? examples.set(spec, []).get(spec)!).push(`\`\`\`http\n${request}\n\`\`\`\n\n${response.statusCode}, \`cache-control: ${response.headers?.['cache-control']}\`\n\n\`\`\`json\n${answer}\n\`\`\``);
      return JSON.parse(json ? response.body! : 'null');
    };

    await call('GET', '/health');
    await call('GET', '/metrics', { show: false });
    await call('GET', '/openapi.json', { show: false });
    await call('GET', '/docs', { show: false });
    await call('GET', '/api/stats');
    const window = `startTs=${THREAD.startTs}&endTs=${THREAD.endTs}`;
    await call('GET', `/api/v2/analytics/user/${ROOT_AUTHOR_REPLIED}/summary?${window}&compare=previous`);
    await call('GET', `/api/v2/analytics/user/${ROOT_AUTHOR_REPLIED}/drilldown/best-hours?${window}&tz=-05:00`);
    await call('GET', `/api/v2/analytics/user/${ROOT_AUTHOR_REPLIED}/drilldown/heatmap?${window}&tz=-05:00`);
    const accepted = await call('GET', `/api/v2/analytics/user/${ROOT_AUTHOR_REPLIED}/summary?startTs=${THREAD.startTs}&endTs=${THREAD.startTs + 200 * 86400}`);
    await pipeline.jobsConsumer.drain(60_000);
    await call('GET', accepted.data.poll);
    await call('GET', `/api/analytics/summary?${window}`);
    await call('GET', `/api/events/${ROOT}/stats`);
    await call('POST', '/api/events/stats/bulk', { body: { ids: [ROOT, 'be000cd2f9c727040bf8f776977ae13932206b183c7683f3577dbd34a0527265'] } });
    await call('GET', '/api/videos?sort=recent&limit=2');
    await call('GET', `/api/users/a0e998aaf688a5ee796384212681c670446c430fd60bf9e942606d68ab564324/videos?limit=1`);
    await call('GET', '/api/search?tag=video&limit=1');
    await call('GET', '/api/leaderboard/videos?period=all&limit=2');
    await call('GET', '/api/leaderboard/creators?period=all&limit=2');
    await call('GET', '/api/hashtags/trending?period=all&limit=3');
    await call('GET', `/api/videos/${VIDEO}/stats`);
    await call('GET', `/api/videos/${VIDEO}/likers?limit=2`);
    await call('GET', '/api/events/be000cd2f9c727040bf8f776977ae13932206b183c7683f3577dbd34a0527265/zappers?limit=10');
    await call('POST', '/api/videos/stats/bulk', { body: { ids: [VIDEO, ROOT] } });
    const purchase = { type: 'object', properties: { amount: { type: 'number', minimum: 0 }, country: { type: 'string', maxLength: 2 } }, required: ['amount'] };
    await call('PUT', '/v1/schemas/purchase', { key: true, body: { schema: purchase, dimensions: ['country'] } });
    await call('GET', '/v1/schemas', { key: true });
    await call('GET', '/v1/schemas/purchase/versions/1', { key: true });
    await call('PUT', '/v1/settings', { key: true, body: { unregisteredEvents: 'accept' } });
    await call('GET', '/v1/settings', { key: true });
    await call('POST', '/v1/events', {
      key: true,
      body: {
        events: [
          { id: 'view-1', name: 'view', userId: 'user-1', target: VIDEO, timestamp: 1893455000 },
          { name: 'Bad Name', userId: 'user-2' },
          { id: 'buy-1', name: 'purchase', userId: 'user-3', timestamp: 1893455000, properties: { amount: 'ten', country: 'DE' } },
          { id: 'buy-2', name: 'purchase', userId: 'user-3', timestamp: 1893455000, properties: { amount: 12.5, country: 'DE' } },
          { id: 'buy-3', name: 'purchase', userId: 'user-4', timestamp: 1893455060, properties: { amount: 30, country: 'FR' } },
          { id: 'buy-4', name: 'purchase', userId: 'user-5', timestamp: 1893455120, properties: { amount: 7.25, country: 'DE' } },
        ],
      },
    });
    await pipeline.consumer.drain(30_000);
    await call('GET', '/v1/metrics/events?interval=7d', { key: true });
    await call('GET', '/v1/metrics/purchase?agg=sum&property=amount&groupBy=country&granularity=hour&interval=2h', { key: true });
    await call('GET', `/api/analytics/top-authors?${window}&limit=3`);
    await call('GET', `/?pubkey=${ROOT_AUTHOR_REPLIED}&interval=7d`);
    await call('GET', '/dashboard/main.js');
    await call('GET', '/dashboard/dashboard.css');
    await call('GET', '/api/analytics/stream');
    await call('GET', `/api/v2/analytics/user/${ROOT_AUTHOR_REPLIED}/summary?interval=7d&startTs=1`);

    const missing = ROUTE_SPECS.filter((s) => !examples.has(s)).map((s) => `${s.method} ${s.path}`);
    expect(missing).toEqual([]);
    const text = [
      '# The HTTP API by example',
      '',
      'Every route of the contract ([`docs/openapi.json`](openapi.json), also served at `GET /openapi.json` and',
      '`GET /docs`), with a real request and its answer: the fixtures (`../shared/fixtures/nostr/`) through',
      'ingest and the compactor, the clock at 2030-01-01T00:00:00Z. Arrays are cut to 3 items here. Generated and',
      'checked by `test/e2e/api-examples.test.ts` (`UPDATE_DOCS=1 npx vitest run test/e2e/api-examples.test.ts`).',
      '',
      ...ROUTE_SPECS.flatMap((spec) => [`## ${spec.method} ${spec.path}`, '', spec.summary, '', ...examples.get(spec)!.flatMap((e) => [e, ''])]),
    ].join('\n');
    if (process.env.UPDATE_DOCS === '1') await writeFile(DOC, text);
    else expect(await readFile(DOC, 'utf8').catch(() => ''), 'docs/api.md is stale: UPDATE_DOCS=1 npx vitest run test/e2e/api-examples.test.ts').toBe(text);
  }, 90_000);
});
