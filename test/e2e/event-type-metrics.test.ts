import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiHandler } from '../../functions/api/handler.js';
import { hashApiKey, staticApiKeys } from '../../lib/app/api-keys.js';
import { MAX_DIMENSION_VALUES, OTHER_VALUE } from '../../lib/app/dimension-values.js';
import { retentionFromEnv } from '../../lib/counters/retention.js';
import { lambdaContext } from '../../lib/local/stack/queue-consumer.js';
import { openPipeline, type Pipeline } from '../../lib/local/stack/stack.js';

/**
 * A registered event type's metrics through the real api, queue, ingest, live counters and compactor
 * (dynalite, the facts directory, DuckDB): `purchase` events with an amount, an item count, a country
 * (more distinct values than a dimension admits, some absent, some hostile) and a device, over one
 * day. Every answer is compared with a brute-force computation over the events sent, first from the
 * live minute counters, then from the settled hour and day items.
 */
const KEY = 'event-type-metrics-key';
const DAY0 = Date.UTC(2030, 2, 4) / 1000;
const HOUR = 3600;
let now = (DAY0 + 26 * HOUR) * 1000;
const clock = { now: () => now };
let dir: string;
let pipeline: Pipeline;
let api: ReturnType<typeof createApiHandler>;

async function call(method: string, path: string, body?: unknown) {
  const [rawPath, rawQueryString] = path.split('?');
  const response = await api(
    {
      rawPath,
      rawQueryString: rawQueryString ?? '',
      queryStringParameters: Object.fromEntries(new URLSearchParams(rawQueryString ?? '')),
      headers: { 'x-api-key': KEY },
      body: body === undefined ? undefined : JSON.stringify(body),
      requestContext: { http: { method, sourceIp: '192.0.2.9' } },
    } as unknown as APIGatewayProxyEventV2,
    lambdaContext('event-type-metrics'),
  );
  return { status: response.statusCode, body: JSON.parse(response.body ?? 'null') };
}

/** A small deterministic generator, so a failure can be replayed. */
function random(seed: number) {
  let state = seed;
  return () => ((state = (state * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
}

const COUNTRIES = ['DE', 'FR', 'US', 'BR', 'JP', 'IN', 'NG', 'MX', 'ES', 'IT', 'PL', 'SE', 'KR', 'CA'];
const DEVICES = ['ios', 'android', 'web'];
interface Sent {
  userId: string;
  timestamp: number;
  properties: { amount: number; items?: number; country?: string; device: string };
}
const sent: Sent[] = [];
{
  const next = random(42);
  for (let i = 0; i < 600; i++) {
    const pick = next();
    // most countries first seen early; a few absent; two hostile values that must not take a slot
    const country = i === 3 ? 'x|y' : i === 5 ? 'z'.repeat(40) : pick < 0.05 ? undefined : COUNTRIES[Math.floor(next() * COUNTRIES.length)];
    sent.push({
      userId: `user-${Math.floor(next() * 80)}`,
      timestamp: DAY0 + Math.floor(next() * 86_400),
      properties: { amount: Math.round(next() * 50_000) / 100, ...(i % 7 ? { items: 1 + Math.floor(next() * 5) } : {}), ...(country === undefined ? {} : { country }), device: DEVICES[i % 3]! },
    });
  }
}

/** The group each event counts under: the first MAX_DIMENSION_VALUES countries in the order ingest met them. */
function countryGroups(): (string | null)[] {
  const admitted = new Set<string>();
  return sent.map(({ properties: { country } }) => {
    if (country === undefined) return null;
    if (country.includes('|') || country.length > 32) return OTHER_VALUE;
    if (admitted.has(country)) return country;
    if (admitted.size < MAX_DIMENSION_VALUES) return admitted.add(country), country;
    return OTHER_VALUE;
  });
}

/** Sums in thousandths, as the counters keep them: the brute force is exact, not within a tolerance. */
const thousandths = (x: number) => Math.round(x * 1000);
function bruteForce(keyOf: (event: Sent, i: number) => string, value: (events: Sent[]) => number | null, filter: (event: Sent) => boolean = () => true): Map<string, number | null> {
  const byKey = new Map<string, Sent[]>();
  sent.forEach((event, i) => {
    if (!filter(event)) return;
    const key = keyOf(event, i);
    (byKey.get(key) ?? byKey.set(key, []).get(key)!).push(event);
  });
  return new Map([...byKey].map(([key, events]) => [key, value(events)]));
}
const sumOf = (events: Sent[]) => events.reduce((s, e) => s + thousandths(e.properties.amount), 0) / 1000;
const answerMap = (groups: { group: Record<string, string | null>; value: number | null }[]) => new Map(groups.map((g) => [JSON.stringify(g.group), g.value]));
const dayWindow = `startTime=${new Date(DAY0 * 1000).toISOString()}&endTime=${new Date((DAY0 + 86_400) * 1000).toISOString()}`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'funnel-event-types-'));
  pipeline = await openPipeline({ dataDir: join(dir, 'data'), clock, batchWindowMs: 0, ephemeralCounters: true });
  api = createApiHandler({
    counters: pipeline.counters,
    clock,
    retention: retentionFromEnv({}),
    app: { ingestQueue: pipeline.queue, apiKeys: staticApiKeys(`sha256:${hashApiKey(KEY)}:shop`) },
    jobs: { queue: pipeline.jobsQueue, objects: pipeline.objects, settings: { resultTtlSeconds: 3600, perClientPerHour: 20 } },
  });
  const schema = {
    type: 'object',
    properties: { amount: { type: 'number', minimum: 0 }, items: { type: 'integer', minimum: 1 }, country: { type: 'string', maxLength: 64 }, device: { type: 'string' } },
    required: ['amount', 'device'],
  };
  const registered = await call('PUT', '/v1/schemas/purchase', { schema, dimensions: ['country', 'device'] });
  expect(registered.status).toBe(201);
  expect(registered.body.data).toMatchObject({ dimensions: ['country', 'device'], measures: ['amount', 'items'] });
  for (let i = 0; i < sent.length; i += 100) {
    const answer = await call('POST', '/v1/events', { events: sent.slice(i, i + 100).map((e) => ({ name: 'purchase', ...e })) });
    expect(answer.body.data).toMatchObject({ accepted: 100, rejected: [] });
    // one message at a time, so the values are admitted in the order they were sent
    await pipeline.consumer.drain(30_000);
  }
}, 120_000);
afterAll(async () => {
  await pipeline?.close();
  await rm(dir, { recursive: true, force: true });
});

/** The same questions before and after settling: the live minute items, then the settled hours and day. */
async function expectExact(source: 'canonical+delta' | 'canonical') {
  const groups = countryGroups();
  const revenue = await call('GET', `/v1/metrics/purchase?agg=sum&property=amount&groupBy=country&granularity=hour&${dayWindow}`);
  expect(revenue.status).toBe(200);
  expect(revenue.body.meta.source).toBe(source);
  const byCountry = bruteForce((_, i) => JSON.stringify({ country: groups[i] }), sumOf);
  expect(answerMap(revenue.body.data.groups)).toEqual(byCountry);
  // ten admitted countries, (other) and absent: every group is bounded, whatever was sent
  expect(byCountry.size).toBe(MAX_DIMENSION_VALUES + 2);
  // the hourly points of each group add up to its total
  for (const group of revenue.body.data.groups) {
    expect(group.series).toHaveLength(24);
    expect(thousandths(group.series.reduce((s: number, p: { value: number }) => s + p.value, 0))).toBe(thousandths(group.value));
  }

  const total = await call('GET', `/v1/metrics/purchase?agg=sum&property=amount&${dayWindow}`);
  expect(total.body.data.groups).toHaveLength(1);
  expect(total.body.data.groups[0].value).toBe(sumOf(sent));

  // avg of an optional measure: over the events that carried it
  const items = await call('GET', `/v1/metrics/purchase?agg=avg&property=items&groupBy=device&${dayWindow}`);
  const itemsByDevice = bruteForce((e) => JSON.stringify({ device: e.properties.device }), (events) => events.reduce((s, e) => s + e.properties.items! * 1000, 0) / 1000 / events.length, (e) => e.properties.items !== undefined);
  expect(answerMap(items.body.data.groups)).toEqual(itemsByDevice);

  // two dimensions: every (country, device) pair's count
  const pairs = await call('GET', `/v1/metrics/purchase?agg=count&groupBy=device,country&${dayWindow}`);
  expect(pairs.body.data.groupBy).toEqual(['device', 'country']);
  expect(answerMap(pairs.body.data.groups.map((g: { group: Record<string, string | null>; value: number }) => ({ group: { country: g.group.country!, device: g.group.device! }, value: g.value })))).toEqual(
    bruteForce((e, i) => JSON.stringify({ country: groups[i], device: e.properties.device }), (events) => events.length),
  );

  // unique users of the whole type: a HyperLogLog estimate, near-exact at this size
  const users = await call('GET', `/v1/metrics/purchase?agg=unique&${dayWindow}`);
  const exactUsers = new Set(sent.map((e) => e.userId)).size;
  expect(Math.abs(users.body.data.groups[0].value - exactUsers)).toBeLessThanOrEqual(2);
}

describe('metrics of a registered event type', () => {
  it('sum, avg, count and unique users, by one or two dimensions, exact from the live counters', async () => {
    await expectExact('canonical+delta');
  });

  it('the same answers once the day is settled (hour and day items)', async () => {
    const result = await pipeline.compact();
    expect(result).toBeDefined();
    await expectExact('canonical');
  });

  it('a point per minute over a short window', async () => {
    const start = DAY0 + 5 * HOUR;
    const answer = await call('GET', `/v1/metrics/purchase?agg=count&granularity=minute&startTs=${start}&endTs=${start + 2 * HOUR}`);
    expect(answer.status).toBe(200);
    const series = answer.body.data.groups[0].series as { start: string; value: number }[];
    expect(series).toHaveLength(120);
    const perMinute = bruteForce((e) => new Date(Math.floor(e.timestamp / 60) * 60_000).toISOString(), (events) => events.length, (e) => e.timestamp >= start && e.timestamp < start + 2 * HOUR);
    expect(new Map(series.filter((p) => p.value > 0).map((p) => [p.start, p.value]))).toEqual(perMinute);
  });

  it('past 90 days, and unique users by dimension, a job answers from the facts, grouped as the counters group', async () => {
    const viaJob = async (query: string) => {
      const accepted = await call('GET', `/v1/metrics/purchase?${query}`);
      expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
      await pipeline.jobsConsumer.drain(60_000);
      const job = await call('GET', accepted.body.data.poll);
      expect(job.body.data.status, JSON.stringify(job.body.data)).toBe('complete');
      expect(job.body.data.result.meta.source).toBe('fallback');
      return job.body.data.result.data as { granularity: string; groups: { group: Record<string, string | null>; value: number | null; series: { start: string; value: number | null }[] }[] };
    };
    const groups = countryGroups();
    const long = `startTs=${DAY0 - 100 * 86_400}&endTs=${DAY0 + 86_400}`;
    const revenue = await viaJob(`agg=sum&property=amount&groupBy=country&${long}`);
    expect(answerMap(revenue.groups)).toEqual(bruteForce((_, i) => JSON.stringify({ country: groups[i] }), sumOf));
    expect(revenue.groups[0]!.series).toHaveLength(101);
    const items = await viaJob(`agg=avg&property=items&groupBy=device&${long}`);
    expect(answerMap(items.groups)).toEqual(bruteForce((e) => JSON.stringify({ device: e.properties.device }), (events) => events.reduce((s, e) => s + e.properties.items! * 1000, 0) / 1000 / events.length, (e) => e.properties.items !== undefined));

    const users = await viaJob(`agg=unique&groupBy=country&${dayWindow}`);
    const exact = bruteForce((_, i) => JSON.stringify({ country: groups[i] }), (events) => new Set(events.map((e) => e.userId)).size);
    expect(users.groups.map((g) => JSON.stringify(g.group)).sort()).toEqual([...exact.keys()].sort());
    for (const group of users.groups) expect(Math.abs(group.value! - exact.get(JSON.stringify(group.group))!), JSON.stringify(group)).toBeLessThanOrEqual(1);
    // a job's unique users are per group, not per pair of groups
    expect((await call('GET', `/v1/metrics/purchase?agg=unique&groupBy=country,device&${dayWindow}`)).status).toBe(400);
  });

  it('says what it cannot answer, and the built-in metrics keep their route', async () => {
    const problem = async (query: string, status = 400) => {
      const answer = await call('GET', `/v1/metrics/${query}`);
      expect(answer.status).toBe(status);
      return String(answer.body.error.message);
    };
    expect(await problem(`purchase?agg=sum&property=country&${dayWindow}`)).toContain('not a measure');
    expect(await problem(`purchase?agg=sum&${dayWindow}`)).toContain('needs property');
    expect(await problem(`purchase?agg=count&groupBy=plan&${dayWindow}`)).toContain('not a dimension');
    expect(await problem(`purchase?agg=unique&groupBy=country&granularity=hour&${dayWindow}`)).toContain('per day');
    expect(await problem(`purchase?agg=count&granularity=minute&${dayWindow}`)).toContain('at most 6 hours');
    expect(await problem(`purchase?agg=median&${dayWindow}`)).toContain('agg');
    expect(await problem(`never-registered?${dayWindow}`, 404)).toContain('no registered schema');
    expect((await call('PUT', '/v1/schemas/events', { schema: { type: 'object' } })).status).toBe(400);
    const builtIn = await call('GET', `/v1/metrics/events?${dayWindow}`);
    expect(builtIn.status).toBe(200);
    expect(builtIn.body.data.total).toBe(sent.length);
  });
});
