import { initNostrWasm } from 'nostr-wasm';
import type { NostrEvent } from './event.js';

export type VerifyFailure = 'bad_id' | 'bad_sig';

/** Checks NIP-01 id (sha256 of the canonical array) and BIP-340 signature; returns the failure or null. */
export type EventVerifier = (event: NostrEvent) => VerifyFailure | null;

let verifier: Promise<EventVerifier> | undefined;

/**
 * libsecp256k1 compiled to WASM: ~5x the throughput of pure-JS verification, which is what bounds
 * ingest cost per event. Initialised once per process (Lambda container) and shared.
 */
export function loadVerifier(): Promise<EventVerifier> {
  verifier ??= initNostrWasm().then((wasm) => (event: NostrEvent) => {
    try {
      wasm.verifyEvent(event);
      return null;
    } catch (error) {
      // nostr-wasm checks the id first and says which failed: "id is invalid" / "signature is invalid".
      return (error as Error).message.startsWith('id ') ? 'bad_id' : 'bad_sig';
    }
  });
  return verifier;
}
