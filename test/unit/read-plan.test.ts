import { describe, expect, it } from 'vitest';
import { MemoryCounterStore } from '../../lib/adapters/memory/index.js';
import { generateFacts } from '../../bench/workload.js';
import { aggregateFacts, mergeItems } from '../../lib/counters/aggregate.js';
import { contributionsOf } from '../../lib/counters/contributions.js';
import { hllEstimate } from '../../lib/counters/hll.js';
import { planWindow } from '../../lib/counters/planner.js';
import { readPlan } from '../../lib/counters/read.js';
import { retentionFromEnv } from '../../lib/counters/retention.js';
import { settledDayItem, settledHourItems, settledQuarterItems, settledWeekItems } from '../../lib/counters/settle.js';
import { WEEK_DAY_METRICS, WEEK_SECONDS } from '../../lib/counters/weeks.js';
import { timelineOf } from '../../lib/query/summary.js';
import type { CounterItem } from '../../lib/ports.js';
import type { Fact } from '../../lib/facts/schema.js';

const DAY = Date.UTC(2026, 10, 1) / 1000;
const DAYS = 3;
const retention = retentionFromEnv({});

/** Settled days of Zipf traffic (three by default), stored as the compactor leaves them (the settle models of settle.ts), and their complete weeks. */
async function settledStore(options: { from: number; days: number; facts: number } = { from: DAY, days: DAYS, facts: 12_000 }) {
  const facts = generateFacts({ facts: options.facts, users: 400, zipf: 1.1, seed: 3, startTs: options.from, endTs: options.from + options.days * 86400 });
  const store = new MemoryCounterStore();
  const end = options.from + options.days * 86400;
  // every week from its start, to date where the days end before it does
  for (let week = Math.ceil(options.from / WEEK_SECONDS) * WEEK_SECONDS; week < end; week += WEEK_SECONDS) await store.put(settledWeekItems(week, facts, retention, Math.min(week + WEEK_SECONDS, end)));
  for (let d = 0; d < options.days; d++) {
    const dayStart = options.from + d * 86400;
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

/** Every scope's counted contributions with their time (what a window must sum to), and the users by activity, busiest first. */
function countedByScope(facts: readonly Fact[]) {
  const events = new Map<string, number>();
  const counted = new Map<string, { at: number; metric: string; amount: number }[]>();
  for (const f of facts) {
    for (const { scope, metric, amount } of contributionsOf(f).counts) {
      (counted.get(scope) ?? counted.set(scope, []).get(scope)!).push({ at: f.created_at, metric, amount });
      if (scope.startsWith('u:')) events.set(scope, (events.get(scope) ?? 0) + 1);
    }
  }
  return { counted, byActivity: [...events].sort((a, b) => b[1] - a[1]).map(([scope]) => scope) };
}

describe('readPlan over ten-minute, hour, quarter-day and day items, with their stand-ins', async () => {
  const { store, facts } = await settledStore();
  const { counted, byActivity } = countedByScope(facts);
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

describe('readPlan over week items, and the days standing in for a week without one', async () => {
  // 19 days from a Monday: three days, two complete weeks (Thursday to Thursday), and the last week's first two days (to date).
  const from = Date.UTC(2026, 9, 26) / 1000;
  const days = 19;
  const { store, facts } = await settledStore({ from, days, facts: 8_000 });
  const watermark = from + days * 86400;
  const { counted, byActivity } = countedByScope(facts);
  const scopes = ['g', ...byActivity.slice(0, 2), ...byActivity.slice(200, 201), ...byActivity.slice(-1)];
  const plan = (scope: string, start: number, end: number, useWeeks = true, weeksThrough = watermark) => planWindow(start, end, { watermark, nowSeconds: watermark, retention, useWeeks, weeksThrough, sparseHours: scope !== 'g' });
  const sums = (scope: string, start: number, end: number, metrics?: readonly string[]) => {
    const out: Record<string, number> = {};
    for (const c of counted.get(scope) ?? []) if (c.at >= start && c.at < end && (!metrics || metrics.includes(c.metric))) out[c.metric] = (out[c.metric] ?? 0) + c.amount;
    return out;
  };
  const nonZero = (values: Record<string, number>, metrics?: readonly string[]) => Object.fromEntries(Object.entries(values).filter(([m, v]) => v !== 0 && !m.startsWith('eng_h') && (!metrics || metrics.includes(m))));

  it('reads totals and each day\'s timeline counts equal to the facts, in fewer items than days would take', async () => {
    let seed = 11;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    let weeksRead = 0;
    for (let i = 0; i < 12; i++) {
      const start = from + Math.floor(random() * 3 * 1440) * 60;
      const end = watermark - Math.floor(random() * 3 * 1440) * 60;
      for (const scope of scopes) {
        const weekly = plan(scope, start, end);
        const items = await readPlan(store, scope, weekly);
        expect(items.length).toBeLessThanOrEqual(weekly.maxItems);
        expect({ scope, start, end, values: nonZero(mergeItems(items, undefined, { countsOnly: true }).values) }).toEqual({ scope, start, end, values: sums(scope, start, end) });
        if (!scope.startsWith('u:')) continue;
        weeksRead += items.filter((item) => item.granularity === 'w').length;
        for (const point of timelineOf(items, { type: 'custom', startTs: start, endTs: end }, 86400, { countsOnly: true })) {
          const dayEnd = Math.min(point.ts + 86400, end);
          expect({ scope, ts: point.ts, values: nonZero(point.state.values, WEEK_DAY_METRICS) }).toEqual({ scope, ts: point.ts, values: sums(scope, Math.max(point.ts, start), dayEnd, WEEK_DAY_METRICS) });
        }
      }
    }
    expect(weeksRead).toBeGreaterThan(12);
    const busiest = byActivity[0]!;
    const weekly = await readPlan(store, busiest, plan(busiest, from, watermark));
    const daily = await readPlan(store, busiest, plan(busiest, from, watermark, false));
    expect(weekly.filter((item) => item.granularity === 'w').length).toBe(3);
    expect(plan(busiest, from, watermark).segments.filter((s) => s.weekToDate).map((s) => [s.from, s.to])).toEqual([[watermark - 2 * 86400, watermark]]);
    expect(weekly.length).toBe(daily.length - 12 - 1);
  });

  it('weeks are planned only before the time the watermark says they are settled through, and a week to date only when that is the watermark\'s day', async () => {
    const busiest = byActivity[1]!;
    const lastWeek = watermark - 2 * 86400;
    const start = from + 86400 + 11 * 60;
    const exact = sums(busiest, start, watermark);
    for (const weeksThrough of [watermark, watermark - 86400, lastWeek, lastWeek - 86400, 0]) {
      const weekly = plan(busiest, start, watermark, true, weeksThrough);
      for (const s of weekly.segments.filter((s) => s.granularity === 'w')) expect(s.to).toBeLessThanOrEqual(weeksThrough);
      expect(weekly.segments.some((s) => s.weekToDate)).toBe(weeksThrough === watermark);
      const read = await readPlan(store, busiest, weekly);
      expect({ weeksThrough, values: nonZero(mergeItems(read, undefined, { countsOnly: true }).values) }).toEqual({ weeksThrough, values: exact });
    }
    // a window ending before the watermark's day reads its last days as days
    expect(plan(busiest, start, watermark - 86400).segments.some((s) => s.weekToDate)).toBe(false);
  });

  it('a week without its item (not settled yet) is read from its days, as exactly', async () => {
    const busiest = byActivity[0]!;
    const firstWeek = Math.ceil(from / WEEK_SECONDS) * WEEK_SECONDS;
    const start = from + 3 * 86400 + 7 * 60;
    const before = await readPlan(store, busiest, plan(busiest, start, watermark));
    await store.put([{ scope: busiest, granularity: 'w', bucket: firstWeek, values: {} }]);
    const after = await readPlan(store, busiest, plan(busiest, start, watermark));
    // the other whole week and the week to date
    expect(after.filter((item) => item.granularity === 'w' && Object.keys(item.values).length).length).toBe(2);
    expect(nonZero(mergeItems(after, undefined, { countsOnly: true }).values)).toEqual(nonZero(mergeItems(before, undefined, { countsOnly: true }).values));
    expect(nonZero(mergeItems(after, undefined, { countsOnly: true }).values)).toEqual(sums(busiest, start, watermark));
  });
});
