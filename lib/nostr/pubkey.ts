import { nip19 } from 'nostr-tools';

/** Accepts a hex pubkey or an npub; returns lower-case hex or null. */
export function parsePubkey(input: string): string | null {
  const value = input.trim();
  if (/^[0-9a-fA-F]{64}$/.test(value)) return value.toLowerCase();
  if (value.startsWith('npub1')) {
    try {
      const decoded = nip19.decode(value);
      if (decoded.type === 'npub') return decoded.data;
    } catch {
      return null;
    }
  }
  return null;
}
