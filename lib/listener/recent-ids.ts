import { createHash } from 'node:crypto';

/**
 * A digest of the whole event (id, pubkey, created_at, kind, tags, content, sig): two copies share it
 * only when they are identical, so a forged copy (the real id and sig over altered content) seen first
 * never hides the genuine event. 16 bytes of sha256 are plenty to tell copies apart.
 */
export function eventDigest(event: Record<string, unknown>): string {
  const whole = JSON.stringify([event.id, event.pubkey, event.created_at, event.kind, event.tags, event.content, event.sig]);
  return createHash('sha256').update(whole).digest().subarray(0, 16).toString('base64');
}

/**
 * Remembers the last `capacity` event digests so the same event from several relays (or a catch-up
 * replay) is sent once. Insertion-ordered Map as a bounded FIFO: O(1) per event.
 */
export class RecentEvents {
  private readonly digests = new Map<string, true>();

  constructor(private readonly capacity: number) {}

  /** true if the digest was new (and is now remembered) */
  add(digest: string): boolean {
    if (this.digests.has(digest)) return false;
    this.digests.set(digest, true);
    if (this.digests.size > this.capacity) this.digests.delete(this.digests.keys().next().value!);
    return true;
  }
}
