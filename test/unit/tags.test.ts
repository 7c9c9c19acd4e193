import { describe, expect, it } from 'vitest';
import { appEventSchema, appFact } from '../../lib/app/events.js';
import { deletionTargets } from '../../lib/nostr/deletion.js';
import type { NostrEvent } from '../../lib/nostr/event.js';
import {
  addressKind,
  addressOf,
  addressPubkey,
  dTagOf,
  EVENT_ID_OR_ADDRESS_PATTERN,
  firstTag,
  firstTagValue,
  formatAddress,
  hashtagsOf,
  hex64,
  imetaValue,
  isAddress,
  isEventIdOrAddress,
  lastTag,
  MAX_D_TAG_CHARS,
  parseAddress,
  pubkeyHint,
  tagValues,
} from '../../lib/nostr/tags.js';

const PK = 'a'.repeat(64);
const OTHER = 'b'.repeat(64);
const UPPER = 'ABCDEF0123456789'.repeat(4);
const ID = 'c'.repeat(64);

const ev = (kind: number, tags: string[][], pubkey = PK): NostrEvent => ({ id: ID, pubkey, created_at: 1_700_000_000, kind, tags, content: '', sig: '0'.repeat(128) });

describe('parseAddress: NIP-01 coordinates kind:pubkey:d, normalised, else null', () => {
  it('keeps a well-formed address as it is', () => {
    expect(parseAddress(`30023:${PK}:post`)).toBe(`30023:${PK}:post`);
    expect(parseAddress(`0:${PK}:`)).toBe(`0:${PK}:`);
  });

  it('normalises: the pubkey lower-cased, the kind without leading zeros', () => {
    expect(parseAddress(`30023:${UPPER}:Post`)).toBe(`30023:${UPPER.toLowerCase()}:Post`);
    expect(parseAddress(`030023:${PK}:x`)).toBeNull(); // six characters of kind: past 65535's five
    expect(parseAddress(`07:${PK}:x`)).toBe(`7:${PK}:x`);
  });

  it('refuses bad kinds: empty, not digits, negative, past 65535', () => {
    for (const kind of ['', 'x', '-1', '1e3', '3.5', ' 1', '65536', '99999', '123456']) expect(parseAddress(`${kind}:${PK}:d`), kind).toBeNull();
    expect(parseAddress(`65535:${PK}:d`)).toBe(`65535:${PK}:d`);
  });

  it('refuses a pubkey that is not 64 hex characters', () => {
    expect(parseAddress(`30023:${'a'.repeat(63)}:d`)).toBeNull();
    expect(parseAddress(`30023:${'a'.repeat(65)}:d`)).toBeNull();
    expect(parseAddress(`30023:${'g'.repeat(64)}:d`)).toBeNull();
    expect(parseAddress(`30023:npub1${'q'.repeat(59)}:d`)).toBeNull();
  });

  it('needs the second colon; the d may be empty and may contain colons', () => {
    expect(parseAddress(`30023:${PK}`)).toBeNull();
    expect(parseAddress(`30023:${PK}x`)).toBeNull();
    expect(parseAddress(`30023:${PK}:`)).toBe(`30023:${PK}:`);
    expect(parseAddress(`30023:${PK}:a:b:c`)).toBe(`30023:${PK}:a:b:c`);
    expect(parseAddress(`30023:${PK}::`)).toBe(`30023:${PK}::`);
  });

  it('takes a d of up to MAX_D_TAG_CHARS, not one more', () => {
    expect(parseAddress(`30023:${PK}:${'x'.repeat(MAX_D_TAG_CHARS)}`)).not.toBeNull();
    expect(parseAddress(`30023:${PK}:${'x'.repeat(MAX_D_TAG_CHARS + 1)}`)).toBeNull();
  });

  it('trims nothing and takes no non-strings', () => {
    expect(parseAddress(` 30023:${PK}:d`)).toBeNull();
    expect(parseAddress(undefined)).toBeNull();
    expect(parseAddress('')).toBeNull();
    expect(parseAddress(':::')).toBeNull();
  });
});

describe('the parts of a normalised address', () => {
  it('kind and pubkey, whatever the d holds', () => {
    const address = `34235:${PK}:a:${OTHER}:c`;
    expect(addressKind(address)).toBe(34235);
    expect(addressPubkey(address)).toBe(PK);
    expect(addressPubkey(`0:${OTHER}:`)).toBe(OTHER);
  });

  it('isAddress: only the form parseAddress writes', () => {
    expect(isAddress(`30023:${PK}:d`)).toBe(true);
    expect(isAddress(`30023:${UPPER}:d`)).toBe(false);
    expect(isAddress(`07:${PK}:d`)).toBe(false);
    expect(isAddress(PK)).toBe(false);
  });

  it('isEventIdOrAddress: a 64 lower-case hex id or a normalised address; the documents\' pattern admits every one', () => {
    const yes = [ID, `30023:${PK}:`, `30023:${PK}:with:colons`, `1:${PK}:${'x'.repeat(MAX_D_TAG_CHARS)}`];
    const no = [UPPER, 'c'.repeat(63), `${ID}:`, `30023:${UPPER}:d`, `70000:${PK}:d`, `030023:${PK}:d`, `30023:${PK}:${'x'.repeat(MAX_D_TAG_CHARS + 1)}`, `30023:${PK}`];
    for (const value of yes) {
      expect(isEventIdOrAddress(value), value).toBe(true);
      expect(EVENT_ID_OR_ADDRESS_PATTERN.test(value), value).toBe(true);
    }
    for (const value of no) expect(isEventIdOrAddress(value), value).toBe(false);
  });
});

describe('addressOf and dTagOf: an event\'s own address', () => {
  it('kind:pubkey:d with the first d tag; empty when absent or without a value; ":" kept', () => {
    expect(addressOf(ev(30023, [['d', 'first'], ['d', 'second']]))).toBe(`30023:${PK}:first`);
    expect(addressOf(ev(30023, []))).toBe(`30023:${PK}:`);
    expect(addressOf(ev(30023, [['d']]))).toBe(`30023:${PK}:`);
    expect(addressOf(ev(34235, [['d', 'a:b']]))).toBe(`34235:${PK}:a:b`);
    expect(dTagOf(ev(39999, [['d', '']]))).toBe('');
  });

  it('null for kinds that are not addressable (replaceable ones included)', () => {
    for (const kind of [0, 1, 3, 10002, 29999, 40000]) {
      expect(addressOf(ev(kind, [['d', 'x']])), String(kind)).toBeNull();
      expect(dTagOf(ev(kind, [['d', 'x']])), String(kind)).toBeNull();
    }
  });

  it('what it writes parses back to itself', () => {
    const address = addressOf(ev(30023, [['d', 'a:b:c']]))!;
    expect(parseAddress(address)).toBe(address);
    expect(formatAddress(30023, PK, 'a:b:c')).toBe(address);
  });
});

describe('tag readers', () => {
  const tags = [['e', 'one'], ['p', PK], ['e', 'two', 'wss://r'], ['e'], ['t', 'x'], ['e', 'three']];

  it('first and last tag of a name, and values', () => {
    expect(firstTag(tags, 'e')).toEqual(['e', 'one']);
    expect(lastTag(tags, 'e')).toEqual(['e', 'three']);
    expect(firstTag(tags, 'a')).toBeUndefined();
    expect(lastTag([], 'e')).toBeUndefined();
    expect(firstTagValue(tags, 'p')).toBe(PK);
    expect(firstTagValue([['bolt11']], 'bolt11')).toBeUndefined();
    expect(tagValues(tags, 'e')).toEqual(['one', 'two', 'three']);
    expect(tagValues(tags, 'q')).toEqual([]);
  });

  it('imetaValue: the first "key value" entry, whole keys only', () => {
    const imeta = ['imeta', 'url https://v/1.mp4', 'urlx nope', 'm video/mp4', 'url https://v/2.mp4'];
    expect(imetaValue(imeta, 'url')).toBe('https://v/1.mp4');
    expect(imetaValue(imeta, 'm')).toBe('video/mp4');
    expect(imetaValue(imeta, 'image')).toBeUndefined();
    expect(imetaValue(['imeta', 'url'], 'url')).toBeUndefined();
  });

  it('pubkeyHint: the 5th element (NIP-10 marked), else the 4th; hex only', () => {
    expect(pubkeyHint(['e', ID, '', 'reply', PK])).toBe(PK);
    expect(pubkeyHint(['e', ID, '', UPPER])).toBe(UPPER.toLowerCase());
    expect(pubkeyHint(['e', ID, '', 'root'])).toBeNull();
  });

  it('hashtagsOf: t tags trimmed, lower-cased, unique, empties dropped, at most 20 of at most 64 code points', () => {
    expect(hashtagsOf([['t', ' Nostr '], ['t', 'nostr'], ['t', ''], ['t'], ['T', 'x'], ['t', 'Zaps']])).toEqual(['nostr', 'zaps']);
    expect(hashtagsOf(Array.from({ length: 30 }, (_, i) => ['t', `tag${i}`]))).toHaveLength(20);
    expect(hashtagsOf([['t', '🔥'.repeat(70)]])[0]).toBe('🔥'.repeat(64));
  });

  it('hex64: 64 hex characters, lower-cased; anything else null', () => {
    expect(hex64(ID)).toBe(ID);
    expect(hex64(UPPER)).toBe(UPPER.toLowerCase());
    expect(hex64(` ${ID.slice(1)}`)).toBeNull();
    expect(hex64(undefined)).toBeNull();
  });
});

describe('callers read by the same rules', () => {
  it('a deletion names ids and its author\'s own addresses, normalised as its fact names them', () => {
    const targets = deletionTargets(
      ev(5, [
        ['e', UPPER],
        ['e', ID],
        ['e', ` ${ID} `],
        ['e', 'not-hex'],
        ['a', `30023:${UPPER.toLowerCase()}:Post`],
        ['a', `30023:${OTHER}:theirs`],
        ['a', `99999999:${UPPER.toLowerCase()}:bad-kind`],
        ['a', `30023:${UPPER.toLowerCase()}:a:b`],
      ], UPPER.toLowerCase()),
    );
    expect(targets.eventIds).toEqual([UPPER.toLowerCase(), ID]);
    expect(targets.addresses).toEqual([`30023:${UPPER.toLowerCase()}:Post`, `30023:${UPPER.toLowerCase()}:a:b`]);
    // an upper-case pubkey in the address is the same address, stored as the facts name it
    expect(deletionTargets(ev(5, [['a', `30023:${UPPER}:Post`]], UPPER.toLowerCase())).addresses).toEqual([`30023:${UPPER.toLowerCase()}:Post`]);
    expect(deletionTargets(ev(1, [['e', ID]]))).toEqual({ eventIds: [], addresses: [] });
  });

  it('an app event targets an id or an address by the same rule, its pubkey read from the address', () => {
    const ok = (target: string) => appEventSchema.safeParse({ name: 'view', userId: 'u', target }).success;
    expect(ok(ID)).toBe(true);
    expect(ok(`34235:${PK}:clip:1`)).toBe(true);
    expect(ok(`34235:${PK}:${'x'.repeat(MAX_D_TAG_CHARS)}`)).toBe(true);
    expect(ok(`70000:${PK}:d`)).toBe(false);
    expect(ok(`34235:${UPPER}:d`)).toBe(false);
    const fact = appFact({ name: 'view', userId: 'u', target: `34235:${PK}:clip:1` }, 'p', 1_700_000_000_000);
    expect(fact).toMatchObject({ target_pubkey: PK, target_address: `34235:${PK}:clip:1`, target_event_id: null });
    expect(appFact({ name: 'view', userId: 'u', target: ID }, 'p', 1_700_000_000_000)).toMatchObject({ target_pubkey: null, target_address: null, target_event_id: ID });
  });
});
