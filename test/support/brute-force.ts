import { expect } from 'vitest';
import { WorkloadGenerator, seededRandom, simulatedUsers } from '../../lib/local/stack/simulator.js';
import { ingestBatch } from '../../lib/ingest/ingest.js';
import { packEvents } from '../../lib/ingest/message.js';
import { loadVerifier } from '../../lib/nostr/verify.js';
import { normalise, reactionClass } from '../../lib/nostr/normalise.js';
import { MetricsRegistry } from '../../lib/metrics/registry.js';
import { readWatermark } from '../../lib/counters/state.js';
import { userSummary } from '../../lib/query/summary.js';
import { customWindow, rollingWindow, type QueryWindow } from '../../lib/query/window.js';
import type { Retention } from '../../lib/counters/retention.js';
import type { Clock, CounterStore, ObjectStore } from '../../lib/ports.js';
import type { Fact } from '../../lib/facts/schema.js';

/**
 * The counters' promise, checked against the metric definitions of docs/metrics.md written out plainly
 * over facts: for every user and window the totals equal a brute-force pass over the same events.
 * Shared by the e2e check (memory counters, 60 days) and the adapter check (dynalite, a smaller workload).
 */

export interface Workload {
  users: string[];
  facts: Fact[];
  /** the events packed as ingest messages, in time order */
  messages: string[];
}

/**
 * A seeded simulator workload over the `days` before `nowMs` (after the users' bootstrap events). By
 * default the events are spread evenly over the whole time; with `activeEvery: k` they fall in bursts,
 * the first 40 minutes of every k-th hour counting back from now's hour (so the live hour has events),
 * the way people post in sessions. Bursts keep every kind of window edge (a minute, ten minutes, an hour
 * inside a burst, or a quiet hour) while the compactor has k times fewer hours to merge.
 */
export function simulatedWorkload(options: { nowMs: number; days: number; events: number; users: number; seed?: number; activeEvery?: number }): Workload {
  const users = simulatedUsers(options.users);
  const generator = new WorkloadGenerator(users, seededRandom(options.seed ?? 42));
  const nowSeconds = Math.floor(options.nowMs / 1000);
  const start = nowSeconds - options.days * 86400;
  const events = [...generator.bootstrap(start)];
  const every = options.activeEvery ?? 1;
  if (every <= 1) {
    for (let i = 0; i < options.events; i++) events.push(generator.next(start + Math.floor(((i + 0.5) * options.days * 86400) / options.events)));
  } else {
    const nowHour = Math.floor(nowSeconds / 3600);
    const activeMinutes: number[] = [];
    for (let minute = Math.ceil(start / 60); minute * 60 < nowSeconds; minute++) {
      const hour = Math.floor(minute / 60);
      if ((nowHour - hour) % every === 0 && minute % 60 < 40) activeMinutes.push(minute * 60);
    }
    for (let i = 0; i < options.events; i++) {
      const at = activeMinutes[Math.floor(((i + 0.5) * activeMinutes.length) / options.events)]! + ((i * 37) % 60);
      events.push(generator.next(Math.min(at, nowSeconds - 1)));
    }
  }
  return {
    users: users.map((u) => u.pubkey),
    facts: events.map((e) => normalise(e, { relay: null, ingestedAt: 0 })),
    messages: packEvents('wss://sim', events.map((e) => JSON.stringify(e)), 25).bodies,
  };
}

export interface IngestTarget {
  objects: ObjectStore;
  counters: CounterStore;
  clock: Clock;
  retention: Retention;
}

/** Ingests messages through the real ingest path, `perBatch` to an SQS batch, ids `<prefix><index>`. */
export async function ingestMessages(messages: string[], target: IngestTarget, options: { prefix?: string; receiveCount?: number; perBatch?: number } = {}): Promise<void> {
  const verify = await loadVerifier();
  const perBatch = options.perBatch ?? 10;
  for (let i = 0; i < messages.length; i += perBatch) {
    const records = messages.slice(i, i + perBatch).map((body, j) => ({ messageId: `${options.prefix ?? 'm'}${i + j}`, body, receiveCount: options.receiveCount ?? 1 }));
    await ingestBatch(records, { objects: target.objects, counters: target.counters, verify, clock: target.clock, metrics: new MetricsRegistry(), minuteTtlSeconds: target.retention.minuteSeconds });
  }
}

/** The metric definitions of docs/metrics.md over facts; `watermark` bounds what the sketches (settled only) can see. */
export function bruteForce(facts: readonly Fact[], pubkey: string, window: QueryWindow, watermark: number) {
  const inWindow = facts.filter((f) => f.created_at >= window.startTs && f.created_at < window.endTs);
  const received = inWindow.filter((f) => f.target_pubkey === pubkey && (f.type === 'zap' ? f.zap_sender : f.author) !== pubkey);
  const authored = (type: string) => inWindow.filter((f) => f.author === pubkey && f.type === type).length;
  const reactions = (cls: string) => received.filter((f) => f.type === 'reaction' && reactionClass(f.reaction ?? '') === cls).length;
  const zaps = received.filter((f) => f.type === 'zap');
  const engagersOf = (list: readonly Fact[]) => new Set(list.filter((f) => ['reaction', 'repost', 'reply', 'comment', 'zap'].includes(f.type)).map((f) => (f.type === 'zap' ? f.zap_sender : f.author)).filter(Boolean));
  const engagers = engagersOf(received);
  // Sketches are settled, never live: unique engagers count the whole settled hours (and days) inside
  // the window; minute edges and the live tail add to the totals only (docs/metrics.md).
  const settledFrom = Math.ceil(window.startTs / 3600) * 3600;
  const settledTo = Math.min(Math.floor(window.endTs / 3600) * 3600, watermark);
  const settled = received.filter((f) => f.created_at >= settledFrom && f.created_at < settledTo);
  const zappersOf = (list: readonly Fact[]) => new Set(list.filter((f) => f.type === 'zap' && f.zap_sender).map((f) => f.zap_sender));
  // The histogram written out: decades of sats, the last bin open-ended.
  const bins = [0, 10, 100, 1000, 10_000, 100_000];
  const zapAmounts = bins.map((minSats, i) => ({
    minSats,
    maxSats: bins[i + 1] ?? null,
    zaps: zaps.filter((f) => Math.floor((f.zap_msats ?? 0) / 1000) >= minSats && (i + 1 === bins.length || Math.floor((f.zap_msats ?? 0) / 1000) < bins[i + 1]!)).length,
  }));
  return {
    engagersSettled: engagersOf(settled).size,
    zappersSettled: zappersOf(settled).size,
    posts: authored('note'),
    replies: authored('reply'),
    comments: authored('comment'),
    videos: authored('video'),
    reactionsReceived: { total: reactions('like') + reactions('dislike') + reactions('emoji'), likes: reactions('like'), dislikes: reactions('dislike'), emoji: reactions('emoji') },
    repostsReceived: received.filter((f) => f.type === 'repost').length,
    repliesReceived: received.filter((f) => f.type === 'reply' || f.type === 'comment').length,
    zapsReceived: zaps.length,
    zapSatsReceived: Math.floor(zaps.reduce((n, f) => n + (f.zap_msats ?? 0), 0) / 1000),
    zapAmounts,
    uniqueEngagers: engagers.size,
    uniqueZappers: zappersOf(received).size,
  };
}

/** The rolling windows, one custom window with odd edges, and `custom` seeded random windows inside the last `days`. */
export function checkWindows(nowSeconds: number, days: number, custom = 4): QueryWindow[] {
  const random = seededRandom(7);
  const randomWindows = Array.from({ length: custom }, () => {
    const start = nowSeconds - Math.floor(random() * days * 86400);
    return customWindow(start, start + Math.floor(random() * 20 * 86400) + 1, nowSeconds);
  });
  return [...['24h', '7d', '30d', '90d'].map((i) => rollingWindow(i, nowSeconds)), customWindow(nowSeconds - 3 * 86400 - 1234, nowSeconds - 86400 + 77, nowSeconds), ...randomWindows];
}

export interface ExactDeps {
  counters: CounterStore;
  clock: Clock;
  retention: Retention;
  facts: readonly Fact[];
  /** the span of the random custom windows (the workload's days) */
  days: number;
}

/**
 * Every user's summary over every window equals brute force: the exact totals exactly, the unique
 * engagers and zappers of the settled whole hours within HyperLogLog's error. Returns how many
 * (user, window) pairs it checked.
 */
export async function expectExact(users: readonly string[], deps: ExactDeps): Promise<number> {
  const watermark = await readWatermark(deps.counters);
  let checked = 0;
  for (const window of checkWindows(Math.floor(deps.clock.now() / 1000), deps.days)) {
    for (const pubkey of users) {
      const { data, meta } = await userSummary(pubkey, window, { counters: deps.counters, clock: deps.clock, retention: deps.retention });
      const expected = bruteForce(deps.facts, pubkey, window, watermark);
      const { uniqueEngagers, uniqueZappers, ...exact } = data.totals;
      const { uniqueEngagers: _engagers, uniqueZappers: _zappers, engagersSettled, zappersSettled, ...expectedExact } = expected;
      expect({ pubkey, window: [window.startTs, window.endTs], ...exact }).toEqual({ pubkey, window: [window.startTs, window.endTs], ...expectedExact });
      // The engagers and zappers of the settled whole hours (minute items hold no sketch), within
      // HyperLogLog's error: linear counting is within a couple of units at these sizes.
      const slack = (n: number) => Math.max(2, n * 0.05);
      for (const [counted, settledCount] of [[uniqueEngagers, engagersSettled], [uniqueZappers, zappersSettled]] as const) {
        expect(counted, `${pubkey} ${window.startTs}`).toBeGreaterThanOrEqual(settledCount - slack(settledCount));
        expect(counted, `${pubkey} ${window.startTs}`).toBeLessThanOrEqual(settledCount + slack(settledCount));
      }
      expect(meta.partialReason).toBeNull();
      checked++;
    }
  }
  return checked;
}
