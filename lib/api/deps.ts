import type { Clock, CounterStore, MetricsSink, ObjectStore, QueueSender, SavedQueryStore } from '../ports.js';
import type { SqlDialect } from '../jobs/metrics-sql.js';
import type { ApiKeyResolver } from '../app/api-keys.js';
import type { JobSettings } from '../jobs/jobs.js';
import type { Retention } from '../counters/retention.js';
import type { PresentedKey } from './identity.js';
import type { HealthCheck, HealthReport } from './health.js';
import type { RequestRateLimiter } from './rate-limit.js';
import type { ResponseCache } from './cache.js';
import type { LiveNoticeSource } from './live-notices.js';

/** What the HTTP API runs on: the same ports in AWS and locally (functions/api wires them). */
export interface ApiDeps {
  counters: CounterStore;
  clock: Clock;
  retention: Retention;
  cache?: ResponseCache<unknown>;
  /** POST /v1/events: the ingest queue and the API keys (each key is one project) */
  app?: { ingestQueue: QueueSender; apiKeys: ApiKeyResolver };
  /** long windows become jobs; without this the api answers them with a 400 */
  jobs?: { queue: QueueSender; objects: ObjectStore; settings: JobSettings };
  metrics?: MetricsSink;
  /** extra routes only the local stack serves (GET /metrics) */
  metricsText?: () => Promise<string> | string;
  /** checks GET /health runs besides the counter store's (lib/api/health.ts) */
  healthChecks?: HealthCheck[];
  /** the per-caller request limit (lib/api/rate-limit.ts); without it only the stage throttle applies */
  rateLimiter?: RequestRateLimiter;
  /** GET /api/analytics/stream: notices of new data, where a server can hold a stream open (the local stack) */
  liveNotices?: LiveNoticeSource;
  /**
   * where each registered schema version's query is saved for analysts (lib/jobs/saved-queries.ts), with
   * the facts as it names them and the engine it is written for; without it none is saved
   */
  savedQueries?: { store: SavedQueryStore; relation: string; dialect: SqlDialect };
}

/** What the router needs beyond ApiDeps, built once by createApiHandler. */
export interface RouteDeps extends ApiDeps {
  health: () => Promise<HealthReport>;
}

export interface ApiRequest {
  method: string;
  path: string;
  query: Record<string, string | undefined>;
  /** who is asking, for job quotas: a CallerIdentity (lib/api/identity.ts), never a raw key or header */
  client?: string;
  /** the x-api-key header as the handler resolved it (once per request, for the caller identity too) */
  appKey: PresentedKey;
  headers?: Record<string, string | undefined>;
  body?: string;
}
