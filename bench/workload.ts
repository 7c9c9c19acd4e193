import { newFact, type Fact, type FactType } from '../lib/facts/schema.js';
import type { NostrEvent } from '../lib/nostr/event.js';
import { seededRandom } from '../lib/local/stack/simulator.js';

/*
 * Generated facts for the benches, as ingest would normalise them (no signatures: the counters, the
 * compactor and DuckDB work on facts). The counters bench draws a fixed 60-day history
 * (generateFacts); the load bench streams the design-load mix (DesignLoad). Both build each kind of
 * fact with the same FactFactory, so a reply or a zap looks the same in either.
 */

export const BENCH_RELAY = 'wss://relay.bench.example';

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const EMOJI = ['🤙', '🔥', '❤️', '😂', ':catjam:', '🫂', '⚡'];
const SATS = [21, 21, 100, 100, 500, 1000, 1000, 2100, 5000, 21000];
const VIDEO_KINDS = [34235, 34235, 34235, 34235, 34235, 34235, 34236, 21, 21, 22];
/** relay lists, long-form, reports, file metadata, mute lists, app data, bookmarks */
const OTHER_KINDS = [10002, 10002, 30023, 1984, 1063, 10000, 30078, 10003];
const TAG_NAMES = ['nostr', 'bitcoin', 'video', 'music', 'art', 'dev', 'zap', 'photography', 'news', 'memes', 'grownostr', 'plebchain'];

interface Post {
  id: string;
  author: string;
  kind: number;
  address: string | null;
  root: string | null;
  createdAt: number;
}

/** Samples ranks 0..n-1 with P(i) ∝ 1/(i+1)^s. */
export function zipfSampler(n: number, s: number, random: () => number): () => number {
  const cumulative = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) cumulative[i] = total += 1 / (i + 1) ** s;
  return () => {
    const u = random() * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

export interface FactFactoryOptions {
  users: number;
  zipf: number;
  seed: number;
  /** posts remembered per author as engagement targets */
  poolSize: number;
  /** 'oldest': a new post pushes out the oldest; 'random': it replaces a random one (the pool spans a longer past) */
  replace: 'oldest' | 'random';
  /** posts older than this (seconds before the engaging event) are no longer targets; unbounded by default */
  targetMaxAgeSeconds?: number;
  /** with 'random': the chance a new post of `rank` enters its full pool (so the pool samples a longer past evenly); 1 by default */
  admit?: (rank: number) => number;
}

/** Zipf-ranked authors, their recent posts, and the fields each type of fact carries. */
export class FactFactory {
  readonly random: () => number;
  readonly pubkeys: string[];
  readonly pick: () => number;
  private readonly tags: string[];
  private readonly pickTag: () => number;
  private readonly zapServers: string[];
  /** each author's recent posts (bounded), the targets of engagement */
  private readonly pools: Post[][];
  private readonly lastVideoD: (string | null)[];

  constructor(private readonly options: FactFactoryOptions) {
    // The order of the random draws below is the counters bench's: its workload stays the same.
    this.random = seededRandom(options.seed);
    this.pubkeys = Array.from({ length: options.users }, () => this.hex64());
    this.pick = zipfSampler(options.users, options.zipf, this.random);
    this.tags = Array.from({ length: 300 }, (_, i) => (i < TAG_NAMES.length ? TAG_NAMES[i]! : `tag${i}`));
    this.pickTag = zipfSampler(this.tags.length, 1.0, this.random);
    this.zapServers = Array.from({ length: 4 }, () => this.hex64());
    this.pools = this.pubkeys.map(() => []);
    this.lastVideoD = this.pubkeys.map(() => null);
  }

  hex64(): string {
    let out = '';
    for (let i = 0; i < 8; i++) {
      const word = (this.random() * 4294967296) >>> 0;
      out += HEX[word >>> 24]! + HEX[(word >>> 16) & 255]! + HEX[(word >>> 8) & 255]! + HEX[word & 255]!;
    }
    return out;
  }

  /** A note of `rank` created at `createdAt` that only exists as a target (history before the run). */
  seedPost(rank: number, createdAt: number): void {
    this.remember(rank, { id: this.hex64(), author: this.pubkeys[rank]!, kind: 1, address: null, root: null, createdAt });
  }

  private remember(rank: number, post: Post): void {
    const pool = this.pools[rank]!;
    if (pool.length < this.options.poolSize) pool.push(post);
    else if (this.options.replace === 'random') {
      if (this.options.admit && this.random() >= this.options.admit(rank)) return;
      pool[Math.floor(this.random() * pool.length)] = post;
    }
    else {
      pool.push(post);
      pool.shift();
    }
  }

  /** a recent post of a Zipf-chosen author; prefers a video when asked */
  private target(at: number, wantVideo: boolean): { rank: number; post: Post } | null {
    const maxAge = this.options.targetMaxAgeSeconds;
    for (let attempt = 0; attempt < 8; attempt++) {
      const rank = this.pick();
      let pool = this.pools[rank]!;
      if (maxAge !== undefined) pool = pool.filter((p) => p.createdAt >= at - maxAge);
      if (!pool.length) continue;
      if (wantVideo) {
        const videos = pool.filter((p) => p.kind !== 1);
        if (videos.length) return { rank, post: videos[Math.floor(this.random() * videos.length)]! };
      }
      // A 'random' pool is not in time order: any of its posts. Otherwise recent posts draw more engagement.
      const index = this.options.replace === 'random' ? Math.floor(this.random() * pool.length) : pool.length - 1 - Math.floor(pool.length * this.random() * this.random());
      return { rank, post: pool[index]! };
    }
    return null;
  }

  private hashtags(max: number): string[] {
    if (this.random() < 0.55) return [];
    const n = 1 + Math.floor(this.random() * max);
    const out = new Set<string>();
    for (let i = 0; i < n; i++) out.add(this.tags[this.pickTag()]!);
    return [...out];
  }

  /**
   * A fact of `type` by the author of rank `actorRank`; engagement that finds no target becomes a note.
   * `serial` names videos. A function for `type` is drawn after the fact's id and arrival jitter.
   */
  make(chooseType: FactType | (() => FactType), actorRank: number, createdAt: number, arrivalSeconds: number, serial: number): Fact {
    const random = this.random;
    const actor = this.pubkeys[actorRank]!;
    const fact: Fact = newFact({
      event_id: this.hex64(),
      source: 'nostr',
      kind: 1,
      type: 'note',
      created_at: createdAt,
      author: actor,
      relay: BENCH_RELAY,
      ingested_at: arrivalSeconds * 1000 + Math.floor(random() * 1000),
    });
    let type = typeof chooseType === 'function' ? chooseType() : chooseType;
    const engagement = type === 'reply' || type === 'reaction' || type === 'repost' || type === 'zap' || type === 'comment';
    const aimed = engagement ? this.target(createdAt, type === 'comment') : null;
    if (engagement && !aimed) type = 'note';
    switch (type) {
      case 'note':
        fact.hashtags = this.hashtags(3);
        this.remember(actorRank, { id: fact.event_id, author: actor, kind: 1, address: null, root: null, createdAt });
        break;
      case 'reply': {
        const { post } = aimed!;
        fact.type = 'reply';
        fact.root_event_id = post.root ?? post.id;
        fact.parent_event_id = post.id;
        fact.target_event_id = post.id;
        // NIP-10: several distinct `p` tags and no hint on the `e` tag leave the target unknown (count for nobody).
        fact.target_pubkey = random() < 0.02 ? null : post.author;
        fact.hashtags = this.hashtags(2);
        this.remember(actorRank, { id: fact.event_id, author: actor, kind: 1, address: null, root: fact.root_event_id, createdAt });
        break;
      }
      case 'comment': {
        const { post } = aimed!;
        fact.kind = 1111;
        fact.type = 'comment';
        fact.root_event_id = post.root ?? post.id;
        fact.parent_event_id = post.id;
        fact.target_event_id = post.id;
        fact.target_address = post.address;
        fact.target_pubkey = post.author;
        break;
      }
      case 'reaction': {
        const { post } = aimed!;
        const r = random();
        fact.kind = 7;
        fact.type = 'reaction';
        fact.reaction = r < 0.62 ? '+' : r < 0.67 ? '' : r < 0.72 ? '-' : EMOJI[Math.floor(random() * EMOJI.length)]!;
        fact.target_event_id = post.id;
        fact.target_address = post.address;
        fact.target_pubkey = post.author;
        break;
      }
      case 'repost': {
        const { post } = aimed!;
        fact.kind = post.kind === 1 ? 6 : 16;
        fact.type = 'repost';
        fact.target_event_id = post.id;
        fact.target_address = post.address;
        fact.target_pubkey = post.author;
        break;
      }
      case 'zap': {
        const { rank, post } = aimed!;
        fact.kind = 9735;
        fact.type = 'zap';
        // The receipt is signed by the recipient's LNURL server (now and then the recipient's own key).
        fact.author = random() < 0.03 ? post.author : this.zapServers[rank % this.zapServers.length]!;
        fact.zap_sender = random() < 0.04 ? null : actor;
        fact.zap_msats = random() < 0.01 ? null : SATS[Math.floor(random() * SATS.length)]! * 1000;
        fact.target_pubkey = post.author;
        if (random() < 0.85) {
          fact.target_event_id = post.id;
          fact.target_address = post.address;
        }
        break;
      }
      case 'video': {
        const kind = VIDEO_KINDS[Math.floor(random() * VIDEO_KINDS.length)]!;
        fact.kind = kind;
        fact.type = 'video';
        fact.hashtags = this.hashtags(4);
        fact.title = `bench video ${serial}`;
        fact.media_url = `https://media.bench.example/${fact.event_id.slice(0, 16)}.mp4`;
        fact.image_url = `https://media.bench.example/${fact.event_id.slice(0, 16)}.jpg`;
        fact.duration_s = 10 + Math.floor(random() * 600);
        fact.published_at = createdAt;
        if (kind >= 30000) {
          // A quarter of addressable videos are new revisions of the author's last one.
          const d = this.lastVideoD[actorRank] !== null && random() < 0.25 ? this.lastVideoD[actorRank]! : fact.event_id.slice(0, 12);
          this.lastVideoD[actorRank] = d;
          fact.d_tag = d;
          fact.target_address = `${kind}:${actor}:${d}`;
        }
        this.remember(actorRank, { id: fact.event_id, author: actor, kind, address: fact.target_address, root: null, createdAt });
        break;
      }
      case 'deletion': {
        fact.kind = 5;
        fact.type = 'deletion';
        const pool = this.pools[actorRank]!;
        const own = pool.findIndex((p) => p.kind === 1);
        fact.target_event_id = own >= 0 ? pool.splice(own, 1)[0]!.id : this.hex64();
        // An evenly sampled pool stays one: another post of the author's window takes the deleted one's place.
        const window = this.options.targetMaxAgeSeconds;
        if (own >= 0 && this.options.replace === 'random' && window !== undefined) this.seedPost(actorRank, createdAt - Math.floor(random() * window));
        break;
      }
      case 'profile':
        fact.kind = 0;
        fact.type = 'profile';
        break;
      case 'contacts':
        fact.kind = 3;
        fact.type = 'contacts';
        break;
      case 'other': {
        const kind = OTHER_KINDS[Math.floor(random() * OTHER_KINDS.length)]!;
        fact.kind = kind;
        fact.type = 'other';
        if (kind >= 30000) {
          fact.d_tag = fact.event_id.slice(0, 8);
          fact.target_address = `${kind}:${actor}:${fact.d_tag}`;
        }
        break;
      }
      default:
        break;
    }
    return fact;
  }
}

/** Generates facts as ingest would normalise them, in arrival order (≈ created_at order). */
export function generateFacts(options: { facts: number; users: number; zipf: number; seed: number; startTs: number; endTs: number }): Fact[] {
  const factory = new FactFactory({ users: options.users, zipf: options.zipf, seed: options.seed, poolSize: 16, replace: 'oldest' });
  const random = factory.random;
  const span = options.endTs - options.startTs;
  const facts: Fact[] = new Array(options.facts);
  for (let i = 0; i < options.facts; i++) {
    const arrival = options.startTs + Math.floor(((i + random()) * span) / options.facts);
    // A few events arrive late (clients offline, relays catching up): created_at up to 10 minutes back.
    const createdAt = random() < 0.01 ? Math.max(options.startTs, arrival - Math.floor(random() * 600)) : arrival;
    const actorRank = factory.pick();
    facts[i] = factory.make(() => {
      const roll = random();
      // notes 30%, replies 12%, reactions 35%, reposts 7%, zaps 8%, videos 3%, comments 4%, deletions 1%
      return roll < 0.3 ? 'note' : roll < 0.42 ? 'reply' : roll < 0.77 ? 'reaction' : roll < 0.84 ? 'repost' : roll < 0.92 ? 'zap' : roll < 0.95 ? 'video' : roll < 0.99 ? 'comment' : 'deletion';
    }, actorRank, createdAt, arrival, i);
  }
  return facts;
}

/** The kind 5 event behind a deletion fact, enough for the event index's deletion records. */
export function deletionEvent(fact: Fact): NostrEvent {
  const tags = fact.target_event_id ? [['e', fact.target_event_id]] : fact.target_address ? [['a', fact.target_address]] : [];
  return { id: fact.event_id, pubkey: fact.author, kind: 5, created_at: fact.created_at, tags, content: '', sig: '0'.repeat(128) };
}

/** Shares of the design-load mix by type (DESIGN §7's 5,000 events/s). */
export const DESIGN_MIX: Readonly<Partial<Record<FactType, number>>> = {
  reaction: 0.35,
  note: 0.15,
  reply: 0.1,
  repost: 0.1,
  zap: 0.1,
  video: 0.02,
  comment: 0.03,
  profile: 0.03,
  contacts: 0.02,
  deletion: 0.01,
  other: 0.09,
};

export interface DesignLoadOptions {
  /** deliveries per second of arrival time (copies included) */
  eventsPerSecond: number;
  /** daily active authors, Zipf-ranked (default 200,000) */
  authors?: number;
  /** Zipf exponent of who acts and who is engaged with (default 1.1) */
  zipf?: number;
  seed?: number;
  /** first arrival, unix seconds */
  startTs: number;
  /** engagement targets posts at most this old (default two days); the history before startTs is seeded */
  targetWindowSeconds?: number;
  /** posts remembered per author as targets (default 8) */
  poolSize?: number;
  /** share of events whose created_at is back-dated, uniformly up to backdateMaxSeconds (default 1 %, two days) */
  backdatedShare?: number;
  backdateMaxSeconds?: number;
  /** share of events delivered a second time, up to duplicateDelayMaxSeconds later (default 0.5 %, 30 s) */
  duplicateShare?: number;
  duplicateDelayMaxSeconds?: number;
  mix?: Readonly<Partial<Record<FactType, number>>>;
}

export interface Delivery {
  fact: Fact;
  /** arrival, unix ms (also the fact's ingested_at) */
  arrivalMs: number;
  /** a second delivery of an event delivered before */
  copy: boolean;
}

/**
 * The design load as a stream of deliveries in arrival order: Zipf-ranked authors, engagement aimed
 * Zipf-wise at their posts of the last two days (an author by Zipf rank, then one of an even sample of
 * that author's posts of the window, seeded before the start so the first minute already has old
 * targets), a share of back-dated events and a share delivered twice (a relay resending, a second
 * relay). Memory is bounded by the authors' post pools, not by how many events are drawn.
 */
export class DesignLoad {
  readonly authors: number;
  private readonly factory: FactFactory;
  private readonly types: FactType[];
  private readonly thresholds: number[];
  private readonly pending: { arrivalMs: number; fact: Fact }[] = [];
  private slot = 0;
  private readonly startMs: number;

  constructor(private readonly options: DesignLoadOptions) {
    this.authors = options.authors ?? 200_000;
    const window = options.targetWindowSeconds ?? 2 * 86400;
    const poolSize = options.poolSize ?? 8;
    const zipf = options.zipf ?? 1.1;
    const mixShares = options.mix ?? DESIGN_MIX;
    // Each pool is an even sample of its author's posts over the window: a post enters with the chance
    // poolSize ÷ the posts the author makes in a window (Zipf share × the rate of remembered types).
    let harmonic = 0;
    for (let r = 0; r < this.authors; r++) harmonic += 1 / (r + 1) ** zipf;
    const postsPerSecond = options.eventsPerSecond * ((mixShares.note ?? 0) + (mixShares.reply ?? 0) + (mixShares.video ?? 0));
    const admit = (rank: number) => Math.min(1, poolSize / ((postsPerSecond * window) / ((rank + 1) ** zipf * harmonic)));
    this.factory = new FactFactory({ users: this.authors, zipf, seed: options.seed ?? 11, poolSize, replace: 'random', targetMaxAgeSeconds: window, admit });
    const random = this.factory.random;
    for (let rank = 0; rank < this.authors; rank++) {
      for (let i = 0; i < poolSize; i++) this.factory.seedPost(rank, options.startTs - 1 - Math.floor(random() * window));
    }
    const mix = Object.entries(mixShares) as [FactType, number][];
    const total = mix.reduce((sum, [, share]) => sum + share, 0);
    let cumulative = 0;
    this.types = mix.map(([type]) => type);
    this.thresholds = mix.map(([, share]) => (cumulative += share / total));
    this.startMs = options.startTs * 1000;
  }

  next(): Delivery {
    const arrivalMs = this.startMs + Math.floor((this.slot++ * 1000) / this.options.eventsPerSecond);
    const due = this.pending[0];
    if (due && due.arrivalMs <= arrivalMs) {
      this.pending.shift();
      return { fact: { ...due.fact, ingested_at: arrivalMs, relay: 'wss://relay2.bench.example' }, arrivalMs, copy: true };
    }
    const random = this.factory.random;
    const arrival = Math.floor(arrivalMs / 1000);
    const backdated = random() < (this.options.backdatedShare ?? 0.01);
    const createdAt = backdated ? arrival - 1 - Math.floor(random() * (this.options.backdateMaxSeconds ?? 2 * 86400)) : arrival;
    const fact = this.factory.make(() => this.chooseType(random()), this.factory.pick(), createdAt, arrival, this.slot);
    fact.ingested_at = arrivalMs;
    if (random() < (this.options.duplicateShare ?? 0.005)) {
      const at = arrivalMs + 1 + Math.floor(random() * 1000 * (this.options.duplicateDelayMaxSeconds ?? 30));
      let i = this.pending.length;
      while (i > 0 && this.pending[i - 1]!.arrivalMs > at) i--;
      this.pending.splice(i, 0, { arrivalMs: at, fact });
    }
    return { fact, arrivalMs, copy: false };
  }

  private chooseType(roll: number): FactType {
    for (let i = 0; i < this.thresholds.length; i++) if (roll < this.thresholds[i]!) return this.types[i]!;
    return this.types.at(-1)!;
  }
}
