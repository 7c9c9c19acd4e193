import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createApiHandler } from '../../functions/api/handler.js';
import { lambdaContext } from '../../lib/local/stack/queue-consumer.js';
import { hashApiKey, staticApiKeys } from '../../lib/app/api-keys.js';
import { retentionFromEnv } from '../../lib/counters/retention.js';
import { ingestBatch } from '../../lib/ingest/ingest.js';
import { loadVerifier } from '../../lib/nostr/verify.js';
import { MetricsRegistry } from '../../lib/metrics/registry.js';
import { MAX_MEASURES, MAX_SCHEMA_BYTES, registerSchema, SchemaRegistrationError, SchemaValidators, SCHEMA_CACHE_MS } from '../../lib/app/schemas.js';
import { decodeFacts } from '../../lib/facts/parquet.js';
import type { CounterStore } from '../../lib/ports.js';
import { memoryStores } from '../support/local.js';

/** The schema registry over the real api handler and ingest, on dynalite and the facts directory. */
const KEY = 'schema-test-key';
const NOW = Date.parse('2030-01-01T00:00:00Z');
let stores: Awaited<ReturnType<typeof memoryStores>>;
let api: ReturnType<typeof createApiHandler>;
let clockMs = NOW;
const clock = { now: () => clockMs };
const queued: string[] = [];

async function call(method: string, path: string, body?: unknown) {
  const response = await api(
    { rawPath: path, headers: { 'x-api-key': KEY }, body: body === undefined ? undefined : JSON.stringify(body), requestContext: { http: { method, sourceIp: '192.0.2.7' } } } as unknown as APIGatewayProxyEventV2,
    lambdaContext('schemas'),
  );
  return { status: response.statusCode, body: JSON.parse(response.body ?? 'null') };
}

const purchase = { type: 'object', properties: { amount: { type: 'number', minimum: 0 }, country: { type: 'string', maxLength: 2 } }, required: ['amount'], additionalProperties: false };

beforeAll(async () => {
  stores = await memoryStores();
  api = createApiHandler({
    counters: stores.counters,
    clock,
    retention: retentionFromEnv({}),
    app: { ingestQueue: { sendBatch: async (bodies) => (queued.push(...bodies), { failed: [] }) }, apiKeys: staticApiKeys(`sha256:${hashApiKey(KEY)}:shop`) },
  });
});
afterAll(() => stores?.close());

describe('registering schemas', () => {
  it('numbers immutable versions; the same schema again is no new version; each version stays readable', async () => {
    const first = await call('PUT', '/v1/schemas/purchase', { schema: purchase, dimensions: ['country'] });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ data: { eventType: 'purchase', version: 1, dimensions: ['country'], schema: purchase }, meta: { project: 'shop' } });
    expect((await call('PUT', '/v1/schemas/purchase', { schema: purchase, dimensions: ['country'] })).status).toBe(200);
    const relaxed = { ...purchase, required: [] };
    expect((await call('PUT', '/v1/schemas/purchase', { schema: relaxed, dimensions: ['country'] })).body.data.version).toBe(2);
    expect((await call('GET', '/v1/schemas')).body.data.map((v: { eventType: string; version: number }) => [v.eventType, v.version])).toEqual([['purchase', 2]]);
    expect((await call('GET', '/v1/schemas/purchase/versions/1')).body.data.schema).toEqual(purchase);
    expect((await call('GET', '/v1/schemas/purchase/versions/9')).body.error.code).toBe('not_found');
    // back to the strict one for the tests below: a third version
    expect((await call('PUT', '/v1/schemas/purchase', { schema: purchase, dimensions: ['country'] })).body.data.version).toBe(3);
  });

  it('refuses what it cannot enforce safely, saying what is wrong', async () => {
    const refused = async (schema: unknown, dimensions?: string[]) => {
      const answer = await call('PUT', '/v1/schemas/other', { schema, dimensions });
      expect(answer.status).toBe(400);
      return String(answer.body.error.message);
    };
    expect(await refused({ type: 'object', properties: { id: { type: 'string', pattern: '(a+)+$' } } })).toContain('pattern');
    expect(await refused({ type: 'object', properties: { at: { type: 'string', format: 'date-time' } } })).toContain('format');
    expect(await refused({ type: 'object', properties: { x: { $ref: 'https://example.com/s.json' } } })).toContain('$ref');
    expect(await refused({ type: 'object', madeUp: true })).toContain('unknown keyword');
    expect(await refused({ type: 'object', properties: { n: { type: 'number' } } }, ['n'])).toContain('dimension n');
    expect(await refused({ type: 'object', properties: { c: { type: 'string' } } }, ['c', 'c'])).toContain('distinct');
    expect(await refused({ type: 'object', description: 'x'.repeat(MAX_SCHEMA_BYTES) })).toContain(`${MAX_SCHEMA_BYTES} bytes`);
    // a property may be named like a keyword
    expect((await call('PUT', '/v1/schemas/other', { schema: { type: 'object', properties: { pattern: { type: 'string' } } } })).status).toBe(201);
    expect((await call('PUT', '/v1/schemas/Bad-Name', { schema: {} })).status).toBe(400);
    expect((await api({ rawPath: '/v1/schemas', headers: {}, requestContext: { http: { method: 'GET' } } } as unknown as APIGatewayProxyEventV2, lambdaContext('x'))).statusCode).toBe(401);
  });

  it('measures: numeric properties by default, named ones checked; a built-in metric name is no event type', async () => {
    const put = (type: string, body: unknown) => call('PUT', `/v1/schemas/${type}`, body);
    const numbers = (n: number) => ({ type: 'object', properties: Object.fromEntries(Array.from({ length: n }, (_, i) => [`n${i}`, { type: i % 2 ? 'integer' : 'number' }])) });
    expect((await put('scored', { schema: { ...numbers(2), properties: { ...numbers(2).properties, label: { type: 'string' } } }, dimensions: ['label'] })).body.data).toMatchObject({ measures: ['n0', 'n1'], dimensions: ['label'] });
    expect((await put('many', { schema: numbers(MAX_MEASURES + 1) })).body.error.message).toContain(`name at most ${MAX_MEASURES}`);
    expect((await put('many', { schema: numbers(MAX_MEASURES + 1), measures: ['n0', 'n3'] })).body.data.measures).toEqual(['n0', 'n3']);
    expect((await put('many2', { schema: { type: 'object', properties: { s: { type: 'string' } } }, measures: ['s'] })).body.error.message).toContain('measure s must be');
    expect((await put('many2', { schema: numbers(1), dimensions: [], measures: ['missing'] })).body.error.message).toContain('measure missing must be');
    expect((await put('many2', { schema: { type: 'object', properties: { 'a-b': { type: 'string' } } }, dimensions: ['a-b'] })).body.error.message).toContain('names are 1-32');
    expect((await put('events', { schema: numbers(1) })).body.error.message).toContain('built-in metric');
    // a version stored before measures existed reads as having none
    await stores.counters.putState('schema:shop:legacy', 1, { eventType: 'legacy', schema: numbers(1), dimensions: [], registeredAt: new Date(NOW).toISOString() });
    expect((await call('GET', '/v1/schemas/legacy/versions/1')).body.data.measures).toEqual([]);
  });

  it('two registrations racing for one version number: one wins, the other is told so', async () => {
    // Both read the versions before either writes (a conditional put decides).
    let waiting = 0;
    let release: () => void = () => {};
    const barrier = new Promise<void>((resolve) => (release = resolve));
    const racing: CounterStore = Object.create(stores.counters, {
      listState: {
        value: async (namespace: string) => {
          const records = await stores.counters.listState(namespace);
          if (namespace.startsWith('schema:shop:race') && ++waiting === 2) release();
          if (namespace.startsWith('schema:shop:race')) await barrier;
          return records;
        },
      },
    });
    const results = await Promise.allSettled([
      registerSchema(racing, clock, 'shop', 'race', { schema: { type: 'object' }, dimensions: [] }),
      registerSchema(racing, clock, 'shop', 'race', { schema: { type: 'object', required: [] }, dimensions: [] }),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const lost = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')!.reason;
    expect(lost).toBeInstanceOf(SchemaRegistrationError);
    expect(lost.code).toBe('conflict');
    expect((await call('GET', '/v1/schemas/race/versions/1')).status).toBe(200);
    expect((await call('GET', '/v1/schemas/race/versions/2')).status).toBe(404);
  });
});

describe('events against their schema', () => {
  it('POST /v1/events refuses an invalid event with its path and reason; ingest stores the good ones and counts the rest', async () => {
    queued.length = 0;
    const events = [
      { name: 'purchase', userId: 'u1', timestamp: NOW / 1000 - 60, properties: { amount: 12.5, country: 'DE' } },
      { name: 'purchase', userId: 'u2', timestamp: NOW / 1000 - 60, properties: { amount: 'lots', country: 'FR' } },
      { name: 'purchase', userId: 'u3', timestamp: NOW / 1000 - 60, properties: { country: 'FR' }, schemaVersion: 2 },
      { name: 'purchase', userId: 'u4', timestamp: NOW / 1000 - 60, properties: { amount: 1 }, schemaVersion: 7 },
      { name: 'click', userId: 'u5', timestamp: NOW / 1000 - 60 },
    ];
    const answer = await call('POST', '/v1/events', { events });
    expect(answer.status).toBe(202);
    expect(answer.body.data.accepted).toBe(3);
    expect(answer.body.data.rejected).toEqual([
      { index: 1, reason: 'schema_invalid', message: 'properties/amount: must be number (schema version 3)' },
      { index: 3, reason: 'unknown_schema_version', message: 'purchase has no schema version 7 (newest: 3)' },
    ]);

    // Ingest checks again: a message that did not come through the api (or a schema registered since) is held to it.
    const metrics = new MetricsRegistry();
    const deps = { objects: stores.objects, counters: stores.counters, verify: await loadVerifier(), clock, metrics, minuteTtlSeconds: 3600, logError: () => {} };
    const direct = JSON.stringify({ v: 1, source: 'app', project: 'shop', events });
    const result = await ingestBatch([...queued, direct].map((body, i) => ({ messageId: `m${i}`, receiveCount: 1, body })), deps);
    expect(result.failedMessageIds).toEqual([]);
    expect(result.rejected).toEqual({ schema_invalid: 1, unknown_schema_version: 1 });
    const facts = (await Promise.all((await stores.objects.list('facts/')).map(async (key) => decodeFacts((await stores.objects.get(key))!)))).flat();
    // the three good events, once each (the direct message repeats them: the same ids)
    expect(facts.filter((f) => f.project === 'shop').map((f) => f.type).sort()).toEqual(['app:click', 'app:purchase', 'app:purchase']);
  });

  it('a project that refuses unregistered types refuses them, at the api and at ingest, once its setting is read again', async () => {
    expect((await call('PUT', '/v1/settings', { unregisteredEvents: 'reject' })).body.data).toEqual({ unregisteredEvents: 'reject' });
    expect((await call('GET', '/v1/settings')).body.data).toEqual({ unregisteredEvents: 'reject' });
    expect((await call('PUT', '/v1/settings', { unregisteredEvents: 'maybe' })).status).toBe(400);
    clockMs += SCHEMA_CACHE_MS + 1;
    const answer = await call('POST', '/v1/events', { events: [{ name: 'click', userId: 'u5' }] });
    expect(answer.body.data.rejected).toEqual([{ index: 0, reason: 'unregistered_type', message: 'click has no registered schema, and the project refuses such events' }]);
    const validators = new SchemaValidators(stores.counters, clock);
    await validators.load('shop', ['click']);
    expect(validators.check('shop', { name: 'click', userId: 'u5' })).toMatchObject({ reason: 'unregistered_type' });
  });

  it('a registry that cannot be read fails the message (redelivered later), never stores it unchecked', async () => {
    const failing: CounterStore = Object.create(stores.counters, { listState: { value: async () => Promise.reject(new Error('ProvisionedThroughputExceededException')) } });
    const deps = { objects: stores.objects, counters: failing, verify: await loadVerifier(), clock, metrics: new MetricsRegistry(), minuteTtlSeconds: 3600, logError: () => {} };
    const body = JSON.stringify({ v: 1, source: 'app', project: 'fresh', events: [{ name: 'purchase', userId: 'u9', properties: { amount: 1 } }] });
    expect((await ingestBatch([{ messageId: 'x', receiveCount: 1, body }], deps)).failedMessageIds).toEqual(['x']);
    // what a container read before stands while the store does not answer, however old
    let down = false;
    const flaky: CounterStore = Object.create(stores.counters, {
      listState: { value: async (n: string) => (down ? Promise.reject(new Error('ThrottlingException')) : stores.counters.listState(n)) },
      getState: { value: async (n: string, id: number) => (down ? Promise.reject(new Error('ThrottlingException')) : stores.counters.getState(n, id)) },
    });
    const validators = new SchemaValidators(flaky, clock);
    await validators.load('shop', ['purchase']);
    down = true;
    clockMs += 10 * SCHEMA_CACHE_MS;
    await validators.load('shop', ['purchase']);
    expect(validators.check('shop', { name: 'purchase', userId: 'u', properties: { amount: 'x' } })).toMatchObject({ reason: 'schema_invalid' });
    await expect(validators.load('shop', ['never-read'])).rejects.toThrow('ThrottlingException');
  });
});
