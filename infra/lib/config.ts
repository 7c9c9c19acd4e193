import type { Node } from 'constructs';

/** Deployment settings read from CDK context (`cdk.json` or `-c key=value`). */
export interface FunnelConfig {
  /** Relays the listener subscribes to. Context `relayUrls`: comma-separated string or array. */
  readonly relayUrls: string[];
  /** Origins allowed by the HTTP API's CORS. Context `corsOrigins`: comma-separated or array; `*` for any. */
  readonly corsOrigins: string[];
  /** Listener tasks to run; 0 parks the listener. Context `listenerDesiredCount`. */
  readonly listenerDesiredCount: number;
  /** Email subscribed to the alarm topic, when set. Context `alarmEmail`. */
  readonly alarmEmail?: string;
}

export const DEFAULT_RELAY_URLS = ['wss://relay.damus.io', 'wss://nos.lol'];
export const DEFAULT_CORS_ORIGINS = ['*'];

function list(value: unknown, fallback: string[]): string[] {
  if (value === undefined || value === null) return fallback;
  const items = (Array.isArray(value) ? value.map(String) : String(value).split(','))
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  return items.length > 0 ? items : fallback;
}

function count(value: unknown, fallback: number, key: string): number {
  if (value === undefined || value === null || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`context ${key} must be a non-negative integer, got ${String(value)}`);
  return n;
}

export function readConfig(node: Node): FunnelConfig {
  const relayUrls = list(node.tryGetContext('relayUrls'), DEFAULT_RELAY_URLS);
  for (const url of relayUrls) {
    if (!/^wss?:\/\//.test(url)) throw new Error(`context relayUrls: not a ws:// or wss:// URL: ${url}`);
  }
  const alarmEmail = String(node.tryGetContext('alarmEmail') ?? '').trim();
  return {
    relayUrls,
    corsOrigins: list(node.tryGetContext('corsOrigins'), DEFAULT_CORS_ORIGINS),
    listenerDesiredCount: count(node.tryGetContext('listenerDesiredCount'), 1, 'listenerDesiredCount'),
    ...(alarmEmail ? { alarmEmail } : {}),
  };
}
