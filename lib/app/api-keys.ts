import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * API keys for first-party app events: each key belongs to one project. Locally from
 * FUNNEL_APP_KEYS (default `dev-key-local:demo`), in AWS from a secret with the same format: a
 * comma-separated list of entries, each either
 *   `sha256:<64 hex>[:project]`  the SHA-256 of the key (what operators should store), or
 *   `<key>[:project]`            a raw key (the local default and the generated secret), hashed on load;
 * a key without `:project` belongs to the project `default`. Only hashes are kept in memory; a raw key
 * is never written anywhere (not in job records, quota counters or logs: callers are named by
 * `key:<hash prefix>`, see lib/api/identity.ts).
 */
export interface AppKey {
  project: string;
  /** SHA-256 of the key, hex */
  keyHash: string;
}

export type ApiKeyResolver = (key: string) => Promise<AppKey | null>;

/** Keys longer than this are refused without a lookup (a real key is 40 characters). */
export const MAX_API_KEY_CHARS = 256;
/** Entries one key list may hold: resolution compares against each, in constant time per entry. */
export const MAX_API_KEYS = 1000;
const MIN_RAW_KEY_CHARS = 8;
/** A project's name: part of counter scopes, state keys and saved query names. */
export const PROJECT_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const HASHED_ENTRY = /^sha256:([0-9a-f]{64})(?::(.*))?$/;

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

interface StoredKey {
  hash: Buffer;
  project: string;
}

/** Parses a key list; an error names the entry by position, never by its (secret) text. */
export function parseApiKeys(spec: string): StoredKey[] {
  const entries = spec.split(',').map((s) => s.trim()).filter(Boolean);
  if (entries.length > MAX_API_KEYS) throw new Error(`app API keys: at most ${MAX_API_KEYS} entries, got ${entries.length}`);
  return entries.map((entry, index) => {
    const hashed = HASHED_ENTRY.exec(entry);
    const [hashHex, project] = hashed
      ? [hashed[1]!, hashed[2] ?? 'default']
      : (() => {
          const [key = '', name = 'default', ...rest] = entry.split(':');
          if (rest.length || key.length < MIN_RAW_KEY_CHARS || key.length > MAX_API_KEY_CHARS) {
            throw new Error(`app API keys: entry ${index + 1} must be sha256:<64 hex>[:project] or key[:project] with a key of ${MIN_RAW_KEY_CHARS}–${MAX_API_KEY_CHARS} characters and no ':'`);
          }
          return [hashApiKey(key), name];
        })();
    if (!PROJECT_NAME.test(project)) throw new Error(`app API keys: entry ${index + 1} has a project name that is not 1–64 of A-Z a-z 0-9 _ . -`);
    return { hash: Buffer.from(hashHex, 'hex'), project };
  });
}

/** Compares the key's hash with every stored hash in constant time (no early exit on a match). */
function resolveIn(keys: StoredKey[], key: string): AppKey | null {
  const keyHash = hashApiKey(key);
  const presented = Buffer.from(keyHash, 'hex');
  let project: string | null = null;
  for (const stored of keys) if (timingSafeEqual(stored.hash, presented) && project === null) project = stored.project;
  return project === null ? null : { project, keyHash };
}

export const DEFAULT_LOCAL_APP_KEYS = 'dev-key-local:demo';

/** Every resolver refuses an empty or oversized key before any load or hashing. */
function refusingOversized(resolve: ApiKeyResolver): ApiKeyResolver {
  return async (key) => (key.length === 0 || key.length > MAX_API_KEY_CHARS ? null : resolve(key));
}

export function staticApiKeys(spec: string): ApiKeyResolver {
  const keys = parseApiKeys(spec);
  return refusingOversized(async (key) => resolveIn(keys, key));
}

const RELOAD_RETRY_MS = 30_000;

/**
 * Caches a loader (e.g. a Secrets Manager read) for `ttlMs`, so keys rotate without a redeploy. One
 * load at a time; when a reload fails the previous keys stay in use (retried 30 s later), so a
 * Secrets Manager hiccup does not lock every app out. Without any keys loaded the error reaches the
 * caller (the api answers 503).
 */
export function cachedApiKeys(load: () => Promise<string>, ttlMs = 300_000, now: () => number = Date.now): ApiKeyResolver {
  let cache: { keys: StoredKey[]; at: number } | undefined;
  let loading: Promise<StoredKey[]> | undefined;
  const current = async (): Promise<StoredKey[]> => {
    if (cache && now() - cache.at <= ttlMs) return cache.keys;
    loading ??= load()
      .then((spec) => {
        cache = { keys: parseApiKeys(spec), at: now() };
        return cache.keys;
      })
      .finally(() => {
        loading = undefined;
      });
    try {
      return await loading;
    } catch (error) {
      if (!cache) throw error;
      // keep the previous keys and try again in a while, not on every request
      cache.at = Math.max(cache.at, now() - ttlMs + RELOAD_RETRY_MS);
      return cache.keys;
    }
  };
  return refusingOversized(async (key) => resolveIn(await current(), key));
}
