/**
 * API keys for first-party app events: each key belongs to one project. Locally from
 * FUNNEL_APP_KEYS (`key:project,key2:project2`; default `dev-key-local:demo`), in AWS from a secret
 * with the same format; a key given without `:project` belongs to the project `default`.
 */
export type ApiKeyResolver = (key: string) => Promise<string | null>;

export function parseApiKeys(spec: string): Map<string, string> {
  const keys = new Map<string, string>();
  for (const entry of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [key, project = 'default'] = entry.split(':');
    if (!key || !project || key.length < 8) throw new Error(`app API keys: "${entry}" must be key[:project] with a key of 8+ characters`);
    keys.set(key, project);
  }
  return keys;
}

export const DEFAULT_LOCAL_APP_KEYS = 'dev-key-local:demo';

export function staticApiKeys(spec: string): ApiKeyResolver {
  const keys = parseApiKeys(spec);
  return async (key) => keys.get(key) ?? null;
}

/** Caches a loader (e.g. a Secrets Manager read) for `ttlMs`, so keys rotate without a redeploy. */
export function cachedApiKeys(load: () => Promise<string>, ttlMs = 300_000, now: () => number = Date.now): ApiKeyResolver {
  let cache: { keys: Map<string, string>; at: number } | undefined;
  return async (key) => {
    if (!cache || now() - cache.at > ttlMs) cache = { keys: parseApiKeys(await load()), at: now() };
    return cache.keys.get(key) ?? null;
  };
}
