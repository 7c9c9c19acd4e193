import { expect } from 'vitest';
import { WorkloadGenerator, seededRandom, simulatedUsers } from '../../lib/local/simulator.js';
import { ingestBatch } from '../../lib/ingest/ingest.js';
import { packEvents } from '../../lib/ingest/message.js';
import { loadVerifier } from '../../lib/nostr/verify.js';
import { normalise, reactionClass } from '../../lib/nostr/normalise.js';
import { MetricsRegistry } from '../../lib/metrics/registry.js';
import { readWatermark } from '../../lib/counters/state.js';
import { retentionFromEnv } from '../../lib/counters/retention.js';
import { userSummary } from '../../lib/query/summary.js';
import { customWindow, rollingWindow, type QueryWindow } from '../../lib/query/window.js';
import type { Fact } from '../../lib/facts/schema.js';
import { compactAndSettle } from '../../lib/facts/compact.js';
import { localStores } from './local.js';

/**
 * The brute-force workload the e2e files share: 60 days of the simulator's signed events ingested
 * through the real ingest, and the metric definitions of docs/metrics.md written out plainly over
 * the same facts, so counters (and jobs) can be held to them for every user and window.
 */
export const NOW_MS = Date.parse('2026-11-20T15:37:20Z');
export const DAYS = 60;
const EVENTS = 1500;
// Generous retention: the whole workload is inside every TTL, so every window is answerable exactly.
export const retention = retentionFromEnv({ MINUTE_TTL_DAYS: '100', HOUR_TTL_DAYS: '100' });

export const activeUsers = () => simulatedUsers(30).map((u) => u.pubkey).slice(0, 12);

export async function bruteForceWorkload() {
  const stores = await localStores();
  const clock = { ms: NOW_MS, now() { return this.ms; } };
  const users = simulatedUsers(30);
  const generator = new WorkloadGenerator(users, seededRandom(42));
  const start = Math.floor(NOW_MS / 1000) - DAYS * 86400;
  const events = [...generator.bootstrap(start)];
  for (let i = 0; i < EVENTS; i++) events.push(generator.next(start + Math.floor(((i + 0.5) * DAYS * 86400) / EVENTS)));
  const facts: Fact[] = events.map((e) => normalise(e, { relay: null, ingestedAt: 0 }));
  const messages = packEvents('wss://sim', events.map((e) => JSON.stringify(e)), 25).bodies;
  const verify = await loadVerifier();
  const ingest = async (bodies: string[], receiveCount: number, prefix: string) => {
    for (let i = 0; i < bodies.length; i += 10) {
      const records = bodies.slice(i, i + 10).map((body, j) => ({ messageId: `${prefix}${i + j}`, body, receiveCount }));
      await ingestBatch(records, { objects: stores.objects, counters: stores.counters, verify, clock, metrics: new MetricsRegistry(), minuteTtlSeconds: retention.minuteSeconds });
    }
  };
  await ingest(messages, 1, 'm');
  let watermarkNow = 0;

  function bruteForce(pubkey: string, window: QueryWindow) {
    const inWindow = facts.filter((f) => f.created_at >= window.startTs && f.created_at < window.endTs);
    const received = inWindow.filter((f) => f.target_pubkey === pubkey && (f.type === 'zap' ? f.zap_sender : f.author) !== pubkey);
    const authored = (type: string) => inWindow.filter((f) => f.author === pubkey && f.type === type).length;
    const reactions = (cls: string) => received.filter((f) => f.type === 'reaction' && reactionClass(f.reaction ?? '') === cls).length;
    const zaps = received.filter((f) => f.type === 'zap');
    const engagersOf = (list: Fact[]) => new Set(list.filter((f) => ['reaction', 'repost', 'reply', 'comment', 'zap'].includes(f.type)).map((f) => (f.type === 'zap' ? f.zap_sender : f.author)).filter(Boolean));
    const engagers = engagersOf(received);
    // Sketches are settled, never live: unique engagers count the whole settled hours (and days) inside
    // the window; minute edges and the live tail add to the totals only (docs/metrics.md).
    const settledFrom = Math.ceil(window.startTs / 3600) * 3600;
    const settledTo = Math.min(Math.floor(window.endTs / 3600) * 3600, watermarkNow);
    const engagersSettled = engagersOf(received.filter((f) => f.created_at >= settledFrom && f.created_at < settledTo));
    return {
      engagersSettled: engagersSettled.size,
      posts: authored('note'),
      replies: authored('reply'),
      comments: authored('comment'),
      videos: authored('video'),
      reactionsReceived: { total: reactions('like') + reactions('dislike') + reactions('emoji'), likes: reactions('like'), dislikes: reactions('dislike'), emoji: reactions('emoji') },
      repostsReceived: received.filter((f) => f.type === 'repost').length,
      repliesReceived: received.filter((f) => f.type === 'reply' || f.type === 'comment').length,
      zapsReceived: zaps.length,
      zapSatsReceived: Math.floor(zaps.reduce((n, f) => n + (f.zap_msats ?? 0), 0) / 1000),
      uniqueEngagers: engagers.size,
    };
  }

  function windows(): QueryWindow[] {
    const now = Math.floor(clock.now() / 1000);
    const random = seededRandom(7);
    const custom = Array.from({ length: 4 }, () => {
      const start = now - Math.floor(random() * DAYS * 86400);
      return customWindow(start, start + Math.floor(random() * 20 * 86400) + 1, now);
    });
    return [...['24h', '7d', '30d', '90d'].map((i) => rollingWindow(i, now)), customWindow(now - 3 * 86400 - 1234, now - 86400 + 77, now), ...custom];
  }

  /** Every active user's summary over every window equals brute force (unique engagers within HyperLogLog's error). */
  async function expectExact(pubkeys: string[]) {
    watermarkNow = await readWatermark(stores.counters);
    for (const window of windows()) {
      for (const pubkey of pubkeys) {
        const { data, meta } = await userSummary(pubkey, window, { counters: stores.counters, clock, retention });
        const expected = bruteForce(pubkey, window);
        const { uniqueEngagers, ...exact } = data.totals;
        const { uniqueEngagers: expectedEngagers, engagersSettled, ...expectedExact } = expected;
        expect({ pubkey, window: [window.startTs, window.endTs], ...exact }).toEqual({ pubkey, window: [window.startTs, window.endTs], ...expectedExact });
        // The engagers of the settled whole hours (minute items hold no sketch), within HyperLogLog's
        // error: linear counting is within a couple of units at these sizes.
        const slack = (n: number) => Math.max(2, n * 0.05);
        expect(uniqueEngagers, `${pubkey} ${window.startTs}`).toBeGreaterThanOrEqual(engagersSettled - slack(engagersSettled));
        expect(uniqueEngagers, `${pubkey} ${window.startTs}`).toBeLessThanOrEqual(engagersSettled + slack(engagersSettled));
        expect(meta.partialReason).toBeNull();
      }
    }
  }

  return {
    stores,
    clock,
    facts,
    /** redelivers these messages (receive count 2), as SQS would after a crash */
    redeliver: (bodies: string[]) => ingest(bodies, 2, 'again'),
    messages,
    bruteForce,
    expectExact,
    compact: () => compactAndSettle({ objects: stores.objects, counters: stores.counters, sql: stores.sql, tables: stores.tables, clock, retention }),
  };
}
