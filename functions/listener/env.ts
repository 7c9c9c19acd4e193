import { z } from 'zod';
import { COUNTERS_ENV, queueEnv } from '../env.js';

/** The listener container: the relays it reads (RELAY_URLS, comma-separated), the ingest queue, its checkpoints in the counters table. */
export const listenerEnvSchema = z.object({
  ...COUNTERS_ENV,
  ...queueEnv('QUEUE_URL'),
  RELAY_URLS: z
    .string()
    .transform((list) => list.split(',').map((url) => url.trim()).filter(Boolean))
    .pipe(z.array(z.string().regex(/^wss?:\/\/\S+$/, 'must be a ws:// or wss:// URL')).min(1, 'give one or more relay URLs, comma-separated')),
  HEARTBEAT_FILE: z.string().min(1).default('/tmp/listener-heartbeat'),
  /** how far back a reconnect asks a relay for events, before its checkpoint */
  CATCH_UP_SECONDS: z.coerce.number().int().min(0).max(7 * 86_400).default(600),
});
