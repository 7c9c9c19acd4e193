import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { APIGatewayProxyEventV2, Context, SQSEvent } from 'aws-lambda';
import { createLogger, jsonLinesLogger, logLevelFromEnv, recordLogger, setLogBackend, setLogLevel, type LoggerFactory, type LogLevel } from '../../lib/log.js';
import { powertoolsLoggers } from '../../lib/adapters/aws/powertools.js';
import { createApiHandler } from '../../functions/api/handler.js';
import { createIngestHandler } from '../../functions/ingest/handler.js';
import { createJobsHandler } from '../../functions/jobs/handler.js';
import { retentionFromEnv } from '../../lib/counters/retention.js';
import { packEvents } from '../../lib/ingest/message.js';
import { MetricsRegistry } from '../../lib/metrics/registry.js';
import type { CounterStore, ObjectStore } from '../../lib/ports.js';
import { lambdaContext } from '../../lib/local/stack/queue-consumer.js';
import { loadFixture } from '../support/fixtures.js';
import { fixedClock, localStores } from '../support/local.js';

/** A line's parsed JSON, for a logger writing into `lines`. */
const capture = () => {
  const lines: string[] = [];
  return { lines, write: (line: string) => void lines.push(line), parsed: () => lines.map((l) => JSON.parse(l) as Record<string, any>) };
};

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
  setLogBackend(undefined);
});

describe('log level from the environment', () => {
  it('POWERTOOLS_LOG_LEVEL first, then LOG_LEVEL, case-insensitive; unset or unknown is info', () => {
    expect(logLevelFromEnv({})).toBe('info');
    expect(logLevelFromEnv({ LOG_LEVEL: 'DEBUG' })).toBe('debug');
    expect(logLevelFromEnv({ POWERTOOLS_LOG_LEVEL: 'error', LOG_LEVEL: 'debug' })).toBe('error');
    expect(logLevelFromEnv({ POWERTOOLS_LOG_LEVEL: 'loud' })).toBe('info');
  });

  it('the JSON-lines logger drops the lines below the level it is given (the local stack gives it the environment\'s)', () => {
    const levels: LogLevel[] = ['debug', 'info', 'warn', 'error'];
    const written = (env: Record<string, string>) => {
      const previous = setLogLevel(logLevelFromEnv(env));
      const out = capture();
      const log = createLogger({ component: 'test' }, out.write);
      for (const level of levels) log(level, `a ${level} line`);
      setLogLevel(previous);
      return out.parsed().map((l) => l.level);
    };
    expect(written({})).toEqual(['info', 'warn', 'error']);
    expect(written({ LOG_LEVEL: 'debug' })).toEqual(levels);
    expect(written({ POWERTOOLS_LOG_LEVEL: 'WARN', LOG_LEVEL: 'debug' })).toEqual(['warn', 'error']);
    expect(written({ LOG_LEVEL: 'silent' })).toEqual([]);
  });
});

describe('the JSON-lines logger (local stack, tests)', () => {
  it('writes level, component, correlation id, message and fields, one object per line', () => {
    const out = capture();
    createLogger({ component: 'api', correlationId: 'abc' }, out.write, 'info')('warn', 'slow', { ms: 900 });
    expect(out.lines).toHaveLength(1);
    expect(out.parsed()[0]).toEqual({ time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), level: 'warn', component: 'api', correlationId: 'abc', msg: 'slow', ms: 900 });
  });

  it('logs an Error field with its name, message, stack and cause', () => {
    const out = capture();
    const cause = new TypeError('socket hang up');
    const error = Object.assign(new Error('counters write failed', { cause }), { store: 'counters' });
    jsonLinesLogger({ component: 'ingest', correlationId: 'batch-1' }, out.write, 'info')('error', 'batch failed', { error });
    const logged = out.parsed()[0]!;
    expect(logged.error).toMatchObject({ name: 'Error', message: 'counters write failed', store: 'counters', cause: { name: 'TypeError', message: 'socket hang up' } });
    expect(logged.error.stack).toBe(error.stack);
    expect(logged.error.stack).toMatch(/^Error: counters write failed\n\s+at /);
    expect(logged.correlationId).toBe('batch-1');
  });

  it('writes warnings and errors to stderr, the rest to stdout, when no writer is given', () => {
    const out = vi.spyOn(console, 'log').mockImplementation(() => {});
    const err = vi.spyOn(console, 'error').mockImplementation(() => {});
    const log = jsonLinesLogger({ component: 'c' }, undefined, 'debug');
    log('debug', 'd');
    log('info', 'i');
    log('warn', 'w');
    log('error', 'e');
    expect(out.mock.calls.map(([line]) => JSON.parse(String(line)).msg)).toEqual(['d', 'i']);
    expect(err.mock.calls.map(([line]) => JSON.parse(String(line)).msg)).toEqual(['w', 'e']);
  });

  it('record-style logs keep their level and message; an unknown level is info', () => {
    const out = capture();
    const sink = recordLogger(createLogger({ component: 'listener' }, out.write, 'debug'));
    sink({ level: 'warn', component: 'listener', relay: 'wss://r', msg: 'queue send failed' });
    sink({ level: 'verbose', msg: 'subscribed' });
    expect(out.parsed().map(({ time: _t, ...rest }) => rest)).toEqual([
      { level: 'warn', component: 'listener', msg: 'queue send failed', relay: 'wss://r' },
      { level: 'info', component: 'listener', msg: 'subscribed' },
    ]);
  });
});

describe('the installed backend', () => {
  it('serves loggers made before it was installed, and goes back to JSON lines when removed', () => {
    const seen: unknown[][] = [];
    const factory: LoggerFactory = (base) => (level, msg, fields) => seen.push([base.component, base.correlationId, level, msg, fields]);
    const log = createLogger({ component: 'api', correlationId: 'r1' });
    setLogBackend(factory);
    log('error', 'failed', { n: 1 });
    expect(seen).toEqual([['api', 'r1', 'error', 'failed', { n: 1 }]]);
    expect(setLogBackend(undefined)).toBe(factory);
    const stdout = vi.spyOn(console, 'log').mockImplementation(() => {});
    log('info', 'back to lines');
    expect(JSON.parse(String(stdout.mock.calls[0]![0]))).toMatchObject({ level: 'info', component: 'api', correlationId: 'r1', msg: 'back to lines' });
    expect(seen).toHaveLength(1);
  });
});

/** Captures what Powertools writes: its Console writes to process.stdout / process.stderr. */
function captureStdio() {
  const lines: { stream: 'stdout' | 'stderr'; json: Record<string, any> }[] = [];
  const spy = (stream: 'stdout' | 'stderr') =>
    vi.spyOn(process[stream], 'write').mockImplementation(((chunk: string | Uint8Array) => {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push({ stream, json: JSON.parse(line) });
      return true;
    }) as typeof process.stdout.write);
  spy('stdout');
  spy('stderr');
  return lines;
}

describe('Powertools Logger behind the seam (AWS)', () => {
  it('takes its level from POWERTOOLS_LOG_LEVEL, names the component as service, keeps the correlation id, logs Errors with their stack', () => {
    vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'WARN');
    vi.stubEnv('POWERTOOLS_DEV', '');
    const lines = captureStdio();
    setLogBackend(powertoolsLoggers());
    const log = createLogger({ component: 'ingest', correlationId: 'batch-7' });
    const error = new Error('objects write failed');
    log('debug', 'dropped');
    log('info', 'dropped too');
    log('warn', 'storing message by message', { messages: 3 });
    log('error', 'message write failed', { messageId: 'm1', error });
    vi.restoreAllMocks();
    expect(lines.map((l) => [l.stream, l.json.level, l.json.message])).toEqual([
      ['stderr', 'WARN', 'storing message by message'],
      ['stderr', 'ERROR', 'message write failed'],
    ]);
    const failed = lines[1]!.json;
    expect(failed).toMatchObject({ service: 'ingest', correlationId: 'batch-7', messageId: 'm1', timestamp: expect.any(String) });
    expect(failed.error).toMatchObject({ name: 'Error', message: 'objects write failed', stack: error.stack, location: expect.any(String) });
    expect(lines[0]!.json).toMatchObject({ service: 'ingest', correlationId: 'batch-7', messages: 3 });
  });

  it('falls back to LOG_LEVEL, and is info by default', () => {
    vi.stubEnv('POWERTOOLS_LOG_LEVEL', '');
    vi.stubEnv('POWERTOOLS_DEV', '');
    vi.stubEnv('LOG_LEVEL', 'DEBUG');
    let lines = captureStdio();
    powertoolsLoggers()({ component: 'live' })('debug', 'shown');
    expect(lines.map((l) => l.json.message)).toEqual(['shown']);
    vi.restoreAllMocks();
    vi.stubEnv('LOG_LEVEL', '');
    lines = captureStdio();
    const log = powertoolsLoggers()({ component: 'live' });
    log('debug', 'hidden');
    log('info', 'shown');
    vi.restoreAllMocks();
    expect(lines.map((l) => [l.stream, l.json.level, l.json.message, l.json.correlationId])).toEqual([['stdout', 'INFO', 'shown', undefined]]);
  });
});

describe('the handlers log through the seam', () => {
  let stores: Awaited<ReturnType<typeof localStores>>;
  beforeAll(async () => {
    stores = await localStores();
  });
  afterAll(() => stores.close());

  it('api: an unexpected error is logged with its stack under the request id, and the body says only the correlation id', async () => {
    const seen: { base: { component: string; correlationId?: string }; level: string; msg: string; fields?: Record<string, unknown> }[] = [];
    setLogBackend((base) => (level, msg, fields) => seen.push({ base, level, msg, fields }));
    const broken = new Proxy({} as CounterStore, {
      get: () => async () => {
        throw new RangeError('counter item is malformed');
      },
    });
    const api = createApiHandler({ counters: broken, clock: fixedClock(Date.parse('2026-11-22T00:00:00Z')), retention: retentionFromEnv({}) });
    const event = { rawPath: '/api/stats', requestContext: { requestId: 'req-42', http: { method: 'GET' } } } as unknown as APIGatewayProxyEventV2;
    const response = await api(event, lambdaContext('api'));
    expect(response.statusCode).toBe(500);
    expect(response.headers?.['x-correlation-id']).toBe('req-42');
    expect(response.body).not.toContain('malformed');
    const failure = seen.find((s) => s.msg === 'api request failed')!;
    expect(failure.base).toEqual({ component: 'api', correlationId: 'req-42' });
    expect(failure.level).toBe('error');
    expect(failure.fields?.error).toBeInstanceOf(RangeError);
    expect((failure.fields?.error as Error).stack).toMatch(/RangeError: counter item is malformed\n\s+at /);
  });

  it('ingest: a failed write is logged with its stack under the batch id', async () => {
    const out = capture();
    const failing: ObjectStore = new Proxy(stores.objects, {
      get: (target, key) =>
        key === 'put'
          ? async () => {
              throw new Error('disk full');
            }
          : Reflect.get(target, key, target),
    });
    const handler = createIngestHandler({ objects: failing, counters: stores.counters, clock: fixedClock(Date.parse('2026-11-22T00:00:00Z')), metrics: new MetricsRegistry(), minuteTtlSeconds: 3600, write: out.write });
    const { bodies } = packEvents('wss://relay.example', loadFixture('reactions-small.jsonl').map((e) => JSON.stringify(e)));
    const event = { Records: bodies.map((body, i) => ({ messageId: `m${i}`, body, attributes: { ApproximateReceiveCount: '1' } })) } as unknown as SQSEvent;
    const result = await handler(event, { ...lambdaContext('ingest'), awsRequestId: 'batch-9' } as Context);
    expect(result.batchItemFailures).toHaveLength(bodies.length);
    const errors = out.parsed().filter((l) => l.level === 'error');
    expect(errors.length).toBeGreaterThanOrEqual(2);
    for (const line of errors) {
      expect(line).toMatchObject({ component: 'ingest', correlationId: 'batch-9' });
      expect(line.error.name).toBe('StoreWriteError');
      expect(line.error.stack).toMatch(/^StoreWriteError: objects write failed: disk full\n\s+at /);
      expect(line.error.cause).toMatchObject({ name: 'Error', message: 'disk full' });
    }
    expect(errors.map((l) => l.msg)).toContain('ingest batch write failed; storing it message by message');
    expect(out.parsed().at(-1)).toMatchObject({ level: 'warn', msg: 'ingest batch', correlationId: 'batch-9', failed: bodies.length });
  });

  it('jobs: a message that is not a job is logged with the parse error itself', async () => {
    const out = capture();
    const handler = createJobsHandler({ write: out.write } as unknown as Parameters<typeof createJobsHandler>[0]);
    const event = { Records: [{ messageId: 'x1', body: '{"jobId":"nope"}', attributes: { ApproximateReceiveCount: '1' } }] } as unknown as SQSEvent;
    const result = await handler(event, lambdaContext('jobs'));
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'x1' }]);
    const [line] = out.parsed();
    expect(line).toMatchObject({ level: 'error', component: 'jobs', msg: 'not a job message; dropping it to the DLQ', messageId: 'x1', error: { name: 'ZodError' } });
    expect(line!.error.message).toContain('jobId must be 32 hex characters');
    expect(line!.error.stack).toMatch(/\n\s+at /);
  });
});
