import { isIPv4, isIPv6 } from 'node:net';
import type { ApiKeyResolver, AppKey } from '../app/api-keys.js';
import { createLogger } from '../log.js';

/**
 * Who is asking, for per-caller limits (the request rate limit and the job quota): a valid API key as
 * `key:<first 32 hex of its SHA-256>`, else the network source as `ip:<address>`. The source is the
 * address API Gateway saw (`requestContext.http.sourceIp`), never a header the caller writes
 * (X-Forwarded-For): rotating a header must not make a new caller. IPv6 callers are grouped by their
 * /64, the block one subscriber is handed, so walking addresses inside it is not a new caller either.
 *
 * Behind the optional CloudFront distribution the source is the edge location, so the limits are per
 * edge there; per-viewer limiting belongs in CloudFront/WAF (docs/deploy.md, "API keys and limits").
 *
 * An identity is at most 36 characters, whatever the request held: it is safe as a DynamoDB key and
 * in job records.
 */
export type CallerIdentity = `key:${string}` | `ip:${string}`;

const KEY_HASH_CHARS = 32;

export function keyIdentity(key: AppKey): CallerIdentity {
  return `key:${key.keyHash.slice(0, KEY_HASH_CHARS)}`;
}

export function ipIdentity(sourceIp: string | undefined): CallerIdentity {
  const address = (sourceIp ?? '').trim();
  if (isIPv4(address)) return `ip:${address}`;
  if (isIPv6(address)) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped && isIPv4(mapped[1]!)) return `ip:${mapped[1]}`;
    return `ip:${ipv6Prefix64(address)}`;
  }
  // API Gateway always gives an address; anything else (an in-process call) is one shared caller.
  return 'ip:unknown';
}

/** An x-api-key header after resolution: the key, null (none, unknown, oversized), or the key store failed. */
export type PresentedKey = AppKey | null | 'unavailable';

const log = createLogger({ component: 'api-identity' });

/** Resolves a presented key (the resolver refuses an oversized one without a lookup). Never throws. */
export async function resolveAppKey(presented: string | undefined, resolver: ApiKeyResolver | undefined): Promise<PresentedKey> {
  if (!presented || !resolver) return null;
  try {
    return await resolver(presented);
  } catch (error) {
    log('error', 'API keys could not be loaded', { error });
    return 'unavailable';
  }
}

/** A valid key names the caller; no key, an unknown one, or one that could not be checked: the source address. */
export function callerIdentity(sourceIp: string | undefined, key: PresentedKey): CallerIdentity {
  return key && key !== 'unavailable' ? keyIdentity(key) : ipIdentity(sourceIp);
}

/** The first four groups of an IPv6 address, as `2001:db8:0:1::/64`. */
function ipv6Prefix64(address: string): string {
  const withoutZone = address.split('%')[0]!;
  const [head = '', tail = ''] = withoutZone.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  // an embedded IPv4 tail counts as two groups
  const tailLength = tailGroups.reduce((n, g) => n + (g.includes('.') ? 2 : 1), 0);
  const groups = withoutZone.includes('::') ? [...headGroups, ...Array<string>(Math.max(0, 8 - headGroups.length - tailLength)).fill('0'), ...tailGroups] : headGroups;
  return `${groups.slice(0, 4).map((g) => (parseInt(g, 16) || 0).toString(16)).join(':')}::/64`;
}
