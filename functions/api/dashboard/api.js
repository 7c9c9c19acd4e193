// The page's reads: JSON with If-None-Match (a 304 reuses what we have), the API's error text kept
// for the reader, and windows past the synchronous budget followed through their job.

/** What went wrong, in words a reader can act on; `kind` is http (the API said no), network (no API) or job. */
export class ApiError extends Error {
  constructor(message, { kind, status = 0, code = null } = {}) {
    super(message);
    this.kind = kind;
    this.status = status;
    this.code = code;
  }
}

const MAX_VALIDATORS = 200;
/** url → { etag, body } of the last 200 answer with a validator */
const validators = new Map();

export function urlOf(path, params = {}) {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== ''));
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

/** GET a JSON read. Returns { status, body, changed }: `changed` is false when the server said 304. */
export async function getJson(path, params) {
  const url = urlOf(path, params);
  const known = validators.get(url);
  let response;
  try {
    // no-store: the browser's own cache stays out of it; our validator decides
    response = await fetch(url, { cache: 'no-store', headers: known ? { 'if-none-match': known.etag } : {} });
  } catch (error) {
    throw new ApiError(`The Funnel API at ${location.origin} cannot be reached (${error.message}). Is it running?`, { kind: 'network' });
  }
  if (response.status === 304 && known) return { status: 200, body: known.body, changed: false };
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError(`${path} answered ${response.status} ${response.statusText}, not JSON: the API may be down or behind a proxy that failed`, { kind: 'network', status: response.status });
  }
  if (!response.ok) {
    const retry = response.headers.get('retry-after');
    const message = body?.error?.message ?? `${path} answered ${response.status}`;
    throw new ApiError(retry && response.status === 429 ? `${message} (retry in ${retry} s)` : message, { kind: 'http', status: response.status, code: body?.error?.code ?? null });
  }
  const etag = response.headers.get('etag');
  if (etag && response.status === 200) {
    validators.delete(url);
    validators.set(url, { etag, body });
    if (validators.size > MAX_VALIDATORS) validators.delete(validators.keys().next().value);
  }
  return { status: response.status, body, changed: true };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A read that may answer 202 with a job: the job is polled (onJob sees each status, progress and
 * phase) until it completes, and its result is returned as if the read had answered 200 with it.
 * `isCurrent()` false stops the polling (the reader has moved on).
 */
export async function answer(path, params, { onJob = () => {}, isCurrent = () => true } = {}) {
  const first = await getJson(path, params);
  if (first.status !== 202) return first;
  const accepted = first.body.data;
  onJob({ ...accepted, phase: null, reason: first.body.meta.reason });
  for (let delay = 300; ; delay = Math.min(2_000, delay * 1.5)) {
    await sleep(delay);
    if (!isCurrent()) throw new ApiError('superseded', { kind: 'superseded' });
    const { body } = await getJson(accepted.poll);
    const job = body.data;
    onJob({ ...job, reason: first.body.meta.reason });
    if (job.status === 'complete') {
      if (!job.result) throw new ApiError(`job ${job.jobId} completed but its result has expired; reload to run it again`, { kind: 'job' });
      return { status: 200, body: job.result, changed: true, job };
    }
    if (job.status === 'failed') throw new ApiError(`The job for this window failed: ${job.error?.message ?? 'no reason given'}`, { kind: 'job' });
  }
}
