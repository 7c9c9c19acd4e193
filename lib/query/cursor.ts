import { z } from 'zod';

/**
 * Opaque list cursors: where the last page ended, as the list's sort key, so the next page is "every
 * item after this key" in the list as it is now. Keyset paging, not offsets: an item published between
 * two pages lands before the cursor and is never shown twice, nor does it push an item out of the walk.
 */
const recentKey = z.strictObject({ o: z.literal('recent'), t: z.int(), id: z.string().regex(/^[0-9a-f]{64}$/) });
const rankedKey = z.strictObject({ o: z.literal('ranked'), s: z.number(), t: z.int(), id: z.string().regex(/^[0-9a-f]{64}$/), g: z.int() });
const offsetKey = z.strictObject({ o: z.literal('offset'), n: z.int().min(0).max(10_000), g: z.int() });
const pubkeyKey = z.strictObject({ o: z.literal('pubkey'), p: z.string().regex(/^[0-9a-f]{64}$/) });
export const cursorSchema = z.discriminatedUnion('o', [recentKey, rankedKey, offsetKey, pubkeyKey]);
export type Cursor = z.infer<typeof cursorSchema>;

/** Newest first, ties to the lowest id: the order of every "recent" list. */
export type RecentCursor = z.infer<typeof recentKey>;
/** By score, then newest, then lowest id, within one computed ranking (`g`: when it was computed). */
export type RankedCursor = z.infer<typeof rankedKey>;
/** A position in a stored ranking of one computation (`g`), whose entries do not move. */
export type OffsetCursor = z.infer<typeof offsetKey>;
/** In pubkey order (the engager lists), after this pubkey's row. */
export type PubkeyCursor = z.infer<typeof pubkeyKey>;

export const encodeCursor = (cursor: Cursor) => Buffer.from(JSON.stringify(cursor)).toString('base64url');

/** The cursor a client sent back, or null when it is not one of ours. */
export function decodeCursor(text: string): Cursor | null {
  if (text.length > 512) return null;
  try {
    const parsed = cursorSchema.safeParse(JSON.parse(Buffer.from(text, 'base64url').toString('utf8')));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** Whether an item comes strictly after the cursor in "recent" order. */
export const afterRecent = (item: { createdAt: number; id: string }, cursor: RecentCursor) => item.createdAt < cursor.t || (item.createdAt === cursor.t && item.id > cursor.id);

/** Whether an item comes strictly after the cursor in ranked order. */
export const afterRanked = (item: { score?: number; createdAt: number; id: string }, cursor: RankedCursor) => {
  const score = item.score ?? 0;
  if (score !== cursor.s) return score < cursor.s;
  return afterRecent(item, { o: 'recent', t: cursor.t, id: cursor.id });
};

/** A list page's pagination meta: the cursor it answered (null on the first page) and the next one. */
export interface Pagination {
  cursor: string | null;
  nextCursor: string | null;
  limit: number;
}
