import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { finalizeEvent, generateSecretKey } from 'nostr-tools/pure';
import { startRelay, type EmbeddedRelay } from '../../lib/local/stack/relay.js';
import { openPipeline } from '../../lib/local/stack/stack.js';
import { globalStatsResponse } from '../../lib/query/stats.js';
import { verifyDrift } from '../../lib/jobs/verify.js';
import { rollingWindow } from '../../lib/query/window.js';
import { retentionFromEnv } from '../../lib/counters/retention.js';
import { DuckDbSqlEngine, factsRelation } from '../../lib/adapters/local/duckdb-sql-engine.js';
import { partitionOf, partitionPrefix } from '../../lib/facts/partition.js';
import { QUARANTINE_PREFIX } from '../../lib/facts/compact.js';
import type { NostrEvent } from '../../lib/nostr/event.js';
import { CLI, publish, sleep, socialWorkload, StackProcess, startLaxRelay } from './harness.js';

/**
 * The fault-injection suite (`npm run chaos` runs it whole: CHAOS_CYCLES=6 CHAOS_FULL=1; `npm test`
 * runs a bounded part: two SIGKILL cycles, every entry path's hostile input).
 *
 * A real relay and a lax one run in this process; `funnel local` runs as a child listening to both and
 * is SIGKILLed at random moments while events are published. Afterwards the data dir is opened as the
 * next start would, the queue's journal drained, every hour compacted (an hour later, so all of them
 * settle), and then: the facts hold each genuine event exactly once, the all-time totals equal that
 * brute-force count, and `verify` finds no drift between the counters and the facts.
 */
const CYCLES = Number(process.env.CHAOS_CYCLES ?? 2);
const FULL = process.env.CHAOS_FULL === '1';
const run = promisify(execFile);
const retention = retentionFromEnv({});

const forge = (event: NostrEvent): NostrEvent => ({ ...event, content: `${event.content} (forged)` });
const farFuture = () => finalizeEvent({ kind: 1, created_at: 1e13, tags: [], content: 'poison' }, generateSecretKey()) as NostrEvent;

interface Expected {
  ids: Set<string>;
  byKind: Record<string, number>;
}
const expect0 = (): Expected => ({ ids: new Set(), byKind: {} });
function expectEvents(expected: Expected, events: NostrEvent[]): void {
  for (const e of events) {
    if (expected.ids.has(e.id)) continue;
    expected.ids.add(e.id);
    expected.byKind[e.kind] = (expected.byKind[e.kind] ?? 0) + 1;
  }
}

/** Opens the data dir as the next start would, drains the journal, compacts an hour later, and checks. */
async function settleAndCheck(dataDir: string, expected: Expected, appEvents: number) {
  const later = { now: () => Date.now() + 2 * 3600_000 };
  const pipeline = await openPipeline({ dataDir, clock: later, batchWindowMs: 0 });
  const sql = new DuckDbSqlEngine();
  try {
    await pipeline.consumer.drain(60_000);
    expect(pipeline.queue.depth).toBe(0);
    const summary = (await pipeline.compact()) as { failedHours: number };
    expect(summary.failedHours).toBe(0);
    const [facts] = await sql.query(`select count(*) as n, count(distinct event_id) as ids, count(*) filter (where source = 'nostr') as nostr from ${factsRelation(pipeline.dataDir)}`);
    expect({ n: Number(facts!.n), ids: Number(facts!.ids), nostr: Number(facts!.nostr) }).toEqual({ n: expected.ids.size + appEvents, ids: expected.ids.size + appEvents, nostr: expected.ids.size });
    const stats = (await globalStatsResponse({ counters: pipeline.counters, clock: later, retention })).data;
    expect(stats.totalEvents).toBe(expected.ids.size + appEvents);
    // eventsByKind is by Nostr kind: app events count in totalEvents only.
    expect(stats.eventsByKind).toEqual(expected.byKind);
    const report = await verifyDrift({ sql, relation: factsRelation(pipeline.dataDir), counters: pipeline.counters, clock: later, retention }, rollingWindow('3d', Math.floor(later.now() / 1000)));
    expect(report.usersChecked).toBeGreaterThan(0);
    expect(report.drift).toEqual([]);
    return stats;
  } finally {
    await sql.close();
    await pipeline.close();
  }
}

describe('chaos: SIGKILLs, hostile relays and callers, storage faults', () => {
  let dir: string;
  let relay: EmbeddedRelay;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'funnel-chaos-'));
    relay = await startRelay(0);
  });
  afterAll(async () => {
    await relay?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it(`after ${CYCLES} random SIGKILLs while publishing, every published event counts exactly once; poison and forged-first events cost only themselves`, { timeout: 60_000 + CYCLES * 20_000 }, async () => {
    const dataDir = join(dir, 'sigkill');
    const now = Math.floor(Date.now() / 1000);
    const expected = expect0();
    // The lax relay sends, on every subscription, forged copies first, then poison, then the genuine events.
    const laxGenuine = await socialWorkload(30, now);
    const lax = await startLaxRelay(() => [...laxGenuine.map(forge), farFuture(), { id: 'not an event' }, ...laxGenuine]);
    expectEvents(expected, laxGenuine);
    const events = await socialWorkload(80 * (CYCLES + 1), now);
    const stack = new StackProcess(dataDir, [relay.url, lax.url]);
    let appEvents = 0;
    const kills: number[] = [];
    try {
      const chunk = Math.ceil(events.length / (CYCLES + 1));
      for (let cycle = 0; cycle <= CYCLES; cycle++) {
        await stack.start();
        if (cycle === 0) {
          // The app path: one valid event and one whose timestamp is year 2286; 202 means durably queued.
          const response = await fetch(`${stack.apiUrl}/v1/events`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-api-key': 'dev-key-local' },
            body: JSON.stringify({ events: [{ name: 'view', userId: 'chaos-user', id: 'chaos-1' }, { name: 'view', userId: 'chaos-user', timestamp: 1e13 }] }),
          });
          expect(response.status).toBe(202);
          appEvents = 1;
        }
        const mine = events.slice(cycle * chunk, (cycle + 1) * chunk);
        expectEvents(expected, mine);
        if (cycle === CYCLES) {
          await publish(relay.url, mine);
          await sleep(1500);
          expect(await stack.stop()).toBe(0);
          break;
        }
        // Publish in small pieces over about a second and kill at a random moment in the middle of it:
        // in the listener's buffer, the queue's journal, an ingest batch or a compaction.
        const killAt = 100 + Math.random() * 900;
        kills.push(Math.round(killAt));
        const killer = sleep(killAt).then(() => stack.kill());
        for (let i = 0; i < mine.length; i += 5) {
          await publish(relay.url, mine.slice(i, i + 5));
          await sleep(50);
        }
        await killer;
      }
    } catch (error) {
      throw new Error(`${(error as Error).message}\n--- stack log ---\n${stack.log}`);
    } finally {
      await stack.kill();
      await lax.close();
    }

    // Backfill, the third entry path: forged copies first, poison, then the genuine lines.
    const backfilled = await socialWorkload(25, now);
    const file = join(dir, 'hostile.jsonl');
    await writeFile(file, [...backfilled.map(forge), farFuture(), ...backfilled].map((e) => JSON.stringify(e)).join('\n') + '\n');
    const { stdout } = await run(process.execPath, [CLI, 'backfill', file], { env: { ...process.env, FUNNEL_DATA_DIR: dataDir } });
    const report = JSON.parse(stdout.slice(stdout.indexOf('{'))) as { accepted: number; rejected: Record<string, number> };
    expect(report.accepted).toBe(backfilled.length);
    expect(report.rejected).toMatchObject({ bad_id: backfilled.length, created_at_out_of_range: 1 });
    expectEvents(expected, backfilled);

    await settleAndCheck(dataDir, expected, appEvents);
    console.log(`chaos: ${kills.length} SIGKILLs (at ${kills.join(', ')} ms into publishing), ${expected.ids.size} genuine events counted once`);
  });

  it.runIf(FULL)('a corrupt fact object is quarantined at compaction, and the totals equal the rest', { timeout: 60_000 }, async () => {
    const dataDir = join(dir, 'corrupt');
    const now = Math.floor(Date.now() / 1000) - 3 * 3600;
    const events = await socialWorkload(60, now);
    const file = join(dir, 'corrupt.jsonl');
    await writeFile(file, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
    await run(process.execPath, [CLI, 'backfill', file], { env: { ...process.env, FUNNEL_DATA_DIR: dataDir } });
    const hour = partitionPrefix(partitionOf(events[0]!.created_at));
    await mkdir(join(dataDir, hour), { recursive: true });
    await writeFile(join(dataDir, hour, 'torn.parquet'), 'PAR1 not parquet');
    const expected = expect0();
    expectEvents(expected, events);
    await settleAndCheck(dataDir, expected, 0);
    const { stdout } = await run('ls', ['-R', join(dataDir, QUARANTINE_PREFIX)]);
    expect(stdout).toContain('torn.parquet');
  });

  it.runIf(FULL)('disk full: the running stack says degraded and acknowledges nothing it could not store; backfill exits 1; after space is freed every event counts once', { timeout: 120_000 }, async () => {
    const mountPoint = join(dir, 'small-disk');
    await mkdir(mountPoint, { recursive: true });
    try {
      await run('mount', ['-t', 'tmpfs', '-o', 'size=320m', 'tmpfs', mountPoint]);
    } catch (error) {
      // Needs root and a kernel that lets this sandbox mount tmpfs (it does on these machines and in CI).
      throw new Error(`cannot mount a small disk for the disk-full case: ${(error as Error).message}`);
    }
    const dataDir = join(mountPoint, 'data');
    const filler = join(mountPoint, 'filler');
    // A relay of its own: the shared one still holds the other cases' events inside the catch-up margin.
    const relay = await startRelay(0);
    const stack = new StackProcess(dataDir, [relay.url]);
    try {
      const now = Math.floor(Date.now() / 1000);
      const before = await socialWorkload(30, now);
      const during = await socialWorkload(30, now);
      const expected = expect0();
      expectEvents(expected, [...before, ...during]);
      await stack.start();
      await publish(relay.url, before);
      await sleep(1000);
      // Fill the disk to the last byte, then publish into it.
      await run('sh', ['-c', `dd if=/dev/zero of=${filler} bs=1M 2>/dev/null || true`]);
      await publish(relay.url, during);
      const degraded = await pollHealth(stack.apiUrl, 503);
      expect(degraded.status).toBe('degraded');
      const response = await fetch(`${stack.apiUrl}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': 'dev-key-local' },
        body: JSON.stringify({ events: [{ name: 'view', userId: 'disk-full' }] }),
      });
      // Either durably journaled (a 202: then it must count in the end) or refused with a retry hint.
      const appEvents = response.status === 202 ? 1 : 0;
      if (!appEvents) {
        expect(response.status).toBe(503);
        expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
      }
      // A backfill into the full disk fails loudly (the stack holds the data dir, so use another one).
      const file = join(dir, 'full.jsonl');
      await writeFile(file, before.map((e) => JSON.stringify(e)).join('\n') + '\n');
      const backfill = await run(process.execPath, [CLI, 'backfill', file], { env: { ...process.env, FUNNEL_DATA_DIR: join(mountPoint, 'other') } }).catch((error: { code: number; stderr: string }) => error);
      expect((backfill as { code?: number }).code).toBe(1);
      expect((backfill as { stderr: string }).stderr).toMatch(/storage fault|no space/i);

      await rm(filler);
      // The message that failed comes back after its visibility timeout (30 s), as from SQS: healthy once it is in.
      const recovered = await pollHealth(stack.apiUrl, 200, 60_000);
      expect(recovered.status, JSON.stringify(recovered.checks)).toBe('ok');
      await sleep(1500);
      expect(await stack.stop()).toBe(0);
      // What the listener could not hand to the full queue was never checkpointed: the next start re-reads it.
      await stack.start();
      await sleep(2000);
      expect(await stack.stop()).toBe(0);
      await settleAndCheck(dataDir, expected, appEvents);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n--- stack log ---\n${stack.log}`);
    } finally {
      await stack.kill();
      await relay.close();
      await run('umount', [mountPoint]).catch(() => {});
    }
  });
});

/** The health report once /health answers `status` (vi.waitFor, every 200 ms, up to `ms`). */
function pollHealth(apiUrl: string, status: number, ms = 30_000): Promise<{ status: string; checks: unknown }> {
  return vi.waitFor(
    async () => {
      const response = await fetch(`${apiUrl}/health`);
      if (response.status !== status) throw new Error(`/health answered ${response.status}, waiting for ${status}`);
      return (await response.json()) as { status: string; checks: unknown };
    },
    { timeout: ms, interval: 200 },
  );
}
