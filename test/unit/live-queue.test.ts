import { describe, expect, it } from 'vitest';
import type { CounterDelta, CounterStore, QueueSender } from '../../lib/ports.js';
import { applyLiveDeltas, decodeLiveDeltas, encodeLiveDeltas, LIVE_MESSAGE_MAX_DELTAS, mergeDeltas, queuedLiveCounters } from '../../lib/counters/live-queue.js';
import { MAX_MESSAGE_BYTES } from '../../lib/ingest/message.js';
import { DeltaRollup } from '../../lib/counters/rollup.js';
import { reduceCodes } from '../../lib/counters/hll.js';
import { DIRTY_HOURS, DRIFT_HOURS } from '../../lib/counters/state.js';
import { generateFacts } from '../../bench/workload.js';
import { MemoryCounterStore } from '../../lib/adapters/memory/index.js';
import { fixedClock } from '../support/local.js';

const START = Date.parse('2026-11-20T10:00:00Z') / 1000;
const clock = fixedClock(START * 1000 + 3_600_000);

/** Ten ingest batches' live deltas over two minutes of generated traffic (and a few rejections). */
function batches(): CounterDelta[][] {
  const facts = generateFacts({ facts: 6_000, users: 300, zipf: 1.1, seed: 5, startTs: START, endTs: START + 120 });
  const out: CounterDelta[][] = [];
  for (let i = 0; i < facts.length; i += 600) {
    const rollup = new DeltaRollup({ minuteTtlSeconds: 86400, hourTtlSeconds: 86400 });
    for (const fact of facts.slice(i, i + 600)) rollup.addFact(fact);
    rollup.addRejection('bad_signature', START + i / 60);
    out.push(rollup.deltas());
  }
  return out;
}

const records = (bodies: string[], receiveCount = 1) => bodies.map((body, i) => ({ messageId: `m${i}`, body, receiveCount }));

async function snapshot(counters: MemoryCounterStore, deltas: CounterDelta[]) {
  const keys = [...new Set(deltas.map((d) => `${d.scope}|${d.granularity}`))].sort();
  const out: unknown[] = [];
  for (const key of keys) {
    const [scope, granularity] = key.split('|') as [string, 'm'];
    // A sketch's codes as the estimate sees them: one per register (merging reduces them; adding one batch at a time does not).
    const items = await counters.range(scope, granularity, 0, Number.MAX_SAFE_INTEGER);
    out.push(items.map((item) => (item.sets ? { ...item, sets: Object.fromEntries(Object.entries(item.sets).map(([name, codes]) => [name, reduceCodes(codes)])) } : item)));
  }
  return out;
}

describe('live counters through the live queue', () => {
  it('merged deltas of many batches leave every item as the batches added one by one would, in fewer writes', async () => {
    const perBatch = batches();
    const direct = new MemoryCounterStore();
    for (const deltas of perBatch) await direct.add(deltas);

    const queued = new MemoryCounterStore();
    const bodies = perBatch.flatMap(encodeLiveDeltas);
    const result = await applyLiveDeltas(records(bodies), { counters: queued, clock });

    expect(result.failedMessageIds).toEqual([]);
    expect(result.applied).toBe(bodies.length);
    const all = perBatch.flat();
    expect(await snapshot(queued, all)).toEqual(await snapshot(direct, all));
    expect(queued.updateItems).toBe(result.items);
    expect(result.items).toBeLessThan(direct.updateItems * 0.7);
  });

  it('counts per-event and per-address scopes per hour, and reads a minute delta of theirs from older ingest code as its hour', () => {
    const deltas = batches().flat();
    expect(deltas.some((d) => d.scope.startsWith('e:'))).toBe(true);
    for (const d of deltas) expect(d.granularity, d.scope).toBe(d.scope.startsWith('e:') || d.scope.startsWith('a:') ? 'h' : d.scope === 'g' && d.bucket === 0 ? 'all' : 'm');
    const legacy = JSON.stringify({ v: 1, deltas: [[`e:${'ab'.repeat(32)}`, 'm', START + 1_260, { likes: 2 }], ['u:' + 'cd'.repeat(32), 'm', START + 1_260, { likes_rcv: 2 }]] });
    expect(decodeLiveDeltas(legacy)).toEqual([
      { scope: `e:${'ab'.repeat(32)}`, granularity: 'h', bucket: START, add: { likes: 2 } },
      { scope: 'u:' + 'cd'.repeat(32), granularity: 'm', bucket: START + 1_260, add: { likes_rcv: 2 } },
    ]);
  });

  it('keeps every message under the SQS size and a bounded number of deltas, and decodes to the same deltas', () => {
    const many: CounterDelta[] = Array.from({ length: 9_000 }, (_, i) => ({ scope: `u:${i.toString(16).padStart(64, '0')}`, granularity: 'm', bucket: START, add: { notes: 1, reactions_rcv: i }, expiresAt: START + 86400 }));
    many.push({ scope: 'p:demo', granularity: 'm', bucket: START, add: { events: 2 }, union: { users: [1, 2, 3] } });
    const bodies = encodeLiveDeltas(many);
    expect(bodies.length).toBeGreaterThan(2);
    for (const body of bodies) {
      expect(Buffer.byteLength(body)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
      expect(decodeLiveDeltas(body).length).toBeLessThanOrEqual(LIVE_MESSAGE_MAX_DELTAS);
    }
    expect(bodies.flatMap(decodeLiveDeltas)).toEqual(many);
  });

  it('merges sketches to one code per register and keeps the latest expiry', () => {
    const [merged] = mergeDeltas([
      { scope: 'p:x', granularity: 'm', bucket: 60, add: { events: 1 }, union: { users: [(5 << 6) | 2] }, expiresAt: 100 },
      { scope: 'p:x', granularity: 'm', bucket: 60, add: { events: 2 }, union: { users: [(5 << 6) | 7, (9 << 6) | 1] }, expiresAt: 200 },
    ]);
    expect(merged!.add).toEqual({ events: 3 });
    expect(merged!.expiresAt).toBe(200);
    expect(merged!.union!.users!.length).toBe(2);
  });

  it('fails a malformed message alone (it dead-letters after its retries) and applies the rest', async () => {
    const counters = new MemoryCounterStore();
    const [good] = encodeLiveDeltas([{ scope: 'g', granularity: 'm', bucket: START, add: { events: 4 } }]);
    const bad = ['not json', '{"v":1,"deltas":[["g","m",-5,{"events":1}]]}', '{"v":2,"deltas":[]}', `{"v":1,"deltas":[["g","m",60,{"events":"1e999"}]]}`];
    const result = await applyLiveDeltas(
      [good!, ...bad].map((body, i) => ({ messageId: `m${i}`, body, receiveCount: 1 })),
      { counters, clock },
    );
    expect(result.failedMessageIds).toEqual(['m1', 'm2', 'm3', 'm4']);
    expect(result.malformed.map((m) => m.reason)).toEqual([
      'live delta message is not JSON',
      expect.stringContaining('malformed: deltas.0.2'),
      expect.stringContaining('malformed: v'),
      expect.stringContaining('malformed: deltas.0.3.events'),
    ]);
    expect((await counters.range('g', 'm', START, START))[0]!.values).toEqual({ events: 4 });
  });

  it("marks a redelivered message's hours dirty and drifted before adding anything (it may have been added before its crash)", async () => {
    const seen: string[] = [];
    const memory = new MemoryCounterStore();
    const counters: CounterStore = new Proxy(memory, {
      get(target, name, receiver) {
        const value = Reflect.get(target, name, receiver);
        if (name === 'add') return async () => {
          seen.push('add', ...(await memory.listState(DRIFT_HOURS)).map((m) => `drift ${m.id}`), ...(await memory.listState(DIRTY_HOURS)).map((m) => `dirty ${m.id}`));
          throw new Error('throttled');
        };
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const bodies = encodeLiveDeltas([
      { scope: 'g', granularity: 'm', bucket: START + 120, add: { events: 1 } },
      { scope: 'g', granularity: 'm', bucket: START + 3600 + 60, add: { events: 1 } },
      { scope: 'g', granularity: 'all', bucket: 0, add: { 'rejected:bad_signature': 1 } },
    ]);
    const result = await applyLiveDeltas(records(bodies, 2), { counters, clock });
    expect(seen).toEqual(['add', `drift ${START}`, `drift ${START + 3600}`, `dirty ${START}`, `dirty ${START + 3600}`]);
    // A failed add fails every valid message: they come back redelivered, and so marked.
    expect(result.failedMessageIds).toEqual(['m0']);
    expect(String(result.error)).toContain('throttled');
  });

  it("ingest's side retries the bodies the queue refused, then fails its batch rather than lose a delta", async () => {
    const sent: string[] = [];
    let refusals = 1;
    const flaky: QueueSender = {
      async sendBatch(bodies) {
        if (refusals-- > 0) return { failed: bodies };
        sent.push(...bodies);
        return { failed: [] };
      },
    };
    await queuedLiveCounters(flaky).add([{ scope: 'g', granularity: 'm', bucket: START, add: { events: 1 } }]);
    expect(sent.length).toBe(1);
    const down: QueueSender = { sendBatch: async (bodies) => ({ failed: bodies }) };
    await expect(queuedLiveCounters(down).add([{ scope: 'g', granularity: 'm', bucket: START, add: { events: 1 } }])).rejects.toThrow(/refused 1/);
  });
});
