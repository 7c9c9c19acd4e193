import { mkdtemp, rm } from 'node:fs/promises';
import { fixed, int, median, positiveInt } from './stats.js';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import WebSocket from 'ws';
import { finalizeEvent, generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import { Relay, useWebSocketImplementation } from 'nostr-tools/relay';
import type { CounterDelta, CounterItem, CounterStore, Granularity } from '../lib/ports.js';
import { GRANULARITY_SECONDS } from '../lib/counters/buckets.js';
import type { Fact } from '../lib/facts/schema.js';
import { encodeFacts } from '../lib/facts/parquet.js';
import { partitionOf, partitionPrefix } from '../lib/facts/partition.js';
import { FsObjectStore } from '../lib/adapters/local/fs-object-store.js';
import { startDynalite, type LocalDynamo } from '../lib/adapters/local/dynalite.js';
import { DuckDbSqlEngine, factsRelation } from '../lib/adapters/local/duckdb-sql-engine.js';
import { mergeItems } from '../lib/counters/aggregate.js';
import { ttlForWindow } from '../lib/api/cache.js';
import { contributionsOf, GLOBAL_SCOPE, isTargetScope, userScope } from '../lib/counters/contributions.js';
import { indexRecords } from '../lib/counters/event-index.js';
import { retentionFromEnv, type Retention } from '../lib/counters/retention.js';
import { DeltaRollup } from '../lib/counters/rollup.js';
import { settledDayItem, settledHourItems, settledQuarterItems, WeekToDate } from '../lib/counters/settle.js';
import { WEEK_SECONDS } from '../lib/counters/weeks.js';
import { ALL_TIME_SCOPE } from '../lib/counters/all-time.js';
import { DIRTY_HOURS, INGEST_HEARTBEAT, writeWatermark } from '../lib/counters/state.js';
import { globalMetricsSql, userMetricsSql } from '../lib/jobs/metrics-sql.js';
import type { NostrEvent } from '../lib/nostr/event.js';
import { reactionClass } from '../lib/nostr/normalise.js';
import { globalSummary } from '../lib/query/global.js';
import { drilldownsOf, readSummaryWindow, timelineOf, toTotals, userSummary, type UserTotals } from '../lib/query/summary.js';
import { rollingWindow, timelineStep, type QueryWindow } from '../lib/query/window.js';
import { CounterStateReads, type Meta, type QueryDeps } from '../lib/query/window-read.js';
import { DRILLDOWNS, userDrilldown } from '../lib/query/drilldown.js';
import { deletionEvent, generateFacts } from './workload.js';
// Callers that took the generator from here before it moved to workload.ts keep working.
export { generateFacts };
import { counterItemBytes, ItemSize, stateRecordBytes, wcu } from '../lib/adapters/aws/dynamodb-item-size.js';
import { startLocalStack } from '../lib/local/stack/stack.js';

useWebSocketImplementation(WebSocket);

/**
 * `funnel bench` (counters part): what the DynamoDB time-bucket counters buy over scanning the facts,
 * on a generated workload of a million facts over 60 days (DESIGN §7):
 * - a 30-day user summary for the most active user from the counters (real dynalite, the real
 *   DynamoDB adapter, the real query code) next to the same numbers by DuckDB scanning the Parquet facts
 *   with the same SQL the jobs use, both timed in this process and reported as a ratio; the two answers
 *   are checked against each other (and against a brute-force count in memory);
 * - the items each query reads, next to the plan's bound and the user's event count in the window;
 * - DynamoDB writes and write units per 1,000 events: the live rollup as ingest batches it, against one
 *   update per metric per event, and the settled Puts of the compactor;
 * - the largest item any of this writes (DynamoDB's limit is 400 KB; a write costs 1 WCU per KB);
 * - the time from publishing a signed event to the local relay to seeing it in the HTTP API.
 *
 * The facts are generated directly (no signatures: counters and DuckDB work on facts) and settled in
 * memory exactly as `settleHour`/`rollDay` compute them (`aggregateFacts`, `toItem`, `mergeItems`);
 * only the items of the scopes the queries read are loaded into dynalite, because writing every item
 * of a million-event workload through dynalite would take far longer than the bench.
 */

export interface CountersBenchOptions {
  /** facts in the workload (default 1,000,000) */
  facts?: number;
  /** progress lines */
  log?: (line: string) => void;
  /** users (default 20,000) */
  users?: number;
  /** Zipf exponent of who acts and who is engaged with (default 1.1) */
  zipf?: number;
  /** days of created_at the workload spans, plus a 20-minute live tail (default 60) */
  days?: number;
  /** workload seed (default 7) */
  seed?: number;
  /** events per ingest batch, in arrival order (default 2,500: 100 messages of 25 events) */
  batchEvents?: number;
  /** timed counter queries after the warm-up; the median is reported (default 25) */
  queryRuns?: number;
  /** timed runs of each query kind in the side-by-side table (default queryRuns) */
  kindRuns?: number;
  /** DuckDB scans (untimed) spread over those runs, so they see what the figures above saw (default duckdbRuns) */
  kindDuckdbScans?: number;
  /** timed DuckDB scans after the warm-up; the median is reported (default 3) */
  duckdbRuns?: number;
  /** publish-to-visible measurements (default 5) */
  latencyRuns?: number;
  /** extra measurements polling the cached `?interval=24h` URL, as a dashboard would (default 1) */
  cachedLatencyRuns?: number;
}

export interface Timing {
  medianMs: number;
  runsMs: number[];
}

export interface TotalCheck {
  metric: string;
  counters: number;
  duckdb: number;
  /** brute force over the generated facts in memory: the tie-breaker when the other two disagree */
  memory: number;
  agree: boolean;
}

export interface ItemSizeStats {
  items: number;
  writeUnits: number;
  meanBytes: number;
  maxBytes: number;
  maxScope: string;
  maxBucket: number;
  /** writes by scope kind: u (users), e (events), a (addresses), g (global) */
  byScopeKind: Record<string, number>;
}

/**
 * One API query's cost, on the settled workload's most active user and 30-day window (the network
 * summary: the same window of scope g). Timed with the other kinds round-robin; the reads metered in
 * steady state (the state cached: the Queries alone).
 */
export interface QueryKindFigure {
  /** totals, summary, drilldown <name>, network summary */
  kind: string;
  /** the lib/query function the figure times */
  call: string;
  medianMs: number;
  runsMs: number[];
  /** items the plan read, and its bound */
  itemsRead: number;
  maxItems: number;
  /** size of the items read (DynamoDB rules) */
  bytes: number;
  /** read units of one request (eventually consistent Queries, half a unit per 4 KB per call) */
  readUnits: number;
  /** Queries made */
  queries: number;
  /** the answer's counts checked against DuckDB and the brute force (totals, summary, network summary) */
  checks?: TotalCheck[];
  agree?: boolean;
}

export interface CountersBenchReport {
  environment: { node: string; platform: string; arch: string; cpu: string; cores: number };
  workload: {
    facts: number;
    users: number;
    zipf: number;
    seed: number;
    days: number;
    startTs: number;
    endTs: number;
    eventsPerMinute: number;
    byType: Record<string, number>;
    hourPartitions: number;
    parquetBytes: number;
    /** setup phases, ms */
    setup: { generateMs: number; parquetMs: number; settleMs: number; liveMs: number; loadMs: number };
    /** items loaded into dynalite (the scopes the queries read) */
    loadedItems: number;
  };
  query: {
    pubkey: string;
    window: { interval: string; startTs: number; endTs: number; watermark: number };
    /** facts in the window the user authored or that engage with the user */
    userEventsInWindow: number;
    userEventsTotal: number;
    counters: Timing & {
      itemsRead: number;
      maxItems: number;
      segments: string;
      source: string;
      /** median of the store reads alone (readWindow: watermark, heartbeat, one Query per segment) */
      readMedianMs: number;
      /** median of userSummary's in-process work on the items read (merge, totals, timeline, drill-downs) */
      computeMedianMs: number;
      /** size of the items read (DynamoDB rules) and the read units they cost */
      bytesRead: number;
      /** read units of one request with the state cached (STATE_CACHE_MS): the Queries' (eventually consistent, priced whole per call), and any state GetItem's (consistent) */
      readUnits: number;
      /** Queries made */
      queries: number;
    };
    duckdb: Timing & { rowsScanned: number };
    /** duckdb ÷ counters, medians */
    ratio: number;
    goal: number;
    withinGoal: boolean;
    totals: TotalCheck[];
    agree: boolean;
    uniqueEngagers: { hll: number; exact: number };
  };
  network: {
    counters: Timing & { itemsRead: number; maxItems: number };
    duckdb: Timing;
    ratio: number;
    totals: TotalCheck[];
    agree: boolean;
    uniqueUsers: { hll: number; exact: number; note: string };
  };
  writes: {
    batchEvents: number;
    batches: number;
    /** live minute counters: one UpdateItem per delta; WCU = ceil(max(item before, item after) / 1 KB) */
    live: { updateItems: number; writeUnits: number; updateItemsPer1000: number; writeUnitsPer1000: number };
    /** one UpdateItem per counted metric per event (contributionsOf(fact).counts), 1 WCU each */
    naive: { updates: number; per1000: number; writeUnitsPer1000: number };
    /** naive WCU ÷ live WCU */
    reduction: number;
    /** the compactor's Puts (hour, ten-minute and minute items per settled hour, day and quarter-day items per rolled day) */
    settled: { items: number; writeUnits: number; itemsPer1000: number; writeUnitsPer1000: number };
    /** ingest's state records: event index, dirty-hour marks, heartbeat */
    state: { writes: number; writeUnits: number; writesPer1000: number; writeUnitsPer1000: number };
    /** the same figures (counts) for the first events re-timed at 1×, 10× and 100× the rate */
    density: DensityFigure[];
  };
  items: {
    limitBytes: number;
    settled: Record<'m' | 't' | 'h' | 'q' | 'd' | 'w', ItemSizeStats>;
    live: ItemSizeStats;
    /** the global scope's items: the hottest partition */
    global: { liveMinuteMaxBytes: number; settledMinuteMaxBytes: number; hourMaxBytes: number; dayMaxBytes: number; allTimeBytes: number };
    largest: { kind: string; scope: string; bucket: number; bytes: number };
  };
  /** every API query kind, side by side (QueryKindFigure) */
  queries: QueryKindFigure[];
  /** process.resourceUsage().maxRSS: the whole run, and up to the end of setup (which holds every fact in memory) */
  memory: { peakRssBytes: number; setupPeakRssBytes: number };
  latency: {
    runs: number;
    runsMs: number[];
    medianMs: number;
    maxMs: number;
    goalMs: number;
    withinGoal: boolean;
    /** the same, for a client that keeps polling `?interval=24h` (served from the API's response cache) */
    cachedPoll: { runsMs: number[]; medianMs: number | null; cacheTtlMs: number };
  };
  totalMs: number;
}

const QUERY_GOAL = 50;
const LATENCY_GOAL_MS = 5000;
const ITEM_LIMIT_BYTES = 400 * 1024;
/** 2026-01-01T00:00:00Z */
const START_SECONDS = 1_767_225_600;
const LIVE_TAIL_SECONDS = 20 * 60;

class SizeStats {
  items = 0;
  writeUnits = 0;
  totalBytes = 0;
  maxBytes = 0;
  maxScope = '';
  maxBucket = 0;
  byScopeKind: Record<string, number> = {};

  record(bytes: number, scope: string, bucket: number, writeUnits = wcu(bytes)): void {
    this.items++;
    const kind = scope === GLOBAL_SCOPE ? 'g' : scope.slice(0, 1);
    this.byScopeKind[kind] = (this.byScopeKind[kind] ?? 0) + 1;
    this.writeUnits += writeUnits;
    this.totalBytes += bytes;
    if (bytes > this.maxBytes) {
      this.maxBytes = bytes;
      this.maxScope = scope;
      this.maxBucket = bucket;
    }
  }

  /** a size seen without a write (e.g. the final size of a live item) */
  observe(bytes: number, scope: string, bucket: number): void {
    if (bytes > this.maxBytes) {
      this.maxBytes = bytes;
      this.maxScope = scope;
      this.maxBucket = bucket;
    }
  }

  toJSON(): ItemSizeStats {
    return { items: this.items, writeUnits: this.writeUnits, meanBytes: this.items ? this.totalBytes / this.items : 0, maxBytes: this.maxBytes, maxScope: this.maxScope, maxBucket: this.maxBucket, byScopeKind: this.byScopeKind };
  }
}

// ---------------------------------------------------------------------------------------------------------
// The bench

export async function runCountersBench(options: CountersBenchOptions = {}): Promise<CountersBenchReport> {
  const started = performance.now();
  const log = options.log ?? (() => {});
  const factCount = positiveInt(options.facts ?? 1_000_000, 'facts');
  const users = positiveInt(options.users ?? 20_000, 'users');
  const zipf = options.zipf ?? 1.1;
  const days = positiveInt(options.days ?? 60, 'days');
  const seed = options.seed ?? 7;
  const batchEvents = positiveInt(options.batchEvents ?? 2_500, 'batchEvents');
  const queryRuns = positiveInt(options.queryRuns ?? 25, 'queryRuns');
  const duckdbRuns = positiveInt(options.duckdbRuns ?? 3, 'duckdbRuns');
  const kindRuns = positiveInt(options.kindRuns ?? queryRuns, 'kindRuns');
  const kindDuckdbScans = options.kindDuckdbScans ?? duckdbRuns;
  const latencyRuns = positiveInt(options.latencyRuns ?? 5, 'latencyRuns');
  const cachedLatencyRuns = options.cachedLatencyRuns ?? 1;
  const retention = retentionFromEnv(process.env);

  // The workload: `days` whole days of settled history and a 20-minute live tail after the watermark.
  const startTs = START_SECONDS;
  const watermark = START_SECONDS + days * 86400;
  const endTs = watermark + LIVE_TAIL_SECONDS;
  const nowMs = endTs * 1000;

  const window = rollingWindow('30d', endTs);
  const dir = await mkdtemp(join(tmpdir(), 'funnel-counters-bench-'));
  let dynamo: LocalDynamo | undefined;
  const duck = new DuckDbSqlEngine();
  try {
    // Setup runs in its own function so the million facts are garbage once it returns: the timed
    // queries below run in the same process and must not pay for collecting a multi-GB heap.
    const p = await prepare({ factCount, users, zipf, seed, days, batchEvents, retention, startTs, watermark, endTs, nowMs, window, dir, log });
    collectGarbage();
    const setupPeakRssBytes = peakRssBytes();
    log(`counters setup: peak RSS so far ${int(setupPeakRssBytes / 2 ** 20)} MB`);
    const { byType, partitions, parquetBytes, pubkey, userEventsTotal, settledStats, settledItems, globalSizes, liveStats, liveWriteUnits, naiveUpdates, stateWrites, stateWriteUnits, allTimeBytes, globalLiveMinute, batches } = p;
    const { generateMs, parquetMs, settleMs, liveMs } = p.setup;

    // --- 6. load the scopes the queries read into a real dynalite, with the watermark and a live tail
    const t0 = performance.now();
    dynamo = await startDynalite(undefined);
    const counters = dynamo.counters;
    await counters.put(p.load);
    await counters.add(p.liveTail);
    // as the compactor leaves it: weeks settled through the watermark's day (settled below)
    await writeWatermark(counters, watermark, nowMs, Math.floor(watermark / 86400) * 86400);
    await counters.putState(INGEST_HEARTBEAT, 0, { lastIngestAt: nowMs });
    const loadMs = performance.now() - t0;
    log(`counters setup: loaded ${int(p.load.length)} settled items (minute items of the last ${Math.round(retention.minuteSeconds / 86400)} days: older ones have expired by TTL) and ${int(p.liveTail.length)} live deltas of ${[...p.selected].map((s) => s.slice(0, 14)).join(', ')} into dynalite in ${(loadMs / 1000).toFixed(1)} s`);

    // --- 7. the 30-day summary: counters vs DuckDB over the facts
    const deps: QueryDeps = { counters, clock: { now: () => nowMs }, retention };
    const relation = factsRelation(dir);
    const userSql = userMetricsSql(relation, window, 'duckdb', [pubkey]);
    let summary = await userSummary(pubkey, window, deps);
    let rows: Record<string, unknown>[] = [];
    const user = await timePaired(
      async () => void (summary = await userSummary(pubkey, window, deps)),
      queryRuns,
      async () => void (rows = await duck.query(userSql)),
      duckdbRuns,
    );
    const counterRuns = user.a;
    const duckRuns = user.b;
    // Where the time goes: the store reads alone (one Query per plan segment, through dynalite), and
    // what they read, in bytes and in read units (a Query costs its items' total size in 4 KB units,
    // halved when eventually consistent; the watermark and heartbeat are two consistent GetItems).
    // Reads and in-process work timed alternately, so both see the same machine conditions.
    const readRuns: number[] = [];
    const computeRuns: number[] = [];
    const fetched = (await readSummaryWindow(pubkey, window, deps)).items;
    for (let i = 0; i < queryRuns; i++) {
      let q0 = performance.now();
      await readSummaryWindow(pubkey, window, deps);
      readRuns.push(performance.now() - q0);
      q0 = performance.now();
      summaryCompute(fetched, window);
      computeRuns.push(performance.now() - q0);
    }
    // What one request costs in steady state: the state read of the first call is cached (STATE_CACHE_MS), so the second reads the Queries alone.
    const metered = meteredReads(counters, nowMs);
    await readSummaryWindow(pubkey, window, { ...deps, counters: metered.store });
    metered.reset();
    await readSummaryWindow(pubkey, window, { ...deps, counters: metered.store });
    const { bytes: bytesRead, readUnits, queries } = metered.totals();
    log(`counters query: 30-day summary median ${median(counterRuns).toFixed(2)} ms over ${queryRuns} runs (${summary.meta.plan.itemsRead} items read, ${(bytesRead / 1024).toFixed(1)} KB; reads alone ${median(readRuns).toFixed(2)} ms, in-process work alone ${median(computeRuns).toFixed(2)} ms)`);

    const sqlRow = rows[0] ?? {};
    const rowsScanned = Number((await duck.query(`SELECT count(*) AS n FROM ${relation} WHERE dt BETWEEN DATE '${isoDay(window.startTs)}' AND DATE '${isoDay(window.endTs - 1)}'`))[0]?.n ?? 0);
    log(`counters query: DuckDB scan median ${median(duckRuns).toFixed(0)} ms over ${duckdbRuns} runs (${int(rowsScanned)} rows in the window's partitions)`);

    const brute = p.brute;
    const sql = (name: string) => Number(sqlRow[name] ?? 0);
    const userChecks = (t: UserTotals): TotalCheck[] => [
      check('posts', t.posts, sql('posts'), brute.posts),
      check('replies', t.replies, sql('replies'), brute.replies),
      check('comments', t.comments, sql('comments'), brute.comments),
      check('videos', t.videos, sql('videos'), brute.videos),
      check('likes received', t.reactionsReceived.likes, sql('likes_rcv'), brute.likes_rcv),
      check('dislikes received', t.reactionsReceived.dislikes, sql('dislikes_rcv'), brute.dislikes_rcv),
      check('emoji received', t.reactionsReceived.emoji, sql('emoji_rcv'), brute.emoji_rcv),
      check('reactions received', t.reactionsReceived.total, sql('likes_rcv') + sql('dislikes_rcv') + sql('emoji_rcv'), brute.likes_rcv + brute.dislikes_rcv + brute.emoji_rcv),
      check('reposts received', t.repostsReceived, sql('reposts_rcv'), brute.reposts_rcv),
      check('replies received', t.repliesReceived, sql('replies_rcv'), brute.replies_rcv),
      check('zaps received', t.zapsReceived, sql('zaps_rcv'), brute.zaps_rcv),
      check('zap sats received', t.zapSatsReceived, Math.floor(sql('zap_msats_rcv') / 1000), Math.floor(brute.zap_msats_rcv / 1000)),
    ];
    const t = summary.data.totals;
    const totals = userChecks(t);

    // The network summary over the same window reads the `g` scope: the hottest items in the table.
    const globalSql = globalMetricsSql(relation, window, 'duckdb');
    let network = await globalSummary(window, deps);
    let globalRows: Record<string, unknown>[] = [];
    const net = await timePaired(
      async () => void (network = await globalSummary(window, deps)),
      queryRuns,
      async () => void (globalRows = await duck.query(globalSql)),
      duckdbRuns,
    );
    const globalRuns = net.a;
    const duckGlobalRuns = net.b;
    const sqlGlobal = new Map(globalRows.map((r) => [`${String(r.dimension)}:${String(r.value)}`, Number(r.events)]));
    const bruteGlobal = p.bruteGlobal;
    const networkTotals: TotalCheck[] = [check('events', network.data.totalEvents, sqlGlobal.get('total:events') ?? 0, bruteGlobal.events)];
    const typeNames = [...new Set([...Object.keys(network.data.eventsByType), ...Object.keys(bruteGlobal.byType)])].sort();
    for (const type of typeNames) networkTotals.push(check(`type ${type}`, network.data.eventsByType[type] ?? 0, sqlGlobal.get(`type:${type}`) ?? 0, bruteGlobal.byType[type] ?? 0));
    const kindNames = [...new Set([...Object.keys(network.data.eventsByKind), ...Object.keys(bruteGlobal.byKind)])].sort((a, b) => Number(a) - Number(b));
    for (const kind of kindNames) networkTotals.push(check(`kind ${kind}`, network.data.eventsByKind[kind] ?? 0, sqlGlobal.get(`kind:${kind}`) ?? 0, bruteGlobal.byKind[kind] ?? 0));
    log(`counters query: network summary median ${median(globalRuns).toFixed(2)} ms, DuckDB ${median(duckGlobalRuns).toFixed(0)} ms`);

    // Every query kind of the API on the same store, user and window: the timings round-robin (each
    // round runs every kind once, the order rotating; DuckDB scans in between as for the figures above),
    // then one request of each metered in steady state.
    // There is no totals-only route (a user's totals come with the summary); "totals" is the cheapest
    // answer of them: the summary's read, merged counts-only (no sketches, no top lists).
    const drillOptions = { tzOffsetMinutes: 0, limit: 10 }; // the route's defaults
    let totalsOnly: UserTotals | undefined;
    const kinds: { kind: string; call: string; run: (d: QueryDeps) => Promise<Meta> }[] = [
      {
        kind: 'totals',
        call: 'readSummaryWindow + mergeItems(countsOnly) + toTotals',
        run: async (d) => {
          const read = await readSummaryWindow(pubkey, window, d);
          totalsOnly = toTotals(mergeItems(read.items, undefined, { countsOnly: true }));
          return read.meta;
        },
      },
      { kind: 'summary', call: 'userSummary', run: async (d) => (await userSummary(pubkey, window, d)).meta },
      ...DRILLDOWNS.map((name) => ({ kind: `drilldown ${name}`, call: `userDrilldown ${name}`, run: async (d: QueryDeps) => (await userDrilldown(pubkey, name, window, d, drillOptions)).meta })),
      { kind: 'network summary', call: 'globalSummary', run: async (d) => (await globalSummary(window, d)).meta },
    ];
    const k0 = performance.now();
    const kindTimings = await timeRoundRobin(
      kinds.map((k) => async () => void (await k.run(deps))),
      kindRuns,
      [async () => void (await duck.query(userSql)), async () => void (await duck.query(globalSql))],
      kindDuckdbScans,
    );
    log(`counters query kinds: ${kinds.length} kinds × ${kindRuns} runs round-robin (and ${kindDuckdbScans} DuckDB scans between) in ${((performance.now() - k0) / 1000).toFixed(1)} s`);
    const queryKinds: QueryKindFigure[] = [];
    for (const [i, k] of kinds.entries()) {
      const metered = meteredReads(counters, nowMs);
      // its own state cache, never expiring: the second request reads the Queries alone, however slow the first
      const steady: QueryDeps = { ...deps, counters: metered.store, stateReads: new CounterStateReads(Number.POSITIVE_INFINITY) };
      await k.run(steady);
      metered.reset();
      const meta = await k.run(steady);
      const m = metered.totals();
      const runsMs = kindTimings[i]!;
      const checks = k.kind === 'totals' ? userChecks(totalsOnly!) : k.kind === 'summary' ? totals : k.kind === 'network summary' ? networkTotals : undefined;
      queryKinds.push({
        kind: k.kind,
        call: k.call,
        medianMs: median(runsMs),
        runsMs,
        itemsRead: meta.plan.itemsRead,
        maxItems: meta.plan.maxItems,
        bytes: m.bytes,
        readUnits: m.readUnits,
        queries: m.queries,
        ...(checks ? { checks, agree: checks.every((c) => c.agree) } : {}),
      });
      log(`counters query kind ${k.kind}: median ${median(runsMs).toFixed(2)} ms, ${meta.plan.itemsRead} items, ${(m.bytes / 1024).toFixed(1)} KB, ${m.readUnits} RCU, ${m.queries} Queries`);
    }

    // --- 8. publish-to-visible through the real local stack
    const latency = await measureLatency(latencyRuns, cachedLatencyRuns, log);

    const per1000 = (n: number) => (n * 1000) / factCount;
    const largestCandidates = [
      { kind: 'settled hour', stats: settledStats.h },
      { kind: 'settled minute', stats: settledStats.m },
      { kind: 'settled ten-minute', stats: settledStats.t },
      { kind: 'settled quarter-day', stats: settledStats.q },
      { kind: 'settled day', stats: settledStats.d },
      { kind: 'settled week', stats: settledStats.w },
      { kind: 'live minute', stats: liveStats },
    ].sort((a, b) => b.stats.maxBytes - a.stats.maxBytes)[0]!;
    const settledWriteUnits = Object.values(settledStats).reduce((n, st) => n + st.writeUnits, 0);
    const counterMedian = median(counterRuns);
    const duckMedian = median(duckRuns);
    return {
      environment: { node: process.version, platform: process.platform, arch: process.arch, cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length },
      workload: {
        facts: factCount,
        users,
        zipf,
        seed,
        days,
        startTs,
        endTs,
        eventsPerMinute: (factCount * 60) / (endTs - startTs),
        byType,
        hourPartitions: partitions,
        parquetBytes,
        setup: { generateMs, parquetMs, settleMs, liveMs, loadMs },
        loadedItems: p.load.length + p.liveTail.length,
      },
      query: {
        pubkey,
        window: { interval: '30d', startTs: window.startTs, endTs: window.endTs, watermark },
        userEventsInWindow: brute.events,
        userEventsTotal,
        counters: {
          medianMs: counterMedian,
          runsMs: counterRuns,
          itemsRead: summary.meta.plan.itemsRead,
          maxItems: summary.meta.plan.maxItems,
          segments: summary.meta.plan.segments.map((s) => (s.weekToDate ? `1w to date (${(s.to - s.from) / 86400}d)` : `${(s.to - s.from) / GRANULARITY_SECONDS[s.granularity as keyof typeof GRANULARITY_SECONDS]}${s.granularity}${s.live ? ' live' : ''}`)).join(' + '),
          queries,
          source: summary.meta.source,
          readMedianMs: median(readRuns),
      computeMedianMs: median(computeRuns),
          bytesRead,
          readUnits,
        },
        duckdb: { medianMs: duckMedian, runsMs: duckRuns, rowsScanned },
        ratio: duckMedian / counterMedian,
        goal: QUERY_GOAL,
        withinGoal: duckMedian / counterMedian >= QUERY_GOAL,
        totals,
        agree: totals.every((c) => c.agree),
        uniqueEngagers: { hll: t.uniqueEngagers, exact: brute.engagers },
      },
      network: {
        counters: { medianMs: median(globalRuns), runsMs: globalRuns, itemsRead: network.meta.plan.itemsRead, maxItems: network.meta.plan.maxItems },
        duckdb: { medianMs: median(duckGlobalRuns), runsMs: duckGlobalRuns },
        ratio: median(duckGlobalRuns) / median(globalRuns),
        totals: networkTotals,
        agree: networkTotals.every((c) => c.agree),
        uniqueUsers: { hll: network.data.uniqueUsers, exact: Number(sqlGlobal.get('total:authors') ?? 0), note: network.meta.partialReason ?? '' },
      },
      writes: {
        batchEvents,
        batches,
        live: { updateItems: liveStats.items, writeUnits: liveWriteUnits, updateItemsPer1000: per1000(liveStats.items), writeUnitsPer1000: per1000(liveWriteUnits) },
        naive: { updates: naiveUpdates, per1000: per1000(naiveUpdates), writeUnitsPer1000: per1000(naiveUpdates) },
        reduction: naiveUpdates / Math.max(1, liveWriteUnits),
        settled: { items: settledItems, writeUnits: settledWriteUnits, itemsPer1000: per1000(settledItems), writeUnitsPer1000: per1000(settledWriteUnits) },
        state: { writes: stateWrites, writeUnits: stateWriteUnits, writesPer1000: per1000(stateWrites), writeUnitsPer1000: per1000(stateWriteUnits) },
        density: p.density,
      },
      items: {
        limitBytes: ITEM_LIMIT_BYTES,
        settled: { m: settledStats.m.toJSON(), t: settledStats.t.toJSON(), h: settledStats.h.toJSON(), q: settledStats.q.toJSON(), d: settledStats.d.toJSON(), w: settledStats.w.toJSON() },
        live: liveStats.toJSON(),
        global: { liveMinuteMaxBytes: globalLiveMinute, settledMinuteMaxBytes: globalSizes.settledMinute, hourMaxBytes: globalSizes.hour, dayMaxBytes: globalSizes.day, allTimeBytes },
        largest: { kind: largestCandidates.kind, scope: largestCandidates.stats.maxScope, bucket: largestCandidates.stats.maxBucket, bytes: largestCandidates.stats.maxBytes },
      },
      queries: queryKinds,
      memory: { peakRssBytes: peakRssBytes(), setupPeakRssBytes },
      latency,
      totalMs: performance.now() - started,
    };
  } finally {
    await duck.close();
    await dynamo?.close();
    await rm(dir, { recursive: true, force: true });
  }
}

interface PrepareParams {
  factCount: number;
  users: number;
  zipf: number;
  seed: number;
  days: number;
  batchEvents: number;
  retention: Retention;
  startTs: number;
  watermark: number;
  endTs: number;
  nowMs: number;
  window: QueryWindow;
  dir: string;
  log: (line: string) => void;
}

/** Generates the workload, writes its Parquet facts, settles it and replays it through the live rollup. */
async function prepare(params: PrepareParams) {
  const { factCount, users, zipf, seed, days, batchEvents, retention, startTs, watermark, endTs, nowMs, window, dir, log } = params;
  // --- 1. generate
  log(`counters setup: generating ${int(factCount)} facts over ${days} days + 20 min, ${int(users)} users (Zipf s=${zipf})…`);
  let t0 = performance.now();
  const facts = generateFacts({ facts: factCount, users, zipf, seed, startTs, endTs });
  const generateMs = performance.now() - t0;
  const byType: Record<string, number> = {};
  for (const f of facts) byType[f.type] = (byType[f.type] ?? 0) + 1;

  // facts by hour of created_at (arrival order is kept inside an hour)
  const hourCount = Math.ceil((endTs - startTs) / 3600);
  const byHour: Fact[][] = Array.from({ length: hourCount }, () => []);
  for (const f of facts) byHour[Math.floor((f.created_at - startTs) / 3600)]!.push(f);
  log(`counters setup: generated in ${(generateMs / 1000).toFixed(1)} s`);

  // The most active user: authored content + engagement received.
  const activity = new Map<string, number>();
  for (const f of facts) {
    if (f.type === 'note' || f.type === 'reply' || f.type === 'comment' || f.type === 'video') activity.set(f.author, (activity.get(f.author) ?? 0) + 1);
    if (f.target_pubkey) activity.set(f.target_pubkey, (activity.get(f.target_pubkey) ?? 0) + 1);
  }
  let pubkey = '';
  let userEventsTotal = -1;
  for (const [pk, n] of activity) if (n > userEventsTotal) [pubkey, userEventsTotal] = [pk, n];
  activity.clear();
  const selected = new Set([userScope(pubkey), GLOBAL_SCOPE]);

  // --- 2. facts on disk: one compacted Parquet object per hour partition
  t0 = performance.now();
  const objects = new FsObjectStore(dir);
  let parquetBytes = 0;
  let partitions = 0;
  for (let h = 0; h < hourCount; h++) {
    const hourFacts = byHour[h]!;
    if (!hourFacts.length) continue;
    const bytes = encodeFacts(hourFacts);
    parquetBytes += bytes.byteLength;
    partitions++;
    await objects.put(`${partitionPrefix(partitionOf(startTs + h * 3600))}compacted-bench.parquet`, bytes);
  }
  const parquetMs = performance.now() - t0;
  log(`counters setup: ${partitions} Parquet partitions, ${(parquetBytes / 1e6).toFixed(1)} MB in ${(parquetMs / 1000).toFixed(1)} s`);

  // --- 3. settled counters, as settleHour and rollDay compute them
  t0 = performance.now();
  const settledStats = { m: new SizeStats(), t: new SizeStats(), h: new SizeStats(), q: new SizeStats(), d: new SizeStats(), w: new SizeStats() };
  const globalSizes = { settledMinute: 0, hour: 0, day: 0 };
  const toLoad: (CounterItem & { expiresAt?: number })[] = [];
  const keep = (item: CounterItem & { expiresAt?: number }) => {
    if (selected.has(item.scope)) toLoad.push(item);
  };
  let dayHourItems = new Map<string, CounterItem[]>();
  // The settled all-time item (all-time.ts) sums the global day items: its size is measured below.
  const allTimeValues: Record<string, number> = {};
  const rollDay = (dayStart: number) => {
    for (const [scope, hourItems] of dayHourItems) {
      const item = settledDayItem(scope, dayStart, hourItems, retention);
      const bytes = counterItemBytes(item);
      settledStats.d.record(bytes, scope, dayStart);
      if (scope === GLOBAL_SCOPE) {
        globalSizes.day = Math.max(globalSizes.day, bytes);
        for (const [name, n] of Object.entries(item.values)) allTimeValues[name] = (allTimeValues[name] ?? 0) + n;
      }
      keep(item);
    }
    dayHourItems = new Map();
    const dayFacts = byHour.slice((dayStart - startTs) / 3600, (dayStart - startTs) / 3600 + 24).flat();
    for (const item of settledQuarterItems(dayStart, dayFacts, retention)) {
      settledStats.q.record(counterItemBytes(item), item.scope, item.bucket);
      keep(item);
    }
  };
  const settledHours = (watermark - startTs) / 3600;
  for (let h = 0; h < settledHours; h++) {
    const hour = startTs + h * 3600;
    // Exactly the items the compactor Puts for this hour; a sparse user hour's item is not Put, but its
    // day is settled from the same facts.
    const settled = settledHourItems(hour, byHour[h]!, retention);
    for (const item of settled.sparse) {
      let list = dayHourItems.get(item.scope);
      if (!list) dayHourItems.set(item.scope, (list = []));
      list.push(item);
    }
    for (const item of settled.items) {
      const bytes = counterItemBytes(item);
      if (item.granularity === 'h') {
        // A per-event or per-address hour is its live item (counted by the live rollup below); the settle writes it only on drift.
        if (!isTargetScope(item.scope)) settledStats.h.record(bytes, item.scope, hour);
        if (item.scope === GLOBAL_SCOPE) globalSizes.hour = Math.max(globalSizes.hour, bytes);
        let list = dayHourItems.get(item.scope);
        if (!list) dayHourItems.set(item.scope, (list = []));
        list.push(item);
      } else if (item.granularity === 't') {
        settledStats.t.record(bytes, item.scope, item.bucket);
      } else {
        settledStats.m.record(bytes, item.scope, item.bucket);
        if (item.scope === GLOBAL_SCOPE) globalSizes.settledMinute = Math.max(globalSizes.settledMinute, bytes);
      }
      keep(item);
    }
    if ((h + 1) % 24 === 0) rollDay(hour - 23 * 3600);
  }
  // Every week from its facts, as the compactor settles them (weeks.ts): with each day's roll, to
  // that day, and whole once it is over. A settle Puts the items that changed, those of the scopes
  // with events that day (the others read as before), and each of those is priced; the last is kept.
  const weeksThrough = Math.floor(watermark / 86400) * 86400;
  const hourIndex = (t: number) => Math.max(0, (t - startTs) / 3600);
  for (let week = Math.floor(startTs / WEEK_SECONDS) * WEEK_SECONDS; week < weeksThrough; week += WEEK_SECONDS) {
    const last = Math.min(week + WEEK_SECONDS, weeksThrough);
    // built up a day at a time, as each day's settle sees the week
    const toDate = new WeekToDate(week, retention);
    for (let through = Math.max(week, Math.floor(startTs / 86400) * 86400) + 86400; through <= last; through += 86400) {
      const dayFacts = byHour.slice(hourIndex(through - 86400), hourIndex(through)).flat();
      toDate.add(dayFacts);
      for (const item of toDate.items(new Set(dayFacts.flatMap((f) => contributionsOf(f).counts.map((c) => c.scope))))) settledStats.w.record(counterItemBytes(item), item.scope, item.bucket);
    }
    for (const item of toDate.items()) keep(item);
  }
  const settleMs = performance.now() - t0;
  const settledItems = Object.values(settledStats).reduce((n, st) => n + st.items, 0);
  log(
    `counters setup: settled ${int(settledItems)} items (${int(settledStats.m.items)} minute, ${int(settledStats.t.items)} ten-minute, ${int(settledStats.h.items)} hour, ${int(settledStats.q.items)} quarter-day, ${int(settledStats.d.items)} day, ${int(settledStats.w.items)} week) in ${(settleMs / 1000).toFixed(1)} s`,
  );

  // --- 4. live writes: ingest's DeltaRollup per batch, in arrival order; DynamoDB item sizes tracked
  t0 = performance.now();
  const liveStats = new SizeStats();
  const live = new Map<string, { scope: string; granularity: Granularity; bucket: number; size: ItemSize }>();
  let liveWriteUnits = 0;
  let naiveUpdates = 0;
  let stateWrites = 0;
  let stateWriteUnits = 0;
  const liveTail: CounterDelta[] = [];
  const allTimeBytes = counterItemBytes({ scope: ALL_TIME_SCOPE, granularity: 'all', bucket: 0, values: { ...allTimeValues, settled_through: watermark } });
  let globalLiveMinute = 0;
  let batches = 0;
  for (let i = 0; i < facts.length; i += batchEvents) {
    const batch = facts.slice(i, i + batchEvents);
    batches++;
    const rollup = new DeltaRollup({ minuteTtlSeconds: retention.minuteSeconds, hourTtlSeconds: retention.hourSeconds });
    let firstMinute = Infinity;
    const hours = new Set<number>();
    const deletions = new Map<string, NostrEvent>();
    for (const fact of batch) {
      rollup.addFact(fact);
      naiveUpdates += contributionsOf(fact).counts.length;
      firstMinute = Math.min(firstMinute, Math.floor(fact.created_at / 60) * 60);
      hours.add(Math.floor(fact.created_at / 3600) * 3600);
      if (fact.type === 'deletion') deletions.set(fact.event_id, deletionEvent(fact));
    }
    // Minute items no later batch can touch are final: their last size counts for the largest item.
    for (const [key, item] of live) {
      if (item.granularity === 'm' && item.bucket < firstMinute - 600) {
        liveStats.observe(item.size.bytes, item.scope, item.bucket);
        live.delete(key);
      }
    }
    for (const delta of rollup.deltas()) {
      const union = Object.entries(delta.union ?? {}).filter(([, members]) => members.length);
      if (!Object.keys(delta.add).length && !union.length) continue;
      const key = `${delta.scope}|${delta.granularity}|${delta.bucket}`;
      let item = live.get(key);
      if (!item) live.set(key, (item = { scope: delta.scope, granularity: delta.granularity, bucket: delta.bucket, size: ItemSize.empty(delta.scope, delta.granularity, delta.bucket) }));
      const before = item.size.add(delta);
      const units = wcu(Math.max(before, item.size.bytes));
      liveWriteUnits += units;
      liveStats.record(item.size.bytes, delta.scope, delta.bucket, units);
      if (delta.scope === GLOBAL_SCOPE && delta.granularity === 'm') globalLiveMinute = Math.max(globalLiveMinute, item.size.bytes);
      if (delta.granularity === 'm' && delta.bucket >= watermark && selected.has(delta.scope)) liveTail.push(delta);
    }
    // ingest's state records: event index (content events, deletions), dirty-hour marks, heartbeat
    for (const record of indexRecords(batch, deletions, retention.noteIndexSeconds)) {
      stateWrites++;
      stateWriteUnits += wcu(stateRecordBytes(record.namespace, record.id, record.value, record.expiresAt));
    }
    for (const hour of hours) {
      stateWrites++;
      stateWriteUnits += wcu(stateRecordBytes(DIRTY_HOURS, hour, { markedAt: nowMs }));
    }
    stateWrites++;
    stateWriteUnits += wcu(stateRecordBytes(INGEST_HEARTBEAT, 0, { lastIngestAt: nowMs }));
  }
  for (const item of live.values()) if (item.granularity === 'm') liveStats.observe(item.size.bytes, item.scope, item.bucket);
  live.clear();
  const liveMs = performance.now() - t0;
  log(`counters setup: live rollup of ${int(batches)} batches of ${int(batchEvents)} events in ${(liveMs / 1000).toFixed(1)} s`);

  // How the write figures move with traffic: the same event sequence re-timed at 10× and 100× the rate.
  t0 = performance.now();
  const densityFacts = facts.slice(0, Math.min(facts.length, DENSITY_SUBSET));
  const density = [1, 10, 100].map((factor) => densityPass(densityFacts, factor, batchEvents, retention, startTs, (endTs - startTs) / facts.length));
  log(`counters setup: write-rate sensitivity over ${int(densityFacts.length)} events at 1×, 10×, 100× the rate in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  // The figures the counters and DuckDB are checked against, straight from the facts in memory.
  const brute = bruteForceUser(facts, pubkey, window);
  const bruteGlobal = bruteForceGlobal(facts, window);
  // Only items DynamoDB still holds at `now` are loaded: TTL has removed minute items older than minuteTtlDays.
  const nowSeconds = Math.floor(nowMs / 1000);
  const load = toLoad.filter((item) => item.expiresAt === undefined || item.expiresAt > nowSeconds);
  return {
    byType,
    partitions,
    parquetBytes,
    setup: { generateMs, parquetMs, settleMs, liveMs },
    pubkey,
    selected,
    userEventsTotal,
    brute,
    bruteGlobal,
    settledStats,
    settledItems,
    globalSizes,
    load,
    liveTail,
    liveStats,
    liveWriteUnits,
    naiveUpdates,
    stateWrites,
    stateWriteUnits,
    allTimeBytes,
    globalLiveMinute,
    batches,
    density,
  };
}

const DENSITY_SUBSET = 100_000;

export interface DensityFigure {
  eventsPerMinute: number;
  events: number;
  /** live UpdateItems (one per item per batch) per 1,000 events */
  liveUpdatesPer1000: number;
  /** settled items the compactor Puts per 1,000 events */
  settledMinutePer1000: number;
  settledHourPer1000: number;
  settledDayPer1000: number;
  naivePer1000: number;
}

/**
 * Write counts for the events re-timed `factor` times denser (created_at squeezed towards the start):
 * live UpdateItems from DeltaRollup per batch, and the distinct (scope, minute|hour|day) items settling
 * would Put. Counts only (items stay small, so WCU ≈ writes; see the size figures for the full run).
 */
function densityPass(facts: Fact[], factor: number, batchEvents: number, retention: Retention, startTs: number, secondsPerEvent: number): DensityFigure {
  let updates = 0;
  let naive = 0;
  const minutes = new Set<string>();
  const hours = new Set<string>();
  const days = new Set<string>();
  for (let i = 0; i < facts.length; i += batchEvents) {
    const rollup = new DeltaRollup({ minuteTtlSeconds: retention.minuteSeconds, hourTtlSeconds: retention.hourSeconds });
    for (let j = i; j < Math.min(facts.length, i + batchEvents); j++) {
      const original = facts[j]!;
      const fact = factor === 1 ? original : { ...original, created_at: startTs + Math.floor((original.created_at - startTs) / factor) };
      rollup.addFact(fact);
      const counts = contributionsOf(fact).counts;
      naive += counts.length;
      const minute = Math.floor(fact.created_at / 60);
      const hour = Math.floor(fact.created_at / 3600);
      const day = Math.floor(fact.created_at / 86400);
      let last = '';
      for (const { scope } of counts) {
        if (scope === last) continue;
        last = scope;
        // Per-event and per-address scopes are counted live per hour: they settle days only.
        if (!isTargetScope(scope)) {
          minutes.add(`${scope}|${minute}`);
          hours.add(`${scope}|${hour}`);
        }
        days.add(`${scope}|${day}`);
      }
    }
    for (const delta of rollup.deltas()) if (Object.keys(delta.add).length || Object.values(delta.union ?? {}).some((m) => m.length)) updates++;
  }
  const per1000 = (n: number) => (n * 1000) / facts.length;
  return {
    eventsPerMinute: (60 * factor) / secondsPerEvent,
    events: facts.length,
    liveUpdatesPer1000: per1000(updates),
    settledMinutePer1000: per1000(minutes.size),
    settledHourPer1000: per1000(hours.size),
    settledDayPer1000: per1000(days.size),
    naivePer1000: per1000(naive),
  };
}

/** A full collection between setup and the timed part, when the runtime allows it. */
function collectGarbage(): void {
  try {
    setFlagsFromString('--expose-gc');
    (runInNewContext('gc') as () => void)();
  } catch {
    // not available: the timed runs just see a larger heap
  }
}

/** userSummary's work after the reads, on already-read items (as lib/query/summary.ts does it). */
/**
 * A counter store that records what one read costs in DynamoDB terms: each Query's items priced
 * whole (counterItemBytes; every item with a ttl, which range reads do not return), an eventually
 * consistent Query at half a unit per 4 KB rounded up per call, and each state read a consistent
 * GetItem of a small record (1 unit).
 */
function meteredReads(counters: CounterStore, nowMs: number) {
  const queries: number[] = [];
  let stateReads = 0;
  const store: CounterStore = Object.create(counters);
  const nowSeconds = Math.floor(nowMs / 1000);
  store.range = async (...args: Parameters<CounterStore['range']>) => {
    const items = await counters.range(...args);
    queries.push(items.reduce((sum, item) => sum + counterItemBytes({ ...item, expiresAt: nowSeconds }), 0));
    return items;
  };
  store.getState = async (...args: Parameters<CounterStore['getState']>) => {
    stateReads++;
    return counters.getState(...args);
  };
  return {
    store,
    reset() {
      queries.length = 0;
      stateReads = 0;
    },
    totals() {
      const bytes = queries.reduce((a, b) => a + b, 0);
      return { bytes, queries: queries.length, stateReads, readUnits: stateReads + queries.reduce((n, b) => n + Math.max(1, Math.ceil(b / 4096)) / 2, 0) };
    },
  };
}

function summaryCompute(items: CounterItem[], window: QueryWindow): number {
  const state = mergeItems(items);
  let sink = toTotals(state).posts;
  for (const point of timelineOf(items, window, timelineStep(window), { countsOnly: true })) sink += toTotals(point.state).posts;
  sink += drilldownsOf(state, 5).topPosts.length;
  return sink;
}

/**
 * Times two ways of answering the same question side by side: after a warm-up of both, each of the
 * `bRuns` timed runs of `b` follows its share of the `aRuns` timed runs of `a`, so both see the same
 * machine conditions (other processes, GC, thermal state) over the whole measurement.
 */
async function timePaired(a: () => Promise<void>, aRuns: number, b: () => Promise<void>, bRuns: number): Promise<{ a: number[]; b: number[] }> {
  for (let i = 0; i < 5; i++) await a();
  await b();
  const out = { a: [] as number[], b: [] as number[] };
  for (let round = 0; round < bRuns; round++) {
    const share = Math.ceil((aRuns * (round + 1)) / bRuns) - out.a.length;
    for (let i = 0; i < share; i++) {
      const t0 = performance.now();
      await a();
      out.a.push(performance.now() - t0);
    }
    const t0 = performance.now();
    await b();
    out.b.push(performance.now() - t0);
  }
  return out;
}

/**
 * Times several ways of answering side by side: after a warm-up of each, `runs` rounds in which each
 * runs once, the order rotating by one per round, so every kind sees the same machine conditions; and,
 * as in timePaired, `gaps` untimed runs of `between` (taken in turn) spread evenly over the rounds, so
 * the kinds see what the headline figures saw (DuckDB scans in between).
 */
async function timeRoundRobin(fns: (() => Promise<void>)[], runs: number, between: (() => Promise<void>)[] = [], gaps = 0): Promise<number[][]> {
  for (let i = 0; i < 5; i++) for (const fn of fns) await fn();
  const out = fns.map(() => [] as number[]);
  let round = 0;
  const rounds = async (until: number) => {
    for (; round < until; round++) {
      for (let j = 0; j < fns.length; j++) {
        const k = (round + j) % fns.length;
        const t0 = performance.now();
        await fns[k]!();
        out[k]!.push(performance.now() - t0);
      }
    }
  };
  for (let g = 0; g < gaps && between.length; g++) {
    await rounds(Math.ceil((runs * (g + 1)) / gaps));
    await between[g % between.length]!();
  }
  await rounds(runs);
  return out;
}

/** The process's peak resident set so far (maxRSS is in KB). */
const peakRssBytes = () => process.resourceUsage().maxRSS * 1024;

interface BruteUser {
  events: number;
  posts: number;
  replies: number;
  comments: number;
  videos: number;
  likes_rcv: number;
  dislikes_rcv: number;
  emoji_rcv: number;
  reposts_rcv: number;
  replies_rcv: number;
  zaps_rcv: number;
  zap_msats_rcv: number;
  engagers: number;
}

/** docs/metrics.md "User summary metrics", straight over the facts in memory. */
function bruteForceUser(facts: Fact[], pubkey: string, window: QueryWindow): BruteUser {
  const out: BruteUser = { events: 0, posts: 0, replies: 0, comments: 0, videos: 0, likes_rcv: 0, dislikes_rcv: 0, emoji_rcv: 0, reposts_rcv: 0, replies_rcv: 0, zaps_rcv: 0, zap_msats_rcv: 0, engagers: 0 };
  const engagers = new Set<string>();
  for (const f of facts) {
    if (f.created_at < window.startTs || f.created_at >= window.endTs) continue;
    const authored = f.author === pubkey && (f.type === 'note' || f.type === 'reply' || f.type === 'comment' || f.type === 'video');
    if (authored || f.target_pubkey === pubkey) out.events++;
    if (authored) {
      if (f.type === 'note') out.posts++;
      else if (f.type === 'reply') out.replies++;
      else if (f.type === 'comment') out.comments++;
      else out.videos++;
    }
    if (f.target_pubkey !== pubkey) continue;
    const engager = f.type === 'zap' ? f.zap_sender : f.author;
    if (engager === pubkey) continue;
    let counted = true;
    if (f.type === 'reaction') {
      const cls = reactionClass(f.reaction ?? '');
      if (cls === 'like') out.likes_rcv++;
      else if (cls === 'dislike') out.dislikes_rcv++;
      else out.emoji_rcv++;
    } else if (f.type === 'repost') out.reposts_rcv++;
    else if (f.type === 'reply' || f.type === 'comment') out.replies_rcv++;
    else if (f.type === 'zap') {
      out.zaps_rcv++;
      out.zap_msats_rcv += f.zap_msats ?? 0;
    } else counted = false;
    if (counted && engager) engagers.add(engager);
  }
  out.engagers = engagers.size;
  return out;
}

function bruteForceGlobal(facts: Fact[], window: QueryWindow) {
  const byType: Record<string, number> = {};
  const byKind: Record<string, number> = {};
  let events = 0;
  for (const f of facts) {
    if (f.created_at < window.startTs || f.created_at >= window.endTs) continue;
    events++;
    byType[f.type] = (byType[f.type] ?? 0) + 1;
    byKind[f.kind] = (byKind[f.kind] ?? 0) + 1;
  }
  return { events, byType, byKind };
}

function check(metric: string, counters: number, duckdb: number, memory: number): TotalCheck {
  return { metric, counters, duckdb, memory, agree: counters === duckdb && duckdb === memory };
}

/**
 * Publishes freshly signed notes to the local stack's relay and polls the API until the author's
 * `posts` moves. Each poll asks a window no earlier poll asked (the start moves back a minute per poll),
 * so the API's response cache cannot answer it: this is how long the pipeline takes. The cached
 * variant polls `?interval=24h` as a dashboard would, and so also waits for the cache entry to expire.
 */
async function measureLatency(runs: number, cachedRuns: number, log: (line: string) => void): Promise<CountersBenchReport['latency']> {
  const dataDir = await mkdtemp(join(tmpdir(), 'funnel-latency-bench-'));
  log('latency: starting the local stack (in-memory dynalite, embedded relay, no simulator)…');
  const stack = await startLocalStack({ dataDir, port: 0, relayPort: 0, simulate: false, ephemeralCounters: true, compactEveryMs: 3_600_000 });
  try {
    const relay = await Relay.connect(stack.relayUrl!);
    const once = async (cached: boolean, n: number): Promise<number> => {
      const secret = generateSecretKey();
      const pubkey = getPublicKey(secret);
      const base = `${stack.apiUrl}/api/v2/analytics/user/${pubkey}/summary`;
      let poll = 0;
      const posts = async (): Promise<number> => {
        const nowS = Math.floor(Date.now() / 1000);
        const url = cached ? `${base}?interval=24h` : `${base}?startTs=${nowS - 86400 - poll * 60}&endTs=${nowS + 60}`;
        poll++;
        const body = (await (await fetch(url)).json()) as { data?: { totals?: { posts?: number } } };
        return body.data?.totals?.posts ?? 0;
      };
      const before = await posts();
      const event = finalizeEvent({ kind: 1, created_at: Math.floor(Date.now() / 1000), tags: [['t', 'bench']], content: `latency probe ${n}` }, secret);
      const p0 = performance.now();
      await relay.publish(event);
      for (;;) {
        if ((await posts()) > before) return performance.now() - p0;
        if (performance.now() - p0 > 60_000) throw new Error('published event not visible in the API after 60 s');
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const runsMs: number[] = [];
    for (let i = 0; i < runs; i++) {
      runsMs.push(await once(false, i));
      log(`latency: run ${i + 1}/${runs}: ${runsMs.at(-1)!.toFixed(0)} ms`);
    }
    const cachedMs: number[] = [];
    for (let i = 0; i < cachedRuns; i++) {
      cachedMs.push(await once(true, runs + i));
      log(`latency (polling ?interval=24h through the response cache): ${cachedMs.at(-1)!.toFixed(0)} ms`);
    }
    relay.close();
    const medianMs = median(runsMs);
    return {
      runs,
      runsMs,
      medianMs,
      maxMs: Math.max(...runsMs),
      goalMs: LATENCY_GOAL_MS,
      withinGoal: Math.max(...runsMs) <= LATENCY_GOAL_MS,
      cachedPoll: { runsMs: cachedMs, medianMs: cachedMs.length ? median(cachedMs) : null, cacheTtlMs: ttlForWindow(86400) },
    };
  } finally {
    await stack.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

const isoDay = (unixSeconds: number) => new Date(unixSeconds * 1000).toISOString().slice(0, 10);

/** The report as a readable table. */
export function formatCountersBench(r: CountersBenchReport): string {
  const kb = (bytes: number) => `${fixed(bytes / 1024, 2)} KB`;
  const iso = (s: number) => new Date(s * 1000).toISOString().replace(':00.000Z', 'Z');
  const w = r.workload;
  const q = r.query;
  const wr = r.writes;
  const s = w.setup;
  const checkRows = (checks: TotalCheck[]) =>
    checks.map((c) => `    ${c.metric.padEnd(24)}${int(c.counters).padStart(14)}${int(c.duckdb).padStart(14)}${int(c.memory).padStart(14)}   ${c.agree ? 'ok' : 'DIFFERENT'}`);
  const sizeRow = (label: string, st: ItemSizeStats) =>
    `    ${label.padEnd(26)}${int(st.items).padStart(12)}${fixed(st.meanBytes, 0).padStart(10)} B${kb(st.maxBytes).padStart(12)}   ${st.maxScope.length > 20 ? `${st.maxScope.slice(0, 18)}…` : st.maxScope} @ ${iso(st.maxBucket)}`;
  const lines = [
    `Funnel counters bench: ${int(w.facts)} facts over ${w.days} days + 20 min (${fixed(w.eventsPerMinute)} events/minute), ${int(w.users)} users, Zipf s=${w.zipf}, seed ${w.seed}`,
    `  ${r.environment.cpu}, ${r.environment.cores} cores, node ${r.environment.node} ${r.environment.platform}/${r.environment.arch}`,
    `  types: ${Object.entries(w.byType).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${fixed((n * 100) / w.facts)}%`).join(', ')}`,
    `  setup: generate ${fixed(s.generateMs / 1000)} s, Parquet ${fixed(s.parquetMs / 1000)} s (${w.hourPartitions} hour partitions, ${fixed(w.parquetBytes / 1e6)} MB),` +
      ` settle ${fixed(s.settleMs / 1000)} s, live rollup ${fixed(s.liveMs / 1000)} s, dynalite load ${fixed(s.loadMs / 1000)} s (${int(w.loadedItems)} items)`,
    '',
    `  30-day summary of the most active user ${q.pubkey.slice(0, 16)}… (${int(q.userEventsInWindow)} of their events in the window, ${int(q.userEventsTotal)} in all)`,
    `    window ${iso(q.window.startTs)} .. ${iso(q.window.endTs)}, watermark ${iso(q.window.watermark)} (${r.query.counters.source})`,
    `    ${'figure'.padEnd(46)}${'median ms'.padStart(11)}${'× counters'.padStart(12)}`,
    `    ${'counters (dynalite, userSummary) — baseline'.padEnd(46)}${fixed(q.counters.medianMs, 2).padStart(11)}${'1.0'.padStart(12)}`,
    `    ${`DuckDB scan of the facts (userMetricsSql)`.padEnd(46)}${fixed(q.duckdb.medianMs, 1).padStart(11)}${fixed(q.ratio, 1).padStart(12)}` +
      `   goal >= ${q.goal}×: ${q.withinGoal ? 'met' : 'NOT MET'}`,
    `    (counters: median of ${q.counters.runsMs.length} runs, DuckDB: median of ${q.duckdb.runsMs.length} (${q.duckdb.runsMs.map((x) => fixed(x, 0)).join(', ')} ms), interleaved after a warm-up;` +
      ` DuckDB reads ${int(q.duckdb.rowsScanned)} rows in the window's partitions)`,
    `    items read per query: ${q.counters.itemsRead} (plan bound ${q.counters.maxItems}: ${q.counters.segments}), for ${int(q.userEventsInWindow)} events of the user;` +
      ` ${fixed(q.counters.bytesRead / 1024)} KB, ${fixed(q.counters.readUnits)} RCU, ${q.counters.queries} Queries`,
    `    counters time split (timed alone, alternately): store reads (AWS SDK -> dynalite in this process) ${fixed(q.counters.readMedianMs, 2)} ms,` +
      ` merge + totals + timeline + drill-downs ${fixed(q.counters.computeMedianMs, 2)} ms`,
    `    totals, counters vs DuckDB vs brute force in memory: ${q.agree ? 'ALL AGREE' : 'DISAGREE'}`,
    `    ${'metric'.padEnd(24)}${'counters'.padStart(14)}${'DuckDB'.padStart(14)}${'memory'.padStart(14)}`,
    ...checkRows(q.totals),
    `    unique engagers: ${int(q.uniqueEngagers.hll)} (HyperLogLog) vs ${int(q.uniqueEngagers.exact)} exact (${fixed(((q.uniqueEngagers.hll - q.uniqueEngagers.exact) * 100) / Math.max(1, q.uniqueEngagers.exact))}%)`,
    '',
    `  30-day network summary (scope g): counters ${fixed(r.network.counters.medianMs, 2)} ms (${r.network.counters.itemsRead} items, bound ${r.network.counters.maxItems}),` +
      ` DuckDB ${fixed(r.network.duckdb.medianMs, 0)} ms: ${fixed(r.network.ratio, 1)}×; totals by type and kind ${r.network.agree ? 'all agree' : 'DISAGREE'}` +
      ` (${r.network.totals.length} figures)`,
    ...(r.network.agree ? [] : checkRows(r.network.totals.filter((c) => !c.agree))),
    `    unique users: ${int(r.network.uniqueUsers.hll)} (HyperLogLog, settled hours only) vs ${int(r.network.uniqueUsers.exact)} exact`,
    '',
    ...queryKindRows(r),
    '',
    `  DynamoDB writes per 1,000 events (${int(wr.batches)} ingest batches of ${int(wr.batchEvents)} events in arrival order)`,
    `    ${'writer'.padEnd(58)}${'writes'.padStart(9)}${'WCU'.padStart(9)}`,
    `    ${'naive: one UpdateItem per metric per event (1 WCU each)'.padEnd(58)}${fixed(wr.naive.per1000).padStart(9)}${fixed(wr.naive.writeUnitsPer1000).padStart(9)}`,
    `    ${'live rollup: one UpdateItem per item per batch'.padEnd(58)}${fixed(wr.live.updateItemsPer1000).padStart(9)}${fixed(wr.live.writeUnitsPer1000).padStart(9)}` +
      `   ${fixed(wr.reduction)}× fewer WCU than naive`,
    `    ${'settled: hour + day items; minutes as if all rewritten'.padEnd(58)}${fixed(wr.settled.itemsPer1000).padStart(9)}${fixed(wr.settled.writeUnitsPer1000).padStart(9)}`,
    `    ${'ingest state records (event index, dirty hours, heartbeat)'.padEnd(58)}${fixed(wr.state.writesPer1000).padStart(9)}${fixed(wr.state.writeUnitsPer1000).padStart(9)}`,
    `    ${'all counter-table writes (live + settled + state)'.padEnd(58)}${fixed(wr.live.updateItemsPer1000 + wr.settled.itemsPer1000 + wr.state.writesPer1000).padStart(9)}` +
      `${fixed(wr.live.writeUnitsPer1000 + wr.settled.writeUnitsPer1000 + wr.state.writeUnitsPer1000).padStart(9)}`,
    `    (WCU = ceil(item size / 1 KB) per write, an UpdateItem counting the larger of the item before and after)`,
    `    by traffic: the first ${int(wr.density[0]?.events ?? 0)} events re-timed denser (writes per 1,000 events; the batches stay ${int(wr.batchEvents)} events)`,
    `    ${'events/minute'.padStart(15)}${'naive'.padStart(9)}${'live'.padStart(9)}${'× fewer'.padStart(9)}${'settled m'.padStart(11)}${'h'.padStart(8)}${'d'.padStart(8)}`,
    ...wr.density.map(
      (d) =>
        `    ${fixed(d.eventsPerMinute).padStart(15)}${fixed(d.naivePer1000, 0).padStart(9)}${fixed(d.liveUpdatesPer1000, 0).padStart(9)}${fixed(d.naivePer1000 / d.liveUpdatesPer1000).padStart(9)}` +
        `${fixed(d.settledMinutePer1000, 0).padStart(11)}${fixed(d.settledHourPer1000, 0).padStart(8)}${fixed(d.settledDayPer1000, 0).padStart(8)}`,
    ),
    '',
    `  item sizes (DynamoDB rules; limit ${int(r.items.limitBytes / 1024)} KB): largest ${kb(r.items.largest.bytes)}, a ${r.items.largest.kind} item of ${r.items.largest.scope.slice(0, 20)}` +
      ` (${fixed((r.items.largest.bytes * 100) / r.items.limitBytes, 2)}% of the limit)`,
    `    ${'items'.padEnd(26)}${'count'.padStart(12)}${'mean'.padStart(12)}${'largest'.padStart(12)}   of`,
    sizeRow('settled minute', r.items.settled.m),
    sizeRow('settled ten-minute', r.items.settled.t),
    sizeRow('settled hour', r.items.settled.h),
    sizeRow('settled quarter-day', r.items.settled.q),
    sizeRow('settled day', r.items.settled.d),
    sizeRow('settled week', r.items.settled.w),
    sizeRow('live (size after each ADD)', r.items.live),
    `    writes by scope (u: user, e: event, a: address, g: global): ` +
      (
        [
          ['live', r.items.live],
          ['settled minute', r.items.settled.m],
          ['settled ten-minute', r.items.settled.t],
          ['settled hour', r.items.settled.h],
          ['settled quarter-day', r.items.settled.q],
          ['settled day', r.items.settled.d],
          ['settled week', r.items.settled.w],
        ] as const
      )
        .map(([label, st]) => `${label} ${Object.entries(st.byScopeKind).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${fixed(n / (w.facts / 1000), 0)}`).join(' ')}`)
        .join('; ') +
      ' per 1,000 events',
    `    hot global items (scope g): live minute ${kb(r.items.global.liveMinuteMaxBytes)}, settled minute ${kb(r.items.global.settledMinuteMaxBytes)},` +
      ` hour ${kb(r.items.global.hourMaxBytes)}, day ${kb(r.items.global.dayMaxBytes)}, settled all-time g:total ${kb(r.items.global.allTimeBytes)}`,
    '',
    `  publish to visible in the API (local stack, relay -> listener -> queue -> ingest -> dynalite -> API), ${r.latency.runs} fresh keys:`,
    `    median ${int(r.latency.medianMs)} ms, max ${int(r.latency.maxMs)} ms (${r.latency.runsMs.map((x) => int(x)).join(', ')})   goal <= ${int(r.latency.goalMs)} ms: ${r.latency.withinGoal ? 'met' : 'NOT MET'}`,
    ...(r.latency.cachedPoll.runsMs.length
      ? [
          `    polling ?interval=24h instead (the API's response cache, ${int(r.latency.cachedPoll.cacheTtlMs / 1000)} s ± 20% TTL for 24h windows, answers the repeat polls):` +
            ` ${r.latency.cachedPoll.runsMs.map((x) => int(x)).join(', ')} ms`,
        ]
      : []),
    `  peak RSS ${int(r.memory.peakRssBytes / 2 ** 20)} MB (process.resourceUsage().maxRSS; ${int(r.memory.setupPeakRssBytes / 2 ** 20)} MB by the end of setup)`,
    `  total ${fixed(r.totalMs / 1000)} s`,
  ];
  return lines.join('\n');
}

/** The per-query-kind table: latency and DynamoDB read cost of each, the DuckDB scans of the same run beside the two it answers. */
function queryKindRows(r: CountersBenchReport): string[] {
  const duck: Record<string, number> = { summary: r.query.duckdb.medianMs, 'network summary': r.network.duckdb.medianMs };
  const runs = r.queries[0]?.runsMs.length ?? 0;
  return [
    `  per query kind (the 30-day window of ${r.query.pubkey.slice(0, 16)}…; the network summary: scope g), ${runs} runs of each, round-robin after a warm-up, DuckDB scans in between as above;` +
      ` reads of one request in steady state (state cached: Queries only)`,
    `    ${'kind'.padEnd(24)}${'median ms'.padStart(11)}${'items'.padStart(8)}${'bound'.padStart(8)}${'KB'.padStart(9)}${'RCU'.padStart(7)}${'Queries'.padStart(9)}${'DuckDB ms'.padStart(11)}${'× counters'.padStart(12)}`,
    ...r.queries.map((k) => {
      const d = duck[k.kind];
      return (
        `    ${k.kind.padEnd(24)}${fixed(k.medianMs, 2).padStart(11)}${int(k.itemsRead).padStart(8)}${int(k.maxItems).padStart(8)}${fixed(k.bytes / 1024).padStart(9)}${fixed(k.readUnits).padStart(7)}${String(k.queries).padStart(9)}` +
        (d === undefined ? '' : `${fixed(d, 0).padStart(11)}${fixed(d / k.medianMs, 1).padStart(12)}`) +
        (k.agree === false ? '   counts DISAGREE' : '')
      );
    }),
    `    (totals: no route answers a user's totals alone; this is the summary's read merged counts-only. DuckDB: the medians of the scans above, same run)`,
  ];
}
