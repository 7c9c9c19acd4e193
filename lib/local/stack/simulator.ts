import { createHash } from 'node:crypto';
import WebSocket from 'ws';
import { finalizeEvent, getPublicKey, type EventTemplate, type VerifiedEvent } from 'nostr-tools/pure';
import { Relay, useWebSocketImplementation } from 'nostr-tools/relay';
import type { EventSigner } from '../../nostr/sign.js';
import { addressOf } from '../../nostr/tags.js';

useWebSocketImplementation(WebSocket);

export interface SimUser {
  secretKey: Uint8Array;
  pubkey: string;
  /** Zipf weight: user i is 1/(i+1)^s as likely to act and to be engaged with */
  weight: number;
}

/** Deterministic keys, so the same simulated users (and their pubkeys) come back on every run. */
export function simulatedUsers(count: number, zipfExponent = 1.1): SimUser[] {
  return Array.from({ length: count }, (_, i) => {
    const secretKey = new Uint8Array(createHash('sha256').update(`funnel-simulated-user-${i}`).digest());
    return { secretKey, pubkey: getPublicKey(secretKey), weight: 1 / (i + 1) ** zipfExponent };
  });
}

const ZAPPER_KEY = new Uint8Array(createHash('sha256').update('funnel-simulated-lnurl-zapper').digest());
/** bech32's alphabet (BOLT-11's data part), which has no `1`, `b`, `i` or `o`. */
const BECH32_CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const HASHTAGS = ['nostr', 'bitcoin', 'video', 'music', 'art', 'dev', 'zap', 'photography', 'news', 'memes'];
const EMOJI = ['🤙', '🔥', '❤️', '😂', ':catjam:'];
const SATS = [21, 100, 500, 1000, 5000, 21000];

/** A deterministic pseudo-random source (mulberry32), so a seeded workload is reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A NIP-57 zap as a wallet and an LNURL server make one: the sender's zap request (kind 9734) in the
 * `description` of a receipt (kind 9735) signed by the server's key, with a bolt11 invoice for `sats`.
 */
export function signedZap(senderKey: Uint8Array, target: { id: string; pubkey: string; address?: string }, sats: number, createdAt: number, signer: EventSigner = (key, template) => finalizeEvent(template, key)): VerifiedEvent {
  const request = signer(senderKey, {
    kind: 9734,
    created_at: createdAt,
    tags: [['relays', 'ws://127.0.0.1'], ['amount', String(sats * 1000)], ['p', target.pubkey], ['e', target.id], ...(target.address ? [['a', target.address]] : [])],
    content: '',
  });
  // bolt11 human-readable part: `n` is 10^-9 BTC, i.e. 0.1 sat, so sats × 10 with the `n` multiplier.
  // The data part is bech32 (no `1`: the last `1` separates it), here the request id spelled in it.
  const data = [...request.id.slice(0, 40)].map((hex) => BECH32_CHARSET[parseInt(hex, 16)]).join('');
  const bolt11 = `lnbc${sats * 10}n1p${data}`;
  return signer(ZAPPER_KEY, {
    kind: 9735,
    created_at: createdAt,
    tags: [['p', target.pubkey], ['P', request.pubkey], ['e', target.id], ...(target.address ? [['a', target.address]] : []), ['bolt11', bolt11], ['description', JSON.stringify(request)]],
    content: '',
  });
}

interface Published {
  id: string;
  pubkey: string;
  kind: number;
  address?: string;
}

/**
 * Generates a realistic signed workload: Zipf-distributed authors and engagement, notes, NIP-10
 * replies, NIP-25 reactions, NIP-18 reposts, NIP-57 zap receipts, NIP-71 videos, NIP-22 comments,
 * NIP-09 deletions, profiles and contact lists.
 */
export class WorkloadGenerator {
  private readonly recent: Published[] = [];
  private readonly cumulative: number[];
  private readonly totalWeight: number;
  private videoCounter = 0;

  constructor(
    readonly users: SimUser[],
    private readonly random: () => number = Math.random,
    /** nostr-tools (pure JS) by default; workloads of thousands pass a faster signer (lib/nostr/sign.ts) */
    private readonly signer: EventSigner = (secretKey, template) => finalizeEvent(template, secretKey),
  ) {
    let sum = 0;
    this.cumulative = users.map((u) => (sum += u.weight));
    this.totalWeight = sum;
  }

  /** The profile and contact list of every user (replaceable kinds 0 and 3). */
  bootstrap(createdAt: number): VerifiedEvent[] {
    return this.users.flatMap((user, i) => [
      this.sign(user.secretKey, { kind: 0, created_at: createdAt, tags: [], content: JSON.stringify({ name: `sim-user-${i}` }) }),
      this.sign(user.secretKey, {
        kind: 3,
        created_at: createdAt,
        tags: this.users.filter((u) => u !== user && this.random() < 0.2).map((u) => ['p', u.pubkey]),
        content: '',
      }),
    ]);
  }

  next(createdAt: number): VerifiedEvent {
    const actor = this.pickUser();
    const roll = this.random();
    const target = this.pickTarget(actor.pubkey);
    if (!target || roll < 0.28) return this.remember(this.note(actor, createdAt));
    if (roll < 0.42) return this.remember(this.reply(actor, target, createdAt));
    if (roll < 0.72) return this.reaction(actor, target, createdAt);
    if (roll < 0.79) return this.repost(actor, target, createdAt);
    if (roll < 0.87) return this.zap(actor, target, createdAt);
    if (roll < 0.92) return this.remember(this.video(actor, createdAt));
    if (roll < 0.97) return this.remember(this.comment(actor, target, createdAt));
    return this.deletion(actor, createdAt) ?? this.remember(this.note(actor, createdAt));
  }

  private note(actor: SimUser, createdAt: number): VerifiedEvent {
    const tags = this.hashtags();
    return this.sign(actor.secretKey, { kind: 1, created_at: createdAt, tags, content: `simulated note ${this.random().toString(36).slice(2)} ${tags.map((t) => `#${t[1]}`).join(' ')}` });
  }

  private reply(actor: SimUser, target: Published, createdAt: number): VerifiedEvent {
    return this.sign(actor.secretKey, {
      kind: 1,
      created_at: createdAt,
      tags: [
        ['e', target.id, '', 'root', target.pubkey],
        ['p', target.pubkey],
      ],
      content: 'simulated reply',
    });
  }

  private reaction(actor: SimUser, target: Published, createdAt: number): VerifiedEvent {
    const r = this.random();
    const content = r < 0.75 ? '+' : r < 0.82 ? '-' : EMOJI[Math.floor(this.random() * EMOJI.length)]!;
    const tags = [['e', target.id], ['p', target.pubkey], ['k', String(target.kind)]];
    if (target.address) tags.push(['a', target.address]);
    return this.sign(actor.secretKey, { kind: 7, created_at: createdAt, tags, content });
  }

  private repost(actor: SimUser, target: Published, createdAt: number): VerifiedEvent {
    const kind = target.kind === 1 ? 6 : 16;
    const tags = [['e', target.id, ''], ['p', target.pubkey]];
    if (kind === 16) tags.push(['k', String(target.kind)]);
    if (target.address) tags.push(['a', target.address]);
    return this.sign(actor.secretKey, { kind, created_at: createdAt, tags, content: '' });
  }

  private zap(actor: SimUser, target: Published, createdAt: number): VerifiedEvent {
    const sats = SATS[Math.floor(this.random() * SATS.length)]!;
    return signedZap(actor.secretKey, target, sats, createdAt, this.signer);
  }

  private video(actor: SimUser, createdAt: number): VerifiedEvent {
    const d = `sim-video-${++this.videoCounter}-${this.random().toString(36).slice(2, 8)}`;
    const hashtags = [['t', 'video'], ...this.hashtags()];
    return this.sign(actor.secretKey, {
      kind: 34236,
      created_at: createdAt,
      tags: [
        ['d', d],
        ['title', `Simulated clip ${this.videoCounter}`],
        ['imeta', `url https://media.example/${d}.mp4`, 'm video/mp4', `image https://media.example/${d}.jpg`, `duration ${5 + Math.floor(this.random() * 55)}`],
        ['published_at', String(createdAt)],
        ...hashtags,
      ],
      content: 'simulated short video',
    });
  }

  private comment(actor: SimUser, target: Published, createdAt: number): VerifiedEvent {
    const rootTag = target.address ? ['A', target.address] : ['E', target.id, '', target.pubkey];
    const parentTag = target.address ? ['a', target.address] : ['e', target.id, '', target.pubkey];
    return this.sign(actor.secretKey, {
      kind: 1111,
      created_at: createdAt,
      tags: [rootTag, ['K', String(target.kind)], ['P', target.pubkey], parentTag, ['k', String(target.kind)], ['p', target.pubkey]],
      content: 'simulated comment',
    });
  }

  private deletion(actor: SimUser, createdAt: number): VerifiedEvent | null {
    const index = this.recent.findIndex((p) => p.pubkey === actor.pubkey && p.kind === 1);
    if (index < 0) return null;
    const [victim] = this.recent.splice(index, 1);
    return this.sign(actor.secretKey, { kind: 5, created_at: createdAt, tags: [['e', victim!.id], ['k', '1']], content: 'deleted' });
  }

  private hashtags(): string[][] {
    const n = Math.floor(this.random() * 3);
    return Array.from({ length: n }, () => ['t', HASHTAGS[Math.floor(this.random() * HASHTAGS.length)]!]);
  }

  private pickUser(): SimUser {
    const x = this.random() * this.totalWeight;
    let lo = 0;
    let hi = this.cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.cumulative[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return this.users[lo]!;
  }

  /** Engagement follows popularity: pick a Zipf author, then one of their recent posts. */
  private pickTarget(actor: string): Published | undefined {
    for (let attempt = 0; attempt < 4; attempt++) {
      const author = this.pickUser().pubkey;
      if (author === actor) continue;
      const theirs = this.recent.filter((p) => p.pubkey === author);
      if (theirs.length) return theirs[Math.floor(this.random() * Math.min(theirs.length, 20))];
    }
    return this.recent.find((p) => p.pubkey !== actor);
  }

  private remember(event: VerifiedEvent): VerifiedEvent {
    const address = addressOf(event) ?? undefined;
    this.recent.unshift({ id: event.id, pubkey: event.pubkey, kind: event.kind, address });
    if (this.recent.length > 2000) this.recent.pop();
    return event;
  }

  private sign(secretKey: Uint8Array, template: EventTemplate): VerifiedEvent {
    return this.signer(secretKey, template);
  }
}

export interface SimulatorOptions {
  relayUrl: string;
  users?: number;
  /** events per second, live */
  rate?: number;
  /** events spread over the past `historyHours` at start, so summaries have something to show at once */
  historyEvents?: number;
  historyHours?: number;
  log?: (msg: string) => void;
}

/** Publishes the generated workload to a relay over WebSocket with nostr-tools, as any client would. */
export class Simulator {
  readonly generator: WorkloadGenerator;
  private relay: Relay | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  published = 0;

  constructor(private readonly options: SimulatorOptions) {
    this.generator = new WorkloadGenerator(simulatedUsers(options.users ?? 50));
  }

  get users(): SimUser[] {
    return this.generator.users;
  }

  async start(): Promise<void> {
    this.relay = await Relay.connect(this.options.relayUrl);
    const now = Math.floor(Date.now() / 1000);
    const historyHours = this.options.historyHours ?? 24;
    const historyEvents = this.options.historyEvents ?? 300;
    await this.publishAll(this.generator.bootstrap(now - historyHours * 3600));
    const history = Array.from({ length: historyEvents }, (_, i) => now - historyHours * 3600 + Math.floor(((i + 1) * historyHours * 3600) / (historyEvents + 1)));
    await this.publishAll(history.map((t) => this.generator.next(t)));
    const rate = this.options.rate ?? 5;
    const tickMs = 200;
    let carry = 0;
    this.timer = setInterval(() => {
      carry += (rate * tickMs) / 1000;
      const n = Math.floor(carry);
      carry -= n;
      const createdAt = Math.floor(Date.now() / 1000);
      void this.publishAll(Array.from({ length: n }, () => this.generator.next(createdAt)));
    }, tickMs);
  }

  private async publishAll(events: VerifiedEvent[]): Promise<void> {
    for (const event of events) {
      if (this.stopped || !this.relay) return;
      try {
        await this.relay.publish(event);
        this.published++;
      } catch (error) {
        // A publish cut short by stop() is expected, not worth a line.
        if (!this.stopped) this.options.log?.(`simulator: publish failed: ${(error as Error).message}`);
      }
    }
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.relay?.close();
  }
}
