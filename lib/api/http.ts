import { createHash } from 'node:crypto';
import { isStaleAnswer, STALE_CACHE_CONTROL } from './stale-answers.js';

/** The HTTP envelope shared by every route: JSON bodies and `{"error":{"code","message"}}` errors. */
export interface HttpResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Every error code the API answers with, and its status: one list, so a client (and the fuzz test)
 * can rely on it. Hostile input only ever meets the 4xx codes; 503 means a store did not answer and
 * 500 is a bug (the body never carries the internal error text, only the correlation id).
 */
export const ERROR_STATUS = {
  bad_request: 400,
  bad_pubkey: 400,
  bad_window: 400,
  bad_cursor: 400,
  unauthorized: 401,
  not_found: 404,
  unknown_drilldown: 404,
  unknown_metric: 404,
  not_a_video: 404,
  deleted: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  quota_exceeded: 429,
  rate_limited: 429,
  headers_too_large: 431,
  internal: 500,
  unavailable: 503,
} as const;
export type ErrorCode = keyof typeof ERROR_STATUS;
export const ERROR_CODES = Object.keys(ERROR_STATUS) as ErrorCode[];

export class HttpError extends Error {
  readonly statusCode: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** extra response headers, e.g. Retry-After on a 429 */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.statusCode = ERROR_STATUS[code];
  }
}

/**
 * A JSON response. A public answer marked stale (lib/api/stale-answers.ts) is reused for a second at
 * most, whatever its route's class: a CDN must not keep a stale copy once the stores answer again.
 */
export function json(statusCode: number, body: unknown, cacheControl = 'no-store'): HttpResponse {
  return {
    statusCode,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': cacheControl.startsWith('public') && isStaleAnswer(body) ? STALE_CACHE_CONTROL : cacheControl },
    body: JSON.stringify(body),
  };
}

/** Seconds a client should wait after a 503 that names no better time (a store or the queue was busy). */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 2;

export function errorResponse(error: HttpError): HttpResponse {
  const response = json(error.statusCode, { error: { code: error.code, message: error.message } });
  // Every 503 says when to come back (unless the error names a better time), so a well-behaved client retries instead of hammering.
  const retry: Record<string, string> = error.statusCode === 503 ? { 'retry-after': String(UNAVAILABLE_RETRY_AFTER_SECONDS) } : {};
  return { ...response, headers: { ...response.headers, ...retry, ...error.headers } };
}

/** Short windows change by the second, long ones barely: cache them accordingly at the CDN. */
export function cacheControlFor(windowSeconds: number): string {
  if (windowSeconds <= 86400) return 'public, max-age=2';
  if (windowSeconds <= 7 * 86400) return 'public, max-age=30';
  return 'public, max-age=300';
}

/** A strong validator of a body: the same answer always has the same tag, whichever container made it. */
export const etagOf = (body: string) => `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;

/** Whether an If-None-Match header (a list, `*`, weak or strong tags) names this tag (RFC 9110 §13.1.2: weak comparison). */
export function matchesEtag(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  const bare = (tag: string) => tag.trim().replace(/^W\//, '');
  return ifNoneMatch.split(',').some((tag) => tag.trim() === '*' || bare(tag) === bare(etag));
}

/**
 * Public reads as browsers and CDNs expect: every cacheable 200 carries an ETag, and a request whose
 * If-None-Match names it gets 304 with no body (the caller's copy is current; nothing is re-sent).
 */
export function withValidator(response: HttpResponse, method: string, ifNoneMatch: string | undefined): HttpResponse {
  if (method !== 'GET' || response.statusCode !== 200 || !response.headers['cache-control']?.startsWith('public')) return response;
  const etag = etagOf(response.body);
  if (matchesEtag(ifNoneMatch, etag)) return { statusCode: 304, headers: { 'cache-control': response.headers['cache-control'], etag }, body: '' };
  return { ...response, headers: { ...response.headers, etag } };
}

/** CORS for browsers on other origins: reads for any origin by default, the headers the API reads allowed. */
export function corsHeaders(origin: string): Record<string, string> {
  return {
    'access-control-allow-origin': origin,
    'access-control-allow-methods': 'GET, POST, PUT, OPTIONS',
    'access-control-allow-headers': 'content-type, x-api-key, if-none-match',
    'access-control-expose-headers': 'etag, retry-after, x-correlation-id',
    'access-control-max-age': '3600',
  };
}
