/**
 * The amount of a BOLT-11 Lightning invoice, read from its human-readable part only (no bech32 checksum or
 * signature check: the zap receipt that carries the invoice is already signature-verified, and NIP-57 asks
 * for the amount, not for payment validation).
 *
 * BOLT-11: `ln` + currency prefix + optional amount + `1` + data. The amount is a positive decimal integer
 * with no leading zero, in bitcoin, optionally followed by a multiplier:
 *   m = 10^-3, u = 10^-6, n = 10^-9, p = 10^-12 BTC; and 1 BTC = 10^11 msat.
 * A `p` amount must end in 0 (sub-millisatoshi amounts are invalid).
 */

/** Currency prefixes after `ln`, longest first so `bcrt` wins over `bc` and `tbs` over `tb`. */
const CURRENCY_PREFIXES = ['bcrt', 'tbs', 'bc', 'tb'] as const;

const MSATS_PER_BTC = 100_000_000_000n;
/** msat per unit of the amount for each multiplier; `p` is 1/10 msat and is handled separately. */
const MSATS_PER_UNIT: Readonly<Record<string, bigint>> = {
  m: 100_000_000n,
  u: 100_000n,
  n: 100n,
};
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Millisatoshis requested by the invoice, or null when it has no amount ("any amount" invoices), is not a
 * BOLT-11 invoice, or has an amount that is malformed or beyond Number.MAX_SAFE_INTEGER msat (~90,000 BTC).
 */
export function bolt11AmountMsats(invoice: string): number | null {
  if (typeof invoice !== 'string') return null;
  let text = invoice.trim().toLowerCase();
  if (text.startsWith('lightning:')) text = text.slice('lightning:'.length);

  // The data part uses the bech32 alphabet, which has no '1', so the last '1' is the separator.
  const separator = text.lastIndexOf('1');
  if (separator < 0 || !text.startsWith('ln')) return null;
  const hrp = text.slice(2, separator);

  const currency = CURRENCY_PREFIXES.find((prefix) => hrp.startsWith(prefix));
  if (currency === undefined) return null;
  const amount = hrp.slice(currency.length);
  if (amount === '') return null;

  const last = amount[amount.length - 1]!;
  const hasMultiplier = !isDigit(last.charCodeAt(0));
  const digits = hasMultiplier ? amount.slice(0, -1) : amount;
  if (digits === '' || digits[0] === '0' || !allDigits(digits)) return null;
  const value = BigInt(digits);

  let msats: bigint;
  if (!hasMultiplier) msats = value * MSATS_PER_BTC;
  else if (last === 'p') {
    if (value % 10n !== 0n) return null;
    msats = value / 10n;
  } else {
    const perUnit = MSATS_PER_UNIT[last];
    if (perUnit === undefined) return null;
    msats = value * perUnit;
  }
  return msats > MAX_SAFE ? null : Number(msats);
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

function allDigits(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (!isDigit(text.charCodeAt(i))) return false;
  return true;
}
