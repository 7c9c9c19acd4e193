import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { apiConfig } from '../../functions/api/env.js';
import { compactorConfig } from '../../functions/compactor/env.js';
import { jobsConfig } from '../../functions/jobs/env.js';
import { listenerConfig } from '../../functions/listener/env.js';
import { awsPorts } from '../../lib/adapters/aws/index.js';
import { DEFAULT_RATE_LIMIT } from '../../lib/api/rate-limit.js';
import { retentionFromEnv } from '../../lib/counters/retention.js';
import { DEFAULT_ARCHIVE_POLICY } from '../../lib/facts/storage-tiers.js';
import { DEFAULT_JOB_LIMITS, DEFAULT_JOB_SETTINGS } from '../../lib/jobs/jobs.js';
import { localConfig } from '../../lib/local/stack/stack.js';
import { DEFAULT_LOCAL_APP_KEYS } from '../../lib/app/api-keys.js';
import { EnvironmentError } from '../../lib/util/env.js';

const ROOT = join(import.meta.dirname, '..', '..');

/** The repository's source files under `dir` (TypeScript and JavaScript modules), as paths from the root. */
function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && /\.(ts|mts|mjs|js)$/.test(entry.name))
    .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)));
}

/** The files under `dir` that mention process.env, each with its lines that do. */
function envReaders(dir: string): Record<string, string[]> {
  const found: Record<string, string[]> = {};
  for (const file of sources(dir)) {
    const lines = readFileSync(join(ROOT, file), 'utf8').split('\n').filter((line) => line.includes('process.env'));
    if (lines.length) found[file] = lines.map((line) => line.trim());
  }
  return found;
}

describe('who reads process.env', () => {
  it('below functions/, only the local stack and its CLI (lib/local/)', () => {
    const outside = Object.keys(envReaders('lib')).filter((file) => !file.startsWith('lib/local/'));
    expect(outside).toEqual([]);
  });

  it('the functions read it only through functions/env.ts (parseEnv and configFrom, once at cold start)', () => {
    expect(Object.keys(envReaders('functions'))).toEqual(['functions/env.ts']);
  });
});

/** The least environment the api function starts with. */
const API_ENV = {
  COUNTERS_TABLE: 'counters',
  FACTS_BUCKET: 'facts',
  JOBS_QUEUE_URL: 'https://sqs.example/jobs',
  QUEUE_URL: 'https://sqs.example/ingest',
  APP_API_KEYS_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:1:secret:keys',
};
const ATHENA = { ATHENA_WORKGROUP: 'funnel', ATHENA_DATABASE: 'funnel_db' };

describe('one configuration object per entry point', () => {
  it("unset optional variables take the core's defaults, from the one place each is kept", () => {
    const api = apiConfig(API_ENV);
    expect(api).toEqual({
      aws: { countersTable: 'counters', factsBucket: 'facts', queueUrls: { ingest: API_ENV.QUEUE_URL, jobs: API_ENV.JOBS_QUEUE_URL }, appApiKeysSecretArn: API_ENV.APP_API_KEYS_SECRET_ARN },
      retention: retentionFromEnv({}),
      rateLimit: DEFAULT_RATE_LIMIT,
      jobSettings: DEFAULT_JOB_SETTINGS,
      savedQueries: undefined,
    });
    const jobs = jobsConfig({ COUNTERS_TABLE: 'c', FACTS_BUCKET: 'f', ...ATHENA, JOBS_QUEUE_URL: 'https://sqs.example/jobs' });
    expect(jobs).toMatchObject({ limits: DEFAULT_JOB_LIMITS, archive: DEFAULT_ARCHIVE_POLICY, aws: { athena: { workGroup: 'funnel', database: 'funnel_db' } } });
  });

  it('set variables are converted once: days to seconds, numbers parsed, both Athena variables as the saved queries', () => {
    const api = apiConfig({ ...API_ENV, ...ATHENA, MINUTE_TTL_DAYS: '2', API_RATE_LIMIT_BURST: '7', JOB_QUOTA_PER_HOUR: '3' });
    expect(api.retention.minuteSeconds).toBe(2 * 86_400);
    expect(api.rateLimit).toEqual({ ...DEFAULT_RATE_LIMIT, burst: 7 });
    expect(api.jobSettings.perClientPerHour).toBe(3);
    expect(api.savedQueries).toEqual({ workGroup: 'funnel', database: 'funnel_db' });
    const compactor = compactorConfig({ COUNTERS_TABLE: 'c', FACTS_BUCKET: 'f', ...ATHENA, SETTLE_QUEUE_URL: 'https://sqs.example/s', RESETTLE_HOUR_AFTER_SECONDS: '600', RESETTLE_DAY_AFTER_SECONDS: '3600', FACTS_ARCHIVE_AFTER_DAYS: '90' });
    expect(compactor).toMatchObject({ resettle: { hourAfterSeconds: 600, dayAfterSeconds: 3600 }, archive: { archiveAfterSeconds: 90 * 86_400 } });
    expect(listenerConfig({ COUNTERS_TABLE: 'c', QUEUE_URL: 'https://sqs.example/q', RELAY_URLS: ' wss://a.example , ,ws://b.example' }).relayUrls).toEqual(['wss://a.example', 'ws://b.example']);
  });

  it('a half-configured feature is an EnvironmentError naming the missing variable; a malformed one names itself and its value', () => {
    const half = (() => {
      try {
        apiConfig({ ...API_ENV, ATHENA_DATABASE: 'funnel_db' });
      } catch (error) {
        return error;
      }
    })();
    expect(half).toBeInstanceOf(EnvironmentError);
    expect((half as EnvironmentError).issues).toEqual([expect.stringMatching(/^ATHENA_WORKGROUP is required with ATHENA_DATABASE/)]);
    expect(() => apiConfig({ ...API_ENV, API_RATE_LIMIT_PER_SECOND: 'fast' })).toThrow(/API_RATE_LIMIT_PER_SECOND must be a whole number from 1 to 100000, got fast/);
    expect(() => listenerConfig({ COUNTERS_TABLE: 'c', QUEUE_URL: 'https://sqs.example/q', RELAY_URLS: 'https://relay.example' })).toThrow(/RELAY_URLS.* must be a ws:\/\/ or wss:\/\/ URL/);
  });

  it('a port the configuration leaves out names the variable that configures it', () => {
    const ports = awsPorts({ countersTable: 'counters' });
    expect(() => ports.objects()).toThrow(/FACTS_BUCKET/);
    expect(() => ports.athena()).toThrow(/ATHENA_WORKGROUP and ATHENA_DATABASE/);
    expect(() => ports.jobsQueue()).toThrow(/JOBS_QUEUE_URL/);
    expect(() => ports.appApiKeys()).toThrow(/APP_API_KEYS_SECRET_ARN/);
  });
});

describe('the local stack reads the same variables with the same shapes', () => {
  it('defaults as in AWS', () => {
    expect(localConfig({})).toEqual({
      retention: retentionFromEnv({}),
      archive: DEFAULT_ARCHIVE_POLICY,
      jobSettings: DEFAULT_JOB_SETTINGS,
      jobLimits: DEFAULT_JOB_LIMITS,
      rateLimit: DEFAULT_RATE_LIMIT,
      appKeys: DEFAULT_LOCAL_APP_KEYS,
    });
  });

  it('the same values, the same rules', () => {
    const env = { HOUR_TTL_DAYS: '3', FACTS_ARCHIVE_AFTER_DAYS: '61', JOB_MAX_SCAN_BYTES: '1000', API_RATE_LIMIT_BURST: '5', FUNNEL_APP_KEYS: 'k:p' };
    const local = localConfig(env);
    const api = apiConfig({ ...API_ENV, ...env });
    expect(local.retention).toEqual(api.retention);
    expect(local.rateLimit).toEqual(api.rateLimit);
    expect(local).toMatchObject({ archive: { archiveAfterSeconds: 61 * 86_400 }, jobLimits: { maxJobBytes: 1000 }, appKeys: 'k:p' });
    expect(() => localConfig({ FACTS_ARCHIVE_AFTER_DAYS: '59' })).toThrow(/invalid environment: FACTS_ARCHIVE_AFTER_DAYS must be a whole number of days of at least 60/);
  });
});
