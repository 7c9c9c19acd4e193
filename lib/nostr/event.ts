import { z } from 'zod';

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex characters');

/** NIP-01 event shape. Shape only: id and signature are checked by `verifyEvent`. */
export const nostrEventSchema = z.object({
  id: hex64,
  pubkey: hex64,
  created_at: z.number().int().nonnegative(),
  kind: z.number().int().min(0).max(65535),
  tags: z.array(z.array(z.string())),
  content: z.string(),
  sig: z.string().regex(/^[0-9a-f]{128}$/, 'must be 128 lower-case hex characters'),
});

export type NostrEvent = z.infer<typeof nostrEventSchema>;
