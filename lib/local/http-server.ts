import { createServer, type IncomingMessage, type Server } from 'node:http';
import { listen } from '../util/listen.js';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { lambdaContext } from './queue-consumer.js';

export type ApiGatewayHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

const MAX_BODY_BYTES = 1024 * 1024;

/** Serves a Lambda handler over HTTP, translating each request to an API Gateway v2 event. */
export async function startHttpApi(handler: ApiGatewayHandler, port: number, host = '127.0.0.1'): Promise<{ url: string; port: number; close(): Promise<void> }> {
  const server: Server = createServer(async (req, res) => {
    try {
      const body = await readBody(req);
      if (body === null) {
        res.writeHead(413, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'payload_too_large', message: `body over ${MAX_BODY_BYTES} bytes` } }));
        return;
      }
      const result = await handler(toApiGatewayEvent(req, body), lambdaContext('funnel-api'));
      res.writeHead(result.statusCode ?? 200, result.headers as Record<string, string>);
      res.end(result.body ?? '');
    } catch (error) {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'internal', message: String(error) } }));
    }
  });
  server.keepAliveTimeout = 5_000;
  const actualPort = await listen(server, port, host);
  return {
    url: `http://${host}:${actualPort}`,
    port: actualPort,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function readBody(req: IncomingMessage): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return null;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function toApiGatewayEvent(req: IncomingMessage, body: string): APIGatewayProxyEventV2 {
  const url = new URL(req.url ?? '/', 'http://local');
  const query: Record<string, string> = {};
  // API Gateway joins repeated parameters with commas.
  for (const [key, value] of url.searchParams) query[key] = key in query ? `${query[key]},${value}` : value;
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(req.headers)) if (value !== undefined) headers[key] = Array.isArray(value) ? value.join(',') : value;
  return apiGatewayEvent({
    method: req.method ?? 'GET',
    path: url.pathname,
    rawQueryString: url.search.slice(1),
    query,
    headers,
    body,
    sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
  });
}

/** A GET as API Gateway would deliver it, for calling the api handler in-process. */
export function apiGatewayGet(path: string, query: Record<string, string> = {}): APIGatewayProxyEventV2 {
  return apiGatewayEvent({ method: 'GET', path, rawQueryString: new URLSearchParams(query).toString(), query, headers: { 'user-agent': 'funnel-local' }, body: '', sourceIp: '127.0.0.1' });
}

function apiGatewayEvent(init: {
  method: string;
  path: string;
  rawQueryString: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: string;
  sourceIp: string;
}): APIGatewayProxyEventV2 {
  const now = Date.now();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: init.path,
    rawQueryString: init.rawQueryString,
    headers: init.headers,
    queryStringParameters: Object.keys(init.query).length ? init.query : undefined,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: init.headers.host ?? 'localhost',
      domainPrefix: 'local',
      http: { method: init.method, path: init.path, protocol: 'HTTP/1.1', sourceIp: init.sourceIp, userAgent: init.headers['user-agent'] ?? '' },
      requestId: Math.random().toString(36).slice(2),
      routeKey: '$default',
      stage: '$default',
      time: new Date(now).toISOString(),
      timeEpoch: now,
    },
    body: init.body || undefined,
    isBase64Encoded: false,
  };
}
