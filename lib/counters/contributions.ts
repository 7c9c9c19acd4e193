import type { Fact } from '../facts/schema.js';
import { reactionClass } from '../nostr/normalise.js';
import { hllCode } from './hll.js';
import { VIEW_NAMES } from '../app/events.js';
import { ZAP_AMOUNT_METRICS, zapAmountMetric } from './zap-amounts.js';
import { eventTypeCounts, eventTypeScope } from './event-type-counters.js';

/**
 * What one fact adds to the counters (docs/metrics.md, "Counters"): counts, members of distinct-count
 * sketches, and entries of bounded top-N lists, each for one scope.
 */
export interface Contributions {
  counts: { scope: string; metric: string; amount: number }[];
  distinct: { scope: string; sketch: DistinctSketch; code: number }[];
  tops: { scope: string; list: TopListName; key: string; amount: number }[];
}

export type DistinctSketch = 'engagers' | 'zappers' | 'authors' | 'users';
export type TopListName = 'top_posts' | 'top_tags' | 'top_zappers' | 'top_authors';

export const GLOBAL_SCOPE = 'g';
/** rejected events by reason, per minute of ingestion */
export const REJECTIONS_SCOPE = 'rejected';
export const userScope = (pubkey: string) => `u:${pubkey}`;
export const eventScope = (id: string) => `e:${id}`;
export const addressScope = (address: string) => `a:${address}`;

/**
 * Per-event and per-address scopes (`e:`, `a:`): counts only, read all-time only (event and video
 * stats). So they are counted live per **hour**, not per minute (the settled part of an all-time read
 * ends on the hour-aligned watermark: no read needs their minutes), hours settle only where live
 * counting may have drifted, and their day items, the sum of their history, never expire. At the
 * sparse mix this is one write per engagement instead of three (docs/scaling.md).
 */
export const isTargetScope = (scope: string) => scope.startsWith('e:') || scope.startsWith('a:');

export const isUserScope = (scope: string) => scope.startsWith('u:');

/**
 * A user's hour with at most this many events has no settled hour item: its minute items hold all an
 * hour item would (counts, the engagers sketch, top-list entries: `minuteDetails`), and reads take its
 * few minute items instead (lib/counters/read.ts). At the sparse mix most user hours hold one event,
 * so this saves a write per event there (docs/scaling.md).
 */
export const SPARSE_HOUR_EVENTS = 2;

/** The user-summary metrics, as stored in `u:<pubkey>` counter items. */
export const USER_METRICS = [
  'posts',
  'replies',
  'comments',
  'videos',
  'likes_rcv',
  'dislikes_rcv',
  'emoji_rcv',
  'reposts_rcv',
  'replies_rcv',
  'zaps_rcv',
  'zap_msats_rcv',
  // zaps received by amount (zap-amounts.ts): each zap in one bin
  ...ZAP_AMOUNT_METRICS,
] as const;
export type UserMetric = (typeof USER_METRICS)[number];

/** Per-event (and per-address) engagement, as stored in `e:<id>` and `a:<kind:pubkey:d>` items. */
export const TARGET_METRICS = ['likes', 'dislikes', 'emoji', 'replies', 'reposts', 'zaps', 'zap_msats'] as const;
export type TargetMetric = (typeof TARGET_METRICS)[number];

const AUTHORED: Partial<Record<string, UserMetric>> = {
  note: 'posts',
  reply: 'replies',
  comment: 'comments',
  video: 'videos',
};

export const projectScope = (project: string) => `p:${project}`;

export function contributionsOf(fact: Fact): Contributions {
  if (fact.source === 'app') return appContributions(fact);
  const out: Contributions = {
    counts: [
      { scope: GLOBAL_SCOPE, metric: 'events', amount: 1 },
      { scope: GLOBAL_SCOPE, metric: `kind:${fact.kind}`, amount: 1 },
      { scope: GLOBAL_SCOPE, metric: `type:${fact.type}`, amount: 1 },
    ],
    distinct: [{ scope: GLOBAL_SCOPE, sketch: 'authors', code: hllCode(fact.author) }],
    // The most active authors (settled items only), for warming the hot users' windows.
    tops: [{ scope: GLOBAL_SCOPE, list: 'top_authors', key: fact.author, amount: 1 }],
  };

  const authored = AUTHORED[fact.type];
  if (authored) {
    const author = userScope(fact.author);
    out.counts.push({ scope: author, metric: authored, amount: 1 });
    for (const tag of fact.hashtags) out.tops.push({ scope: author, list: 'top_tags', key: tag, amount: 1 });
  }

  const engagement = engagementMetric(fact);
  if (!engagement) return out;

  // Per-event stats count every engagement, the author's own included: it is the event's public tally.
  const targetScope = engagementTargetScope(fact);
  if (targetScope) {
    out.counts.push({ scope: targetScope, metric: engagement, amount: 1 });
    if (fact.type === 'zap' && fact.zap_msats) out.counts.push({ scope: targetScope, metric: 'zap_msats', amount: fact.zap_msats });
  }

  // "Received" excludes engagement by the user themself. A zap receipt is signed by the LNURL server
  // (sometimes the recipient's own key): the engager is the sender, and a zap of unknown sender counts.
  const target = fact.target_pubkey;
  const engager = fact.type === 'zap' ? fact.zap_sender : fact.author;
  if (!target || target === engager) return out;
  const received = userScope(target);
  const metric: UserMetric = engagement === 'zaps' ? 'zaps_rcv' : (`${engagement}_rcv` as UserMetric);
  out.counts.push({ scope: received, metric, amount: 1 });
  if (fact.type === 'zap') {
    out.counts.push({ scope: received, metric: zapAmountMetric(fact.zap_msats), amount: 1 });
    if (engager) out.distinct.push({ scope: received, sketch: 'zappers', code: hllCode(engager) });
  }
  if (fact.type === 'zap' && fact.zap_msats) {
    out.counts.push({ scope: received, metric: 'zap_msats_rcv', amount: fact.zap_msats });
    if (engager) out.tops.push({ scope: received, list: 'top_zappers', key: engager, amount: fact.zap_msats });
  }
  if (engager) out.distinct.push({ scope: received, sketch: 'engagers', code: hllCode(engager) });
  const post = fact.target_address ?? fact.target_event_id;
  if (post) out.tops.push({ scope: received, list: 'top_posts', key: post, amount: 1 });
  return out;
}

/**
 * The per-event or per-address scope an engagement counts for: reactions, reposts and zaps on an
 * addressable event count for the address (all its revisions); replies and comments for the event they
 * answer (the address when they name no event).
 */
export function engagementTargetScope(fact: Fact): string | null {
  const byAddress = fact.type === 'reaction' || fact.type === 'repost' || fact.type === 'zap';
  if (byAddress && fact.target_address) return addressScope(fact.target_address);
  if (fact.target_event_id) return eventScope(fact.target_event_id);
  return fact.target_address ? addressScope(fact.target_address) : null;
}

/**
 * App events count for the network (events, type), for their project (events, per name, distinct
 * users), for their type when it has a schema (event-type-counters.ts), and, when they are views or plays of a Nostr event or address, as that target's `views`.
 */
function appContributions(fact: Fact): Contributions {
  const project = projectScope(fact.project ?? '');
  const out: Contributions = {
    counts: [
      { scope: GLOBAL_SCOPE, metric: 'events', amount: 1 },
      { scope: GLOBAL_SCOPE, metric: `type:${fact.type}`, amount: 1 },
      { scope: project, metric: 'events', amount: 1 },
      { scope: project, metric: fact.type, amount: 1 },
    ],
    distinct: [{ scope: project, sketch: 'users', code: hllCode(fact.author) }],
    tops: [],
  };
  // A registered type's own counters: per type, per dimension value and per pair of values.
  const typeCounts = eventTypeCounts(fact);
  if (typeCounts.length) {
    out.counts.push(...typeCounts);
    out.distinct.push({ scope: eventTypeScope(fact.project ?? '', fact.type.slice(4)), sketch: 'users', code: hllCode(fact.author) });
  }
  if (VIEW_NAMES.has(fact.type.slice(4))) {
    const target = fact.target_address ? addressScope(fact.target_address) : fact.target_event_id ? eventScope(fact.target_event_id) : null;
    if (target) out.counts.push({ scope: target, metric: 'views', amount: 1 });
  }
  return out;
}

function engagementMetric(fact: Fact): Exclude<TargetMetric, 'zap_msats'> | null {
  switch (fact.type) {
    case 'reaction': {
      const cls = reactionClass(fact.reaction ?? '');
      return cls === 'like' ? 'likes' : cls === 'dislike' ? 'dislikes' : 'emoji';
    }
    case 'repost':
      return 'reposts';
    case 'reply':
    case 'comment':
      return 'replies';
    case 'zap':
      return 'zaps';
    default:
      return null;
  }
}
