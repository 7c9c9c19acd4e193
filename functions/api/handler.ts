import { randomUUID } from 'node:crypto';
import middy from '@middy/core';
import { AthenaClient } from '@aws-sdk/client-athena';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { corsHeaders, errorResponse, HttpError, withValidator } from '../../lib/api/http.js';
import { awsPorts } from '../../lib/adapters/aws/index.js';
import { systemClock } from '../../lib/ports.js';
import { route, routeLabel, type ApiDeps, type RouteDeps } from './routes.js';
import { METRIC } from '../../lib/metrics/names.js';
import { EmfMetrics, powertoolsLoggers } from '../../lib/adapters/aws/powertools.js';
import { createLogger, setLogBackend } from '../../lib/log.js';
import { apiConfig } from './env.js';
import { AthenaSavedQueries } from '../../lib/adapters/aws/athena-saved-queries.js';
import { ResponseCache } from '../../lib/api/cache.js';
import { checkRequestBounds } from '../../lib/api/request.js';
import { MAX_API_KEY_CHARS } from '../../lib/app/api-keys.js';
import { callerIdentity, resolveAppKey } from '../../lib/api/identity.js';
import { counterStoreCheck, healthMonitor } from '../../lib/api/health.js';
import { RequestRateLimiter } from '../../lib/api/rate-limit.js';
import { isStoreUnavailable } from '../../lib/store-faults.js';

/**
 * API Gateway (HTTP API, payload v2) → router. Before any route runs: the request's bounds (431, 413,
 * 400), the caller's identity (a valid x-api-key, else the source IP) and its rate limit (429). Every
 * failure becomes the JSON error envelope; an unexpected error's text goes to the log, never the body.
 */
export function createApiHandler(deps: ApiDeps & { afterRequest?: (correlationId: string) => void; corsOrigin?: string }) {
  const cors = corsHeaders(deps.corsOrigin ?? '*');
  const routeDeps: RouteDeps = { ...deps, health: healthMonitor([counterStoreCheck(deps.counters), ...(deps.healthChecks ?? [])]) };
  return middy(async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
    const started = Date.now();
    const correlationId = event.requestContext?.requestId ?? randomUUID();
    const path = event.rawPath ?? '/';
    const withCorrelation = (response: APIGatewayProxyStructuredResultV2) => {
      deps.metrics?.observe?.(METRIC.queryLatencyMs, Date.now() - started, { Route: routeLabel(path) });
      deps.afterRequest?.(correlationId);
      return { ...response, headers: { ...response.headers, ...cors, 'x-correlation-id': correlationId } };
    };
    try {
      const headers = event.headers ?? {};
      const query: Record<string, string | undefined> = { ...(event.queryStringParameters ?? {}) };
      const body = event.body && event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
      checkRequestBounds({ path, query: event.rawQueryString ?? query, headers, cookies: event.cookies, bodyBytes: body ? Buffer.byteLength(body) : 0 });

      // no key is that long: refused before any lookup, on every route
      if ((headers['x-api-key']?.length ?? 0) > MAX_API_KEY_CHARS) throw new HttpError('unauthorized', `x-api-key is longer than ${MAX_API_KEY_CHARS} characters`);
      const appKey = await resolveAppKey(headers['x-api-key'], deps.app?.apiKeys);
      const client = callerIdentity(event.requestContext?.http?.sourceIp, appKey);
      const verdict = deps.rateLimiter?.take(client);
      if (verdict && !verdict.allowed) {
        deps.metrics?.count(METRIC.requestsRateLimited, { Route: routeLabel(path) });
        throw new HttpError('rate_limited', `too many requests from this caller; retry in ${verdict.retryAfterSeconds} s`, { 'retry-after': String(verdict.retryAfterSeconds) });
      }
      const method = event.requestContext?.http?.method ?? 'GET';
      // A CORS preflight (in AWS, API Gateway answers it before the function): nothing to run.
      if (method === 'OPTIONS') return withCorrelation({ statusCode: 204, headers: {}, body: '' });
      return withCorrelation(withValidator(await route({ method, path, query, client, appKey, headers, body }, routeDeps), method, headers['if-none-match']));
    } catch (error) {
      if (error instanceof HttpError) return withCorrelation(errorResponse(error));
      createLogger({ component: 'api', correlationId })('error', 'api request failed', { path: path.slice(0, 200), error });
      const failure = isStoreUnavailable(error)
        ? new HttpError('unavailable', `a store did not answer; retry (correlation id ${correlationId})`)
        : new HttpError('internal', `internal error (correlation id ${correlationId})`);
      return withCorrelation(errorResponse(failure));
    }
  });
}

let awsHandler: ReturnType<typeof createApiHandler> | undefined;

export const handler = (event: APIGatewayProxyEventV2, context: Parameters<ReturnType<typeof createApiHandler>>[1]) => {
  awsHandler ??= (() => {
    const config = apiConfig();
    const ports = awsPorts(config.aws);
    const athena = config.savedQueries;
    setLogBackend(powertoolsLoggers());
    const metrics = new EmfMetrics();
    // One EMF line per request would cost more in CloudWatch Logs than the metrics are worth at tens of
    // thousands of reads per second: aggregate per container and flush at most once a minute.
    let lastFlush = Date.now();
    return createApiHandler({
      metrics,
      afterRequest: () => {
        if (Date.now() - lastFlush < 60_000) return;
        lastFlush = Date.now();
        metrics.flush();
      },
      counters: ports.counters(),
      clock: systemClock,
      retention: config.retention,
      cache: new ResponseCache({ maxEntries: 5000 }),
      // per container: see lib/api/rate-limit.ts for what that means across a fleet
      rateLimiter: new RequestRateLimiter(config.rateLimit),
      jobs: { queue: ports.jobsQueue(), objects: ports.objects(), settings: config.jobSettings },
      app: { ingestQueue: ports.queue(), apiKeys: ports.appApiKeys() },
      ...(athena && {
        savedQueries: { store: new AthenaSavedQueries(new AthenaClient({}), athena), relation: ports.factsTable(), dialect: 'athena' as const },
      }),
    });
  })();
  return awsHandler(event, context);
};
