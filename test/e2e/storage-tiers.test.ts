import { METRIC } from '../../lib/metrics/names.js';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '../../lib/adapters/aws/s3-object-store.js';
import { DuckDbSqlEngine, duckDbSettleTables, factsRelation } from '../../lib/adapters/local/duckdb-sql-engine.js';
import { MemoryCounterStore } from '../../lib/adapters/memory/index.js';
import { FsObjectStore } from '../../lib/adapters/local/fs-object-store.js';
import { LocalQueue } from '../../lib/adapters/local/local-queue.js';
import { GLOBAL_SCOPE } from '../../lib/counters/contributions.js';
import { retentionFromEnv } from '../../lib/counters/retention.js';
import { DIRTY_DAYS, DIRTY_HOURS, DIRTY_WEEKS, markDirty } from '../../lib/counters/state.js';
import { WEEK_SECONDS } from '../../lib/counters/weeks.js';
import { compactAndSettle } from '../../lib/facts/compact.js';
import { encodeFacts } from '../../lib/facts/parquet.js';
import { partitionOf, partitionPrefix } from '../../lib/facts/partition.js';
import { newFact, type Fact } from '../../lib/facts/schema.js';
import {
  ARCHIVE_MARGIN_SECONDS,
  archivePolicyFromEnv,
  archivePolicyOfDays,
  DEFAULT_ARCHIVE_AFTER_DAYS,
  hourMayHoldArchived,
  mayBeArchived,
  TIERED_OBJECT_MIN_BYTES,
} from '../../lib/facts/storage-tiers.js';
import { jobIdOf, readJob, runJobStep, submitJob, type JobRequest, type RunJobDeps } from '../../lib/jobs/jobs.js';
import { archivedPartialReason, archivedSpans, MAX_ARCHIVED_SPANS, partFractions, planChunks, planJob } from '../../lib/jobs/plan.js';
import { customWindow } from '../../lib/query/window.js';

const DAY = 86_400;
const HOUR = 3600;
const policy = archivePolicyOfDays(365);
const hex = () => randomBytes(32).toString('hex');

describe('which objects count as archived', () => {
  const now = Date.UTC(2027, 5, 1);
  const big = TIERED_OBJECT_MIN_BYTES + 1;
  const writtenDaysAgo = (days: number, bytes = big) => ({ key: 'facts/x.parquet', bytes, modifiedAt: now - days * DAY * 1000 });

  it('an object over 128 KiB written at least the archive age ago, less a day of margin', () => {
    expect(ARCHIVE_MARGIN_SECONDS).toBe(DAY);
    expect(mayBeArchived(writtenDaysAgo(364), now, policy)).toBe(true);
    expect(mayBeArchived(writtenDaysAgo(363.9), now, policy)).toBe(false);
    // the lifecycle rule leaves small objects in Standard: they are never archived
    expect(mayBeArchived(writtenDaysAgo(1000, TIERED_OBJECT_MIN_BYTES), now, policy)).toBe(false);
    // a store that cannot say when an object was written: taken as readable
    expect(mayBeArchived({ key: 'facts/x.parquet', bytes: big }, now, policy)).toBe(false);
  });

  it('an hour can hold one only if it started the archive age ago (objects are written at most 15 minutes before their hour)', () => {
    const edge = now / 1000 - (365 * DAY - ARCHIVE_MARGIN_SECONDS) + 15 * 60;
    expect(hourMayHoldArchived(edge, now, policy)).toBe(true);
    expect(hourMayHoldArchived(edge + 1, now, policy)).toBe(false);
  });

  it('FACTS_ARCHIVE_AFTER_DAYS: whole days, at least 60, 365 when unset', () => {
    expect(DEFAULT_ARCHIVE_AFTER_DAYS).toBe(365);
    expect(archivePolicyFromEnv({})).toEqual({ archiveAfterSeconds: 365 * DAY });
    expect(archivePolicyFromEnv({ FACTS_ARCHIVE_AFTER_DAYS: '' })).toEqual({ archiveAfterSeconds: 365 * DAY });
    expect(archivePolicyFromEnv({ FACTS_ARCHIVE_AFTER_DAYS: '60' })).toEqual({ archiveAfterSeconds: 60 * DAY });
    expect(() => archivePolicyFromEnv({ FACTS_ARCHIVE_AFTER_DAYS: '59' })).toThrow(/FACTS_ARCHIVE_AFTER_DAYS must be a whole number of days of at least 60, got 59/);
    expect(() => archivePolicyFromEnv({ FACTS_ARCHIVE_AFTER_DAYS: '90.5' })).toThrow(/FACTS_ARCHIVE_AFTER_DAYS/);
  });
});

describe('the stores say when an object was written', () => {
  it('the local store stamps what it writes and copies with its own clock, and lists it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'funnel-tiers-'));
    try {
      let clock = Date.UTC(2031, 0, 1);
      const objects = new FsObjectStore(dir, () => clock);
      await objects.put('facts/dt=2030-01-01/hour=00/a.parquet', 'a');
      clock += 3 * DAY * 1000;
      await objects.copy('facts/dt=2030-01-01/hour=00/a.parquet', 'facts/dt=2030-01-01/hour=00/b.parquet');
      expect((await objects.listSizes('facts/')).map((o) => [o.key.slice(-9), o.modifiedAt])).toEqual([
        ['a.parquet', Date.UTC(2031, 0, 1)],
        ['b.parquet', Date.UTC(2031, 0, 4)],
      ]);
      expect((await stat(join(dir, 'facts/dt=2030-01-01/hour=00/b.parquet'))).mtimeMs).toBe(Date.UTC(2031, 0, 4));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('the S3 store passes on LastModified from the listing it makes anyway', async () => {
    const s3 = mockClient(S3Client);
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: 'facts/dt=2026-01-01/hour=00/a.parquet', Size: 200_000, LastModified: new Date(Date.UTC(2026, 0, 1, 1)) }, { Key: 'facts/b', Size: 1 }] });
    const listed = await new S3ObjectStore(new S3Client({ region: 'us-east-1' }), 'bucket').listSizes('facts/');
    expect(listed).toEqual([
      { key: 'facts/b', bytes: 1 },
      { key: 'facts/dt=2026-01-01/hour=00/a.parquet', bytes: 200_000, modifiedAt: Date.UTC(2026, 0, 1, 1) },
    ]);
    s3.restore();
  });
});

describe('planning around archived hours', () => {
  const day0 = Date.UTC(2026, 0, 1) / 1000;
  const hours = (perHour: number, from: number, to: number) => new Map(Array.from({ length: (to - from) / HOUR }, (_, i) => [from + i * HOUR, perHour] as const));
  const limits = { targetBytes: 1e9, cutoffBytes: 4e9 };
  const share = { all: 1, largest: 0.5 };

  it('no chunk reads an archived hour: its day goes by runs of hours, the days around stay whole', () => {
    const sizes = hours(100, day0, day0 + 4 * DAY);
    const archived = new Set([day0 + DAY + 5 * HOUR, day0 + DAY + 6 * HOUR]);
    for (const hour of archived) sizes.delete(hour);
    const chunks = planChunks(day0, day0 + 4 * DAY, sizes, share, limits, archived);
    expect(chunks.map((c) => [c.startTs - day0, c.endTs - day0])).toEqual([
      [0, DAY],
      [DAY, DAY + 5 * HOUR],
      [DAY + 7 * HOUR, 2 * DAY],
      [2 * DAY, 4 * DAY],
    ]);
    // the days before and after the split one are separate chunks: a run of days never spans it
  });

  it('a window starting inside a day reads the whole day when its chunk spans days: an archived hour before the start splits it too', () => {
    const sizes = hours(100, day0, day0 + 3 * DAY);
    sizes.delete(day0 + 2 * HOUR);
    const chunks = planChunks(day0 + 12 * HOUR, day0 + 3 * DAY, sizes, share, limits, new Set([day0 + 2 * HOUR]));
    expect(chunks.map((c) => [c.startTs - day0, c.endTs - day0])).toEqual([
      [12 * HOUR, DAY],
      [DAY, 3 * DAY],
    ]);
  });

  it('names the archived stretches, unbroken by readable hours, at most MAX_ARCHIVED_SPANS of them', () => {
    const readable = new Map([[day0 + 3 * HOUR, 10]]);
    const spans = archivedSpans(day0, day0 + DAY, readable, new Set([day0, day0 + HOUR, day0 + 5 * HOUR, day0 + 9 * HOUR, day0 - HOUR]));
    // hour 5 and hour 9 are one stretch: no readable hour with facts lies between them; the hour before the window is not the window's
    expect(spans).toEqual([
      { startTs: day0, endTs: day0 + 2 * HOUR, hours: 2 },
      { startTs: day0 + 5 * HOUR, endTs: day0 + 10 * HOUR, hours: 2 },
    ]);
    const many = new Set(Array.from({ length: 50 }, (_, i) => day0 + 2 * i * HOUR));
    const alternating = new Map(Array.from({ length: 50 }, (_, i) => [day0 + (2 * i + 1) * HOUR, 1] as const));
    const bounded = archivedSpans(day0, day0 + 5 * DAY, alternating, many);
    expect(bounded).toHaveLength(MAX_ARCHIVED_SPANS);
    expect(bounded.reduce((n, s) => n + s.hours, 0)).toBe(50);
    expect(bounded.at(-1)).toEqual({ startTs: day0 + 2 * (MAX_ARCHIVED_SPANS - 1) * HOUR, endTs: day0 + 99 * HOUR, hours: 50 - (MAX_ARCHIVED_SPANS - 1) });
    expect(archivedPartialReason(spans, policy)).toBe(
      'archived: 4 hours of facts between 2026-01-01T00:00Z and 2026-01-01T10:00Z (2 stretches) were not scanned; their objects were written more than 365 days ago and may be in S3 Glacier Deep Archive, which Athena cannot read until they are restored (docs/athena.md, "Archived facts")',
    );
    expect(archivedPartialReason([], policy)).toBeNull();
  });
});

/**
 * One user's days of facts in one hour partition each, every object written (by the store's clock) an
 * hour after its hour, and padded with other authors' notes past the 128 KiB the lifecycle rule moves.
 */
const USER = 'b'.repeat(63) + '2';
const PADDING = 1500;
const NOW = Date.UTC(2027, 5, 1) / 1000;
/** 14 days of activity: the first 7 started more than 364 days before NOW, so their objects are old enough to be archived */
const FIRST_DAY = Math.floor((NOW - 371 * DAY) / DAY) * DAY;
const DAYS = 14;
const activityHour = (day: number) => FIRST_DAY + day * DAY + 10 * HOUR;

function dayFacts(day: number): Fact[] {
  const at = activityHour(day);
  const note = newFact({ event_id: hex(), source: 'nostr', kind: 1, type: 'note', created_at: at, author: USER, ingested_at: at * 1000 });
  const likes = Array.from({ length: day + 1 }, (_, i) =>
    newFact({ event_id: hex(), source: 'nostr', kind: 7, type: 'reaction', created_at: at + 60 + i, author: hex(), target_pubkey: USER, target_event_id: note.event_id, reaction: '+', ingested_at: (at + 60 + i) * 1000 }),
  );
  const padding = Array.from({ length: PADDING }, (_, i) => newFact({ event_id: hex(), source: 'nostr', kind: 1, type: 'note', created_at: at + (i % 3000), author: hex(), ingested_at: (at + i) * 1000 }));
  return [note, ...likes, ...padding];
}

describe('a job whose window reaches archived facts answers partial, naming them', () => {
  let dir: string;
  // the counters in memory (the contract suite holds them to the DynamoDB adapter's behaviours)
  let counters: MemoryCounterStore;
  let storeClock = 0;
  let objects: FsObjectStore;
  const sql = new DuckDbSqlEngine();
  let relation: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'funnel-archived-jobs-'));
    counters = new MemoryCounterStore();
    objects = new FsObjectStore(dir, () => storeClock);
    relation = factsRelation(dir);
    for (let day = 0; day < DAYS; day++) {
      storeClock = (activityHour(day) + HOUR) * 1000;
      const bytes = encodeFacts(dayFacts(day));
      expect(bytes.byteLength).toBeGreaterThan(TIERED_OBJECT_MIN_BYTES);
      await objects.put(`${partitionPrefix(partitionOf(activityHour(day)))}compacted-${day}.parquet`, bytes);
    }
  }, 60_000);
  afterAll(async () => {
    await sql.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Runs a job to its end, one message per step, with `nowMs()` as its clock; `between` runs after each step. */
  async function runJob(request: JobRequest, nowMs: () => number, between: (steps: number) => void = () => {}) {
    const queue = new LocalQueue({ visibilityTimeoutMs: 60_000, maxReceives: 10 });
    const deps: RunJobDeps = { counters, objects, sql, relation, dialect: 'duckdb', clock: { now: nowMs }, jobsQueue: queue, archive: policy, limits: { cutoffBytes: 10 * 1024 ** 3, maxJobBytes: 1e12 } };
    const job = await submitJob(request, 'test', { counters, jobsQueue: queue, clock: deps.clock, settings: { resultTtlSeconds: 1, perClientPerHour: 1000 } });
    for (let steps = 0; queue.depth > 0 && steps < 100; steps++) {
      const [record] = queue.receive(1);
      await runJobStep(JSON.parse(record!.body), deps, { receiveCount: record!.receiveCount });
      queue.delete([record!.messageId]);
      between(steps + 1);
    }
    const done = (await readJob(counters, job.jobId))!;
    const result = done.resultRef ? JSON.parse(new TextDecoder().decode((await objects.get(done.resultRef))!)) : null;
    return { record: done, result };
  }

  const summary = (startTs: number, endTs: number, variant = 0): JobRequest => ({ kind: 'summary', pubkey: USER, window: customWindow(startTs, endTs, NOW), tzOffsetMinutes: variant });
  const likesOf = (days: number[]) => days.reduce((n, day) => n + day + 1, 0);
  const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

  it('scans the readable days, counts them exactly, and names the archived stretch in partialReason', async () => {
    const plan = await planJob(summary(FIRST_DAY, FIRST_DAY + DAYS * DAY), { objects, relation, dialect: 'duckdb', limits: { cutoffBytes: 10 * 1024 ** 3, maxJobBytes: 1e12 }, now: NOW * 1000, archive: policy });
    expect(plan.archived).toEqual([{ startTs: activityHour(0), endTs: activityHour(6) + HOUR, hours: 7 }]);
    for (const chunk of plan.chunks) expect(chunk.startTs, 'no chunk reads an archived day').toBeGreaterThanOrEqual(FIRST_DAY + 7 * DAY);

    const { record, result } = await runJob(summary(FIRST_DAY, FIRST_DAY + DAYS * DAY), () => NOW * 1000);
    expect(record.status).toBe('complete');
    expect(result.data.totals.posts).toBe(7);
    expect(result.data.totals.reactionsReceived.likes).toBe(likesOf(range(7, DAYS)));
    expect(result.meta.freshness.isPartial).toBe(true);
    expect(result.meta.partialReason).toMatch(
      new RegExp(`^archived: 7 hours of facts between ${new Date(activityHour(0) * 1000).toISOString().slice(0, 13)}:00Z and ${new Date((activityHour(6) + HOUR) * 1000).toISOString().slice(0, 13)}:00Z were not scanned; their objects were written more than 365 days ago and may be in S3 Glacier Deep Archive`),
    );
    // the archived objects were neither read nor touched
    expect((await objects.listSizes(`${partitionPrefix(partitionOf(activityHour(0)))}`)).map((o) => o.modifiedAt)).toEqual([(activityHour(0) + HOUR) * 1000]);
  });

  it('a window that is all archived completes with nothing counted, partial, without a query', async () => {
    const queries: string[] = [];
    const original = sql.query.bind(sql);
    sql.query = async (text: string) => {
      queries.push(text);
      return original(text);
    };
    try {
      const { record, result } = await runJob(summary(FIRST_DAY, FIRST_DAY + 7 * DAY), () => NOW * 1000);
      expect(record.status).toBe('complete');
      expect(record.plan!.chunks).toEqual([]);
      expect(queries).toEqual([]);
      expect(result.data.totals.posts).toBe(0);
      expect(result.meta.freshness.isPartial).toBe(true);
      expect(result.meta.partialReason).toMatch(/^archived: 7 hours of facts between/);
    } finally {
      sql.query = original;
    }
  });

  it('a window with nothing archived is not partial', async () => {
    const { result } = await runJob(summary(FIRST_DAY + 7 * DAY, FIRST_DAY + DAYS * DAY), () => NOW * 1000);
    expect(result.data.totals.posts).toBe(7);
    expect(result.meta.freshness.isPartial).toBe(false);
    expect(result.meta.partialReason).toBeNull();
  });

  it('a chunk whose facts age into the archive while the job runs is left out and named, not under-counted', async () => {
    const request = summary(FIRST_DAY + 7 * DAY, FIRST_DAY + DAYS * DAY, 1);
    // one day per chunk: a chunk's queries are planned at a quarter of the cutoff, one day's fit and two days' do not
    const oneDay = (await objects.listSizes(partitionPrefix(partitionOf(activityHour(7)))))[0]!.bytes;
    const share = [...partFractions(request, relation, 'duckdb').values()].reduce((a, b) => a + b, 0);
    let now = NOW * 1000;
    const queue = new LocalQueue({ visibilityTimeoutMs: 60_000, maxReceives: 10 });
    const deps: RunJobDeps = { counters, objects, sql, relation, dialect: 'duckdb', clock: { now: () => now }, jobsQueue: queue, archive: policy, limits: { cutoffBytes: Math.round(4 * 1.5 * share * oneDay), maxJobBytes: 1e12 } };
    await submitJob(request, 'test', { counters, jobsQueue: queue, clock: deps.clock, settings: { resultTtlSeconds: 1, perClientPerHour: 1000 } });
    for (let steps = 0; queue.depth > 0 && steps < 100; steps++) {
      const [record] = queue.receive(1);
      await runJobStep(JSON.parse(record!.body), deps, { receiveCount: record!.receiveCount });
      queue.delete([record!.messageId]);
      // after the plan and the first chunk: two more days' objects pass the archive age
      if (steps === 0) now += 2 * DAY * 1000;
    }
    const job = (await readJob(counters, jobIdOf(request)))!;
    expect(job.status).toBe('complete');
    expect(job.plan!.chunks.length).toBe(7);
    expect(job.plan!.archived).toEqual([]);
    expect(job.progress.map((p) => p.phase)).toContain(`left out ${new Date((FIRST_DAY + 8 * DAY) * 1000).toISOString().slice(0, 10)}..${new Date((FIRST_DAY + 8 * DAY) * 1000).toISOString().slice(0, 10)}: archived since planning (chunk 2 of 7)`);
    const result = JSON.parse(new TextDecoder().decode((await objects.get(job.resultRef!))!));
    // day 7 was scanned before the clock moved; day 8 aged out (day 9 is still 363 days old)
    expect(result.data.totals.posts).toBe(6);
    expect(result.data.totals.reactionsReceived.likes).toBe(likesOf([7, ...range(9, DAYS)]));
    expect(result.meta.partialReason).toMatch(/^archived: 1 hour of facts between/);
  });
});

describe('the compactor leaves hours and days with archived facts as settled', () => {
  let dir: string;
  // the counters in memory (the contract suite holds them to the DynamoDB adapter's behaviours)
  let counters: MemoryCounterStore;
  let clock = 0;
  let objects: FsObjectStore;
  let sql: DuckDbSqlEngine;
  const HOUR_START = Date.UTC(2026, 2, 3, 10) / 1000;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'funnel-archived-compactor-'));
    counters = new MemoryCounterStore();
    objects = new FsObjectStore(dir, () => clock);
    sql = new DuckDbSqlEngine({ dataDir: dir, memoryLimit: '256MB' });
  });
  afterAll(async () => {
    await sql.close();
    await rm(dir, { recursive: true, force: true });
  });

  const closedCounts: { dimensions: Record<string, string> | undefined; n: number | undefined }[] = [];
  const metrics = { count: (name: string, dimensions?: Record<string, string>, n?: number) => void (name === METRIC.archivedBucketsClosed && closedCounts.push({ dimensions, n })), observe() {} };
  const compact = (issues: { msg: string; fields: Record<string, unknown> }[] = []) =>
    compactAndSettle({ objects, counters, sql, tables: duckDbSettleTables(dir), retention: retentionFromEnv(process.env), clock: { now: () => clock }, archive: policy, metrics, logIssue: (_level, msg, fields) => issues.push({ msg, fields }) });
  const settledHour = async (hour: number) => (await counters.range(GLOBAL_SCOPE, 'h', hour, hour))[0]?.values;
  const settledDay = async (day: number) => (await counters.range(GLOBAL_SCOPE, 'd', day, day))[0]?.values;
  const late = (hour: number) => newFact({ event_id: hex(), source: 'nostr', kind: 1, type: 'note', created_at: hour + 120, author: hex(), ingested_at: clock });

  it('settles an hour in time, then a late event for it past the archive age: stored, hour and day left as settled, marks cleared', async () => {
    // the hour, written and settled when it happened
    clock = (HOUR_START + HOUR) * 1000;
    const facts = dayFacts(0).map((f) => ({ ...f, created_at: HOUR_START + (f.created_at % HOUR) }));
    await objects.put(`${partitionPrefix(partitionOf(HOUR_START))}batch-1.parquet`, encodeFacts(facts));
    await markDirty(counters, [HOUR_START], clock);
    clock = (HOUR_START + 2 * DAY) * 1000;
    const first = await compact();
    expect(first.hours.map((h) => h.hourStart)).toEqual([HOUR_START]);
    expect(first.daysRolled).toEqual([Math.floor(HOUR_START / DAY) * DAY]);
    const hourBefore = await settledHour(HOUR_START);
    const dayBefore = await settledDay(Math.floor(HOUR_START / DAY) * DAY);
    expect(hourBefore).toBeDefined();
    const [compacted] = await objects.listSizes(partitionPrefix(partitionOf(HOUR_START)));
    expect(compacted!.bytes).toBeGreaterThan(TIERED_OBJECT_MIN_BYTES);

    // a year and more later, a back-dated copy of history brings one more event for that hour
    clock = (HOUR_START + 400 * DAY) * 1000;
    await objects.put(`${partitionPrefix(partitionOf(HOUR_START))}batch-2.parquet`, encodeFacts([late(HOUR_START)]));
    await markDirty(counters, [HOUR_START], clock);
    await markDirty(counters, [Math.floor(HOUR_START / DAY) * DAY], clock, DIRTY_DAYS);
    const issues: { msg: string; fields: Record<string, unknown> }[] = [];
    const run = await compact(issues);

    expect(run.closedHours).toEqual([HOUR_START]);
    expect(run.closedDays).toEqual([Math.floor(HOUR_START / DAY) * DAY]);
    expect(closedCounts).toEqual([{ dimensions: { Granularity: 'h' }, n: 1 }, { dimensions: { Granularity: 'd' }, n: 1 }]);
    expect(run.hours).toEqual([]);
    expect(run.failedHours).toEqual([]);
    expect(await counters.listState(DIRTY_HOURS)).toEqual([]);
    expect(await counters.listState(DIRTY_DAYS)).toEqual([]);
    // the counters are what the full facts said, not what the one readable object would say
    expect(await settledHour(HOUR_START)).toEqual(hourBefore);
    expect(await settledDay(Math.floor(HOUR_START / DAY) * DAY)).toEqual(dayBefore);
    // the archived object is neither rewritten nor deleted; the late event is kept beside it
    expect((await objects.listSizes(partitionPrefix(partitionOf(HOUR_START)))).map((o) => [o.key, o.modifiedAt])).toEqual([
      [`${partitionPrefix(partitionOf(HOUR_START))}batch-2.parquet`, clock],
      [compacted!.key, compacted!.modifiedAt],
    ]);
    expect(issues).toEqual([expect.objectContaining({ fields: expect.objectContaining({ reason: 'archived', hours: 1, days: 1 }) })]);
    // a closed hour does not hold the watermark back
    expect(run.watermark).toBeGreaterThan(HOUR_START);
  });

  it('a week holding an archived object is closed and emptied when a young day of it rolls, so its days answer for it', async () => {
    const week = Math.floor(HOUR_START / WEEK_SECONDS) * WEEK_SECONDS;
    const settledWeek = async () => (await counters.range(GLOBAL_SCOPE, 'w', week, week))[0]?.values;
    // settled whole when its days were (the first test), from the facts of the hour now archived
    expect((await settledWeek())?.events).toBeGreaterThan(0);
    const young = HOUR_START + DAY;
    clock = (HOUR_START + 400 * DAY) * 1000;
    closedCounts.length = 0;
    await objects.put(`${partitionPrefix(partitionOf(young))}batch-1.parquet`, encodeFacts(dayFacts(2).map((f) => ({ ...f, created_at: young + (f.created_at % HOUR) }))));
    await markDirty(counters, [young], clock);
    const run = await compact();
    expect(run.daysRolled).toEqual([Math.floor(young / DAY) * DAY]);
    expect(run.weeksSettled).toEqual([]);
    expect(closedCounts).toEqual([{ dimensions: { Granularity: 'w' }, n: 1 }]);
    expect(await settledWeek()).toEqual({});
    expect(await counters.listState(DIRTY_WEEKS)).toEqual([]);
  });

  it('an old hour whose objects are all young (a backfill of history never seen) settles as usual', async () => {
    const old = HOUR_START + 5 * DAY;
    clock = (HOUR_START + 400 * DAY) * 1000;
    await objects.put(`${partitionPrefix(partitionOf(old))}batch-1.parquet`, encodeFacts(dayFacts(1).map((f) => ({ ...f, created_at: old + (f.created_at % HOUR) }))));
    await markDirty(counters, [old], clock);
    const run = await compact();
    expect(run.closedHours).toEqual([]);
    expect(run.hours.map((h) => h.hourStart)).toEqual([old]);
    expect(await settledHour(old)).toBeDefined();
    expect(await settledDay(Math.floor(old / DAY) * DAY)).toBeDefined();
  });
});
