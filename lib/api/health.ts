import type { CounterStore } from '../ports.js';
import { createLogger } from '../log.js';

/**
 * GET /health: named checks, each ok or not with an optional detail. The api always checks the counter
 * store (a state read); a deployment adds its own checks (the local stack: queue, ingest failures,
 * disk) through `ApiDeps.healthChecks`. 200 `{status:'ok'}` when every check passes, 503
 * `{status:'degraded'}` otherwise.
 */
export interface HealthCheckResult {
  ok: boolean;
  /** short, public text: never an internal error message */
  detail?: string;
}

export interface HealthReport {
  status: 'ok' | 'degraded';
  checks: Record<string, HealthCheckResult>;
}

export interface HealthCheck {
  /** the key under `checks` in the report, e.g. `counters` */
  name: string;
  run(): Promise<HealthCheckResult> | HealthCheckResult;
}

/** A check that has not answered by then counts as failed. */
export const HEALTH_CHECK_TIMEOUT_MS = 1_000;
/** One report serves every /health request for this long, so polling (or a flood) costs one probe. */
export const HEALTH_REPORT_TTL_MS = 2_000;

const log = createLogger({ component: 'api-health' });

/** Reads one (possibly absent) state record: fails when the counter store does not answer. */
export function counterStoreCheck(counters: CounterStore): HealthCheck {
  return {
    name: 'counters',
    run: async () => {
      await counters.getState('health', 0);
      return { ok: true };
    },
  };
}

async function runOne(check: HealthCheck, timeoutMs: number): Promise<HealthCheckResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<HealthCheckResult>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, detail: `no answer within ${timeoutMs} ms` }), timeoutMs);
  });
  try {
    return await Promise.race([Promise.resolve().then(() => check.run()), timeout]);
  } catch (error) {
    log('warn', 'health check failed', { check: check.name, error });
    return { ok: false, detail: 'failed' };
  } finally {
    clearTimeout(timer);
  }
}

export async function runHealthChecks(checks: readonly HealthCheck[], timeoutMs = HEALTH_CHECK_TIMEOUT_MS): Promise<HealthReport> {
  const results = await Promise.all(checks.map(async (check) => [check.name, await runOne(check, timeoutMs)] as const));
  const report: HealthReport = { status: 'ok', checks: Object.fromEntries(results) };
  if (results.some(([, result]) => !result.ok)) report.status = 'degraded';
  return report;
}

/** Runs the checks at most once per `ttlMs` (concurrent requests share a run). */
export function healthMonitor(checks: readonly HealthCheck[], options: { ttlMs?: number; timeoutMs?: number; now?: () => number } = {}): () => Promise<HealthReport> {
  const ttlMs = options.ttlMs ?? HEALTH_REPORT_TTL_MS;
  const now = options.now ?? Date.now;
  let last: { report: Promise<HealthReport>; at: number } | undefined;
  return () => {
    if (!last || now() - last.at >= ttlMs) last = { report: runHealthChecks(checks, options.timeoutMs), at: now() };
    return last.report;
  };
}
