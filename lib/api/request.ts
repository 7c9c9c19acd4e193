import { HttpError } from './http.js';

/**
 * Bounds on what a request may carry, checked before anything is looked up, the same in the local
 * server and behind API Gateway (which lets through headers and bodies far larger than these).
 */
export const REQUEST_LIMITS = {
  /** the path, as sent (percent-encoded) */
  maxPathChars: 2048,
  /** the query string, as sent */
  maxQueryChars: 4096,
  /** header names and values together (Node's own default maxHeaderSize, so both edges agree) */
  maxHeaderBytes: 16 * 1024,
  /** a request body (POST /v1/events: 100 events) */
  maxBodyBytes: 1024 * 1024,
} as const;

export interface RequestShape {
  path: string;
  /** the raw query string, or the decoded parameters when only those are known */
  query: string | Record<string, string | undefined>;
  headers: Record<string, string | undefined>;
  cookies?: string[];
  /** body size in bytes */
  bodyBytes: number;
}

/** The refusals of an oversized request, as checkRequestBounds and the local server (which stops reading) give them. */
export const headersTooLarge = () => new HttpError('headers_too_large', `request headers are limited to ${REQUEST_LIMITS.maxHeaderBytes} bytes`);
export const bodyTooLarge = () => new HttpError('payload_too_large', `request bodies are limited to ${REQUEST_LIMITS.maxBodyBytes} bytes`);

/** Throws the 4xx a request over a bound deserves: 431 for headers, 413 for the body, 400 otherwise. */
export function checkRequestBounds(request: RequestShape): void {
  let headerBytes = 0;
  for (const [name, value] of Object.entries(request.headers)) headerBytes += name.length + (value ? Buffer.byteLength(value) : 0) + 4;
  for (const cookie of request.cookies ?? []) headerBytes += Buffer.byteLength(cookie) + 2;
  if (headerBytes > REQUEST_LIMITS.maxHeaderBytes) throw headersTooLarge();
  if (request.path.length > REQUEST_LIMITS.maxPathChars) throw new HttpError('bad_request', `the path is limited to ${REQUEST_LIMITS.maxPathChars} characters`);
  const queryChars =
    typeof request.query === 'string'
      ? request.query.length
      : Object.entries(request.query).reduce((n, [key, value]) => n + key.length + (value?.length ?? 0) + 2, 0);
  if (queryChars > REQUEST_LIMITS.maxQueryChars) throw new HttpError('bad_request', `the query string is limited to ${REQUEST_LIMITS.maxQueryChars} characters`);
  if (request.bodyBytes > REQUEST_LIMITS.maxBodyBytes) throw bodyTooLarge();
}

/** A percent-encoded path segment, decoded; a malformed escape (`%zz`, a cut UTF-8 sequence) is a 400. */
export function decodePathSegment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new HttpError('bad_request', 'a path segment is not valid percent-encoding');
  }
}

/**
 * Splits an HTTP request target into its path and raw query. Origin form (`/a/b?c`) is the norm; the
 * absolute form (`http://host/a?c`) is accepted; anything else (`*`, `http://[::1`) is a 400.
 */
export function splitRequestTarget(target: string): { path: string; rawQuery: string } {
  let pathAndQuery = target;
  if (!target.startsWith('/')) {
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      throw new HttpError('bad_request', 'the request target is not a path or an absolute URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new HttpError('bad_request', 'the request target is not a path or an absolute URL');
    pathAndQuery = `${url.pathname}${url.search}`;
  }
  const withoutFragment = pathAndQuery.split('#')[0]!;
  const q = withoutFragment.indexOf('?');
  return q < 0 ? { path: withoutFragment, rawQuery: '' } : { path: withoutFragment.slice(0, q), rawQuery: withoutFragment.slice(q + 1) };
}
