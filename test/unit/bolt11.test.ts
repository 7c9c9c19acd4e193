import { describe, expect, it } from 'vitest';
import { bolt11AmountMsats } from '../../lib/nostr/bolt11.js';
import { loadFixture } from '../support/fixtures.js';

function receiptInvoices(): Map<string, string> {
  const invoices = new Map<string, string>();
  for (const event of loadFixture('zaps-and-videos.jsonl')) {
    const bolt11 = event.tags.find((tag) => tag[0] === 'bolt11')?.[1];
    if (event.kind === 9735 && bolt11 !== undefined) invoices.set(event.id, bolt11);
  }
  return invoices;
}

describe('bolt11AmountMsats on the real zap receipts', () => {
  const invoices = receiptInvoices();

  it('finds the three receipts', () => {
    expect(invoices.size).toBe(3);
  });

  it('lnbc1u = 100 sat', () => {
    const invoice = invoices.get('aeacff064116be8628a88a1d801e5e072a16c2a4c29ee1177cf673890d31477b')!;
    expect(invoice.startsWith('lnbc1u1')).toBe(true);
    expect(bolt11AmountMsats(invoice)).toBe(100_000);
  });

  it('lnbc1230n = 123 sat', () => {
    const invoice = invoices.get('881b07bc7ca11abb0fbd52099cef79fdff77ce779a5af0c752982ebe93ef4567')!;
    expect(invoice.startsWith('lnbc1230n1')).toBe(true);
    expect(bolt11AmountMsats(invoice)).toBe(123_000);
  });

  it('lnbc100n = 10 sat', () => {
    const invoice = invoices.get('707193656edaab92fbd3ebbcfa381ab011bcc8dbce17260a1198b81294879d53')!;
    expect(invoice.startsWith('lnbc100n1')).toBe(true);
    expect(bolt11AmountMsats(invoice)).toBe(10_000);
  });
});

describe('bolt11AmountMsats rules (BOLT-11 human-readable part)', () => {
  // Data parts are arbitrary bech32 characters (no '1'): only the human-readable part matters.
  const data = 'pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypq';

  it.each([
    ['lnbc2500u1', 250_000_000], // BOLT-11 example: 2500 micro-bitcoin
    ['lnbc20m1', 2_000_000_000], // BOLT-11 example: 20 milli-bitcoin
    ['lnbc9678785340p1', 967_878_534], // BOLT-11 example: pico-bitcoin, ends in 0
    ['lnbc10p1', 1], // 10 pico-bitcoin = 1 msat
    ['lnbc1n1', 100],
    ['lnbc2u1', 200_000],
    ['lnbc21', 200_000_000_000], // 2 BTC, no multiplier
    ['lnbc3000000001', null], // BTC amount beyond Number.MAX_SAFE_INTEGER msat
    ['lntb20m1', 2_000_000_000], // testnet
    ['lntbs5u1', 500_000], // signet
    ['lnbcrt7n1', 700], // regtest
  ])('%s… → %s msat', (hrpAndSeparator, msats) => {
    expect(bolt11AmountMsats(hrpAndSeparator + data)).toBe(msats);
  });

  it('is exact where floating point is not (0.1 + 0.2 style amounts)', () => {
    for (let n = 1; n <= 2000; n++) {
      expect(bolt11AmountMsats(`lnbc${n}n1${data}`)).toBe(n * 100);
      expect(bolt11AmountMsats(`lnbc${n}0p1${data}`)).toBe(n);
    }
    expect(bolt11AmountMsats(`lnbc90071992547u1${data}`)).toBe(9_007_199_254_700_000);
  });

  it('returns null for invoices without an amount', () => {
    expect(bolt11AmountMsats(`lnbc1${data}`)).toBeNull();
    expect(bolt11AmountMsats(`lntb1${data}`)).toBeNull();
    expect(bolt11AmountMsats(`lnbcrt1${data}`)).toBeNull();
  });

  it('accepts upper case and a lightning: URI prefix', () => {
    expect(bolt11AmountMsats(`LNBC2500U1${data.toUpperCase()}`)).toBe(250_000_000);
    expect(bolt11AmountMsats(`lightning:lnbc2500u1${data}`)).toBe(250_000_000);
  });

  it.each([
    ['sub-millisatoshi pico amount', `lnbc15p1${data}`],
    ['leading zero', `lnbc0100n1${data}`],
    ['zero', `lnbc0n1${data}`],
    ['unknown multiplier', `lnbc100x1${data}`],
    ['multiplier without digits', `lnbcu1${data}`],
    ['non-digit in amount', `lnbc1a0n1${data}`],
    ['unknown currency', `lnxyz100n1${data}`],
    ['not an invoice', 'hello world'],
    ['no separator', 'lnbc100n'],
    ['empty', ''],
  ])('returns null for %s', (_, invoice) => {
    expect(bolt11AmountMsats(invoice)).toBeNull();
  });
});
