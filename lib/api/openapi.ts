import { z } from 'zod';
import { ERROR_CODES, ERROR_STATUS } from './http.js';

/**
 * The HTTP contract as data: each route declares its path template, parameters, body and answers with
 * zod schemas once (functions/api/routes.ts), and the router, the OpenAPI 3.1 document
 * (`GET /openapi.json`, docs/openapi.json) and the contract tests all read that one declaration.
 */
export interface RouteSpec {
  method: 'GET' | 'POST' | 'PUT';
  /** OpenAPI path template: `/api/events/{id}/stats` */
  path: string;
  operationId: string;
  summary: string;
  tag: string;
  /** path parameters, one string property per `{name}` */
  params?: z.ZodObject;
  query?: z.ZodType;
  body?: z.ZodType;
  /** answers by status; errors need no entry (every route may answer the shared error body) */
  responses: Partial<Record<200 | 201 | 202 | 304 | 503, { description: string; schema?: z.ZodType; contentType?: string }>>;
  /** headers the route reads (documented as parameters) */
  headers?: Record<string, { description: string; required?: boolean }>;
}

/** The error body every failure answers with: `{"error":{"code","message"}}`, codes from one list. */
export const errorBodySchema = z
  .strictObject({
    error: z.strictObject({
      code: z.enum(ERROR_CODES as [string, ...string[]]),
      message: z.string(),
    }),
  })
  .meta({ id: 'Error', description: 'Every error: a code from one list (its HTTP status is fixed per code) and a human-readable message.' });

/** The path template as a regular expression whose groups are the parameters, in order. */
export function pathPattern(template: string): RegExp {
  const source = template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '([^/]+)');
  return new RegExp(`^${source}$`);
}

export const pathParameterNames = (template: string) => [...template.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);

/** `/api/events/{id}/stats` → `/api/events/:id/stats`, the route's low-cardinality metrics label. */
export const routeName = (template: string) => template.replace(/\{([^}]+)\}/g, ':$1');

const jsonSchema = (schema: z.ZodType, io: 'input' | 'output') => z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any', reused: 'inline' }) as Record<string, unknown>;

/** A schema with its `$schema` key dropped and its named parts moved to `components.schemas`. */
function componentised(schema: z.ZodType, io: 'input' | 'output', components: Record<string, unknown>): Record<string, unknown> {
  const toComponents = (value: unknown) => JSON.parse(JSON.stringify(value).replace(/"#\/\$defs\//g, '"#/components/schemas/')) as Record<string, unknown>;
  const { $schema: _, $defs, ...rest } = jsonSchema(schema, io) as Record<string, unknown> & { $defs?: Record<string, unknown> };
  for (const [name, def] of Object.entries($defs ?? {})) components[name] = toComponents(def);
  const text = JSON.stringify(toComponents(rest));
  const named = schema.meta()?.id;
  if (typeof named === 'string') {
    // zod puts a named root in $defs when it is referenced from within; then `rest` is only a $ref to it.
    if (!$defs?.[named]) components[named] = JSON.parse(text);
    return { $ref: `#/components/schemas/${named}` };
  }
  return JSON.parse(text) as Record<string, unknown>;
}

/** The parameters of an object schema, one per property (query strings are flat). */
function parametersOf(schema: z.ZodType | undefined, where: 'path' | 'query'): Record<string, unknown>[] {
  if (!schema) return [];
  const object = jsonSchema(schema, 'input') as { properties?: Record<string, Record<string, unknown>>; required?: string[] };
  return Object.entries(object.properties ?? {}).map(([name, property]) => {
    const { description, ...rest } = property;
    return { name, in: where, required: where === 'path' || (object.required ?? []).includes(name), ...(description ? { description } : {}), schema: rest };
  });
}

export function openApiDocument(specs: readonly RouteSpec[], info: { title: string; version: string; description: string }): Record<string, unknown> {
  const components: Record<string, unknown> = {};
  const paths: Record<string, Record<string, unknown>> = {};
  const errorRef = componentised(errorBodySchema, 'output', components);
  const errorStatuses = [...new Set(Object.values(ERROR_STATUS))].sort();
  for (const spec of specs) {
    const responses: Record<string, unknown> = {};
    for (const [status, answer] of Object.entries(spec.responses)) {
      responses[status] = {
        description: answer!.description,
        ...(answer!.schema ? { content: { [answer!.contentType ?? 'application/json']: { schema: componentised(answer!.schema, 'output', components) } } } : {}),
      };
    }
    if (spec.method === 'GET') {
      for (const answer of Object.values(responses) as { headers?: unknown }[]) answer.headers = { ETag: { description: 'the answer\'s validator (public reads)', schema: { type: 'string' } } };
      responses['304'] ??= { description: 'not modified: If-None-Match named the current ETag (no body)' };
    }
    for (const status of errorStatuses) {
      const codes = ERROR_CODES.filter((c) => ERROR_STATUS[c] === status);
      const retry = status === 429 || status === 503 ? { headers: { 'Retry-After': { description: 'seconds to wait before retrying', schema: { type: 'integer' } } } } : {};
      responses[String(status)] ??= { description: `error: ${codes.join(', ')}`, ...retry, content: { 'application/json': { schema: errorRef } } };
    }
    const declared = { ...(spec.method === 'GET' ? { 'If-None-Match': { description: 'an ETag from an earlier answer: 304 while it is current' } } : {}), ...spec.headers };
    const headers = Object.entries(declared).map(([name, h]) => ({ name, in: 'header', required: (h as { required?: boolean }).required ?? false, description: h.description, schema: { type: 'string' } }));
    paths[spec.path] ??= {};
    paths[spec.path]![spec.method.toLowerCase()] = {
      operationId: spec.operationId,
      summary: spec.summary,
      tags: [spec.tag],
      parameters: [...parametersOf(spec.params, 'path'), ...parametersOf(spec.query, 'query'), ...headers],
      ...(spec.body ? { requestBody: { required: true, content: { 'application/json': { schema: componentised(spec.body, 'input', components) } } } } : {}),
      responses,
    };
  }
  return { openapi: '3.1.0', info, paths, components: { schemas: components } };
}

const escapeHtml = (text: string) => text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** `GET /docs`: the document as one self-contained page (no scripts, no CDN), grouped by tag. */
export function docsPage(document: Record<string, unknown>): string {
  const info = document.info as { title: string; version: string; description: string };
  const paths = document.paths as Record<string, Record<string, { summary: string; tags: string[]; parameters: { name: string; in: string; required: boolean; description?: string }[]; responses: Record<string, { description: string; content?: Record<string, { schema: unknown }> }>; requestBody?: unknown }>>;
  const byTag = new Map<string, string[]>();
  for (const [path, operations] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(operations)) {
      const params = op.parameters.map((p) => `<li><code>${escapeHtml(p.name)}</code> (${p.in}${p.required ? ', required' : ''})${p.description ? ` — ${escapeHtml(p.description)}` : ''}</li>`).join('');
      const answers = Object.entries(op.responses)
        .filter(([status]) => Number(status) < 400)
        .map(([status, r]) => `<details><summary>${status} ${escapeHtml(r.description)}</summary>${r.content ? `<pre>${escapeHtml(JSON.stringify(Object.values(r.content)[0]!.schema, null, 2))}</pre>` : ''}</details>`)
        .join('');
      const body = op.requestBody ? `<details><summary>request body</summary><pre>${escapeHtml(JSON.stringify(op.requestBody, null, 2))}</pre></details>` : '';
      const section = `<section><h3><span class="m">${method.toUpperCase()}</span> <code>${escapeHtml(path)}</code></h3><p>${escapeHtml(op.summary)}</p>${params ? `<ul>${params}</ul>` : ''}${body}${answers}</section>`;
      (byTag.get(op.tags[0]!) ?? byTag.set(op.tags[0]!, []).get(op.tags[0]!)!).push(section);
    }
  }
  const groups = [...byTag].map(([tag, sections]) => `<h2>${escapeHtml(tag)}</h2>${sections.join('')}`).join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(info.title)} API</title><meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#111}code,pre{font-family:ui-monospace,monospace}pre{background:#f4f4f4;padding:.5rem;overflow:auto;font-size:13px}.m{background:#1d4ed8;color:#fff;padding:0 .4rem;border-radius:3px;font-size:13px}section{border-top:1px solid #ddd;padding:.5rem 0}</style></head>
<body><h1>${escapeHtml(info.title)} <small>${escapeHtml(info.version)}</small></h1><p>${escapeHtml(info.description)}</p><p>The machine-readable contract: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1). Every error is <code>{"error":{"code","message"}}</code>.</p>${groups}</body></html>`;
}
