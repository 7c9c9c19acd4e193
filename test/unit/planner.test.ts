import { describe, expect, it } from 'vitest';
import { planWindow } from '../../lib/counters/planner.js';
import { retentionFromEnv } from '../../lib/counters/retention.js';

const retention = retentionFromEnv({});
const T = (iso: string) => Date.parse(iso) / 1000;
const shape = (plan: ReturnType<typeof planWindow>) => plan.segments.map((s) => `${s.granularity}${s.live ? '*' : ''} ${new Date(s.from * 1000).toISOString().slice(5, 16)}→${new Date(s.to * 1000).toISOString().slice(5, 16)}`);

describe('planWindow', () => {
  const now = T('2026-11-20T15:37:00Z');
  const watermark = T('2026-11-20T15:00:00Z');

  it('uses maximal days, hours at the edges, minutes for sub-hour edges and the live tail', () => {
    const plan = planWindow(T('2026-11-10T08:20:00Z'), now, { watermark, nowSeconds: now, retention });
    expect(shape(plan)).toEqual([
      'm 11-10T08:20→11-10T09:00',
      'h 11-10T09:00→11-11T00:00',
      'd 11-11T00:00→11-20T00:00',
      'h 11-20T00:00→11-20T15:00',
      'm* 11-20T15:00→11-20T15:37',
    ]);
    expect(plan.maxItems).toBe(40 + 15 + 9 + 15 + 37);
    expect(plan.unanswerable).toBeNull();
  });

  it('keeps hourly resolution when asked (hourly timelines)', () => {
    const plan = planWindow(T('2026-11-18T15:37:00Z'), now, { watermark, nowSeconds: now, retention, useDays: false });
    expect(shape(plan)).toEqual(['m 11-18T15:37→11-18T16:00', 'h 11-18T16:00→11-20T15:00', 'm* 11-20T15:00→11-20T15:37']);
  });

  it('answers from live minutes only before the first compaction', () => {
    const plan = planWindow(T('2026-11-20T10:00:00Z'), now, { watermark: 0, nowSeconds: now, retention });
    expect(shape(plan)).toEqual(['m* 11-20T10:00→11-20T15:37']);
  });

  it('a window inside one settled hour reads minutes only', () => {
    const plan = planWindow(T('2026-11-20T10:05:00Z'), T('2026-11-20T10:45:00Z'), { watermark, nowSeconds: now, retention });
    expect(shape(plan)).toEqual(['m 11-20T10:05→11-20T10:45']);
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
