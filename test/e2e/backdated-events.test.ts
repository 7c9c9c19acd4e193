import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { finalizeEvent, generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import { startLocalStack, type LocalStack } from '../../lib/local/stack/stack.js';
import { startRelay, type EmbeddedRelay } from '../../lib/local/stack/relay.js';
import type { NostrEvent } from '../../lib/nostr/event.js';
import { publish } from '../chaos/harness.js';

/**
 * Back-dated events (imported archives, scheduled posts) through the real embedded relay and the real
 * local pipeline: one published while the listener runs (the live subscription has no `since`), one
 * published while it is stopped (the catch-up after the restart reads two days before its checkpoint).
 * The relay runs on its own, so it keeps its events while the stack restarts on the same data dir.
 */
const DAY = 86_400;
const getJson = async (url: string) => (await fetch(url)).json() as Promise<any>;

describe('back-dated events, end to end', () => {
  let dataDir: string;
  let relay: EmbeddedRelay;
  let stack: LocalStack | undefined;
  const author = generateSecretKey();
  const pubkey = getPublicKey(author);
  const note = (content: string, createdAt: number) => finalizeEvent({ kind: 1, created_at: createdAt, tags: [], content }, author) as NostrEvent;
  const published: NostrEvent[] = [];
  const stackOn = () => startLocalStack({ dataDir, port: 0, relayPort: 0, relayUrls: [relay.url], simulate: false, batchWindowMs: 20, compactEveryMs: 3_600_000 });
  /** The author's posts in the hour around `event`: a window under a day, so the API caches it only 2 s. */
  const postsAround = (event: NostrEvent) => async () => {
    const window = `startTs=${event.created_at - 1800}&endTs=${event.created_at + 1800}`;
    const summary = await getJson(`${stack!.apiUrl}/api/v2/analytics/user/${pubkey}/summary?${window}`);
    return summary.data?.totals?.posts as number | undefined;
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'funnel-backdated-'));
    relay = await startRelay(0);
  });
  afterAll(async () => {
    await stack?.stop();
    await relay?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('counts a note back-dated by three days that is published while the listener runs', async () => {
    stack = await stackOn();
    await expect.poll(() => stack!.listener.status()[0]!.catchingUp, { timeout: 10_000, interval: 100 }).toBe(false);
    // Older than any `since` a subscription from the checkpoint would carry: the live one has none.
    const whileRunning = note('an imported archive post', Math.floor(Date.now() / 1000) - 3 * DAY);
    await publish(relay.url, [whileRunning]);
    await expect.poll(postsAround(whileRunning), { timeout: 10_000, interval: 100 }).toBe(1);
    published.push(whileRunning);
  });

  it('counts a note back-dated by a day that is published while the listener is stopped, once restarted on the same checkpoints', async () => {
    await stack!.stop();
    // Nobody is subscribed when it is published: the restart's catch-up (saved checkpoint − two days) must
    // find it. Without the saved checkpoint it would read only the initial lookback (600 s for RELAY_URLS).
    const whileStopped = note('a scheduled post, dated yesterday', Math.floor(Date.now() / 1000) - DAY);
    await publish(relay.url, [whileStopped]);
    stack = await stackOn();
    await expect.poll(postsAround(whileStopped), { timeout: 10_000, interval: 100 }).toBe(1);
    // The first one still counts, once, across the restart.
    for (const event of published) expect(await postsAround(event)()).toBe(1);
  });
});
