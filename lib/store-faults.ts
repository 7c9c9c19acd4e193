/**
 * How a store's error is classified, in one place: the local stack's fault monitor and CLI ask
 * whether the disk or a store is failing (isStorageFault); the api asks whether a store did not
 * answer, so the caller gets a 503 to retry rather than a 500 (isStoreUnavailable). Both look through
 * an error's `cause` chain (a store wraps what its disk or socket threw).
 */

/** Error codes of a failing disk or store (Node's errno codes and abstract-level's codes). */
const STORAGE_FAULT_CODES = ['ENOSPC', 'EIO', 'EROFS', 'EDQUOT', 'EMFILE', 'ENFILE', 'LEVEL_IO_ERROR', 'LEVEL_CORRUPTION', 'LEVEL_DATABASE_NOT_OPEN'];
const STORAGE_FAULT_TEXT = new RegExp(STORAGE_FAULT_CODES.join('|'));
/** Socket codes of a store that could not be reached. */
const UNREACHABLE_CODES = ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE'];
const THROTTLED_NAME = /Throttl|ProvisionedThroughputExceeded|RequestLimitExceeded/;

type ErrorLike = { code?: unknown; name?: unknown; message?: unknown; cause?: unknown; $metadata?: { httpStatusCode?: number } };

/** The error and its causes, at most five deep. */
function* causes(error: unknown): Generator<ErrorLike> {
  for (let e = error as ErrorLike | undefined, depth = 0; e && depth < 5; e = e.cause as ErrorLike | undefined, depth++) yield e;
}

/** True when the error is the disk or a store failing, not the input: these surface, they are not retried quietly. */
export function isStorageFault(error: unknown): boolean {
  for (const e of causes(error)) {
    if (typeof e.code === 'string' && STORAGE_FAULT_CODES.includes(e.code)) return true;
    if (typeof e.message === 'string' && STORAGE_FAULT_TEXT.test(e.message)) return true;
  }
  return false;
}

/**
 * A store that did not answer (throttled, down, unreachable, disk failing): a 503 the caller may retry.
 * AWS SDK errors carry `$metadata` (a 5xx, a 429 or a throttling name); sockets and disks a `code`.
 */
export function isStoreUnavailable(error: unknown): boolean {
  if (isStorageFault(error)) return true;
  for (const e of causes(error)) {
    if (typeof e.code === 'string' && UNREACHABLE_CODES.includes(e.code)) return true;
    if (e.$metadata && typeof e.$metadata === 'object') {
      const status = e.$metadata.httpStatusCode;
      if (status === undefined || status >= 500 || status === 429 || THROTTLED_NAME.test(String(e.name))) return true;
    }
  }
  return false;
}
