import { describe, expect, it } from 'vitest';
import { MemoryCounterStore } from '../../lib/adapters/memory/index.js';
import { generateFacts } from '../../bench/workload.js';
import { aggregateFacts, mergeItems } from '../../lib/counters/aggregate.js';
import { contributionsOf } from '../../lib/counters/contributions.js';
import { hllEstimate } from '../../lib/counters/hll.js';
import { planWindow } from '../../lib/counters/planner.js';
import { readPlan } from '../../lib/counters/read.js';
import { retentionFromEnv } from '../../lib/counters/retention.js';
import { settledDayItem, settledHourItems, settledQuarterItems } from '../../lib/counters/settle.js';
import type { CounterItem } from '../../lib/ports.js';

const DAY = Date.UTC(2026, 10, 1) / 1000;
const DAYS = 3;
const retention = retentionFromEnv({});

/** Three settled days of Zipf traffic, stored as the compactor leaves them (the settle models of settle.ts). */
async function settledStore() {
  const facts = generateFacts({ facts: 12_000, users: 400, zipf: 1.1, seed: 3, startTs: DAY, endTs: DAY + DAYS * 86400 });
  const store = new MemoryCounterStore();
  for (let d = 0; d < DAYS; d++) {
    const dayStart = DAY + d * 86400;
    const hourItems = new Map<string, CounterItem[]>();
    for (let h = 0; h < 24; h++) {
      const hour = dayStart + h * 3600;
      const settled = settledHourItems(hour, facts.filter((f) => f.created_at >= hour && f.created_at < hour + 3600), retention);
      await store.put(settled.items);
      for (const item of [...settled.items.filter((i) => i.granularity === 'h'), ...settled.sparse]) (hourItems.get(item.scope) ?? hourItems.set(item.scope, []).get(item.scope)!).push(item);
    }
    await store.put([...hourItems].map(([scope, items]) => settledDayItem(scope, dayStart, items, retention)));
    await store.put(settledQuarterItems(dayStart, facts.filter((f) => f.created_at >= dayStart && f.created_at < dayStart + 86400), retention));
  }
  return { store, facts };
}

describe('readPlan over ten-minute, hour, quarter-day and day items, with their stand-ins', async () => {
  const { store, facts } = await settledStore();
  const events = new Map<string, number>();
  // every scope's counted contributions, with their time: what a window must sum to
  const counted = new Map<string, { at: number; metric: string; amount: number }[]>();
  for (const f of facts) {
    for (const { scope, metric, amount } of contributionsOf(f).counts) {
      (counted.get(scope) ?? counted.set(scope, []).get(scope)!).push({ at: f.created_at, metric, amount });
      if (scope.startsWith('u:')) events.set(scope, (events.get(scope) ?? 0) + 1);
    }
  }
  const byActivity = [...events].sort((a, b) => b[1] - a[1]).map(([scope]) => scope);
  // the busiest users (quarter days and ten-minute items), middling ones, and the sparsest (stand-ins throughout)
  const scopes = ['g', ...byActivity.slice(0, 3), ...byActivity.slice(150, 152), ...byActivity.slice(-2)];

  it('reads counts equal to the facts in any window, for dense and sparse scopes alike, within the plan bound', async () => {
    let seed = 5;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const watermark = DAY + DAYS * 86400;
    for (let i = 0; i < 30; i++) {
      const start = DAY + Math.floor(random() * (DAYS * 1440 - 2)) * 60;
      const end = start + 60 + Math.floor(random() * (watermark - start - 60) / 60) * 60;
      const plan = planWindow(start, end, { watermark, nowSeconds: watermark, retention, sparseHours: true });
      for (const scope of scopes) {
        const userPlan = scope === 'g' ? planWindow(start, end, { watermark, nowSeconds: watermark, retention }) : plan;
        const items = await readPlan(store, scope, userPlan);
        expect(items.length).toBeLessThanOrEqual(userPlan.maxItems);
        const expected: Record<string, number> = {};
        for (const c of counted.get(scope)!) if (c.at >= start && c.at < end) expected[c.metric] = (expected[c.metric] ?? 0) + c.amount;
        // eng_hHH: day and quarter-day items' engagement by hour of day (best hours), not a count of its own
        const read = Object.fromEntries(Object.entries(mergeItems(items, undefined, { countsOnly: true }).values).filter(([metric, v]) => v !== 0 && !metric.startsWith('eng_h')));
        expect({ scope, start, end, values: read }).toEqual({ scope, start, end, values: expected });
      }
    }
  });

  it('reads the details (engagers, top lists) of the settled hours a window covers, from quarter days where they stand', async () => {
    const [busiest] = byActivity;
    const start = DAY + 3 * 3600 + 17 * 60;
    const end = DAY + 2 * 86400 + 20 * 3600 + 43 * 60;
    const watermark = DAY + DAYS * 86400;
    const plan = planWindow(start, end, { watermark, nowSeconds: watermark, retention, sparseHours: true });
    expect(plan.segments.map((s) => s.granularity)).toEqual(['m', 't', 'h', 'q', 'd', 'q', 'h', 't', 'm']);
    const items = await readPlan(store, busiest!, plan);
    expect(items.filter((i) => i.granularity === 'q').length).toBe(6);
    // minute and ten-minute edges carry counts only: the details cover whole hours, 04:00 .. 20:00 of the last day
    const hours = aggregateFacts(facts.filter((f) => f.created_at >= DAY + 4 * 3600 && f.created_at < DAY + 2 * 86400 + 20 * 3600)).get(busiest!)!;
    const state = mergeItems(items);
    expect([...state.sets.engagers!]).toEqual([...hours.sets.engagers!]);
    expect(hllEstimate(state.sets.engagers!)).toBeGreaterThan(50);
    // top lists merge per bucket's top entries: never above the exact amount, and the leader exact
    const exact = hours.tops.top_posts!;
    const read = [...state.tops.top_posts!].sort((a, b) => b[1] - a[1]);
    for (const [post, amount] of read) expect(amount).toBeLessThanOrEqual(exact.get(post)!);
    expect(read[0]).toEqual([...exact].sort((a, b) => b[1] - a[1])[0]);
    // while the counts cover the window to the minute
    expect(state.values.likes_rcv).toBeGreaterThan(hours.values.likes_rcv ?? 0);
  });
});
