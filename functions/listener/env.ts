import { z } from 'zod';
import { awsConfigOf, configFrom, COUNTERS_ENV, queueEnv } from '../env.js';
import { LISTENER_CATCH_UP_SECONDS } from '../../lib/listener/listener.js';

/** A comma-separated list of ws:// or wss:// relay URLs (blanks dropped); the local stack reads RELAY_URLS with it too. */
export const relayUrlList = z
  .string()
  .transform((list) => list.split(',').map((url) => url.trim()).filter(Boolean))
  .pipe(z.array(z.string().regex(/^wss?:\/\/\S+$/, 'must be a ws:// or wss:// URL')));

/** The listener container: the relays it reads (RELAY_URLS, comma-separated), the ingest queue, its checkpoints in the counters table. */
export const listenerEnvSchema = z.object({
  ...COUNTERS_ENV,
  ...queueEnv('QUEUE_URL'),
  RELAY_URLS: relayUrlList.refine((urls) => urls.length > 0, 'give one or more relay URLs, comma-separated'),
  HEARTBEAT_FILE: z.string().min(1).default('/tmp/listener-heartbeat'),
  /**
   * The catch-up margin: after a restart or reconnect, events with created_at down to this many seconds
   * before the checkpoint are re-read (the live subscription has no `since`, so while connected nothing
   * back-dated is missed). Two days by default, for back-dated events published while the listener was away.
   */
  CATCH_UP_SECONDS: z.coerce.number().int().min(0).max(7 * 86_400).default(LISTENER_CATCH_UP_SECONDS),
});

export const listenerConfig = configFrom(listenerEnvSchema, (env) => ({
  aws: awsConfigOf(env),
  relayUrls: env.RELAY_URLS,
  heartbeatFile: env.HEARTBEAT_FILE,
  catchUpSeconds: env.CATCH_UP_SECONDS,
}));
