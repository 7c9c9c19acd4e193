import { describe, expect, it } from 'vitest';
import { EmfMetrics } from '../../lib/metrics/emf.js';
import { MetricsRegistry } from '../../lib/metrics/registry.js';
import { METRIC } from '../../lib/metrics/names.js';
import { createLogger } from '../../lib/log.js';

describe('EmfMetrics', () => {
  it('writes one embedded-metric-format line per dimension set, then starts afresh', () => {
    const lines: string[] = [];
    const emf = new EmfMetrics((line) => lines.push(line), () => 1_700_000_000_000);
    emf.count(METRIC.eventsAccepted, { Kind: '1' }, 3);
    emf.count(METRIC.eventsAccepted, { Kind: '1' });
    emf.count(METRIC.eventsRejected, { Reason: 'bad_sig' });
    emf.observe(METRIC.ingestLagMs, 120);
    emf.observe(METRIC.ingestLagMs, 80);
    emf.flush({ correlationId: 'req-1' });
    const parsed = lines.map((l) => JSON.parse(l));
    expect(parsed).toHaveLength(3);
    expect(parsed[0]).toEqual({
      _aws: { Timestamp: 1_700_000_000_000, CloudWatchMetrics: [{ Namespace: 'Funnel', Dimensions: [['Kind']], Metrics: [{ Name: 'EventsAccepted', Unit: 'Count' }] }] },
      correlationId: 'req-1',
      Kind: '1',
      EventsAccepted: 4,
    });
    expect(parsed[2]).toMatchObject({ _aws: { CloudWatchMetrics: [{ Dimensions: [[]], Metrics: [{ Name: 'IngestLagMs', Unit: 'Milliseconds' }] }] }, IngestLagMs: [120, 80] });
    emf.flush();
    expect(lines).toHaveLength(3);
  });
});

describe('MetricsRegistry (GET /metrics)', () => {
  it('renders the same metrics as Prometheus text', () => {
    const registry = new MetricsRegistry();
    registry.count(METRIC.eventsRejected, { Reason: 'bad_id' }, 2);
    registry.count(METRIC.eventsRejected, { Reason: 'non_json' });
    registry.observe(METRIC.queryLatencyMs, 5, { Route: '/api/stats' });
    const text = registry.render({ queue_depth: 0 });
    expect(text).toContain('# TYPE funnel_events_rejected_total counter');
    expect(text).toContain('funnel_events_rejected_total{reason="bad_id"} 2');
    expect(text).toContain('funnel_query_latency_ms_count{route="/api/stats"} 1');
    expect(text).toContain('funnel_queue_depth 0');
    expect(registry.byLabel(METRIC.eventsRejected, 'Reason')).toEqual({ bad_id: 2, non_json: 1 });
    expect(registry.total(METRIC.eventsRejected)).toBe(3);
  });
});

describe('structured logs', () => {
  it('carry level, component and correlation id', () => {
    const lines: string[] = [];
    createLogger({ component: 'api', correlationId: 'abc' }, (l) => lines.push(l))('warn', 'slow', { ms: 900 });
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'warn', component: 'api', correlationId: 'abc', msg: 'slow', ms: 900 });
  });
});

describe('EmfMetrics limits', () => {
  it('splits more than 100 observations of a metric across lines', () => {
    const lines: string[] = [];
    const emf = new EmfMetrics((line) => lines.push(line));
    for (let i = 0; i < 250; i++) emf.observe(METRIC.queryLatencyMs, i, { Route: '/api/stats' });
    emf.count(METRIC.cacheHits, { Route: '/api/stats' }, 7);
    emf.flush();
    const parsed = lines.map((l) => JSON.parse(l));
    expect(parsed.map((p) => (Array.isArray(p.QueryLatencyMs) ? p.QueryLatencyMs.length : 1))).toEqual([100, 100, 50]);
    expect(parsed.filter((p) => p.CacheHits !== undefined).map((p) => p.CacheHits)).toEqual([7]);
    expect(parsed.every((p) => p._aws.CloudWatchMetrics[0].Metrics.every((m: { Name: string }) => m.Name in p))).toBe(true);
  });
});
