/** The HTTP envelope shared by every route: JSON bodies and `{"error":{"code","message"}}` errors. */
export interface HttpResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function json(statusCode: number, body: unknown, cacheControl = 'no-store'): HttpResponse {
  return {
    statusCode,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': cacheControl },
    body: JSON.stringify(body),
  };
}

export function errorResponse(error: HttpError): HttpResponse {
  return json(error.statusCode, { error: { code: error.code, message: error.message } });
}

/** Short windows change by the second, long ones barely: cache them accordingly at the CDN. */
export function cacheControlFor(windowSeconds: number): string {
  if (windowSeconds <= 86400) return 'public, max-age=2';
  if (windowSeconds <= 7 * 86400) return 'public, max-age=30';
  return 'public, max-age=300';
}
