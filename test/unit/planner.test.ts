import { describe, expect, it } from 'vitest';
import { planWindow } from '../../lib/counters/planner.js';
import { retentionFromEnv } from '../../lib/counters/retention.js';

const retention = retentionFromEnv({});
const T = (iso: string) => Date.parse(iso) / 1000;
const shape = (plan: ReturnType<typeof planWindow>) => plan.segments.map((s) => `${s.granularity}${s.live ? '*' : ''} ${new Date(s.from * 1000).toISOString().slice(5, 16)}→${new Date(s.to * 1000).toISOString().slice(5, 16)}`);

describe('planWindow', () => {
  const now = T('2026-11-20T15:37:00Z');
  const watermark = T('2026-11-20T15:00:00Z');

  it('uses the coarsest buckets that fit: days, quarter days, hours, ten minutes, then minutes at the edges and the live tail', () => {
    const plan = planWindow(T('2026-11-10T08:23:00Z'), now, { watermark, nowSeconds: now, retention });
    expect(shape(plan)).toEqual([
      'm 11-10T08:23→11-10T08:30',
      't 11-10T08:30→11-10T09:00',
      'h 11-10T09:00→11-10T12:00',
      'q 11-10T12:00→11-11T00:00',
      'd 11-11T00:00→11-20T00:00',
      'q 11-20T00:00→11-20T12:00',
      'h 11-20T12:00→11-20T15:00',
      'm* 11-20T15:00→11-20T15:37',
    ]);
    // A ten-minute bucket costs 2 at most (its item, or the one minute it stands for); a quarter day 1 + 6 hours.
    expect(plan.maxItems).toBe(7 + 3 * 2 + 3 + 2 * 7 + 9 + 2 * 7 + 3 + 37);
    expect(plan.unanswerable).toBeNull();
  });

  it('covers any window exactly, with aligned buckets and at most 3 quarter days, 5 hours, 5 ten-minute and 9 minute items per settled edge', () => {
    const sizes = { m: 60, t: 600, h: 3600, q: 21600, d: 86400, w: 604800 } as const;
    let seed = 11;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 500; i++) {
      const end = watermark - Math.floor(random() * 40 * 1440) * 60;
      const start = end - Math.floor(1 + random() * 45 * 1440) * 60;
      const plan = planWindow(start, end, { watermark, nowSeconds: now, retention });
      let at = start;
      for (const s of plan.segments) {
        expect(s.from).toBe(at);
        expect(s.from % sizes[s.granularity]).toBe(0);
        expect(s.to % sizes[s.granularity]).toBe(0);
        at = s.to;
      }
      expect(at).toBe(end);
      const items = (g: keyof typeof sizes) => plan.segments.filter((s) => s.granularity === g).reduce((n, s) => n + (s.to - s.from) / sizes[g], 0);
      expect(items('q')).toBeLessThanOrEqual(6);
      expect(items('h')).toBeLessThanOrEqual(10);
      expect(items('t')).toBeLessThanOrEqual(10);
      expect(items('m')).toBeLessThanOrEqual(18);
    }
  });

  it('keeps hourly resolution when asked (hourly timelines)', () => {
    const plan = planWindow(T('2026-11-18T15:37:00Z'), now, { watermark, nowSeconds: now, retention, useDays: false });
    expect(shape(plan)).toEqual(['m 11-18T15:37→11-18T15:40', 't 11-18T15:40→11-18T16:00', 'h 11-18T16:00→11-20T15:00', 'm* 11-20T15:00→11-20T15:37']);
  });

  it('answers from live minutes only before the first compaction', () => {
    const plan = planWindow(T('2026-11-20T10:00:00Z'), now, { watermark: 0, nowSeconds: now, retention });
    expect(shape(plan)).toEqual(['m* 11-20T10:00→11-20T15:37']);
  });

  it('a window inside one settled hour reads ten-minute and minute items', () => {
    const plan = planWindow(T('2026-11-20T10:05:00Z'), T('2026-11-20T10:47:00Z'), { watermark, nowSeconds: now, retention });
    expect(shape(plan)).toEqual(['m 11-20T10:05→11-20T10:10', 't 11-20T10:10→11-20T10:40', 'm 11-20T10:40→11-20T10:47']);
    expect(shape(planWindow(T('2026-11-20T10:05:00Z'), T('2026-11-20T10:47:00Z'), { watermark, nowSeconds: now, retention, minutesOnly: true }))).toEqual(['m 11-20T10:05→11-20T10:47']);
  });

  it('reads the live tail of a scope counted per hour (per-event, per-address) from hour items, to the end of the hour', () => {
    const plan = planWindow(0, now, { watermark, nowSeconds: now, retention: { ...retention, daySeconds: Infinity }, liveGranularity: 'h' });
    expect(shape(plan)).toEqual(['d 01-01T00:00→11-20T00:00', 'h 11-20T00:00→11-20T15:00', 'h* 11-20T15:00→11-20T16:00']);
    expect(plan.unanswerable).toBeNull();
    // Such a scope has no minute items: a window that would need them is a programming error.
    expect(() => planWindow(T('2026-11-20T10:30:00Z'), now, { watermark, nowSeconds: now, retention, liveGranularity: 'h' })).toThrow('no minute items');
  });

  it('says when a window needs items past their retention', () => {
    const plan = planWindow(T('2026-06-01T00:30:00Z'), now, { watermark, nowSeconds: now, retention });
    expect(plan.unanswerable).toContain('minute counters are kept 62 days');
    expect(plan.unanswerable).toContain('hour counters are kept 62 days');
    const old = planWindow(T('2023-06-01T00:00:00Z'), T('2023-07-01T00:00:00Z'), { watermark, nowSeconds: now, retention });
    expect(old.unanswerable).toContain('day counters are kept 732 days');
  });
});
