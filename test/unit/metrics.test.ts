import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EmfMetrics } from '../../lib/adapters/aws/powertools.js';
import { MetricsRegistry } from '../../lib/metrics/registry.js';
import { METRIC, METRICS, METRICS_NAMESPACE, isMetricName, metricDefinition } from '../../lib/metrics/names.js';
import { LISTENER_METRICS } from '../../lib/listener/listener.js';

/** A timestamp CloudWatch accepts (Powertools warns about one older than 14 days). */
const NOW = Math.floor(Date.now() / 1000) * 1000;

function emf() {
  const lines: string[] = [];
  const sink = new EmfMetrics((line) => lines.push(line), () => NOW);
  return { sink, lines, parsed: () => lines.map((l) => JSON.parse(l) as Record<string, any>) };
}

describe('EmfMetrics (Powertools Metrics, CloudWatch embedded metric format)', () => {
  it('writes one line per dimension set with the catalogue units, counters summed, then starts afresh', () => {
    const { sink, lines, parsed } = emf();
    sink.count(METRIC.eventsAccepted, { Kind: '1' }, 3);
    sink.count(METRIC.eventsAccepted, { Kind: '1' });
    sink.count(METRIC.eventsAccepted, { Kind: '7' });
    sink.count(METRIC.eventsRejected, { Reason: 'bad_sig' });
    sink.observe(METRIC.ingestLagMs, 120);
    sink.observe(METRIC.ingestLagMs, 80);
    sink.observe(METRIC.jobBytesScanned, 4096);
    sink.count(METRIC.batchSize, {}, 10);
    sink.flush({ correlationId: 'req-1' });
    expect(parsed()).toEqual([
      {
        _aws: { Timestamp: NOW, CloudWatchMetrics: [{ Namespace: 'Funnel', Dimensions: [['Kind']], Metrics: [{ Name: 'EventsAccepted', Unit: 'Count' }] }] },
        correlationId: 'req-1',
        Kind: '1',
        EventsAccepted: 4,
      },
      {
        _aws: { Timestamp: NOW, CloudWatchMetrics: [{ Namespace: 'Funnel', Dimensions: [['Kind']], Metrics: [{ Name: 'EventsAccepted', Unit: 'Count' }] }] },
        correlationId: 'req-1',
        Kind: '7',
        EventsAccepted: 1,
      },
      {
        _aws: { Timestamp: NOW, CloudWatchMetrics: [{ Namespace: 'Funnel', Dimensions: [['Reason']], Metrics: [{ Name: 'EventsRejected', Unit: 'Count' }] }] },
        correlationId: 'req-1',
        Reason: 'bad_sig',
        EventsRejected: 1,
      },
      {
        _aws: {
          Timestamp: NOW,
          CloudWatchMetrics: [
            {
              Namespace: 'Funnel',
              // no dimensions at all, and no Powertools `service` dimension: the alarms match this set exactly
              Dimensions: [[]],
              Metrics: [
                { Name: 'BatchSize', Unit: 'Count' },
                { Name: 'IngestLagMs', Unit: 'Milliseconds' },
                { Name: 'JobBytesScanned', Unit: 'Bytes' },
              ],
            },
          ],
        },
        correlationId: 'req-1',
        BatchSize: 10,
        IngestLagMs: [120, 80],
        JobBytesScanned: 4096,
      },
    ]);
    sink.flush();
    expect(lines).toHaveLength(4);
    sink.count(METRIC.cacheHits);
    sink.flush();
    expect(parsed()[4]).toEqual({
      _aws: { Timestamp: NOW, CloudWatchMetrics: [{ Namespace: 'Funnel', Dimensions: [[]], Metrics: [{ Name: 'CacheHits', Unit: 'Count' }] }] },
      CacheHits: 1,
    });
  });

  it('splits more values than a line holds across lines, each with its dimensions, counters on the first', () => {
    const { sink, parsed } = emf();
    for (let i = 0; i < 250; i++) sink.observe(METRIC.queryLatencyMs, i, { Route: '/api/stats' });
    sink.count(METRIC.cacheHits, { Route: '/api/stats' }, 7);
    sink.flush();
    const lines = parsed();
    expect(lines.map((p) => p.QueryLatencyMs.length)).toEqual([99, 99, 52]);
    expect(lines.flatMap((p) => p.QueryLatencyMs)).toEqual(Array.from({ length: 250 }, (_, i) => i));
    expect(lines.map((p) => p.CacheHits)).toEqual([7, undefined, undefined]);
    for (const line of lines) {
      expect(line.Route).toBe('/api/stats');
      expect(line._aws.CloudWatchMetrics[0].Dimensions).toEqual([['Route']]);
      expect(line._aws.CloudWatchMetrics[0].Metrics.map((m: { Name: string }) => m.Name).every((name: string) => name in line)).toBe(true);
    }
  });

  it('keeps every observation of a long run, in order, 99 to a line', () => {
    const { sink, parsed } = emf();
    for (let i = 0; i < 20_000; i++) sink.observe(METRIC.ingestLagMs, i);
    sink.flush();
    const lines = parsed();
    expect(lines).toHaveLength(Math.ceil(20_000 / 99));
    let next = 0;
    for (const line of lines) for (const value of [line.IngestLagMs].flat()) expect(value).toBe(next++);
    expect(next).toBe(20_000);
  });
});

describe('MetricsRegistry (GET /metrics on the local stack)', () => {
  it('renders the same catalogue names as Prometheus text, unchanged', () => {
    const registry = new MetricsRegistry();
    registry.count(METRIC.eventsRejected, { Reason: 'bad_id' }, 2);
    registry.count(METRIC.eventsRejected, { Reason: 'non_json' });
    registry.count(METRIC.listenerRejected, { Reason: 'duplicate' });
    registry.count(METRIC.listenerCatchUpSecondSteps);
    registry.observe(METRIC.queryLatencyMs, 5, { Route: '/api/stats' });
    registry.observe(METRIC.queryLatencyMs, 7, { Route: '/api/stats' });
    expect(registry.render({ queue_depth: 0 })).toBe(
      [
        '# TYPE funnel_events_rejected_total counter',
        'funnel_events_rejected_total{reason="bad_id"} 2',
        'funnel_events_rejected_total{reason="non_json"} 1',
        '# TYPE funnel_listener_catch_up_second_steps_total counter',
        'funnel_listener_catch_up_second_steps_total 1',
        '# TYPE funnel_listener_rejected_total counter',
        'funnel_listener_rejected_total{reason="duplicate"} 1',
        '# TYPE funnel_query_latency_ms summary',
        'funnel_query_latency_ms_count{route="/api/stats"} 2',
        'funnel_query_latency_ms_sum{route="/api/stats"} 12',
        '# TYPE funnel_queue_depth gauge',
        'funnel_queue_depth 0',
        '',
      ].join('\n'),
    );
    expect(registry.byLabel(METRIC.eventsRejected, 'Reason')).toEqual({ bad_id: 2, non_json: 1 });
    expect(registry.total(METRIC.eventsRejected)).toBe(3);
  });
});

describe('the metric catalogue (lib/metrics/names.ts)', () => {
  const definitions = Object.values(METRICS);

  it('defines each metric once: unique PascalCase names, a unit each (Ms names in milliseconds), one dimension set', () => {
    expect(METRICS_NAMESPACE).toBe('Funnel');
    expect(new Set(definitions.map((d) => d.name)).size).toBe(definitions.length);
    // Powertools publishes on its own at 100 distinct metrics: one line must hold every metric of a dimension set
    expect(definitions.length).toBeLessThan(100);
    for (const def of definitions) {
      expect(def.name).toMatch(/^[A-Z][A-Za-z]+$/);
      expect(['Count', 'Milliseconds', 'Bytes']).toContain(def.unit);
      expect(def.unit === 'Milliseconds', def.name).toBe(def.name.endsWith('Ms'));
      expect(new Set(def.dimensions).size).toBe(def.dimensions.length);
    }
    for (const [key, def] of Object.entries(METRICS)) expect(METRIC[key as keyof typeof METRIC]).toBe(def.name);
    expect(metricDefinition('EventsAccepted')).toEqual({ name: 'EventsAccepted', unit: 'Count', dimensions: ['Kind'] });
    expect(isMetricName('EventsAccepted')).toBe(true);
    expect(isMetricName('Listener_events_received')).toBe(false);
  });

  it('names every listener counter, and the listener emits exactly those', () => {
    const listenerNames = definitions.map((d) => d.name).filter((n) => n.startsWith('Listener'));
    expect(Object.values(LISTENER_METRICS).sort()).toEqual(listenerNames.sort());
    expect(LISTENER_METRICS.events_received).toBe('ListenerEventsReceived');
    expect(metricDefinition(LISTENER_METRICS.rejected)?.dimensions).toEqual(['Reason']);
  });

  it('is what every emitter in lib/ and functions/ passes: no metric name as a string literal, none built from a pattern', () => {
    const sources = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
    const files = [...sources('lib'), ...sources('functions')].filter((f) => !f.startsWith(join('lib', 'metrics')));
    const emits: { file: string; arg: string }[] = [];
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/metrics\??\.(?:count|observe)\??\.?\(\s*([^,)]+)/g)) emits.push({ file, arg: m[1]!.trim() });
    }
    expect(emits.length).toBeGreaterThan(20);
    // a catalogue reference (`METRIC.x`, or the listener's table of them), never a quoted or templated name
    const offCatalogue = emits.filter(({ arg }) => /['"`]/.test(arg) || !/\bMETRIC\.\w+|^LISTENER_METRICS\[\w+\]$/.test(arg));
    expect(offCatalogue).toEqual([]);
    for (const { arg } of emits) for (const [, key] of arg.matchAll(/\bMETRIC\.(\w+)/g)) expect(key! in METRIC, arg).toBe(true);
  });
});
