import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { listen } from '../../util/listen.js';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { lambdaContext } from './queue-consumer.js';
import { errorResponse, HttpError, type HttpResponse } from '../../api/http.js';
import { bodyTooLarge, headersTooLarge, REQUEST_LIMITS, splitRequestTarget } from '../../api/request.js';
import { SSE_HEARTBEAT, sseNotice, STREAM_HEARTBEAT_MS, type LiveNoticeSource } from '../../api/live-notices.js';

export type ApiGatewayHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

/** A slow client gets this long to send its headers, and its whole request. */
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;

/**
 * Serves a Lambda handler over HTTP, translating each request to an API Gateway v2 event. What API
 * Gateway would refuse before the function runs is refused here the same way, in the JSON envelope: an
 * unparsable request (400), headers over Node's 16 KB (431), a body over the limit (413).
 *
 * One thing Lambda cannot do is done here: an answer of type `text/event-stream` (GET
 * /api/analytics/stream, after the handler has checked and counted the request like any other) is held
 * open, and each of `liveNotices`' notices is written to it as an SSE message.
 */
export async function startHttpApi(
  handler: ApiGatewayHandler,
  port: number,
  host = '127.0.0.1',
  options: { liveNotices?: LiveNoticeSource } = {},
): Promise<{ url: string; port: number; close(): Promise<void> }> {
  const server: Server = createServer({ maxHeaderSize: REQUEST_LIMITS.maxHeaderBytes }, async (req, res) => {
    let event: APIGatewayProxyEventV2;
    try {
      event = toApiGatewayEvent(req, await readBody(req));
    } catch (error) {
      if (error instanceof HttpError) return send(res, errorResponse(error), true);
      // the client went away mid-body: nobody to answer
      res.destroy();
      return;
    }
    try {
      const result = await handler(event, lambdaContext('funnel-api'));
      const response = { statusCode: result.statusCode ?? 200, headers: (result.headers ?? {}) as Record<string, string>, body: result.body ?? '' };
      if (options.liveNotices && response.statusCode === 200 && response.headers['content-type']?.startsWith('text/event-stream')) return holdEventStream(res, response, options.liveNotices);
      send(res, response);
    } catch {
      // the handler answers every failure itself; reaching here is a bug, and its text stays in the process
      send(res, errorResponse(new HttpError('internal', 'internal error')));
    }
  });
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.keepAliveTimeout = 5_000;
  // Requests Node cannot parse never reach the handler: answer them in the envelope and close.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable) return socket.destroy();
    const { statusCode, headers, body } = errorResponse(error.code === 'HPE_HEADER_OVERFLOW' ? headersTooLarge() : new HttpError('bad_request', 'the request is not valid HTTP/1.1'));
    const head = Object.entries({ ...headers, 'content-length': String(Buffer.byteLength(body)), connection: 'close' }).map(([name, value]) => `${name}: ${value}\r\n`);
    socket.end(`HTTP/1.1 ${statusCode} ${STATUS_CODES[statusCode]}\r\n${head.join('')}\r\n${body}`);
  });
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

/** Writes the stream's preamble, then every notice, until the client goes away or the server closes. */
function holdEventStream(res: ServerResponse, response: HttpResponse, notices: LiveNoticeSource): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(200, response.headers);
  res.socket?.setNoDelay(true);
  res.write(response.body);
  // a client gone between a notice and its 'close' is not an error worth more than dropping the write
  const write = (text: string) => void (res.destroyed || res.writableEnded || res.write(text));
  res.on('error', () => res.destroy());
  const unsubscribe = notices.subscribe((notice) => write(sseNotice(notice)));
  const heartbeat = setInterval(() => write(SSE_HEARTBEAT), STREAM_HEARTBEAT_MS);
  heartbeat.unref();
  res.on('close', () => {
    unsubscribe();
    clearInterval(heartbeat);
  });
}

function send(res: ServerResponse, response: HttpResponse, closeConnection = false): void {
  if (res.headersSent) return void res.end();
  res.writeHead(response.statusCode, { ...response.headers, 'content-length': String(Buffer.byteLength(response.body)), ...(closeConnection ? { connection: 'close' } : {}) });
  res.end(response.body);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const declared = Number(req.headers['content-length']);
  if (declared > REQUEST_LIMITS.maxBodyBytes) throw bodyTooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > REQUEST_LIMITS.maxBodyBytes) throw bodyTooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function toApiGatewayEvent(req: IncomingMessage, body: string): APIGatewayProxyEventV2 {
  const { path, rawQuery } = splitRequestTarget(req.url ?? '/');
  // no prototype: a parameter named `constructor` or `__proto__` is just a parameter
  const query: Record<string, string> = Object.create(null);
  // API Gateway joins repeated parameters with commas.
  for (const [key, value] of new URLSearchParams(rawQuery)) query[key] = key in query ? `${query[key]},${value}` : value;
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(req.headers)) if (value !== undefined) headers[key] = Array.isArray(value) ? value.join(',') : value;
  return apiGatewayEvent({
    method: req.method ?? 'GET',
    path,
    rawQueryString: rawQuery,
    query,
    headers,
    body,
    sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
  });
}

/**
 * A GET as API Gateway would deliver it, for calling the api handler in-process (the cache warm-up).
 * It has no source address, so it is one caller of its own (`ip:unknown`) for the rate limit, apart
 * from whoever uses the API from 127.0.0.1.
 */
export function apiGatewayGet(path: string, query: Record<string, string> = {}): APIGatewayProxyEventV2 {
  return apiGatewayEvent({ method: 'GET', path, rawQueryString: new URLSearchParams(query).toString(), query, headers: { 'user-agent': 'funnel-local' }, body: '', sourceIp: '' });
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
