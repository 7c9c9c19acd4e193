import { createHash } from 'node:crypto';
import type { CheckpointStore, CounterStore } from '../ports.js';

/** State namespace of the listener's per-relay checkpoints (the listener's IAM grant names it too). */
export const CHECKPOINT_NAMESPACE = 'checkpoint';
const NAMESPACE = CHECKPOINT_NAMESPACE;

/**
 * Listener checkpoints as state records in the counters table (DynamoDB in AWS, dynalite locally). The
 * value (kept in the record's `createdAt` field, its name from when it was the newest created_at sent)
 * is a wall-clock second: everything the relay delivered before it was accepted by the queue.
 */
export class CounterStoreCheckpoints implements CheckpointStore {
  constructor(private readonly counters: CounterStore) {}

  async load(relay: string): Promise<number | null> {
    const state = await this.counters.getState(NAMESPACE, relayId(relay));
    return typeof state?.createdAt === 'number' ? state.createdAt : null;
  }

  async save(relay: string, createdAt: number): Promise<void> {
    await this.counters.putState(NAMESPACE, relayId(relay), { relay, createdAt, savedAt: Date.now() });
  }
}

/** A stable numeric id for a relay URL (48 bits of its sha256: exact in a double, collision-free in practice). */
function relayId(relay: string): number {
  return parseInt(createHash('sha256').update(relay).digest('hex').slice(0, 12), 16);
}
