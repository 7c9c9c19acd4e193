import { randomUUID } from 'node:crypto';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { errorResponse, HttpError } from '../../lib/api/http.js';
import { awsPorts } from '../../lib/adapters/aws/index.js';
import { systemClock } from '../../lib/ports.js';
import { route, routeLabel, type ApiDeps } from './routes.js';
import { METRIC } from '../../lib/metrics/names.js';
import { EmfMetrics } from '../../lib/metrics/emf.js';
import { createLogger } from '../../lib/log.js';
import { retentionFromEnv } from '../../lib/counters/retention.js';
import { ResponseCache } from '../../lib/api/cache.js';
import { jobSettingsFromEnv } from '../../lib/jobs/jobs.js';

/** API Gateway (HTTP API, payload v2) → router; every failure becomes the JSON error envelope. */
export function createApiHandler(deps: ApiDeps & { afterRequest?: (correlationId: string) => void }) {
  return middy(async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
    const query: Record<string, string | undefined> = { ...(event.queryStringParameters ?? {}) };
    const started = Date.now();
    const correlationId = event.requestContext.requestId ?? randomUUID();
    const withCorrelation = (response: APIGatewayProxyStructuredResultV2) => {
      deps.metrics?.observe?.(METRIC.queryLatencyMs, Date.now() - started, { Route: routeLabel(event.rawPath) });
      deps.afterRequest?.(correlationId);
      return { ...response, headers: { ...response.headers, 'x-correlation-id': correlationId } };
    };
    try {
      // Behind CloudFront the source IP is the edge's: the viewer is the first x-forwarded-for hop.
      const forwarded = event.headers?.['x-forwarded-for']?.split(',')[0]?.trim();
      const client = event.headers?.['x-api-key'] ? `key:${event.headers['x-api-key']}` : `ip:${forwarded || event.requestContext.http.sourceIp}`;
      const body = event.body && event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
      return withCorrelation(await route({ method: event.requestContext.http.method, path: event.rawPath, query, client, headers: event.headers ?? {}, body }, deps));
    } catch (error) {
      if (error instanceof HttpError) return withCorrelation(errorResponse(error));
      createLogger({ component: 'api', correlationId })('error', 'api request failed', { path: event.rawPath, error: String(error) });
      return withCorrelation(errorResponse(new HttpError(500, 'internal', `internal error (correlation id ${correlationId})`)));
    }
  });
}

let awsHandler: ReturnType<typeof createApiHandler> | undefined;

export const handler = (event: APIGatewayProxyEventV2, context: Parameters<ReturnType<typeof createApiHandler>>[1]) => {
  awsHandler ??= (() => {
    const ports = awsPorts();
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
      retention: retentionFromEnv(),
      cache: new ResponseCache({ maxEntries: 5000 }),
      jobs: process.env.JOBS_QUEUE_URL ? { queue: ports.jobsQueue(), objects: ports.objects(), settings: jobSettingsFromEnv() } : undefined,
      app: process.env.APP_API_KEYS_SECRET_ARN && process.env.QUEUE_URL ? { ingestQueue: ports.queue(), apiKeys: ports.appApiKeys() } : undefined,
    });
  })();
  return awsHandler(event, context);
};
