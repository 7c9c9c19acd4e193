import { describe, expect, it } from 'vitest';
import { FACT_COLUMNS, type Fact } from '../../lib/facts/schema.js';
import type { NostrEvent } from '../../lib/nostr/event.js';
import { FIXTURE_FILES, loadFixture } from '../support/fixtures.js';
import { addressOf, EventRejectedError, isAddressable, isReplaceable, MAX_DELETION_TARGETS, normalise, reactionClass } from '../../lib/nostr/normalise.js';

// ---------------------------------------------------------------------------------------------------------
// Fixtures: real signed events, read-only (../shared relative to the repo root), by file name without `.jsonl`.

type FixtureFile = 'thread-and-reactions' | 'mixed-kinds' | 'reactions-small' | 'zaps-and-videos';
const FIXTURE_NAMES = FIXTURE_FILES.map((file) => file.replace(/\.jsonl$/, '') as FixtureFile);
const fixtures = Object.fromEntries(FIXTURE_NAMES.map((name) => [name, loadFixture(`${name}.jsonl`)])) as Record<FixtureFile, NostrEvent[]>;
const allEvents = FIXTURE_NAMES.flatMap((name) => fixtures[name]);
const eventsById = new Map(allEvents.map((event) => [event.id, event]));

const CTX = { relay: 'wss://relay.example.com', ingestedAt: 1_760_000_000_000 };
const norm = (event: NostrEvent): Fact => normalise(event, CTX);

function fixtureEvent(id: string): NostrEvent {
  const event = eventsById.get(id);
  if (event === undefined) throw new Error(`fixture event ${id} not found`);
  return event;
}
const factOf = (id: string): Fact => norm(fixtureEvent(id));

const tagValues = (event: NostrEvent, name: string): string[] =>
  event.tags.filter((tag) => tag[0] === name).map((tag) => tag[1]!);
const typesOf = (events: NostrEvent[]): Record<string, number> => {
  const counts: Record<string, number> = {};
  for (const event of events) {
    const key = `${event.kind}:${norm(event).type}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
};

// Well-known ids and pubkeys from the fixtures.
const THREAD_ROOT = 'd44ad96cb8924092a76bc2afddeb12eb85233c0d03a7d9adc42c2a85a79a4305';
const THREAD_ROOT_AUTHOR = '04c915daefee38317fa734444acee390a8269fe5810b2241e5e6dd343dfbecc9';
const HEX64 = /^[0-9a-f]{64}$/;

// ---------------------------------------------------------------------------------------------------------
// Hand-built events (normalise does not verify signatures; ingest does that before it).

const ME = 'a'.repeat(64);
const ALICE = 'b'.repeat(64);
const BOB = 'c'.repeat(64);
const CAROL = 'd'.repeat(64);
const ID1 = '1'.repeat(64);
const ID2 = '2'.repeat(64);
const ID3 = '3'.repeat(64);
const ID4 = '4'.repeat(64);

function ev(kind: number, tags: string[][], content = '', pubkey = ME): NostrEvent {
  return { id: 'f'.repeat(64), pubkey, created_at: 1_700_000_000, kind, tags, content, sig: '0'.repeat(128) };
}

// ---------------------------------------------------------------------------------------------------------

describe('every fixture event', () => {
  it('has the expected number of events', () => {
    expect(fixtures['thread-and-reactions']).toHaveLength(202);
    expect(fixtures['mixed-kinds']).toHaveLength(544);
    expect(fixtures['reactions-small']).toHaveLength(3);
    expect(fixtures['zaps-and-videos']).toHaveLength(6);
  });

  it('normalises without throwing into a complete, well-formed fact', () => {
    for (const event of allEvents) {
      const fact = norm(event);
      expect(Object.keys(fact).sort()).toEqual([...FACT_COLUMNS].sort());
      expect(fact).toMatchObject({
        event_id: event.id,
        source: 'nostr',
        kind: event.kind,
        created_at: event.created_at,
        author: event.pubkey,
        relay: CTX.relay,
        ingested_at: CTX.ingestedAt,
        project: null,
        properties: null,
      });
      for (const field of ['target_pubkey', 'target_event_id', 'root_event_id', 'parent_event_id', 'zap_sender'] as const) {
        if (fact[field] !== null) expect(fact[field]).toMatch(HEX64);
      }
      if (fact.target_address !== null) expect(fact.target_address).toMatch(/^\d+:[0-9a-f]{64}:/);
      expect(fact.reaction === null).toBe(event.kind !== 7);
      expect(fact.zap_msats === null || event.kind === 9735).toBe(true);
      expect(new Set(fact.hashtags).size).toBe(fact.hashtags.length);
      expect(fact.hashtags.length).toBeLessThanOrEqual(20);
      for (const hashtag of fact.hashtags) expect(hashtag).toBe(hashtag.trim().toLowerCase());
    }
  });

  it('stores no raw content (only a reaction keeps its content)', () => {
    for (const event of allEvents) {
      if (event.kind === 7 || event.content.length < 2) continue;
      const fact = norm(event);
      for (const value of Object.values(fact)) {
        if (typeof value === 'string') expect(value).not.toBe(event.content);
      }
    }
  });

  it('classifies every kind as the NIPs say', () => {
    expect(typesOf(fixtures['thread-and-reactions'])).toEqual({
      '1:reply': 99,
      '1:note': 7,
      '7:reaction': 94,
      '6:repost': 2,
    });
    expect(typesOf(fixtures['mixed-kinds'])).toEqual({
      '1:reply': 192,
      '1:note': 26,
      '3:contacts': 1,
      '4:other': 156,
      '5:deletion': 2,
      '6:repost': 1,
      '7:reaction': 111,
      '40:other': 1,
      '41:other': 1,
      '42:other': 13,
      '1063:other': 23,
      '1065:other': 5,
      '1311:other': 1,
      '1984:other': 8,
      '30000:other': 1,
      '30078:other': 2,
    });
    expect(typesOf(fixtures['zaps-and-videos'])).toEqual({ '9735:zap': 3, '1:note': 1, '34236:video': 2 });
  });
});

describe('NIP-25 reactions', () => {
  const reactions = allEvents.filter((event) => event.kind === 7);

  it('target the LAST e tag and the LAST p tag, for every fixture reaction', () => {
    expect(reactions).toHaveLength(94 + 111 + 2);
    for (const event of reactions) {
      const fact = norm(event);
      expect(fact.type).toBe('reaction');
      expect(fact.target_event_id).toBe(tagValues(event, 'e').at(-1));
      expect(fact.target_pubkey).toBe(tagValues(event, 'p').at(-1));
      expect(fact.reaction).toBe(event.content);
      expect(fact.root_event_id).toBeNull();
      expect(fact.parent_event_id).toBeNull();
    }
  });

  it('includes the 15 reactions with 2–4 e tags, where the first e is the thread root, not the target', () => {
    const multi = fixtures['thread-and-reactions'].filter(
      (event) => event.kind === 7 && tagValues(event, 'e').length > 1,
    );
    expect(multi).toHaveLength(15);
    for (const event of multi) {
      const eTags = tagValues(event, 'e');
      expect(eTags.length).toBeGreaterThanOrEqual(2);
      expect(eTags.length).toBeLessThanOrEqual(4);
      expect(norm(event).target_event_id).toBe(eTags.at(-1));
    }
    // The root is tagged first (with a root marker) but the reaction is to a reply further down.
    const fact = factOf('cf23e8398f3db64f7615282fe2f392789d6ecdb21c7fb10df02615ca7a8b5442');
    expect(fact.target_event_id).toBe('d432efa784aa3740cac93dcba8cd076fc73162a5802e3605ccbf9f21d1b4d47b');
    expect(fact.target_pubkey).toBe('16897bfab409ff12a768217e14d472dd5e8a2ae11cc0e3340bf2d6f67f5bac83');
    expect(fact.reaction).toBe('🤙');
  });

  it('names the reacted event’s real author wherever that event is in the fixtures', () => {
    let checked = 0;
    for (const event of reactions) {
      const fact = norm(event);
      const target = eventsById.get(fact.target_event_id!);
      if (target === undefined) continue;
      expect(fact.target_pubkey).toBe(target.pubkey);
      checked++;
    }
    expect(checked).toBe(13 + 2);
  });

  it('reads reactions-small: a like to the hello note despite a leading unrelated e tag, and a dislike', () => {
    const like = factOf('028a90d81a1379ec07141e4cef36f0c993140c807f8bc179bea213c80ef8f807');
    expect(like.target_event_id).toBe('1a4156303109bb4a660a6a9004b0cdce8d83c3991de7864f1876eb0f622c68e8');
    expect(like.target_pubkey).toBe('c511ed64e93f3aa053f85c82ee5f1ef9be6b61254606b88b8656f47091dd6e52');
    expect(reactionClass(like.reaction!)).toBe('like');
    const dislike = factOf('9c350d1f3822be358abbd5654721bcf45e5919c95a3835517a9290c45b5278ab');
    expect(dislike.target_event_id).toBe(like.target_event_id);
    expect(reactionClass(dislike.reaction!)).toBe('dislike');
  });

  it('classifies the thread’s reactions: 55 likes (+) and 39 emoji', () => {
    const classes = fixtures['thread-and-reactions']
      .filter((event) => event.kind === 7)
      .map((event) => reactionClass(norm(event).reaction!));
    expect(classes.filter((c) => c === 'like')).toHaveLength(55);
    expect(classes.filter((c) => c === 'emoji')).toHaveLength(39);
  });

  it('takes the a tag of a reaction to an addressable event', () => {
    const fact = factOf('b24c556f1f979dc09c6720e851c7707ae907ac272a6bdde25d3d48c1df51b800');
    expect(fact.target_address).toBe(
      '34550:1739d937dc8c0c7370aa27585938c119e25c41f6c441a5d34c6d38503e3136ef:NostrChiavenna',
    );
    expect(fact.target_event_id).toBe('9aa0a176088c0c2b2e7be88c65c49c0872aeeca70602776d915e9d05ff7005d0');
    expect(fact.target_pubkey).toBe('1739d937dc8c0c7370aa27585938c119e25c41f6c441a5d34c6d38503e3136ef');
  });

  it('reactionClass: + and empty are likes, - a dislike, anything else an emoji', () => {
    expect(reactionClass('+')).toBe('like');
    expect(reactionClass('')).toBe('like');
    expect(reactionClass('-')).toBe('dislike');
    for (const content of ['🤙', ':inky:', '❤️', '++', ' +', 'like']) expect(reactionClass(content)).toBe('emoji');
  });

  it('truncates content to 64 code points without splitting an emoji', () => {
    const long = '🔥'.repeat(100);
    const fact = norm(ev(7, [['e', ID1], ['p', ALICE]], long));
    expect([...fact.reaction!]).toHaveLength(64);
    expect(fact.reaction).toBe('🔥'.repeat(64));
  });

  it('falls back to the e tag’s pubkey hint, then to the a tag’s pubkey, when there is no valid p', () => {
    expect(norm(ev(7, [['e', ID1, '', ALICE]], '+')).target_pubkey).toBe(ALICE);
    expect(norm(ev(7, [['a', `30023:${BOB}:post`]], '+')).target_pubkey).toBe(BOB);
    expect(norm(ev(7, [['e', ID1], ['p', 'not-a-pubkey']], '+')).target_pubkey).toBeNull();
    // An invalid LAST e does not fall back to an earlier e (that would be a different event).
    expect(norm(ev(7, [['e', ID1], ['e', 'zz']], '+')).target_event_id).toBeNull();
  });

  it('lower-cases upper-case hex and drops malformed ids', () => {
    const fact = norm(ev(7, [['e', ID1.toUpperCase().replace(/1/g, 'A')], ['p', ALICE.toUpperCase()]], '-'));
    expect(fact.target_event_id).toBe('a'.repeat(64));
    expect(fact.target_pubkey).toBe(ALICE);
    expect(norm(ev(7, [['e', 'g'.repeat(64)]], '+')).target_event_id).toBeNull();
    expect(norm(ev(7, [['e', '1'.repeat(63)]], '+')).target_event_id).toBeNull();
  });
});

describe('NIP-10 replies, notes and quotes (thread-and-reactions.jsonl)', () => {
  it('roots every reply of the thread at the thread note', () => {
    for (const event of fixtures['thread-and-reactions']) {
      const fact = norm(event);
      if (fact.type !== 'reply') continue;
      expect(fact.root_event_id).toBe(THREAD_ROOT);
      expect(fact.target_event_id).toBe(fact.parent_event_id);
    }
  });

  it('a top-level reply (root marker only) has the root as its parent; the pubkey hint names the author', () => {
    const fact = factOf('0dc8668a4f1561adbffb3fdbad532b3aa4893dd2654a1a86044b258eb62ac2e1');
    expect(fact).toMatchObject({
      type: 'reply',
      root_event_id: THREAD_ROOT,
      parent_event_id: THREAD_ROOT,
      target_event_id: THREAD_ROOT,
      target_pubkey: THREAD_ROOT_AUTHOR,
    });
  });

  it('a top-level reply without a hint takes its single p tag as the replied-to author', () => {
    const fact = factOf('2717045cfe93347daca097869306f203dec09616dd8423812d7235b15191fc7c');
    expect(fact).toMatchObject({ type: 'reply', parent_event_id: THREAD_ROOT, target_pubkey: THREAD_ROOT_AUTHOR });
  });

  it('a nested reply (root + reply markers) has the reply-marked event as parent', () => {
    const fact = factOf('e72057669be4b18b2117fffff63a7ee4f49b6640caf3a88bb6b945c922b4523d');
    expect(fact).toMatchObject({
      type: 'reply',
      root_event_id: THREAD_ROOT,
      parent_event_id: 'bc367630aae0af9ae390bcbf08c511ce105c186268da21374a2df44031f1da73',
      target_event_id: 'bc367630aae0af9ae390bcbf08c511ce105c186268da21374a2df44031f1da73',
    });
    // No pubkey hint and two p tags (root author, parent author): NIP-10 gives no order, so no guess.
    expect(fact.target_pubkey).toBeNull();
  });

  it('a reply that also quotes (q) is still a reply to its reply-marked parent', () => {
    const fact = factOf('0712d5c6ebebf67c8f6f835f4d8d10e8cd3dc688b51edac37bbd0101c402bcaf');
    expect(fact).toMatchObject({
      type: 'reply',
      root_event_id: THREAD_ROOT,
      parent_event_id: '38f16341d6b1a1225994b1810f7a3c62153eaacf27bb643dc2d6b870819b5430',
      target_pubkey: '61066504617ee79387021e18c89fb79d1ddbc3e7bff19cf2298f40466f8715e9',
    });
    const quoteFirst = factOf('0024acc8f5854b3a53dea3233aff6c5af942ea0d0ba47fb6e558c593e9c6bde1');
    expect(quoteFirst).toMatchObject({
      type: 'reply',
      parent_event_id: '8c88d5d84f60e0eb027abdd89eaa7ffce0b1d7468bae6189cf6aa4946581cb26',
      target_pubkey: '958b754a1d3de5b5eca0fe31d2d555f451325f8498a83da1997b7fcd5c39e88c',
    });
  });

  it('quotes (q tag only) are notes, not replies', () => {
    for (const id of [
      '4433f14d7b79a313ffcdd744eb69e16761780b5811cb92917379ac14447b1eb2',
      'a873aa612e4b90da8a87d56b11ffe064b5c1e483f29af07798ef8080db00547a',
    ]) {
      expect(factOf(id)).toMatchObject({
        type: 'note',
        root_event_id: null,
        parent_event_id: null,
        target_event_id: null,
        target_pubkey: null,
      });
    }
  });

  it('notes whose only e tag is mention-marked are notes', () => {
    for (const id of [
      'bd614a357b1de53719a554b26508eae31c0573cde03a9b7e8be1418190eee934',
      'ac4fc53fa10546375ece5fafcf649d169b5473a64f58b8953f02230a42371ddd',
      'caaf49bb907cf7ce7ae42d7621af64ff506d57a2a24dba266231212857927cd7',
      'b2cfe7a4e1f2e7d7fd9097cfc28e8a8d825abf3cbc2de7f2c0970d2d5f66e36e',
      '32d1bf607e96c9536b35d23419ec770d3c0c83cdc0cc1b2b047021d8aa0729cc',
    ]) {
      expect(factOf(id)).toMatchObject({ type: 'note', root_event_id: null, target_event_id: null });
    }
  });

  it('names the parent’s real author from a hint or a single p, and never guesses among several p', () => {
    const seen = { hint: 0, singleP: 0, ambiguous: 0 };
    for (const event of allEvents) {
      const fact = norm(event);
      if (fact.type !== 'reply') continue;
      const parent = eventsById.get(fact.parent_event_id!);
      if (parent === undefined) continue;
      const parentTag = event.tags.find((tag) => tag[0] === 'e' && tag[1] === parent.id && tag[4]?.length === 64);
      const distinctP = new Set(tagValues(event, 'p'));
      if (parentTag !== undefined) seen.hint++;
      else if (distinctP.size === 1) seen.singleP++;
      else {
        seen.ambiguous++;
        expect(distinctP.has(parent.pubkey)).toBe(true); // NIP-10: the parent author is among the p tags
        expect(fact.target_pubkey).toBeNull();
        continue;
      }
      expect(fact.target_pubkey).toBe(parent.pubkey);
    }
    expect(seen).toEqual({ hint: 25, singleP: 1, ambiguous: 19 });
  });

  it('the ambiguous replies do not agree on where the parent author goes, so no position rule is safe', () => {
    let first = 0;
    let last = 0;
    let total = 0;
    for (const event of allEvents) {
      const fact = norm(event);
      if (fact.type !== 'reply' || fact.target_pubkey !== null) continue;
      const parent = eventsById.get(fact.parent_event_id!);
      if (parent === undefined) continue;
      const pTags = tagValues(event, 'p');
      total++;
      if (pTags[0] === parent.pubkey) first++;
      if (pTags.at(-1) === parent.pubkey) last++;
    }
    expect({ total, first, last }).toEqual({ total: 19, first: 8, last: 11 });
  });
});

describe('NIP-10 in mixed-kinds.jsonl', () => {
  it('a reply with only a reply marker uses that event as parent and root', () => {
    const fact = factOf('5b3a569ab61dc0d88da2a93564de9da3e6f42c8479bb93a522370501ecd08140');
    expect(fact).toMatchObject({
      type: 'reply',
      root_event_id: '5778111b09d78ecec02c9b7f52feccd655b8fbb049c40c380c03eead049bf7ea',
      parent_event_id: '5778111b09d78ecec02c9b7f52feccd655b8fbb049c40c380c03eead049bf7ea',
      target_pubkey: '7a7cfab852cd457336ec2126c2bcd8b2c77d569054fae53009d1f4631bfa1448',
    });
  });

  it('a NIP-28 channel message with a root e tag is not a NIP-10 reply', () => {
    const channelMessages = fixtures['mixed-kinds'].filter((event) => event.kind === 42);
    expect(channelMessages).toHaveLength(13);
    for (const event of channelMessages) {
      expect(norm(event)).toMatchObject({ type: 'other', root_event_id: null, target_event_id: null });
    }
  });
});

describe('NIP-10 rules on hand-built notes', () => {
  it('no e tag: a note', () => {
    expect(norm(ev(1, [['p', ALICE], ['t', 'x']])).type).toBe('note');
  });

  it('positional, one e: reply to it, which is also the root', () => {
    expect(norm(ev(1, [['e', ID1], ['p', ALICE]]))).toMatchObject({
      type: 'reply',
      root_event_id: ID1,
      parent_event_id: ID1,
      target_event_id: ID1,
      target_pubkey: ALICE,
    });
  });

  it('positional, two e: first is the root, second the parent', () => {
    expect(norm(ev(1, [['e', ID1, 'wss://r'], ['e', ID2, 'wss://r'], ['p', BOB]]))).toMatchObject({
      type: 'reply',
      root_event_id: ID1,
      parent_event_id: ID2,
      target_pubkey: BOB,
    });
  });

  it('positional, three e: first is the root, last the parent, the middle a mention', () => {
    expect(norm(ev(1, [['e', ID1], ['e', ID2], ['e', ID3]]))).toMatchObject({
      type: 'reply',
      root_event_id: ID1,
      parent_event_id: ID3,
      target_event_id: ID3,
      target_pubkey: null,
    });
  });

  it('positional form ignores mention-marked e tags', () => {
    expect(norm(ev(1, [['e', ID1], ['e', ID2, '', 'mention']]))).toMatchObject({
      root_event_id: ID1,
      parent_event_id: ID1,
    });
    expect(norm(ev(1, [['e', ID1, '', 'mention']])).type).toBe('note');
  });

  it('marked root only: the root is also the parent', () => {
    expect(norm(ev(1, [['e', ID1, '', 'root'], ['p', ALICE]]))).toMatchObject({
      type: 'reply',
      root_event_id: ID1,
      parent_event_id: ID1,
      target_pubkey: ALICE,
    });
  });

  it('marked tags win over positional ones, whatever their order', () => {
    const fact = norm(ev(1, [['e', ID3], ['e', ID2, '', 'reply'], ['e', ID4], ['e', ID1, '', 'root']]));
    expect(fact).toMatchObject({ root_event_id: ID1, parent_event_id: ID2 });
  });

  it('q tags alone make a note (a quote), not a reply', () => {
    expect(norm(ev(1, [['q', ID1, '', ALICE], ['p', ALICE]]))).toMatchObject({
      type: 'note',
      target_event_id: null,
      target_pubkey: null,
    });
  });

  it('skips e tags with malformed ids', () => {
    expect(norm(ev(1, [['e', 'not-an-id', '', 'reply']])).type).toBe('note');
    expect(norm(ev(1, [['e', ID1], ['e', 'xyz']]))).toMatchObject({ root_event_id: ID1, parent_event_id: ID1 });
  });

  describe('replied-to author (target_pubkey)', () => {
    it('prefers the pubkey hint on the parent e tag (5th element), even over p tags', () => {
      const fact = norm(ev(1, [['e', ID1, '', 'root', ALICE], ['e', ID2, '', 'reply', BOB], ['p', CAROL]]));
      expect(fact.target_pubkey).toBe(BOB);
    });

    it('takes a single distinct p tag, even repeated', () => {
      const tags = [['e', ID1, '', 'root'], ['e', ID2, '', 'reply'], ['p', ALICE], ['p', ALICE, 'wss://r']];
      expect(norm(ev(1, tags)).target_pubkey).toBe(ALICE);
    });

    it('is null with several distinct p tags and no hint (NIP-10 gives them no order)', () => {
      const tags = [['e', ID1, '', 'root'], ['e', ID2, '', 'reply'], ['p', ALICE], ['p', BOB], ['p', ALICE]];
      expect(norm(ev(1, tags)).target_pubkey).toBeNull();
    });

    it('accepts a hint in the 4th element of an unmarked e tag (NIP-25 style)', () => {
      expect(norm(ev(1, [['e', ID1, '', CAROL], ['p', ALICE], ['p', BOB]])).target_pubkey).toBe(CAROL);
    });

    it('ignores malformed p tags and lower-cases valid ones', () => {
      expect(norm(ev(1, [['e', ID1], ['p', ALICE.toUpperCase()], ['p', 'nope']])).target_pubkey).toBe(ALICE);
    });

    it('is null when there is no hint and no p tag', () => {
      expect(norm(ev(1, [['e', ID1]])).target_pubkey).toBeNull();
    });

    it('may be the author themself (a reply to one’s own note)', () => {
      expect(norm(ev(1, [['e', ID1, '', 'root', ME], ['p', ME]])).target_pubkey).toBe(ME);
    });
  });
});

describe('NIP-22 comments (kind 1111)', () => {
  const video = `34236:${ALICE}:clip-1`;

  it('a top-level comment on an addressable video: root = parent = the video', () => {
    const fact = norm(
      ev(1111, [
        ['A', video, 'wss://r'],
        ['K', '34236'],
        ['P', ALICE],
        ['a', video, 'wss://r'],
        ['e', ID1, 'wss://r', ALICE],
        ['k', '34236'],
        ['p', ALICE],
      ]),
    );
    expect(fact).toMatchObject({
      type: 'comment',
      root_event_id: null,
      parent_event_id: ID1,
      target_event_id: ID1,
      target_address: video,
      target_pubkey: ALICE,
    });
  });

  it('a reply to a comment: uppercase tags are the root, lowercase the parent comment', () => {
    const fact = norm(
      ev(1111, [
        ['E', ID1, '', ALICE],
        ['K', '1'],
        ['P', ALICE],
        ['e', ID2, '', BOB],
        ['k', '1111'],
        ['p', BOB],
      ]),
    );
    expect(fact).toMatchObject({
      type: 'comment',
      root_event_id: ID1,
      parent_event_id: ID2,
      target_event_id: ID2,
      target_address: null,
      target_pubkey: BOB,
    });
  });

  it('a nested comment under an addressable root keeps the root address', () => {
    const fact = norm(ev(1111, [['A', video], ['K', '34236'], ['P', ALICE], ['e', ID2, '', BOB], ['k', '1111']]));
    expect(fact).toMatchObject({ target_address: video, target_event_id: ID2, target_pubkey: BOB });
  });

  it('a comment on an external id (I/i) has no event targets', () => {
    const fact = norm(ev(1111, [['I', 'https://example.com/'], ['K', 'web'], ['i', 'https://example.com/'], ['k', 'web']]));
    expect(fact).toMatchObject({
      type: 'comment',
      root_event_id: null,
      parent_event_id: null,
      target_event_id: null,
      target_address: null,
      target_pubkey: null,
    });
  });
});

describe('NIP-18 reposts', () => {
  it('the two thread reposts target the thread note and its author (the root marker is irrelevant)', () => {
    for (const id of [
      '1a67f7140520e05929f816d2574765ba96098948e1eaa0e4cc09878c81efd493',
      '2c30801614337350b8f5bd3b2c485ede4c0c41d88bd16b4a1c146702e6f8498a',
    ]) {
      expect(factOf(id)).toMatchObject({
        type: 'repost',
        target_event_id: THREAD_ROOT,
        target_pubkey: THREAD_ROOT_AUTHOR,
        root_event_id: null,
      });
    }
  });

  it('the mixed-kinds repost', () => {
    expect(factOf('c2c56a4f0afb483d2e6d9bcacf5662a8b3de06db891a30c1da2f6e91114aa256')).toMatchObject({
      type: 'repost',
      target_event_id: 'eff1e425d2790ec703bacb0373b067499edf24174b845ac1fb9172987552945b',
      target_pubkey: '50d94fc2d8580c682b071a542f8b1e31a200b0508bab95a33bef0855df281d63',
    });
  });

  it('a kind 16 generic repost of an addressable event takes e, a and p', () => {
    const address = `34236:${ALICE}:clip-1`;
    expect(norm(ev(16, [['e', ID1, 'wss://r'], ['a', address], ['p', ALICE], ['k', '34236']]))).toMatchObject({
      type: 'repost',
      target_event_id: ID1,
      target_address: address,
      target_pubkey: ALICE,
    });
  });
});

describe('NIP-57 zap receipts (zaps-and-videos.jsonl)', () => {
  it('podcast zap lnbc1u: 100 sat from the P tag, to the p tag, no e target', () => {
    expect(factOf('aeacff064116be8628a88a1d801e5e072a16c2a4c29ee1177cf673890d31477b')).toMatchObject({
      type: 'zap',
      author: 'b866ce76be5b826695980248322b8df4c381608ffa5a5b47c4f3abe0d8f767a5',
      zap_msats: 100_000,
      zap_sender: 'f7922a0adb3fa4dda5eecaa62f6f7ee6159f7f55e08036686c68e08382c34788',
      target_pubkey: 'b866ce76be5b826695980248322b8df4c381608ffa5a5b47c4f3abe0d8f767a5',
      target_event_id: null,
      target_address: null,
    });
  });

  it('podcast zap lnbc1230n: 123 sat', () => {
    expect(factOf('881b07bc7ca11abb0fbd52099cef79fdff77ce779a5af0c752982ebe93ef4567')).toMatchObject({
      type: 'zap',
      zap_msats: 123_000,
      zap_sender: '50a63cca15b16b60d329b92f628c432c8c12689b40fe9d0495eb836b5f2df637',
      target_pubkey: 'b866ce76be5b826695980248322b8df4c381608ffa5a5b47c4f3abe0d8f767a5',
      target_event_id: null,
    });
  });

  it('note zap lnbc100n: 10 sat to the zapped note and its author; author is the LNURL server', () => {
    const fact = factOf('707193656edaab92fbd3ebbcfa381ab011bcc8dbce17260a1198b81294879d53');
    expect(fact).toMatchObject({
      type: 'zap',
      author: '79f00d3f5a19ec806189fcab03c1be4ff81d18ee4f653c88fac41fe03570f432',
      zap_msats: 10_000,
      zap_sender: 'd3f94b353542a632962062f3c914638d0deeba64af1f980d93907ee1b3e0d4f9',
      target_event_id: 'be000cd2f9c727040bf8f776977ae13932206b183c7683f3577dbd34a0527265',
      target_pubkey: '83e818dfbeccea56b0f551576b3fd39a7a50e1d8159343500368fa085ccd964b',
    });
    // The zapped note is in the same file and its author is the recipient.
    expect(fixtureEvent(fact.target_event_id!).pubkey).toBe(fact.target_pubkey);
    expect(fact.reaction).toBeNull();
  });

  it('takes the sender from the zap request when the receipt has no P, and keeps the request id', () => {
    const real = fixtureEvent('881b07bc7ca11abb0fbd52099cef79fdff77ce779a5af0c752982ebe93ef4567');
    const request = JSON.parse(real.tags.find((tag) => tag[0] === 'description')![1]!) as { id: string };
    const tampered = { ...real, tags: real.tags.filter((tag) => tag[0] !== 'P') };
    expect(norm(tampered)).toMatchObject({
      zap_msats: 123_000,
      zap_sender: '50a63cca15b16b60d329b92f628c432c8c12689b40fe9d0495eb836b5f2df637', // the request's pubkey
      zap_request_id: request.id,
    });
  });

  // NIP-57 Appendix E: "The `zap receipt` MUST have a `bolt11` tag". Amethyst rejects such a receipt
  // (MISSING_OR_BAD_BOLT11), NDK's zapInvoiceFromEvent returns null, nostrdb does not count it.
  it('refuses a receipt without bolt11, even when its zap request names an amount', () => {
    const real = fixtureEvent('881b07bc7ca11abb0fbd52099cef79fdff77ce779a5af0c752982ebe93ef4567');
    const tampered = { ...real, tags: real.tags.filter((tag) => tag[0] !== 'bolt11') };
    expect(rejection(tampered)).toBe('zap_missing_bolt11');
  });

  // Appendix F: the invoice amount "MUST equal the `amount` tag of the `zap request` (if present)".
  // An amountless invoice with a request amount is a mismatch (Amethyst: MISMATCHED_AMOUNT).
  it('refuses an amountless invoice whose request names an amount', () => {
    const real = fixtureEvent('881b07bc7ca11abb0fbd52099cef79fdff77ce779a5af0c752982ebe93ef4567');
    const tampered = { ...real, tags: real.tags.map((tag) => (tag[0] === 'bolt11' ? ['bolt11', 'lnbc1pvjluez'] : tag)) };
    expect(rejection(tampered)).toBe('zap_amount_mismatch');
  });
});

/** The reason normalise refuses an event for, or null when it makes a fact. */
function rejection(event: NostrEvent): string | null {
  try {
    norm(event);
    return null;
  } catch (error) {
    if (error instanceof EventRejectedError) return error.reason;
    throw error;
  }
}

describe('NIP-57 zap receipts (hand-built)', () => {
  const request = (tags: string[][], pubkey = BOB, id = ID4) => JSON.stringify({ id, kind: 9734, pubkey, tags, content: '' });

  it('credits the invoice amount when it equals the request amount, with the request id', () => {
    const fact = norm(ev(9735, [['p', ALICE], ['bolt11', 'lnbc210n1pvjluez'], ['description', request([['amount', '21000'], ['p', ALICE]])]]));
    expect(fact).toMatchObject({ type: 'zap', zap_msats: 21_000, zap_sender: BOB, target_pubkey: ALICE, zap_request_id: ID4 });
  });

  it('refuses a receipt whose invoice disagrees with the request amount (Appendix F)', () => {
    expect(rejection(ev(9735, [['p', ALICE], ['bolt11', 'lnbc5u1pvjluez'], ['description', request([['amount', '1']])]]))).toBe('zap_amount_mismatch');
  });

  it('refuses an amountless invoice without a request amount: nothing to credit (nostrdb and nostr-tools would read 0)', () => {
    expect(rejection(ev(9735, [['p', ALICE], ['bolt11', 'lnbc1pvjluez'], ['description', request([['p', ALICE]])]]))).toBe('zap_without_amount');
    expect(rejection(ev(9735, [['p', ALICE], ['bolt11', 'not an invoice']]))).toBe('zap_without_amount');
    expect(rejection(ev(9735, [['p', ALICE]]))).toBe('zap_missing_bolt11');
  });

  it('survives a malformed description and keeps what the receipt says', () => {
    for (const description of ['{not json', 'null', '42', '"text"', '[]', '{"tags":"x","pubkey":7,"id":3}', '']) {
      const fact = norm(ev(9735, [['p', ALICE], ['P', CAROL], ['bolt11', 'lnbc10u1pvjluez'], ['description', description]]));
      expect(fact).toMatchObject({ type: 'zap', zap_msats: 1_000_000, zap_sender: CAROL, target_pubkey: ALICE, zap_request_id: null });
    }
  });

  it('ignores a malformed request amount or pubkey', () => {
    const fact = norm(ev(9735, [['p', ALICE], ['bolt11', 'lnbc10u1pvjluez'], ['description', request([['amount', '12abc']], 'nobody')]]));
    expect(fact).toMatchObject({ zap_msats: 1_000_000, zap_sender: null });
  });

  it('takes an a-tag target for a zap on an addressable event', () => {
    const address = `34236:${ALICE}:clip-1`;
    const fact = norm(ev(9735, [['p', ALICE], ['e', ID1], ['a', address], ['P', BOB], ['bolt11', 'lnbc10u1pvjluez']]));
    expect(fact).toMatchObject({ target_event_id: ID1, target_address: address, zap_msats: 1_000_000, zap_sender: BOB });
  });
});

describe('NIP-71 videos', () => {
  it('reads the untitled divine.video clip (first imeta url, top-level duration)', () => {
    const fact = factOf('26eff0b456d3f9b0030f6897aa0f23c5fc7f52301e468d836c6c3347f3f805f0');
    expect(fact).toMatchObject({
      type: 'video',
      kind: 34236,
      title: null, // the title tag is empty
      d_tag: '97a09d5ad5874c1234c2d4f8cab1001895582afbda3b48e97513b00f79cd54b7',
      target_address:
        '34236:a0e998aaf688a5ee796384212681c670446c430fd60bf9e942606d68ab564324:97a09d5ad5874c1234c2d4f8cab1001895582afbda3b48e97513b00f79cd54b7',
      media_url: 'https://cdn.divine.video/97a09d5ad5874c1234c2d4f8cab1001895582afbda3b48e97513b00f79cd54b7.mp4',
      image_url: 'https://stream.divine.video/678778b3-b8a3-4a57-ac34-6f046907aab0/thumbnail.jpg',
      duration_s: 6,
      published_at: 1763406697,
      hashtags: [],
      target_event_id: null,
      target_pubkey: null,
    });
  });

  it('reads "70s bathroom"', () => {
    const event = fixtureEvent('82bb357dc59d3361bbf6ff768513e8f5e4eed5504ab6656c4c3c665618765266');
    const fact = norm(event);
    expect(fact).toMatchObject({
      type: 'video',
      title: '70s bathroom',
      d_tag: '684ee62db8db6347a4a1ef27a23c363f1129a65efa4930d8f7e17a4be3b4b5b1',
      target_address:
        '34236:7306f0459d42ed3b50926256710beb8ef031a80b659aa9ae819ec4fab4bd8812:684ee62db8db6347a4a1ef27a23c363f1129a65efa4930d8f7e17a4be3b4b5b1',
      media_url: 'https://cdn.divine.video/684ee62db8db6347a4a1ef27a23c363f1129a65efa4930d8f7e17a4be3b4b5b1.mp4',
      image_url: 'https://cdn.divine.video/bcd371cc9bb42efaab5cdb5afd70b90523043924652a02a5347ae8f894706c83.jpg',
      duration_s: 3,
      published_at: 1763330239,
      hashtags: ['vine', 'nostr'],
    });
    expect(fact.target_address).toBe(addressOf(event));
  });

  it('kind 21/22 videos are not addressable and fall back to top-level url, thumb and duration tags', () => {
    const fact = norm(
      ev(21, [
        ['title', '  A talk  '],
        ['imeta', 'm video/mp4', 'image https://img/ignored.jpg'], // no url: skipped
        ['url', 'https://v/talk.mp4'],
        ['thumb', 'https://img/talk.jpg'],
        ['duration', '29.5'],
        ['published_at', 'soon'],
        ['d', 'ignored'],
      ]),
    );
    expect(fact).toMatchObject({
      type: 'video',
      title: 'A talk',
      media_url: 'https://v/talk.mp4',
      image_url: 'https://img/talk.jpg',
      duration_s: 29.5,
      published_at: null,
      d_tag: null,
      target_address: null,
    });
    expect(norm(ev(22, [])).type).toBe('video');
  });

  it('imeta duration wins over the top-level tag; image beats thumb', () => {
    const fact = norm(
      ev(34235, [
        ['d', 'talk'],
        ['imeta', 'url https://v/a.mp4', 'duration 12.25'],
        ['duration', '99'],
        ['image', 'https://img/a.jpg'],
        ['thumb', 'https://img/b.jpg'],
      ]),
    );
    expect(fact).toMatchObject({ duration_s: 12.25, image_url: 'https://img/a.jpg', target_address: `34235:${ME}:talk` });
    expect(norm(ev(34236, [['duration', '-3']])).duration_s).toBeNull();
    expect(norm(ev(34236, [['duration', '1.2.3']])).duration_s).toBeNull();
  });

  it('an addressable video without a d tag has d = "" and address kind:pubkey:', () => {
    expect(norm(ev(34236, []))).toMatchObject({ d_tag: '', target_address: `34236:${ME}:` });
  });

  it('title is only read for videos', () => {
    expect(norm(ev(1, [['title', 'x']])).title).toBeNull();
    expect(norm(ev(30023, [['d', 'a'], ['title', 'x']])).title).toBeNull();
  });
});

describe('NIP-09 deletions (mixed-kinds.jsonl)', () => {
  it('both deletions target the author’s event 8b22b43b…, with no target pubkey', () => {
    for (const id of [
      'b2a975890c554d6071d9dd1200cfd2020bc8be752d5e845e8d6ab6e5eb92f7ce',
      '92dc035f4ee6747cf9b12f5d3265c6f015f4e0e2ed89ef78fa46dfe8f4536b24',
    ]) {
      expect(factOf(id)).toMatchObject({
        type: 'deletion',
        author: '460c25e682fda7832b52d1f22d3d22b3176d972f60dcdc3212ed8c92ef85065c',
        target_event_id: '8b22b43b5c93e5b84830446c7ec610fa88155dc62ecca4d32514e63d49081335',
        target_address: null,
        target_pubkey: null,
      });
    }
  });

  it('an a deletion keeps the first a tag', () => {
    expect(norm(ev(5, [['a', `30023:${ME}:post`], ['a', `30023:${ME}:other`], ['k', '30023']]))).toMatchObject({
      type: 'deletion',
      target_event_id: null,
      target_address: `30023:${ME}:post`,
    });
  });
});

describe('other kinds', () => {
  it('pass through as other without targets (mixed-kinds.jsonl)', () => {
    const kinds = new Set([4, 1063, 1984, 42, 40, 41, 1065, 1311, 30078, 30000]);
    const events = fixtures['mixed-kinds'].filter((event) => kinds.has(event.kind));
    expect(new Set(events.map((event) => event.kind))).toEqual(kinds);
    for (const event of events) {
      const fact = norm(event);
      expect(fact.type).toBe('other');
      expect(fact).toMatchObject({ target_pubkey: null, target_event_id: null, reaction: null, zap_msats: null });
    }
  });

  it('addressable "other" events carry their own address and d tag', () => {
    expect(factOf('63407a41d95e8e78c33b0d88a329331968a1b6a8f0f3c8c5d1a5b0761d2d5923')).toMatchObject({
      type: 'other',
      kind: 30078,
      d_tag: 'read-mark-map',
      target_address: '30078:460c25e682fda7832b52d1f22d3d22b3176d972f60dcdc3212ed8c92ef85065c:read-mark-map',
    });
    expect(factOf('fe6e8976ed1f8ae9906457bf5a0f7ce6c2382844872628aed2b1b66eeff79558').d_tag).toBe('mute');
  });

  it('kind 3 is contacts, kind 0 is a profile, neither with targets', () => {
    expect(factOf('4efe027b19cc54a8f4c1ab8cc9f89ae3d88b3d93cfde079d6c8d9804fd6d1ec2')).toMatchObject({
      type: 'contacts',
      target_pubkey: null,
      target_event_id: null,
      target_address: null,
    });
    expect(norm(ev(0, [], '{"name":"me"}'))).toMatchObject({ type: 'profile', target_pubkey: null });
  });

  it('never throws on odd tags (a receipt that cannot be credited is refused by reason, not by accident)', () => {
    const odd = [[], ['e'], ['p'], ['a', ':::'], ['a', `x:${ALICE}:d`], ['t'], ['d'], ['imeta'], ['bolt11'], ['description']];
    for (const kind of [0, 1, 3, 5, 6, 7, 16, 17, 21, 1111, 30023, 34236, 65535]) {
      expect(() => norm(ev(kind, odd))).not.toThrow();
    }
    expect(rejection(ev(9735, odd))).toBe('zap_missing_bolt11');
  });
});

describe('hashtags (all kinds)', () => {
  it('are lower-cased, trimmed, unique in first-seen order, without empties', () => {
    const fact = norm(ev(1, [['t', ' Nostr '], ['t', 'bitcoin'], ['t', 'NOSTR'], ['t', ''], ['t', '  '], ['t', 'Zap']]));
    expect(fact.hashtags).toEqual(['nostr', 'bitcoin', 'zap']);
  });

  it('are capped at 64 characters each and 20 in all', () => {
    const long = 'x'.repeat(100);
    expect(norm(ev(1, [['t', long]])).hashtags).toEqual(['x'.repeat(64)]);
    const many = Array.from({ length: 30 }, (_, i) => ['t', `tag${i}`]);
    const hashtags = norm(ev(1, many)).hashtags;
    expect(hashtags).toHaveLength(20);
    expect(hashtags[19]).toBe('tag19');
  });

  it('come from the fixture note that a zap targets', () => {
    expect(factOf('be000cd2f9c727040bf8f776977ae13932206b183c7683f3577dbd34a0527265').hashtags).toEqual(['bitcoin']);
  });
});

describe('kind classes (NIP-01)', () => {
  it('isReplaceable: 0, 3 and 10000–19999', () => {
    for (const kind of [0, 3, 10000, 10002, 19999]) expect(isReplaceable(kind)).toBe(true);
    for (const kind of [1, 2, 4, 7, 9999, 20000, 30000]) expect(isReplaceable(kind)).toBe(false);
  });

  it('isAddressable: 30000–39999', () => {
    for (const kind of [30000, 30023, 34235, 34236, 39999]) expect(isAddressable(kind)).toBe(true);
    for (const kind of [0, 3, 10000, 29999, 40000]) expect(isAddressable(kind)).toBe(false);
  });

  it('addressOf: kind:pubkey:d with the first d tag, else null', () => {
    expect(addressOf(ev(30023, [['d', 'first'], ['d', 'second']]))).toBe(`30023:${ME}:first`);
    expect(addressOf(ev(30023, []))).toBe(`30023:${ME}:`);
    expect(addressOf(ev(30023, [['d', 'a:b:c']]))).toBe(`30023:${ME}:a:b:c`);
    expect(addressOf(ev(1, [['d', 'x']]))).toBeNull();
    expect(addressOf(ev(10002, []))).toBeNull();
  });
});

// ---------------------------------------------------------------------------------------------------------
// The edge cases where Funnel once disagreed with the NIP text, as peers' tests shape the events
// (vectors written from nostr-tools nip22.test.ts, Amethyst CommentEvent/VideoEvent, NDK video.ts).

describe('NIP edge cases, decided by the NIP text', () => {
  // NIP-22: "`p` for the author of the parent item"; the e tag's 4th element is "<parent event's
  // pubkey, if an e tag>". A comment on a comment often repeats the root's author as the first `p`.
  it('a comment on a comment credits the parent author on the e tag, not the first p', () => {
    const fact = norm(
      ev(1111, [
        ['E', ID1, 'wss://r', ALICE],
        ['K', '1063'],
        ['P', ALICE],
        ['e', ID2, 'wss://r', BOB],
        ['k', '1111'],
        ['p', ALICE],
        ['p', BOB],
      ]),
    );
    expect(fact).toMatchObject({ type: 'comment', root_event_id: ID1, parent_event_id: ID2, target_pubkey: BOB });
  });

  it('without a hint, one lowercase p is the parent author; several are left to the parent lookup', () => {
    expect(norm(ev(1111, [['E', ID1], ['K', '1'], ['P', ALICE], ['e', ID2], ['k', '1111'], ['p', BOB]])).target_pubkey).toBe(BOB);
    expect(norm(ev(1111, [['E', ID1], ['K', '1'], ['P', ALICE], ['e', ID2], ['k', '1111'], ['p', ALICE], ['p', BOB]])).target_pubkey).toBeNull();
    // The root's author (P) is never the parent's.
    expect(norm(ev(1111, [['E', ID1], ['K', '1'], ['P', ALICE], ['e', ID2], ['k', '1111']])).target_pubkey).toBeNull();
  });

  // NIP-71: "Each `imeta` tag can be used to specify a variant of the video by the `dim` & `m`
  // properties, as well as multiple audio tracks". NDK's video.ts takes the first imeta whatever its m.
  it('a video whose audio track comes first takes the video variant and its thumbnail', () => {
    const fact = norm(
      ev(21, [
        ['title', 'T'],
        ['imeta', 'url https://a.example/en.mp3', 'm audio/mp3', 'l en ISO-639-1 ov'],
        ['imeta', 'url https://v.example/1080.mp4', 'm video/mp4', 'dim 1920x1080', 'image https://v.example/1080.jpg', 'duration 29.5'],
        ['imeta', 'url https://v.example/720.m3u8', 'm application/x-mpegURL', 'dim 1280x720', 'image https://v.example/720.jpg'],
      ]),
    );
    expect(fact).toMatchObject({ type: 'video', media_url: 'https://v.example/1080.mp4', image_url: 'https://v.example/1080.jpg', duration_s: 29.5 });
  });

  it('an HLS variant counts as video (both spellings), an imeta without m too; a preview comes from any variant', () => {
    const hls = norm(ev(22, [['imeta', 'url https://a.example/x.mp3', 'm audio/mpeg'], ['imeta', 'url https://v.example/x.m3u8', 'm application/vnd.apple.mpegurl'], ['imeta', 'url https://v.example/y.mp4', 'image https://v.example/y.jpg']]));
    expect(hls).toMatchObject({ media_url: 'https://v.example/x.m3u8', image_url: 'https://v.example/y.jpg' });
    const audioOnly = norm(ev(21, [['imeta', 'url https://a.example/x.mp3', 'm audio/mpeg'], ['url', 'https://v.example/legacy.mp4'], ['thumb', 'https://v.example/t.jpg']]));
    expect(audioOnly).toMatchObject({ media_url: 'https://v.example/legacy.mp4', image_url: 'https://v.example/t.jpg' });
  });

  // NIP-25 "External Content Reactions": "the reaction MUST be a `kind 17` event and MUST include NIP-73
  // external content `k` + `i` tags"; before 2025-08 kind 17 reacted to a website named by `r`.
  it('kind 17 is a reaction, to external content: nothing Nostr to credit', () => {
    for (const tags of [[['k', 'web'], ['i', 'https://example.com']], [['r', 'https://example.com/']]]) {
      expect(norm(ev(17, tags, '⭐'))).toMatchObject({ type: 'reaction', reaction: '⭐', target_event_id: null, target_address: null, target_pubkey: null });
    }
    expect(norm(ev(17, [['k', 'web'], ['i', 'https://example.com']], '+')).reaction).toBe('+');
  });

  // NIP-09: "a list of one or more `e` or `a` tags, each referencing an event the author is requesting to be deleted".
  it('a deletion keeps every event it names, unique and bounded', () => {
    const fact = norm(ev(5, [['e', ID1], ['k', '7'], ['e', ID2], ['e', ID1], ['e', 'not-hex'], ['a', `30023:${ME}:x`]]));
    expect(fact).toMatchObject({ type: 'deletion', target_event_id: ID1, deleted_event_ids: [ID1, ID2] });
    const many = norm(ev(5, Array.from({ length: 500 }, (_, i) => ['e', i.toString(16).padStart(64, '0')])));
    expect(many.deleted_event_ids).toHaveLength(MAX_DELETION_TARGETS);
    expect(norm(ev(1, [])).deleted_event_ids).toEqual([]);
  });
});
