import { z } from 'zod';
import type { ObjectStore, QueueSender } from '../ports.js';
import { shardCommitted, type SettleOutcome, type ShardTask } from './settle-run.js';
import { RETRACTION_HORIZON_SECONDS, RETRACTION_SKEW_SECONDS } from '../jobs/metrics-sql.js';

/**
 * Shards settled by workers of their own (AWS): the compactor sends one message per shard to the settle
 * queue and waits until every shard's manifest has committed a run of its task, so an hour too big for
 * one invocation's Puts is settled by as many invocations as it has shards, at once. A worker that
 * fails is redelivered (a new attempt, a new run id); a shard not committed by the deadline leaves its
 * hour dirty for the next compactor run (ShardsPendingError), which dispatches it again.
 */

/** Hours of deletions a settle reads at most: a week's, the skew before it and the retraction horizon after it. */
const MAX_DELETION_HOURS = 7 * 24 + Math.ceil((RETRACTION_SKEW_SECONDS + RETRACTION_HORIZON_SECONDS) / 3600) + 2;

/** The settle queue's message: a shard task, checked before a worker runs it. */
export const shardTaskSchema = z.object({
  granularity: z.enum(['h', 'd', 'w']),
  buckets: z.array(z.number().int().nonnegative()).min(1).max(24),
  // strict: an option this schema does not know would be dropped, and the shard settled as something else
  options: z
    .strictObject({
      liveHours: z.array(z.number().int()).max(24).optional(),
      copiedLive: z.boolean().optional(),
      // a task queued by a compactor from before per-event scopes were counted live per hour
      minuteHours: z.array(z.number().int()).max(24).optional(),
      copiedMinutes: z.boolean().optional(),
      empty: z.array(z.number().int()).max(24).optional(),
      nowMs: z.number().int().nonnegative(),
      rewrite: z.boolean().optional(),
      // a week and the retraction horizon after it, at most (hours with facts: deletionHoursFor)
      deletionHours: z.array(z.number().int()).max(MAX_DELETION_HOURS).optional(),
      // a week's settle: the days that hold facts, and its end when it is settled to date
      weekDays: z.array(z.number().int().nonnegative()).max(7).optional(),
      weekThrough: z.number().int().nonnegative().optional(),
    })
    .transform(({ minuteHours, copiedMinutes, ...options }) => ({ ...options, liveHours: options.liveHours ?? minuteHours, copiedLive: options.copiedLive ?? copiedMinutes })),
  shard: z.object({ index: z.number().int().nonnegative(), count: z.number().int().min(2).max(1024) }).refine((s) => s.index < s.count, 'shard index out of range'),
  run: z.string().regex(/^[\w.-]{1,200}$/),
});

/** A shard still settling when its coordinator had to stop waiting: the hour stays dirty, not failed. */
export class ShardsPendingError extends Error {
  constructor(readonly task: ShardTask) {
    super(`shard ${task.shard.index} of ${task.shard.count} of ${task.granularity} ${task.buckets.join(',')} not settled by the deadline`);
    this.name = 'ShardsPendingError';
  }
}

/** How often the coordinator looks at a dispatched shard's manifest. */
export const SHARD_POLL_MS = 2_000;

export function queuedShardRunner(
  queue: QueueSender,
  objects: ObjectStore,
  options: { deadlineAt: number; now?: () => number; pollMs?: number; sleep?: (ms: number) => Promise<void> },
): (task: ShardTask) => Promise<SettleOutcome> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  return async (task) => {
    const { failed } = await queue.sendBatch([JSON.stringify(task)]);
    if (failed.length) throw new Error(`the settle queue refused shard ${task.shard.index} of ${task.shard.count}`);
    for (;;) {
      const committed = await shardCommitted(objects, task);
      if (committed.done) return { run: task.run, itemsPut: committed.itemsPut };
      if (now() >= options.deadlineAt) throw new ShardsPendingError(task);
      await sleep(options.pollMs ?? SHARD_POLL_MS);
    }
  };
}
