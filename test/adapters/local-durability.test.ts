import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { finalizeEvent, generateSecretKey } from 'nostr-tools/pure';
import { JOURNAL_COMPACT_MIN_BYTES, LocalQueue } from '../../lib/adapters/local/local-queue.js';
import { FsObjectStore, ORPHAN_TEMP_MAX_AGE_MS } from '../../lib/adapters/local/fs-object-store.js';
import { DamagedStoreError, startDynalite } from '../../lib/adapters/local/dynalite.js';
import { openPipeline } from '../../lib/local/stack/stack.js';
import { backfill } from '../../lib/local/cli/backfill.js';
import { StorageFaultMonitor, describeStorageFault, isStorageFault, localHealthChecks } from '../../lib/local/stack/health.js';
import { MetricsRegistry } from '../../lib/metrics/registry.js';
import { METRIC } from '../../lib/metrics/names.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'funnel-durable-'));
  dirs.push(dir);
  return dir;
}

const options = { visibilityTimeoutMs: 1000, maxReceives: 5 };

describe('the durable local queue', () => {
  it('restores every sent, undeleted message with its id and receive count after a crash (no close)', async () => {
    const path = join(await tempDir(), 'queue', 'ingest.journal');
    const before = await LocalQueue.open(path, options);
    await before.sendBatch(['a', 'b', 'c']);
    const received = before.receive(2);
    before.delete([received[0]!.messageId]);
    // Abandoned without close(): what sendBatch acknowledged must be on disk already.
    const after = await LocalQueue.open(path, options);
    expect(after.replay).toEqual({ restored: 2, tornLines: 0 });
    const redelivered = after.receive(10);
    expect(redelivered.map((r) => [r.messageId, r.body, r.receiveCount])).toEqual([
      [received[1]!.messageId, 'b', 2],
      [expect.any(String), 'c', 1],
    ]);
    await after.close();
  });

  it('skips and counts a torn last line instead of failing to open', async () => {
    const path = join(await tempDir(), 'ingest.journal');
    const queue = await LocalQueue.open(path, options);
    await queue.sendBatch(['whole']);
    await queue.close();
    appendFileSync(path, '{"s":"half-writ');
    const reopened = await LocalQueue.open(path, options);
    expect(reopened.replay).toEqual({ restored: 1, tornLines: 1 });
    expect(reopened.bodies()).toEqual(['whole']);
    // The next open compacted the torn line away, and new appends start on a line of their own.
    await reopened.sendBatch(['next']);
    expect((await LocalQueue.open(path, options)).replay).toEqual({ restored: 2, tornLines: 0 });
  });

  it('compacts the journal to the live messages once dead entries dominate', async () => {
    const path = join(await tempDir(), 'ingest.journal');
    const queue = await LocalQueue.open(path, { ...options, maxBytes: 64 * 1024 * 1024 });
    const body = 'x'.repeat(64 * 1024);
    const count = Math.ceil(JOURNAL_COMPACT_MIN_BYTES / body.length) + 8;
    await queue.sendBatch(['keep']);
    await queue.sendBatch(Array.from({ length: count }, () => body));
    const sizeBefore = readFileSync(path).length;
    expect(sizeBefore).toBeGreaterThan(JOURNAL_COMPACT_MIN_BYTES);
    const batch = queue.receive(count + 1).filter((r) => r.body !== 'keep');
    queue.delete(batch.map((r) => r.messageId));
    const text = readFileSync(path, 'utf8');
    expect(text.length).toBeLessThan(1024);
    expect(text.trim().split('\n').map((line) => JSON.parse(line).b)).toEqual(['keep']);
    expect((await LocalQueue.open(path, options)).bodies()).toEqual(['keep']);
  });

  it('refuses what is over its caps and returns those bodies in failed', async () => {
    const queue = await LocalQueue.open(join(await tempDir(), 'q.journal'), { ...options, maxMessages: 3, maxBytes: 10 });
    expect(await queue.sendBatch(['aa', 'bb'])).toEqual({ failed: [] });
    expect(await queue.sendBatch(['cc', 'dd', 'ee'])).toEqual({ failed: ['dd', 'ee'] });
    const bytesCapped = await LocalQueue.open(join(await tempDir(), 'q.journal'), { ...options, maxBytes: 5 });
    expect(await bytesCapped.sendBatch(['abc', 'def'])).toEqual({ failed: ['def'] });
    queue.delete(queue.receive(3).map((r) => r.messageId));
    expect(await queue.sendBatch(['dd', 'ee'])).toEqual({ failed: [] });
  });

  it('answers failed, counts the fault and accepts nothing when the journal cannot be written', async () => {
    const dir = await tempDir();
    const faults: unknown[] = [];
    const queue = await LocalQueue.open(join(dir, 'q.journal'), { ...options, onFault: (e) => faults.push(e) });
    await queue.close();
    // A closed journal behaves like a dead disk for the append path: reopen on a path whose fd is gone.
    const broken = await LocalQueue.open(join(dir, 'q2.journal'), { ...options, onFault: (e) => faults.push(e) });
    (broken as unknown as { fd: number }).fd = 987_654;
    expect(await broken.sendBatch(['lost?'])).toEqual({ failed: ['lost?'] });
    expect(broken.depth).toBe(0);
    expect(faults.length).toBeGreaterThan(0);
    expect(broken.lastFault).not.toBeNull();
  });

  it('keeps dead letters durably: a poison message is in the DLQ journal without any stop', async () => {
    const dir = await tempDir();
    let now = 0;
    const deadLetter = await LocalQueue.open(join(dir, 'dlq.journal'), { visibilityTimeoutMs: 1000, maxReceives: Infinity, now: () => now });
    const queue = await LocalQueue.open(join(dir, 'ingest.journal'), { visibilityTimeoutMs: 1000, maxReceives: 1, deadLetter, now: () => now });
    await queue.sendBatch(['poison']);
    queue.receive(1);
    now += 1000;
    queue.receive(1);
    await expect.poll(async () => (await LocalQueue.open(join(dir, 'dlq.journal'), options)).bodies(), { timeout: 2_000, interval: 10 }).toEqual(['poison']);
    expect((await LocalQueue.open(join(dir, 'ingest.journal'), options)).depth).toBe(0);
  });
});

describe('FsObjectStore on a failing or crashed disk', () => {
  it('never lists temp files, removes orphans older than the bound, and keeps fresh ones (a put in flight)', async () => {
    const dir = await tempDir();
    const store = new FsObjectStore(dir);
    await store.put('facts/dt=2024-01-01/hour=00/a.parquet', 'x');
    const folder = join(dir, 'facts/dt=2024-01-01/hour=00');
    writeFileSync(join(folder, 'b.parquet.1.old.tmp'), 'half');
    writeFileSync(join(folder, 'c.parquet.1.new.tmp'), 'half');
    const old = (Date.now() - ORPHAN_TEMP_MAX_AGE_MS - 60_000) / 1000;
    await utimes(join(folder, 'b.parquet.1.old.tmp'), old, old);
    expect(await store.list('facts/')).toEqual(['facts/dt=2024-01-01/hour=00/a.parquet']);
    expect((await readdir(folder)).sort()).toEqual(['a.parquet', 'c.parquet.1.new.tmp']);
  });

  it('rethrows a failed put and leaves no temp file behind', async () => {
    const dir = await tempDir();
    const store = new FsObjectStore(dir);
    // A directory where the object should go: the rename fails, as a write fails on a full disk.
    mkdirSync(join(dir, 'facts', 'blocked.parquet'), { recursive: true });
    writeFileSync(join(dir, 'facts', 'blocked.parquet', 'inside'), '');
    await expect(store.put('facts/blocked.parquet', 'x')).rejects.toThrow();
    expect(await readdir(join(dir, 'facts'))).toEqual(['blocked.parquet']);
  });
});

describe('the counter store identity', () => {
  it('refuses to open a store whose LevelDB went missing or was swapped, and rebuild recreates it', async () => {
    const dir = await tempDir();
    const path = join(dir, 'dynamodb');
    const first = await startDynalite(path);
    await first.counters.putState('watermark', 0, { settledThrough: 3600 });
    await first.close();
    const again = await startDynalite(path);
    expect(await again.counters.getState('watermark', 0)).toEqual({ settledThrough: 3600 });
    await again.close();

    await rm(path, { recursive: true, force: true });
    await expect(startDynalite(path)).rejects.toThrow(DamagedStoreError);
    await expect(startDynalite(path)).rejects.toThrow(/funnel rebuild/);

    const rebuilt = await startDynalite(path, { recreate: true });
    expect(await rebuilt.counters.getState('watermark', 0)).toBeNull();
    await rebuilt.close();
    expect((await readdir(dir)).some((name) => name.startsWith('dynamodb.damaged-'))).toBe(true);
    const reopened = await startDynalite(path);
    await reopened.close();
  });

  it('refuses a LevelDB that does not open (corrupt files)', async () => {
    const dir = await tempDir();
    const path = join(dir, 'dynamodb');
    await (await startDynalite(path)).close();
    for (const name of await readdir(path)) if (name.startsWith('MANIFEST') || name === 'CURRENT') writeFileSync(join(path, name), 'garbage\n');
    await expect(startDynalite(path)).rejects.toThrow(/damaged or missing.*funnel rebuild/);
  });
});

describe('backfill reports what was stored', () => {
  it('counts stored events, sends a forged copy and the genuine one, and drops only exact copies', async () => {
    const dir = await tempDir();
    const key = generateSecretKey();
    const now = Math.floor(Date.now() / 1000);
    const genuine = finalizeEvent({ kind: 1, created_at: now - 60, tags: [], content: 'the real one' }, key);
    const forged = { ...genuine, content: 'altered' };
    const other = finalizeEvent({ kind: 1, created_at: now - 30, tags: [], content: 'another' }, key);
    const file = join(dir, 'events.jsonl');
    writeFileSync(file, [forged, genuine, genuine, JSON.stringify(['EVENT', 'sub', other]), 'not json'].map((e) => (typeof e === 'string' ? e : JSON.stringify(e))).join('\n') + '\n');
    const pipeline = await openPipeline({ dataDir: join(dir, 'data'), batchWindowMs: 0 });
    try {
      const report = await backfill(file, pipeline);
      expect(report).toMatchObject({ lines: 5, accepted: 2, duplicates: 1, unreadableLines: 1, deadLettered: 0 });
      expect(report.rejected).toMatchObject({ bad_id: 1, non_json: 1 });
    } finally {
      await pipeline.close();
    }
  });
});

describe('storage faults surface', () => {
  it('classifies disk and store errors, and says what to do in one line', () => {
    expect(isStorageFault(Object.assign(new Error('no space left on device'), { code: 'ENOSPC' }))).toBe(true);
    expect(isStorageFault(new Error('InternalFailure', { cause: { code: 'LEVEL_IO_ERROR' } }))).toBe(true);
    expect(isStorageFault(new Error('Expected a string'))).toBe(false);
    const line = describeStorageFault('objects', Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }), '/data');
    expect(line).toMatch(/^storage fault in the objects store .*disk under \/data is full/);
    expect(line).not.toContain('\n');
  });

  it('reports degraded health for a failed journal write, a recent ingest failure or a store fault', async () => {
    const dir = await tempDir();
    let now = 1_000_000;
    const metrics = new MetricsRegistry();
    const faults = new StorageFaultMonitor(metrics, () => now);
    const queue = await LocalQueue.open(join(dir, 'q.journal'), { ...options, maxMessages: 10, now: () => now });
    const checks = localHealthChecks({ dataDir: dir, queue, metrics, faults, now: () => now, minFreeBytes: 0 });
    const run = async () => Object.fromEntries(await Promise.all(checks.map(async (c) => [c.name, (await c.run()).ok])));
    expect(await run()).toEqual({ queue: true, queueJournal: true, ingest: true, storage: true, disk: true });

    await queue.sendBatch(Array.from({ length: 8 }, (_, i) => String(i)));
    now += 1000;
    metrics.count(METRIC.ingestBatchErrors);
    faults.record('queue', Object.assign(new Error('no space'), { code: 'ENOSPC' }));
    faults.record('objects', Object.assign(new Error('no space'), { code: 'ENOSPC' }));
    expect(await run()).toEqual({ queue: true, queueJournal: true, ingest: false, storage: false, disk: true });
    expect(metrics.byLabel(METRIC.storageFaults, 'Store')).toEqual({ queue: 1, objects: 1 });

    // Recovery clears the checks before the time window ends: a write to the failed store, accepted events.
    now += 1000;
    const objects = faults.watch('objects', { put: async () => {} });
    await objects.put();
    metrics.count(METRIC.eventsAccepted);
    expect(await run()).toEqual({ queue: true, queueJournal: true, ingest: true, storage: true, disk: true });

    // A nearly full queue degrades; a fault with no write since stays degraded until its window passes.
    await queue.sendBatch(['8']);
    faults.record('counters', Object.assign(new Error('io'), { code: 'EIO' }));
    expect(await run()).toEqual({ queue: false, queueJournal: true, ingest: true, storage: false, disk: true });
    now += 10 * 60_000;
    queue.delete(queue.receive(9).map((r) => r.messageId));
    expect(await run()).toEqual({ queue: true, queueJournal: true, ingest: true, storage: true, disk: true });
  });
});

describe('dead letters', () => {
  it('are saved to <data dir>/dlq/*.jsonl, and leave the dead-letter journal only once the file is written', async () => {
    const dataDir = await tempDir();
    const pipeline = await openPipeline({ dataDir, ephemeralCounters: true, maxReceives: 1, visibilityTimeoutMs: 0, batchWindowMs: 0 });
    try {
      await pipeline.queue.sendBatch(['not an ingest message']);
      await pipeline.consumer.drain(5_000);
      await pipeline.consumer.drain(5_000); // the second receive moves it past maxReceives, to the DLQ
      expect(pipeline.deadLetter.depth).toBe(1);
      const file = await pipeline.saveDeadLetters();
      expect(file).toMatch(/\/dlq\/[^/]+\.jsonl$/);
      expect(readFileSync(file!, 'utf8')).toBe('not an ingest message\n');
      expect(pipeline.deadLetter.depth).toBe(0);
    } finally {
      await pipeline.close();
    }
  });
});
