/** Bounded top-N lists kept per bucket: drill-downs read a few small lists, never raw events. */
export const TOP_N = 10;

export type TopList = [key: string, amount: number][];

/** Adds lists together and keeps the N largest (ties by key, so the result is deterministic). */
export function mergeTop(lists: Iterable<TopList>, n = TOP_N): TopList {
  const totals = new Map<string, number>();
  for (const list of lists) for (const [key, amount] of list) totals.set(key, (totals.get(key) ?? 0) + amount);
  return firstEntries(totals, n);
}

/** The order of every top list: larger amounts first, ties by key. */
const ranksBefore = (a: [string, number], b: [string, number]) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1);

/**
 * The first n of distinct keys' entries in top-list order. A short list is picked in one pass over
 * the entries (a merged list holds every key of every bucket), without sorting them all.
 */
export function firstEntries(entries: Iterable<[string, number]>, n: number): TopList {
  if (n > 32) return [...entries].sort(ranksBefore).slice(0, n);
  const top: TopList = [];
  if (n <= 0) return top;
  for (const entry of entries) {
    if (top.length === n && ranksBefore(entry, top[n - 1]!) > 0) continue;
    let i = top.length;
    while (i > 0 && ranksBefore(entry, top[i - 1]!) < 0) i--;
    top.splice(i, 0, entry);
    if (top.length > n) top.pop();
  }
  return top;
}

/*
 * A top list as an item stores it (a binary attribute): a format byte (1), then per entry a header byte
 * (bit 0: the key is UTF-8 text, else 32 bytes of lower-case hex such as an event id or a pubkey; bit 1:
 * the amount is a float64, else an unsigned LEB128 integer), the key (text: its byte length as LEB128,
 * then the bytes) and the amount. Ids and pubkeys take 33 bytes instead of JSON's 70, amounts 1-3, and a
 * read walks the bytes without a JSON parse or an array per entry. Items are priced by their whole size
 * on every Put and every Query, so this is most of a day item's saving.
 */
const TOP_LIST_FORMAT = 1;
const TEXT_KEY = 1;
const FLOAT_AMOUNT = 2;
const HEX_KEY = /^[0-9a-f]{64}$/;
const HEX_PAIRS = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

function pushVarint(out: number[], value: number): void {
  while (value >= 128) {
    out.push((value % 128) | 128);
    value = Math.floor(value / 128);
  }
  out.push(value);
}

/** The bytes an item stores for a top list (its entries in order). */
export function encodeTopList(list: TopList): Uint8Array {
  const out: number[] = [TOP_LIST_FORMAT];
  for (const [key, amount] of list) {
    const hexKey = HEX_KEY.test(key);
    const intAmount = Number.isSafeInteger(amount) && amount >= 0;
    out.push((hexKey ? 0 : TEXT_KEY) | (intAmount ? 0 : FLOAT_AMOUNT));
    if (hexKey) for (let i = 0; i < 64; i += 2) out.push(parseInt(key.slice(i, i + 2), 16));
    else {
      const bytes = utf8.encode(key);
      pushVarint(out, bytes.length);
      for (const byte of bytes) out.push(byte);
    }
    if (intAmount) pushVarint(out, amount);
    else {
      const float = new Uint8Array(new Float64Array([amount]).buffer);
      for (const byte of float) out.push(byte);
    }
  }
  return Uint8Array.from(out);
}

/**
 * Calls `visit` with each entry of a stored top list, in order. A list cut short or of another format
 * yields the entries before the damage (stored lists are well formed; a read never throws on one).
 */
export function forEachTopEntry(bytes: Uint8Array, visit: (key: string, amount: number) => void): void {
  if (bytes[0] !== TOP_LIST_FORMAT) return;
  const end = bytes.length;
  let at = 1;
  const varint = (): number => {
    let value = 0;
    for (let scale = 1; at < end && scale <= 2 ** 49; scale *= 128) {
      const byte = bytes[at++]!;
      value += (byte & 127) * scale;
      if (byte < 128) return value;
    }
    return -1;
  };
  while (at < end) {
    const header = bytes[at++]!;
    if (header > 3) return;
    let key: string;
    if (header & TEXT_KEY) {
      const length = varint();
      if (length < 0 || at + length > end) return;
      key = fromUtf8.decode(bytes.subarray(at, at + length));
      at += length;
    } else {
      if (at + 32 > end) return;
      key = '';
      for (let i = 0; i < 32; i++) key += HEX_PAIRS[bytes[at + i]!];
      at += 32;
    }
    let amount: number;
    if (header & FLOAT_AMOUNT) {
      if (at + 8 > end) return;
      amount = new DataView(bytes.buffer, bytes.byteOffset + at, 8).getFloat64(0, true);
      at += 8;
    } else if ((amount = varint()) < 0) return;
    visit(key, amount);
  }
}

/** A stored top list's entries. */
export function decodeTopList(bytes: Uint8Array): TopList {
  const list: TopList = [];
  forEachTopEntry(bytes, (key, amount) => list.push([key, amount]));
  return list;
}

/** Top lists are the item attributes named `top_…` (a store tells them from sketches by the name). */
export const isTopListName = (name: string) => name.startsWith('top_');

/** Throws on a top list not named `top_…`: stored, it would read back as a sketch. */
export function assertTopListNames(item: { tops?: Record<string, unknown> }): void {
  for (const name in item.tops) if (!isTopListName(name)) throw new Error(`a top list must be named top_…, not "${name}"`);
}

const isTopEntry = (e: unknown) => Array.isArray(e) && typeof e[0] === 'string' && typeof e[1] === 'number';

/** A top list as JSON text (how items stored them before the binary form, and how the settle SQL emits them). */
export function parseTop(text: string | undefined): TopList {
  if (!text) return [];
  try {
    const value = JSON.parse(text) as unknown;
    if (!Array.isArray(value)) return [];
    // Stored lists are well formed: copy only one that is not.
    return (value.every(isTopEntry) ? value : value.filter(isTopEntry)) as TopList;
  } catch {
    return [];
  }
}

/**
 * Top-list entries stored as numeric attributes of a user's minute item (`tp:<post>`, `tt:<tag>`,
 * `tz:<zapper>`): the minutes of a sparse hour carry them in place of the hour item's lists
 * (contributions.ts, SPARSE_HOUR_EVENTS); reads merge them into the lists.
 */
export const TOP_LIST_BY_PREFIX: Record<string, 'top_posts' | 'top_tags' | 'top_zappers'> = { 'tp:': 'top_posts', 'tt:': 'top_tags', 'tz:': 'top_zappers' };
export const TOP_PREFIX_BY_LIST: Record<string, string> = Object.fromEntries(Object.entries(TOP_LIST_BY_PREFIX).map(([prefix, list]) => [list, prefix]));
/** the top-list entry's attribute name */
export const topEntryMetric = (list: string, key: string) => `${TOP_PREFIX_BY_LIST[list]}${key}`;
/** The list a minute item's top-list entry attribute belongs to; undefined for any other attribute. */
export function topListOfMetric(metric: string): 'top_posts' | 'top_tags' | 'top_zappers' | undefined {
  // Every prefix is `t?:`: most attributes are told apart without cutting a string.
  if (metric.charCodeAt(2) !== 58 /* : */ || metric.charCodeAt(0) !== 116 /* t */) return undefined;
  return TOP_LIST_BY_PREFIX[metric.slice(0, 3)];
}
/** True for a minute item's detail attributes (top-list entries), which only sparse hours' reads use. */
export const isTopEntryMetric = (metric: string) => topListOfMetric(metric) !== undefined;
