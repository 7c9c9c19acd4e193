import { z } from 'zod';
import type { Clock, CounterStore } from '../../lib/ports.js';
import { cacheControlFor, HttpError, json, type HttpResponse } from '../../lib/api/http.js';
import { customWindow, MAX_SYNC_WINDOW_SECONDS, rollingWindow, WindowError, type QueryWindow } from '../../lib/query/window.js';
import { userSummary } from '../../lib/query/summary.js';
import { globalStats } from '../../lib/query/stats.js';
import { parsePubkey } from '../../lib/nostr/pubkey.js';

export interface ApiDeps {
  counters: CounterStore;
  clock: Clock;
  /** extra routes only the local stack serves (GET /metrics) */
  metricsText?: () => Promise<string> | string;
}

export interface ApiRequest {
  method: string;
  path: string;
  query: Record<string, string | undefined>;
}

const intString = (name: string) =>
  z
    .string()
    .regex(/^\d{1,12}$/, `${name} must be unix seconds`)
    .transform(Number);

const summaryQuery = z
  .object({
    interval: z.string().optional(),
    startTs: intString('startTs').optional(),
    endTs: intString('endTs').optional(),
  })
  .refine((q) => !(q.interval && (q.startTs !== undefined || q.endTs !== undefined)), 'give either interval or startTs/endTs, not both')
  .refine((q) => (q.startTs === undefined) === (q.endTs === undefined), 'startTs and endTs go together');

function badRequest(error: z.ZodError): HttpError {
  const issue = error.issues[0]!;
  const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
  return new HttpError(400, 'bad_request', `${where}${issue.message}`);
}

function windowFrom(query: z.infer<typeof summaryQuery>, nowSeconds: number): QueryWindow {
  try {
    const window =
      query.startTs !== undefined && query.endTs !== undefined
        ? customWindow(query.startTs, query.endTs, nowSeconds)
        : rollingWindow(query.interval ?? '24h', nowSeconds);
    if (window.endTs - window.startTs > MAX_SYNC_WINDOW_SECONDS) {
      throw new WindowError(`windows longer than ${MAX_SYNC_WINDOW_SECONDS / 86400} days are not answered from counters yet`);
    }
    return window;
  } catch (error) {
    if (error instanceof WindowError) throw new HttpError(400, 'bad_window', error.message);
    throw error;
  }
}

type Handler = (match: RegExpExecArray, request: ApiRequest, deps: ApiDeps) => Promise<HttpResponse>;

const routes: { method: string; pattern: RegExp; handle: Handler }[] = [
  { method: 'GET', pattern: /^\/health$/, handle: async (_m, _r, deps) => json(200, { status: 'ok', time: new Date(deps.clock.now()).toISOString() }) },
  {
    method: 'GET',
    pattern: /^\/metrics$/,
    handle: async (_m, _r, deps) => {
      if (!deps.metricsText) throw new HttpError(404, 'not_found', 'GET /metrics is served by the local stack; in AWS see CloudWatch');
      return { statusCode: 200, headers: { 'content-type': 'text/plain; version=0.0.4' }, body: await deps.metricsText() };
    },
  },
  { method: 'GET', pattern: /^\/api\/stats$/, handle: async (_m, _r, deps) => json(200, { data: await globalStats(deps.counters) }, 'public, max-age=10') },
  {
    method: 'GET',
    pattern: /^\/api\/v2\/analytics\/user\/([^/]+)\/summary$/,
    handle: async (match, request, deps) => {
      const pubkey = parsePubkey(decodeURIComponent(match[1]!));
      if (!pubkey) throw new HttpError(400, 'bad_pubkey', 'pubkey must be 64 hex characters or an npub');
      const query = summaryQuery.safeParse(request.query);
      if (!query.success) throw badRequest(query.error);
      const window = windowFrom(query.data, Math.floor(deps.clock.now() / 1000));
      const summary = await userSummary(pubkey, window, deps);
      return json(200, summary, cacheControlFor(window.endTs - window.startTs));
    },
  },
];

export async function route(request: ApiRequest, deps: ApiDeps): Promise<HttpResponse> {
  let pathMatched = false;
  for (const { method, pattern, handle } of routes) {
    const match = pattern.exec(request.path);
    if (!match) continue;
    pathMatched = true;
    if (method === request.method) return handle(match, request, deps);
  }
  if (pathMatched) throw new HttpError(405, 'method_not_allowed', `${request.method} is not allowed on ${request.path}`);
  throw new HttpError(404, 'not_found', `no route for ${request.method} ${request.path}`);
}
