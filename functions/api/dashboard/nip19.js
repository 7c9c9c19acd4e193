// NIP-19 bech32 encodings for links to the events and people the page lists (note1…, npub1…, naddr1…).

const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const GENERATOR = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];

function polymod(values) {
  let chk = 1;
  for (const value of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ value;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= GENERATOR[i];
  }
  return chk >>> 0;
}

function hrpExpand(hrp) {
  const codes = [...hrp].map((c) => c.charCodeAt(0));
  return [...codes.map((c) => c >>> 5), 0, ...codes.map((c) => c & 31)];
}

/** 8-bit bytes to 5-bit words, padded. */
function toWords(bytes) {
  const words = [];
  let acc = 0;
  let bits = 0;
  for (const byte of bytes) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      words.push((acc >>> bits) & 31);
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) words.push((acc << (5 - bits)) & 31);
  return words;
}

export function bech32(hrp, bytes) {
  const words = toWords(bytes);
  const mod = polymod([...hrpExpand(hrp), ...words, 0, 0, 0, 0, 0, 0]) ^ 1;
  const checksum = Array.from({ length: 6 }, (_, i) => (mod >>> (5 * (5 - i))) & 31);
  return `${hrp}1${[...words, ...checksum].map((w) => CHARSET[w]).join('')}`;
}

const hexBytes = (hex) => Uint8Array.from(hex.match(/../g) ?? [], (b) => parseInt(b, 16));
const isHex64 = (text) => /^[0-9a-f]{64}$/.test(text ?? '');

export const npub = (pubkey) => bech32('npub', hexBytes(pubkey));
export const note = (id) => bech32('note', hexBytes(id));

/** An addressable event `kind:pubkey:d` as naddr (TLV: 0 = d tag, 2 = author, 3 = kind). */
export function naddr(address) {
  const [kind, pubkey, ...rest] = address.split(':');
  const d = new TextEncoder().encode(rest.join(':'));
  if (d.length > 255) return null; // a TLV length is one byte
  const kindBytes = [(kind >>> 24) & 255, (kind >>> 16) & 255, (kind >>> 8) & 255, kind & 255];
  // in the order nostr-tools writes them (any order is valid TLV)
  return bech32('naddr', Uint8Array.from([3, 4, ...kindBytes, 2, 32, ...hexBytes(pubkey), 0, d.length, ...d]));
}

/** Where a reader can open an event id, an address or a pubkey (a public NIP-19 gateway). */
export function eventLink(idOrAddress) {
  if (isHex64(idOrAddress)) return `https://njump.me/${note(idOrAddress)}`;
  const address = /^\d+:[0-9a-f]{64}:/.test(idOrAddress ?? '') ? naddr(idOrAddress) : null;
  if (address) return `https://njump.me/${address}`;
  return null;
}
export const profileLink = (pubkey) => (isHex64(pubkey) ? `https://njump.me/${npub(pubkey)}` : null);
