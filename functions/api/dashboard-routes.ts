import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { cacheControlFor, HttpError, json, type HttpResponse } from '../../lib/api/http.js';
import { ttlForWindow } from '../../lib/api/cache.js';
import { cachedValue } from '../../lib/api/read-policy.js';
import { streamPreamble } from '../../lib/api/live-notices.js';
import type { RouteSpec } from '../../lib/api/openapi.js';
import type { ApiRequest, RouteDeps } from '../../lib/api/deps.js';
import { customWindow, MAX_SYNC_WINDOW_SECONDS, rollingWindow, WindowError, type QueryWindow } from '../../lib/query/window.js';
import { topAuthors } from '../../lib/query/top-authors.js';
import * as contract from './contract.js';

/**
 * The dashboard's routes: the page (`GET /`), its scripts and stylesheet, the live stream and the
 * "most active authors" read the page opens on. The page's files are plain ES modules and CSS under
 * functions/api/dashboard/, served as they are: read once per process relative to this module, which
 * in AWS is the api bundle, where infra/lib/api.ts copies that folder (docs/deploy.md).
 */

/** The page's ES modules, by name (`/dashboard/<name>.js`); test/unit/dashboard-routes.test.ts checks this is the folder's list. */
export const DASHBOARD_MODULES = ['main', 'state', 'api', 'dom', 'format', 'nip19', 'charts', 'tables', 'live', 'creator', 'network'] as const;
export const DASHBOARD_STYLESHEET = 'dashboard.css';

const ASSETS = new URL('./dashboard/', import.meta.url);
const assetText = new Map<string, Promise<string>>();
/** A file of the page, read on first use (not at cold start: most requests are API reads). */
function asset(name: string): Promise<string> {
  let text = assetText.get(name);
  if (!text) {
    text = readFile(new URL(name, ASSETS), 'utf8');
    // a failed read is retried by the next request, not cached
    text.catch(() => assetText.delete(name));
    assetText.set(name, text);
  }
  return text;
}

/** The page talks to its own origin only: no CDN, no third-party fetch, no inline script. */
export const DASHBOARD_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** Revalidated on every load (a 304 while the deployment is the same), so a deploy is seen at once. */
const ASSET_CACHE = 'public, no-cache';

async function assetResponse(name: string, contentType: string, extra: Record<string, string> = {}): Promise<HttpResponse> {
  return { statusCode: 200, headers: { 'content-type': `${contentType}; charset=utf-8`, 'cache-control': ASSET_CACHE, 'x-content-type-options': 'nosniff', ...extra }, body: await asset(name) };
}

const text = z.string().optional();
/** The page's own state, all in the URL so a link reproduces the view; read by the page, not the server. */
const pageQuery = z.object({
  view: text.describe('creator (the default) or network'),
  pubkey: text.describe('the creator: 64 hex characters or an npub; without one the page opens on the most active author'),
  interval: text.describe('24h (the default), 7d, 30d or 90d'),
  startTs: text.describe('a custom window: start, unix seconds (with endTs; windows past 90 days run as a job)'),
  endTs: text.describe('a custom window: end, unix seconds'),
  tz: text.describe('the heat map\'s time zone, an offset like +05:30 (default: the browser\'s)'),
  chart: text.describe('the timeline\'s metric: reactions (the default), posts, replies, reposts, repliesReceived, zaps, sats'),
  feed: text.describe('the network view\'s video feed: trending (the default) or recent'),
});

const unixSeconds = (name: string) => z.string().regex(/^\d{1,12}$/, `${name} must be unix seconds`).transform(Number);
const topAuthorsQuery = z
  .object({
    interval: z.string().optional(),
    startTs: unixSeconds('startTs').optional(),
    endTs: unixSeconds('endTs').optional(),
    limit: z.string().regex(/^\d{1,3}$/, 'limit must be a number from 1 to 100').transform(Number).pipe(z.number().int().min(1, 'limit must be at least 1').max(100, 'limit must be at most 100')).default(10),
  })
  .refine((q) => !(q.interval && (q.startTs !== undefined || q.endTs !== undefined)), 'give either interval or startTs/endTs, not both')
  .refine((q) => (q.startTs === undefined) === (q.endTs === undefined), 'startTs and endTs go together');

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  throw new HttpError('bad_request', `${issue.path.length ? `${issue.path.join('.')}: ` : ''}${issue.message}`);
}

/** A window the counters answer at once (top authors have no job path: past 90 days is a 400). */
function syncWindow(query: { interval?: string; startTs?: number; endTs?: number }, nowSeconds: number): QueryWindow {
  let window: QueryWindow;
  try {
    window = query.startTs !== undefined && query.endTs !== undefined ? customWindow(query.startTs, query.endTs, nowSeconds) : rollingWindow(query.interval ?? '7d', nowSeconds);
  } catch (error) {
    if (error instanceof WindowError) throw new HttpError('bad_window', error.message);
    throw error;
  }
  if (window.endTs - window.startTs > MAX_SYNC_WINDOW_SECONDS) throw new HttpError('bad_window', `top authors cover at most ${MAX_SYNC_WINDOW_SECONDS / 86400} days`);
  return window;
}

type Handler = (params: Record<string, string>, request: ApiRequest, deps: RouteDeps) => Promise<HttpResponse>;

export const DASHBOARD_ROUTES: { spec: RouteSpec; handle: Handler }[] = [
  {
    spec: {
      method: 'GET',
      path: '/',
      operationId: 'dashboard',
      summary: 'The dashboard: a creator\'s analytics and the network\'s, with presets, comparison, CSV and live updates (HTML; its scripts and styles are under /dashboard/)',
      tag: 'dashboard',
      query: pageQuery,
      responses: { 200: { description: 'HTML', schema: z.string(), contentType: 'text/html' } },
    },
    handle: async () => assetResponse('index.html', 'text/html', { 'content-security-policy': DASHBOARD_CSP }),
  },
  {
    spec: {
      method: 'GET',
      path: '/dashboard/{module}.js',
      operationId: 'dashboardScript',
      summary: 'One of the dashboard\'s ES modules',
      tag: 'dashboard',
      params: z.object({ module: z.enum(DASHBOARD_MODULES) }),
      responses: { 200: { description: 'JavaScript (an ES module)', schema: z.string(), contentType: 'text/javascript' } },
    },
    handle: async (params) => {
      const name = params.module as (typeof DASHBOARD_MODULES)[number];
      if (!DASHBOARD_MODULES.includes(name)) throw new HttpError('not_found', `no dashboard module ${name.slice(0, 64)}.js`);
      return assetResponse(`${name}.js`, 'text/javascript');
    },
  },
  {
    spec: { method: 'GET', path: `/dashboard/${DASHBOARD_STYLESHEET}`, operationId: 'dashboardStylesheet', summary: 'The dashboard\'s stylesheet', tag: 'dashboard', responses: { 200: { description: 'CSS', schema: z.string(), contentType: 'text/css' } } },
    handle: async () => assetResponse(DASHBOARD_STYLESHEET, 'text/css'),
  },
  {
    spec: {
      method: 'GET',
      path: '/api/analytics/stream',
      operationId: 'liveStream',
      summary: 'Server-Sent Events for live dashboards: an `update` event ({topic: counted|settled|feeds, at}) when new data can be read (the local stack; in AWS this answers 404 and a dashboard polls with If-None-Match)',
      tag: 'dashboard',
      responses: { 200: { description: 'an event stream: `retry`, a `ready` event, then `update` events and keep-alive comments', schema: z.string(), contentType: 'text/event-stream' } },
    },
    handle: async (_p, _r, deps) => {
      if (!deps.liveNotices) throw new HttpError('not_found', 'the live stream is served by the local stack; here, poll the reads with If-None-Match (docs/deploy.md)');
      // The preamble only: the HTTP server holding the connection writes each notice after it (lib/local/http-server.ts).
      return { statusCode: 200, headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' }, body: streamPreamble(deps.clock.now()) };
    },
  },
  {
    spec: {
      method: 'GET',
      path: '/api/analytics/top-authors',
      operationId: 'topAuthors',
      summary: 'The network\'s most active authors over a window of at most 90 days (interval, default 7d, or startTs/endTs): events published, from the settled hours',
      tag: 'network',
      query: topAuthorsQuery,
      responses: { 200: { description: 'the ranking', schema: contract.topAuthorsSchema } },
    },
    handle: async (_p, request, deps) => {
      const query = parse(topAuthorsQuery, request.query);
      const window = syncWindow(query, Math.floor(deps.clock.now() / 1000));
      const length = window.endTs - window.startTs;
      const answer = await cachedValue(deps, `top-authors:${window.startTs}:${window.endTs}:${query.limit}`, ttlForWindow(length), () => topAuthors(window, deps, query.limit));
      return json(200, answer, cacheControlFor(length));
    },
  },
];
