import type { Fact } from '../facts/schema.js';
import { reactionClass } from '../nostr/normalise.js';

/** What one fact adds to one counter scope (see docs/metrics.md, "Counters"). */
export interface Contribution {
  scope: string;
  metric: string;
  amount: number;
}

export const GLOBAL_SCOPE = 'g';
export const userScope = (pubkey: string) => `u:${pubkey}`;

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
] as const;
export type UserMetric = (typeof USER_METRICS)[number];

const AUTHORED: Partial<Record<string, UserMetric>> = {
  note: 'posts',
  reply: 'replies',
  comment: 'comments',
  video: 'videos',
};

/**
 * The counters a fact moves. Engagement "received" goes to the target's author and excludes
 * engagement by that same user (self-likes, self-replies, self-zaps), so a user cannot inflate
 * their own numbers.
 */
export function contributionsOf(fact: Fact): Contribution[] {
  const out: Contribution[] = [
    { scope: GLOBAL_SCOPE, metric: 'events', amount: 1 },
    { scope: GLOBAL_SCOPE, metric: `kind:${fact.kind}`, amount: 1 },
  ];
  const authored = AUTHORED[fact.type];
  if (authored) out.push({ scope: userScope(fact.author), metric: authored, amount: 1 });

  const target = fact.target_pubkey;
  // A zap receipt is signed by the LNURL server (sometimes the recipient's own key): the engager is
  // the sender, and a zap whose sender is unknown still counts.
  const engager = fact.type === 'zap' ? fact.zap_sender : fact.author;
  if (!target || target === engager) return out;
  const received = userScope(target);
  switch (fact.type) {
    case 'reaction': {
      const cls = reactionClass(fact.reaction ?? '');
      out.push({ scope: received, metric: cls === 'like' ? 'likes_rcv' : cls === 'dislike' ? 'dislikes_rcv' : 'emoji_rcv', amount: 1 });
      break;
    }
    case 'repost':
      out.push({ scope: received, metric: 'reposts_rcv', amount: 1 });
      break;
    case 'reply':
    case 'comment':
      out.push({ scope: received, metric: 'replies_rcv', amount: 1 });
      break;
    case 'zap':
      out.push({ scope: received, metric: 'zaps_rcv', amount: 1 });
      if (fact.zap_msats) out.push({ scope: received, metric: 'zap_msats_rcv', amount: fact.zap_msats });
      break;
  }
  return out;
}
