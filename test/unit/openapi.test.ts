import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Validator } from '@seriousme/openapi-schema-validator';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { apiDocument, ROUTE_SPECS } from '../../functions/api/routes.js';
import { createApiHandler } from '../../functions/api/handler.js';
import { lambdaContext } from '../../lib/local/stack/queue-consumer.js';
import { retentionFromEnv } from '../../lib/counters/retention.js';
import { pathPattern } from '../../lib/api/openapi.js';
import { MemoryCounterStore } from '../../lib/adapters/memory/index.js';

describe('the OpenAPI contract', () => {
  const document = apiDocument() as { openapi: string; paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>> };

  it('is a valid OpenAPI 3.1 document', async () => {
    const result = await new Validator().validate(document);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(document.openapi).toBe('3.1.0');
    // Every named schema is defined, not a reference to itself (zod's $defs for a root referenced within).
    const schemas = (document as unknown as { components: { schemas: Record<string, Record<string, unknown>> } }).components.schemas;
    for (const [name, schema] of Object.entries(schemas)) expect({ name, ref: schema.$ref }).toEqual({ name, ref: undefined });
  });

  it('lists every route the router serves, each with its answers and the shared error body', () => {
    const operations = Object.entries(document.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method: method.toUpperCase(), op })));
    expect(operations.map((o) => `${o.method} ${o.path}`).sort()).toEqual(ROUTE_SPECS.map((s) => `${s.method} ${s.path}`).sort());
    for (const { op } of operations) {
      expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['400', '404', '429', '500', '503']));
      expect(new Set(operations.map((o) => o.op.operationId)).size).toBe(operations.length);
    }
    // Templates match what they say and nothing else.
    expect(pathPattern('/api/events/{id}/stats').exec('/api/events/abc/stats')?.[1]).toBe('abc');
    expect(pathPattern('/api/events/{id}/stats').test('/api/events/a/b/stats')).toBe(false);
  });

  it('docs/openapi.json is current (npm run openapi writes it)', () => {
    const file = JSON.parse(readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8'));
    expect(file, 'docs/openapi.json is stale: run npm run openapi').toEqual(document);
  });

  it('is served at GET /openapi.json and readable at GET /docs', async () => {
    const api = createApiHandler({ counters: new MemoryCounterStore(), clock: { now: () => Date.now() }, retention: retentionFromEnv({}) });
    const get = async (path: string) => api({ rawPath: path, requestContext: { http: { method: 'GET', sourceIp: '10.0.0.1' } } } as unknown as APIGatewayProxyEventV2, lambdaContext('test'));
    const json = await get('/openapi.json');
    expect(json.statusCode).toBe(200);
    expect(JSON.parse(json.body!)).toEqual(document);
    const page = await get('/docs');
    expect(page.statusCode).toBe(200);
    expect(page.headers!['content-type']).toContain('text/html');
    for (const path of Object.keys(document.paths)) expect(page.body).toContain(path);
  });
});
