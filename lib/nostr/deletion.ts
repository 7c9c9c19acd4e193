import type { NostrEvent } from './event.js';
import { addressPubkey, hex64, parseAddress, tagValues } from './tags.js';

/**
 * NIP-09: what a kind 5 asks to delete: every `e` tag's event id and every `a` tag's address, read by
 * the same rules as the deletion's fact (tags.ts: `hex64`, `parseAddress`), so the records and
 * `deleted_event_ids` name the same ids and addresses, normalised.
 * Whether an `e` request is honoured (same author) is decided where the target's author is known; an
 * `a` names its own author, so only the author's own addresses are kept.
 */
export function deletionTargets(event: NostrEvent): { eventIds: string[]; addresses: string[] } {
  const eventIds = new Set<string>();
  const addresses = new Set<string>();
  if (event.kind !== 5) return { eventIds: [], addresses: [] };
  for (const value of tagValues(event.tags, 'e')) {
    const id = hex64(value);
    if (id !== null) eventIds.add(id);
  }
  for (const value of tagValues(event.tags, 'a')) {
    const address = parseAddress(value);
    if (address !== null && addressPubkey(address) === event.pubkey) addresses.add(address);
  }
  return { eventIds: [...eventIds], addresses: [...addresses] };
}
