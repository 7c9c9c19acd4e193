import { describe, expect, it } from 'vitest';
import { finalizeEvent, generateSecretKey } from 'nostr-tools/pure';
import { engagerRowId, engagerWrites, likersList, mergeEngagerWrites, tokenSats, zappersList, zapToken } from '../../lib/counters/engager-lists.js';
import { normalise } from '../../lib/nostr/normalise.js';
import { signedZap } from '../../lib/local/stack/simulator.js';
import { ENGAGER_ROW_MAX_TOKENS } from '../../lib/ports.js';
import type { NostrEvent } from '../../lib/nostr/event.js';

const author = generateSecretKey();
const video = finalizeEvent({ kind: 22, created_at: 1_700_000_000, tags: [['title', 'v'], ['url', 'https://v.example/v.mp4']], content: '' }, author);
const note = finalizeEvent({ kind: 1, created_at: 1_700_000_000, tags: [], content: 'n' }, author);
const react = (tags: string[][], content = '+') => finalizeEvent({ kind: 7, created_at: 1_700_000_100, tags: [...tags, ['p', video.pubkey]], content }, generateSecretKey());
const rowsOf = (events: NostrEvent[]) => engagerWrites(events.map((e) => normalise(e, { relay: null, ingestedAt: 0 })), new Map(events.map((e) => [e.id, e])));

describe('engager rows of a batch', () => {
  it("a like of a video (by its address's kind or the reaction's k tag) is a liker row; dislikes, emoji and other events' likes are not", () => {
    const viaK = react([['e', video.id], ['k', '22']]);
    const viaAddress = react([['a', `34235:${video.pubkey}:x`]]);
    const empty = react([['e', video.id], ['k', '22']], '');
    const rows = rowsOf([viaK, viaAddress, empty, react([['e', video.id], ['k', '22']], '-'), react([['e', video.id], ['k', '22']], '🔥'), react([['e', note.id], ['k', '1']]), react([['e', video.id]])]);
    expect(rows).toEqual([
      { list: likersList(`e:${video.id}`), pubkey: viaK.pubkey, ref: viaK.id },
      { list: likersList(`a:34235:${video.pubkey}:x`), pubkey: viaAddress.pubkey, ref: viaAddress.id },
      { list: likersList(`e:${video.id}`), pubkey: empty.pubkey, ref: empty.id },
    ]);
  });

  it('a zap is a token in its sender\'s row of the zapped event (its address when it names one)', () => {
    const sender = generateSecretKey();
    const zap = signedZap(sender, { id: note.id, pubkey: note.pubkey }, 21, 1_700_000_200);
    const onVideo = signedZap(sender, { id: video.id, pubkey: video.pubkey, address: `34235:${video.pubkey}:x` }, 5, 1_700_000_200);
    const rows = rowsOf([zap, onVideo]);
    expect(rows.map((r) => r.list)).toEqual([zappersList(`e:${note.id}`), zappersList(`a:34235:${video.pubkey}:x`)]);
    expect(rows.map((r) => tokenSats(r.tokens![0]!))).toEqual([21, 5]);
  });
});

describe('zap tokens and rows', () => {
  it('keep the sats (clamped at 2^34 − 1), stay safe integers, and tell two same-amount zaps apart', () => {
    expect(tokenSats(zapToken('f'.repeat(64), 21_000))).toBe(21);
    expect(tokenSats(zapToken('f'.repeat(64), 10 ** 21))).toBe(2 ** 34 - 1);
    expect(Number.isSafeInteger(zapToken('f'.repeat(64), 10 ** 21))).toBe(true);
    expect(zapToken('a'.repeat(64), 21_000)).not.toBe(zapToken('b'.repeat(64), 21_000));
    expect(engagerRowId('f'.repeat(64))).toBe(2 ** 52 - 1);
  });

  it('merge to one write per (list, pubkey): tokens unioned up to the bound, the last ref', () => {
    const pubkey = 'a'.repeat(64);
    const many = Array.from({ length: ENGAGER_ROW_MAX_TOKENS + 10 }, (_, i) => ({ list: 'zp:e:x', pubkey, tokens: [i, i] }));
    const [row, other] = mergeEngagerWrites([...many, { list: 'lk:e:x', pubkey, ref: 'r1' }, { list: 'lk:e:x', pubkey, ref: 'r2' }]);
    expect(row!.tokens).toHaveLength(ENGAGER_ROW_MAX_TOKENS);
    expect(other).toEqual({ list: 'lk:e:x', pubkey, ref: 'r2' });
  });
});
