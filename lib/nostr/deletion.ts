import type { NostrEvent } from './event.js';

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * NIP-09: what a kind 5 asks to delete: every `e` tag's event id and every `a` tag's address.
 * Whether the request is honoured (same author) is decided where the target's author is known.
 */
export function deletionTargets(event: NostrEvent): { eventIds: string[]; addresses: string[] } {
  const eventIds = new Set<string>();
  const addresses = new Set<string>();
  if (event.kind !== 5) return { eventIds: [], addresses: [] };
  for (const tag of event.tags) {
    const value = tag[1]?.trim().toLowerCase();
    if (!value) continue;
    if (tag[0] === 'e' && HEX64.test(value)) eventIds.add(value);
    else if (tag[0] === 'a') {
      const [kind, pubkey] = value.split(':');
      // An address deletion names its own author in the address: only the author may delete it.
      if (kind && /^\d+$/.test(kind) && pubkey === event.pubkey) addresses.add(tag[1]!.trim());
    }
  }
  return { eventIds: [...eventIds], addresses: [...addresses] };
}
