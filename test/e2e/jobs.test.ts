import { randomBytes } from 'node:crypto';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDbSqlEngine, factsRelation } from '../../lib/adapters/local/duckdb-sql-engine.js';
import { LocalQueue } from '../../lib/adapters/local/local-queue.js';
import { hllCode, reduceCodes } from '../../lib/counters/hll.js';
import { encodeFacts } from '../../lib/facts/parquet.js';
import { partitionOf, partitionPrefix } from '../../lib/facts/partition.js';
import { newFact, type Fact } from '../../lib/facts/schema.js';
import { jobIdOf, jobPartialKey, readJob, submitJob, type JobRecord, type JobRequest, type RunJobDeps } from '../../lib/jobs/jobs.js';
import { partData } from '../../lib/jobs/parts.js';
import { CHUNK_MAX_DAYS, partFractions, planChunks, planJob, type JobLimits } from '../../lib/jobs/plan.js';
import { athenaQueryCostUsd, columnsRead, factsBytesByHour, formatBytes, prunedBytes, scanFraction } from '../../lib/jobs/scan.js';
import { userDailySql, userEngagerSketchSql } from '../../lib/jobs/user-job-sql.js';
import { lambdaContext } from '../../lib/local/stack/queue-consumer.js';
import { QueryStoppedError, type CounterStore, type ObjectStore, type QueueSender, type SqlEngine } from '../../lib/ports.js';
import { customWindow } from '../../lib/query/window.js';
import { createJobsHandler } from '../../functions/jobs/handler.js';
import { memoryStores } from '../support/local.js';

const DAY = 86400;
const NOW = Date.UTC(2026, 5, 1) / 1000;
const START = NOW - 70 * DAY;
const hex = () => randomBytes(32).toString('hex');
const USER = 'a'.repeat(63) + '1';
const others = Array.from({ length: 40 }, hex);

let stores: Awaited<ReturnType<typeof memoryStores>>;
const sql = new DuckDbSqlEngine();
let relation: string;
let facts: Fact[];

/** A user's notes and the engagement they receive over 70 days, written straight to hour partitions. */
function workload(): Fact[] {
  const out: Fact[] = [];
  let n = 0;
  const at = (ts: number, fields: Partial<Fact> & Pick<Fact, 'type' | 'author'>) =>
    out.push(newFact({ event_id: hex(), source: 'nostr', kind: fields.type === 'zap' ? 9735 : fields.type === 'reaction' ? 7 : 1, created_at: ts, ingested_at: ts * 1000 + n++, ...fields }));
  let i = 0;
  for (let ts = START + 1800; ts < NOW; ts += 13 * 3600 + 17, i++) {
    at(ts, { type: 'note', author: USER, hashtags: [`t${i % 4}`] });
    const post = out[out.length - 1]!.event_id;
    at(ts + 60, { type: 'reaction', author: others[i % 40]!, target_pubkey: USER, target_event_id: post, reaction: i % 3 ? '+' : '-' });
    at(ts + 120, { type: 'zap', author: hex(), target_pubkey: USER, target_event_id: post, zap_sender: others[(i * 7) % 40]!, zap_msats: 21_000 + i });
    at(ts + 180, { type: 'reply', author: others[(i * 3) % 40]!, target_pubkey: USER, target_event_id: post });
    at(ts + 240, { type: 'note', author: others[i % 40]! });
    // self-engagement, which no "received" metric counts
    at(ts + 300, { type: 'reaction', author: USER, target_pubkey: USER, target_event_id: post, reaction: '+' });
    // a zap receipt that names no sender: it counts, but for no engager
    if (i % 10 === 0) at(ts + 360, { type: 'zap', author: hex(), target_pubkey: USER, target_event_id: post, zap_sender: null, zap_msats: 1000 });
  }
  return out;
}

beforeAll(async () => {
  stores = await memoryStores();
  relation = factsRelation(stores.dir);
  facts = workload();
  const byHour = new Map<number, Fact[]>();
  for (const fact of facts) byHour.set(partitionOf(fact.created_at).start, [...(byHour.get(partitionOf(fact.created_at).start) ?? []), fact]);
  for (const [hour, hourFacts] of byHour) await stores.objects.put(`${partitionPrefix(partitionOf(hour))}f.parquet`, encodeFacts(hourFacts));
  // an hour not yet compacted: its events twice, which the jobs must count once
  const [hour, hourFacts] = [...byHour][3]!;
  await stores.objects.put(`${partitionPrefix(partitionOf(hour))}dup.parquet`, encodeFacts(hourFacts));
  const total = (await stores.objects.listSizes!('facts/')).reduce((sum, o) => sum + o.bytes, 0);
  const share = [...partFractions(summary(0), relation, 'duckdb').values()].reduce((a, b) => a + b, 0);
  SMALL = { cutoffBytes: Math.round((4 * share * total) / 5), maxJobBytes: 1e12 };
}, 30_000);
afterAll(async () => {
  await sql.close();
  await stores.close();
});

const WINDOW_END = NOW - 600;
/**
 * A summary over the workload. `variant` is its tz offset, which a summary does not use but the job id
 * does: each test gets a job of its own with the same answer.
 */
const summary = (variant: number): JobRequest => ({ kind: 'summary', pubkey: USER, window: customWindow(START, WINDOW_END, NOW), tzOffsetMinutes: variant });

/** A cutoff that splits the 70 days into about five chunks (a chunk's queries are planned at a quarter of it). */
let SMALL: JobLimits;

interface Harness {
  queue: LocalQueue;
  deps: RunJobDeps;
  handle: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;
  /** moves the queue's clock, so a handed-back message becomes visible again */
  advance: (ms: number) => void;
}

function harness(overrides: Partial<RunJobDeps> & { limits?: JobLimits } = {}): Harness {
  let now = 0;
  const queue = new LocalQueue({ visibilityTimeoutMs: 60_000, maxReceives: 10, now: () => now });
  const deps: RunJobDeps = { counters: stores.counters, objects: stores.objects, sql, relation, dialect: 'duckdb', clock: { now: () => NOW * 1000 }, jobsQueue: queue, limits: SMALL, ...overrides };
  return { queue, deps, handle: createJobsHandler(deps) as never, advance: (ms) => (now += ms) };
}

interface Delivery {
  body: { jobId: string; step?: number; attempt?: number };
  receiveCount: number;
  handedBack: boolean;
  after: JobRecord;
}

/** Delivers the queue's messages one per invocation, as the jobs function's event source does (batch size 1). */
async function drain(h: Harness): Promise<Delivery[]> {
  const deliveries: Delivery[] = [];
  for (let i = 0; i < 500; i++) {
    if (h.queue.depth === 0) return deliveries;
    const [record] = h.queue.receive(1);
    if (!record) {
      h.advance(60_001);
      continue;
    }
    const event = { Records: [{ messageId: record.messageId, body: record.body, attributes: { ApproximateReceiveCount: String(record.receiveCount) } }] } as unknown as SQSEvent;
    const response = await h.handle(event, lambdaContext('funnel-jobs'));
    const handedBack = response.batchItemFailures.length > 0;
    if (!handedBack) h.queue.delete([record.messageId]);
    const body = JSON.parse(record.body);
    deliveries.push({ body, receiveCount: record.receiveCount, handedBack, after: (await readJob(stores.counters, body.jobId))! });
  }
  throw new Error('the jobs queue did not drain');
}

async function run(request: JobRequest, h: Harness) {
  const job = await submitJob(request, 'test', { counters: h.deps.counters, jobsQueue: h.queue, clock: h.deps.clock, settings: { resultTtlSeconds: 1, perClientPerHour: 1000 } });
  const deliveries = await drain(h);
  const record = (await readJob(stores.counters, job.jobId))!;
  const bytes = record.resultRef ? await stores.objects.get(record.resultRef) : null;
  return { record, deliveries, result: bytes ? JSON.parse(new TextDecoder().decode(bytes)) : null };
}

/** An engine that counts queries and fails the ones `fail` picks (by 1-based query number). */
function flakySql(fail: (n: number) => Error | null): SqlEngine & { calls: number } {
  const engine = {
    calls: 0,
    async query(text: string) {
      engine.calls++;
      const error = fail(engine.calls);
      if (error) throw error;
      return sql.query(text);
    },
    export: sql.export.bind(sql),
  };
  return engine;
}

describe('scan estimate and cost', () => {
  it('reads the columns a statement names, not the ones in its literals, and weighs them', () => {
    const daily = userDailySql(relation, { startTs: START, endTs: NOW }, 'duckdb', USER);
    expect(columnsRead(daily).sort()).toEqual(['author', 'created_at', 'deleted_event_ids', 'event_id', 'ingested_at', 'reaction', 'relay', 'target_pubkey', 'type', 'zap_msats', 'zap_request_id', 'zap_sender'].sort());
    expect(columnsRead("SELECT count(*) FROM f WHERE type = 'title'")).toEqual(['type']);
    expect(scanFraction(daily)).toBeGreaterThan(0.5);
    expect(scanFraction(daily)).toBeLessThan(1);
    expect(scanFraction('SELECT type FROM f')).toBeLessThan(0.01);
  });

  it('prices a query as Athena bills it: $5 per TB, at least 10 MB, nothing for a reused result', () => {
    expect(athenaQueryCostUsd(0)).toBe(0);
    expect(athenaQueryCostUsd(1)).toBeCloseTo(0.00005, 12);
    expect(athenaQueryCostUsd(1e12)).toBeCloseTo(5, 9);
    // 10 GiB, rounded up to the megabyte: 10,738 MB
    expect(athenaQueryCostUsd(10 * 1024 ** 3)).toBeCloseTo(0.05369, 9);
  });

  it('sizes hours from the listing, and counts what a statement prunes to', async () => {
    const sizes = (await factsBytesByHour(stores.objects, START, NOW))!;
    const listed = (await stores.objects.listSizes!('facts/')).reduce((sum, o) => sum + o.bytes, 0);
    expect([...sizes.values()].reduce((a, b) => a + b, 0)).toBe(listed);
    const day = Math.floor(START / DAY) * DAY + 10 * DAY;
    const hourly = (from: number, to: number) => Array.from({ length: (to - from) / 3600 }, (_, i) => sizes.get(from + i * 3600) ?? 0).reduce((a, b) => a + b, 0);
    // inside one day: only its hours; across days: the whole days (dt pruning)
    expect(prunedBytes(sizes, day + 7200, day + 5 * 3600)).toBe(hourly(day + 7200, day + 5 * 3600));
    expect(prunedBytes(sizes, day + 7200, day + DAY + 3600)).toBe(hourly(day, day + 2 * DAY));
    expect(await factsBytesByHour({ ...stores.objects, listSizes: undefined } as ObjectStore, START, NOW)).toBeNull();
  });
});

describe('planning chunks', () => {
  const hours = (perHour: number, from: number, to: number) => new Map(Array.from({ length: (to - from) / 3600 }, (_, i) => [from + i * 3600, perHour] as const));
  const day0 = Date.UTC(2026, 0, 1) / 1000;

  it('without sizes: runs of 31 days', () => {
    const chunks = planChunks(day0 + 3600, day0 + 70 * DAY, null, { all: 1, largest: 1 }, { targetBytes: 1, cutoffBytes: 1 });
    expect(chunks.map((c) => [c.startTs, c.endTs, c.bytes])).toEqual([
      [day0 + 3600, day0 + CHUNK_MAX_DAYS * DAY, null],
      [day0 + CHUNK_MAX_DAYS * DAY, day0 + 2 * CHUNK_MAX_DAYS * DAY, null],
      [day0 + 2 * CHUNK_MAX_DAYS * DAY, day0 + 70 * DAY, null],
    ]);
  });

  it('with sizes: whole days up to the target, a big day split into hours, empty stretches left out', () => {
    const sizes = new Map([...hours(100, day0, day0 + 5 * DAY), ...hours(1000, day0 + 5 * DAY, day0 + 6 * DAY)]);
    const chunks = planChunks(day0, day0 + 20 * DAY, sizes, { all: 0.5, largest: 0.2 }, { targetBytes: 6000, cutoffBytes: 24_000 });
    // 2,400 B a day × 0.5 = 1,200 expected: five days fit in 6,000; the 24,000 B day goes by 12-hour runs
    expect(chunks).toEqual([
      { startTs: day0, endTs: day0 + 5 * DAY, bytes: 12_000 },
      { startTs: day0 + 5 * DAY, endTs: day0 + 5 * DAY + 12 * 3600, bytes: 12_000 },
      { startTs: day0 + 5 * DAY + 12 * 3600, endTs: day0 + 6 * DAY, bytes: 12_000 },
    ]);
    for (const chunk of chunks) expect(chunk.bytes! * 0.5).toBeLessThanOrEqual(6000);
  });

  it('fails fast, naming the estimate and the cutoff, when one hour is over the cutoff', () => {
    const sizes = hours(50_000_000_000, day0, day0 + DAY);
    expect(() => planChunks(day0, day0 + DAY, sizes, { all: 2, largest: 0.5 }, { targetBytes: 1e9, cutoffBytes: 10 * 1024 ** 3 })).toThrow(
      /dt=2026-01-01, hour=00\) is expected to scan 25\.00 GB \(25,000,000,000 bytes\) in one query, over the per-query cutoff of 10\.74 GB \(10,737,418,240 bytes\)/,
    );
  });

  it('fails fast when the whole job is over its budget, before any query', async () => {
    const limits = { cutoffBytes: 10 * 1024 ** 3, maxJobBytes: 50_000 };
    await expect(planJob(summary(1), { objects: stores.objects, relation, dialect: 'duckdb', limits, now: 0 })).rejects.toThrow(/expected to scan .* over the job budget of 50\.00 kB \(50,000 bytes\)/);
    const h = harness({ limits, sql: flakySql(() => null) });
    const { record } = await run(summary(1), h);
    expect(record.status).toBe('failed');
    expect(record.error).toMatch(/over the job budget/);
    expect((h.deps.sql as ReturnType<typeof flakySql>).calls).toBe(0);
  });
});

describe('the engager and zapper sketches', () => {
  it('computes hllCode for every engager and every zapper in SQL, and keeps every pubkey while no register overflows', async () => {
    const window = { startTs: START, endTs: NOW };
    const rows = await sql.query(userEngagerSketchSql(relation, window, 'duckdb', USER));
    const received = facts.filter((f) => f.target_pubkey === USER && (f.type === 'zap' ? f.zap_sender : f.author) !== USER);
    const engagers = new Set(received.map((f) => (f.type === 'zap' ? f.zap_sender : f.author)).filter((pk): pk is string => pk !== null));
    const zappers = new Set(received.filter((f) => f.type === 'zap').map((f) => f.zap_sender).filter((pk): pk is string => pk !== null));
    expect(zappers.size).toBeGreaterThan(0);
    const data = partData('engagers', rows);
    if (data.part !== 'engagers') throw new Error('engagers');
    for (const [name, expected] of [['engagers', engagers], ['zappers', zappers]] as const) {
      expect(data.sketches[name].codes.sort((a, b) => a - b), name).toEqual(reduceCodes([...expected].map(hllCode)));
      expect(new Set(data.sketches[name].ids), name).toEqual(expected);
    }
    // more pubkeys in one register than the sketch keeps: they are not all there
    const crowded = [{ sketch: 'engagers', register: 7, rank: 3, engagers: 17, ids: 'a,b' }, { sketch: 'zappers', register: 2, rank: 1, engagers: 1, ids: 'c' }];
    expect(partData('engagers', crowded)).toEqual({ part: 'engagers', sketches: { engagers: { codes: [(7 << 6) | 3], ids: null }, zappers: { codes: [(2 << 6) | 1], ids: ['c'] } } });
  });
});

describe('a job runs chunk by chunk, one message and one invocation each', () => {
  let reference: Awaited<ReturnType<typeof run>>;
  beforeAll(async () => {
    reference = await run(summary(0), harness());
  });

  it('sends each next step only after the partial of the one before is stored, and moves progress per step', async () => {
    const h = harness();
    const sent: string[] = [];
    const checkedQueue: QueueSender = {
      async sendBatch(bodies) {
        for (const body of bodies) {
          const { jobId, step } = JSON.parse(body);
          const record = await readJob(stores.counters, jobId);
          if (step > 0 && record?.plan) expect(await stores.objects.get(jobPartialKey(jobId, record.plan.id, step - 1))).not.toBeNull();
          sent.push(body);
        }
        return h.queue.sendBatch(bodies);
      },
    };
    h.deps.jobsQueue = checkedQueue;
    h.handle = createJobsHandler(h.deps) as never;
    const { record, deliveries, result } = await run(summary(2), h);
    expect(record.status).toBe('complete');
    const chunks = record.plan!.chunks.length;
    expect(chunks).toBeGreaterThan(3);
    // one delivery per chunk, in order, plus the merge; nothing handed back
    expect(deliveries.map((d) => d.body.step)).toEqual(Array.from({ length: chunks + 1 }, (_, i) => i));
    expect(deliveries.every((d) => !d.handedBack)).toBe(true);
    expect(sent).toHaveLength(chunks); // steps 1..chunks (the merge); step 0 came from submitJob
    const percents = deliveries.map((d) => d.after.progressPercent);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(new Set(percents).size).toBe(chunks + 1);
    expect(deliveries.map((d) => d.after.nextStep)).toEqual(Array.from({ length: chunks + 1 }, (_, i) => i + 1));
    expect(record.progress.length).toBeLessThanOrEqual(50);
    // chunking changes nothing in the answer
    expect(result.data).toEqual(reference.result.data);
    expect(result.drilldowns).toEqual(reference.result.drilldowns);
  });

  it('answers what the facts say, each event once', () => {
    const { totals, timeline } = reference.result.data;
    const inWindow = facts.filter((f) => f.created_at >= START && f.created_at < WINDOW_END);
    expect(totals.posts).toBe(inWindow.filter((f) => f.author === USER && f.type === 'note').length);
    expect(totals.zapsReceived).toBe(inWindow.filter((f) => f.type === 'zap').length);
    expect(totals.reactionsReceived.dislikes).toBe(inWindow.filter((f) => f.type === 'reaction' && f.reaction === '-').length);
    const received = inWindow.filter((f) => f.target_pubkey === USER && (f.type === 'zap' ? f.zap_sender : f.author) !== USER);
    expect(totals.reactionsReceived.total).toBe(received.filter((f) => f.type === 'reaction').length);
    expect(totals.uniqueEngagers).toBe(new Set(received.map((f) => (f.type === 'zap' ? f.zap_sender : f.author)).filter(Boolean)).size);
    expect(timeline).toHaveLength(Math.ceil((WINDOW_END - Math.floor(START / DAY) * DAY) / DAY));
    expect(reference.result.meta).toMatchObject({ source: 'fallback', approximate: [] });
  });

  it('reports the bytes scanned (an estimate on DuckDB) and their cost at Athena prices', () => {
    const { scan, plan } = reference.record;
    const queries = plan!.chunks.length * 5;
    expect(scan).toMatchObject({ bytesScannedSource: 'estimate', queries, cutoffBytes: SMALL.cutoffBytes });
    expect(scan!.expectedBytes).toBeGreaterThan(0);
    // nothing arrived since planning, so the steps scanned what the plan expected (each query rounds up)
    expect(Math.abs(scan!.bytesScanned - scan!.expectedBytes!)).toBeLessThanOrEqual(queries);
    expect(scan!.costUsd).toBeCloseTo(queries * athenaQueryCostUsd(1), 9); // each one under the 10 MB minimum
  });

  it('reports what Athena measured when the engine measures', async () => {
    let scanned = 0;
    const measuring: SqlEngine = { query: async (text) => ((scanned += 20_000_000), sql.query(text)), export: sql.export.bind(sql), bytesScanned: () => scanned };
    const { record } = await run(summary(3), harness({ sql: measuring }));
    const queries = record.plan!.chunks.length * 5;
    expect(record.scan).toMatchObject({ bytesScannedSource: 'engine', bytesScanned: queries * 20_000_000, queries });
    expect(record.scan!.costUsd).toBeCloseTo(queries * athenaQueryCostUsd(20_000_000), 9);
  });

  it('a failed query in chunk k is retried at k, and the answer equals a run without the failure', async () => {
    const failing = flakySql((n) => (n === 8 ? new Error('throttled') : null));
    const { record, deliveries, result } = await run(summary(4), harness({ sql: failing }));
    expect(record.status).toBe('complete');
    const retry = deliveries.findIndex((d) => d.body.attempt === 1);
    expect(deliveries[retry]!.body.step).toBe(1); // five queries a chunk: the 8th is chunk 1's third
    expect(deliveries[retry - 1]!.after.nextStep).toBe(1);
    // chunk 0 did not run again; chunk 1 ran its first three queries twice
    expect(failing.calls).toBe(record.plan!.chunks.length * 5 + 3);
    expect(result.data).toEqual(reference.result.data);
    expect(result.drilldowns).toEqual(reference.result.drilldowns);
  });

  it('a crash after a partial is stored but before the job moves on resumes at that step on redelivery', async () => {
    let writes = 0;
    const crashing = new Proxy(stores.counters, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (property !== 'putState') return typeof value === 'function' ? value.bind(target) : value;
        // job writes: submit, plan, steps 0 and 1; the 5th (step 2 moving on) and the 6th (its retry) fail
        return async (...args: Parameters<CounterStore['putState']>) => {
          writes++;
          if (writes === 5 || writes === 6) throw new Error('ECONNRESET');
          return target.putState(...args);
        };
      },
    });
    const h = harness({ counters: crashing });
    const { record, deliveries, result } = await run(summary(5), h);
    expect(record.status).toBe('complete');
    const crashed = deliveries.find((d) => d.handedBack)!;
    expect(crashed.body.step).toBe(2);
    const redelivered = deliveries.find((d) => d.receiveCount === 2)!;
    expect(redelivered.body.step).toBe(2);
    expect(redelivered.after.nextStep).toBe(3);
    expect(record.scan!.queries).toBe(record.plan!.chunks.length * 5); // the re-run step is counted once
    expect(result.data).toEqual(reference.result.data);
  });

  it('a crash after the job moved on but before the next message was sent: the redelivery sends it', async () => {
    const h = harness();
    let sends = 0;
    h.deps.jobsQueue = {
      sendBatch: async (bodies) => {
        sends++;
        // step 3's message (sent by step 2), and the retry that would replace it, never reach the queue
        if (sends === 3 || sends === 4) return { failed: bodies };
        return h.queue.sendBatch(bodies);
      },
    };
    h.handle = createJobsHandler(h.deps) as never;
    const { record, deliveries, result } = await run(summary(6), h);
    expect(record.status).toBe('complete');
    const redelivered = deliveries.find((d) => d.receiveCount === 2)!;
    expect(redelivered.body.step).toBe(2);
    expect(deliveries.filter((d) => d.body.step === 3)).toHaveLength(1);
    expect(record.scan!.queries).toBe(record.plan!.chunks.length * 5);
    expect(result.data).toEqual(reference.result.data);
  });

  it('a duplicate of a finished step is dropped; a job that lost its message resumes where it stopped', async () => {
    const h = harness();
    const request = summary(7);
    const job = await submitJob(request, 'test', { counters: stores.counters, jobsQueue: h.queue, clock: h.deps.clock, settings: { resultTtlSeconds: 1, perClientPerHour: 1000 } });
    // three steps, then the queue loses the rest (a purged queue, a restarted stack)
    for (let i = 0; i < 3; i++) {
      const [record] = h.queue.receive(1);
      await h.handle({ Records: [{ messageId: record!.messageId, body: record!.body, attributes: { ApproximateReceiveCount: '1' } }] } as never, lambdaContext('jobs'));
      h.queue.delete([record!.messageId]);
    }
    h.queue.delete(h.queue.receive(10).map((r) => r.messageId));
    await h.handle({ Records: [{ messageId: 'dup', body: JSON.stringify({ jobId: job.jobId, step: 1 }), attributes: { ApproximateReceiveCount: '1' } }] } as never, lambdaContext('jobs'));
    expect(h.queue.depth).toBe(0);
    // 21 minutes later the client asks again: the job carries on at step 3, not from the start
    const later = { now: () => NOW * 1000 + 21 * 60_000 };
    const resumed = await submitJob(request, 'test', { counters: stores.counters, jobsQueue: h.queue, clock: later, settings: { resultTtlSeconds: 1, perClientPerHour: 1000 } });
    expect(resumed.jobId).toBe(job.jobId);
    expect(JSON.parse(h.queue.bodies()[0]!)).toEqual({ jobId: job.jobId, step: 3 });
    const deliveries = await drain(h);
    expect(deliveries[0]!.body.step).toBe(3);
    const record = (await readJob(stores.counters, job.jobId))!;
    expect(record.status).toBe('complete');
    const result = JSON.parse(new TextDecoder().decode((await stores.objects.get(record.resultRef!))!));
    expect(result.data).toEqual(reference.result.data);
  });
});

describe('limits per chunk and final failures', () => {
  it('a chunk whose partitions grew past the cutoff since planning fails with the estimate and the cutoff', async () => {
    let late = 0;
    // a late backfill lands in the first chunk after planning: its listing grows by `late` bytes
    const growing = new Proxy(stores.objects, {
      get(target, property, receiver) {
        if (property !== 'listSizes') {
          const value = Reflect.get(target, property, receiver);
          return typeof value === 'function' ? value.bind(target) : value;
        }
        return async (prefix: string) => {
          const objects = await target.listSizes!(prefix);
          return objects.map((o) => ({ ...o, bytes: o.bytes + late }));
        };
      },
    });
    const h = harness({ objects: growing });
    const request = summary(9);
    await submitJob(request, 'test', { counters: stores.counters, jobsQueue: h.queue, clock: h.deps.clock, settings: { resultTtlSeconds: 1, perClientPerHour: 1000 } });
    const [first] = h.queue.receive(1);
    await h.handle({ Records: [{ messageId: first!.messageId, body: first!.body, attributes: { ApproximateReceiveCount: '1' } }] } as never, lambdaContext('jobs'));
    h.queue.delete([first!.messageId]);
    late = SMALL.cutoffBytes;
    const deliveries = await drain(h);
    const record = (await readJob(stores.counters, jobIdOf(request)))!;
    expect(deliveries).toHaveLength(1);
    expect(record.status).toBe('failed');
    expect(record.error).toContain(`is expected to scan `);
    expect(record.error).toContain(`over the per-query cutoff of ${formatBytes(SMALL.cutoffBytes)}`);
    expect(record.nextStep).toBe(1);
  });

  it('a query the engine stopped (the cutoff) fails the job at once; other failures after three runs', async () => {
    const stopped = await run(summary(10), harness({ sql: flakySql(() => new QueryStoppedError('Athena query q cancelled: Bytes scanned limit was exceeded')) }));
    expect(stopped.record).toMatchObject({ status: 'failed', error: `step 1 of ${stopped.record.plan!.chunks.length + 1} failed: Athena query q cancelled: Bytes scanned limit was exceeded` });
    expect(stopped.deliveries).toHaveLength(1);
    const broken = await run(summary(11), harness({ sql: flakySql(() => new Error('no such table')) }));
    expect(broken.record.status).toBe('failed');
    expect(broken.deliveries.map((d) => d.body.attempt ?? 0)).toEqual([0, 1, 2]);
    expect(broken.record.error).toMatch(/^step 1 of \d+ failed: no such table$/);
  });

  it('not a job message goes back (to the DLQ); an unknown job or a stale step is dropped', async () => {
    const h = harness();
    const reply = (body: string) => h.handle({ Records: [{ messageId: 'm', body, attributes: { ApproximateReceiveCount: '1' } }] } as never, lambdaContext('jobs'));
    expect((await reply('{"jobId":"nope"}')).batchItemFailures).toEqual([{ itemIdentifier: 'm' }]);
    expect((await reply(JSON.stringify({ jobId: 'f'.repeat(32), step: 99999999 }))).batchItemFailures).toHaveLength(1);
    expect((await reply(JSON.stringify({ jobId: 'f'.repeat(32), step: 3 }))).batchItemFailures).toEqual([]);
    expect(h.queue.depth).toBe(0);
  });
});
