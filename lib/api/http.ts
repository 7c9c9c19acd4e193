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
  unauthorized: 401,
  not_found: 404,
  unknown_drilldown: 404,
  unknown_metric: 404,
  not_a_video: 404,
  deleted: 404,
  method_not_allowed: 405,
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

export function json(statusCode: number, body: unknown, cacheControl = 'no-store'): HttpResponse {
  return {
    statusCode,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': cacheControl },
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
