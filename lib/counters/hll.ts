import type { Sketch } from '../ports.js';

/**
 * HyperLogLog for distinct counts (unique engagers, unique authors). Stored sparse, as a set of 16-bit
 * codes `register << 6 | rank`: a union of code sets is a merge of sketches, so DynamoDB's number-set ADD
 * merges live minute sketches atomically. Large settled sketches are stored dense, one rank byte per
 * register. Reads merge both into one register array by byte-wise max, whatever the number of items.
 * p = 10 (1,024 registers): standard error 1.04/√1024 ≈ 3.3%; exact (linear counting) for small sets.
 */
export const HLL_PRECISION = 10;
/** registers of a sketch, and the length of its dense form in bytes */
export const HLL_REGISTERS = 1 << HLL_PRECISION;
const RANK_BITS = 6;
const RANK_MASK = (1 << RANK_BITS) - 1;

/**
 * The code for a 64-hex key (pubkeys and event ids are already uniform hashes, so their bits serve as
 * the hash): the first 10 bits pick the register, the rank is 1 + leading zeros of the next 53 bits.
 */
export function hllCode(hexKey: string): number {
  const hi = parseInt(hexKey.slice(0, 8), 16) >>> 0;
  const register = hi >>> (32 - HLL_PRECISION);
  // 22 bits left in `hi`, then 32 more from the next 8 hex digits: plenty for p = 10.
  const rest22 = hi & ((1 << (32 - HLL_PRECISION)) - 1);
  const next = parseInt(hexKey.slice(8, 16), 16) >>> 0;
  let rank: number;
  if (rest22 !== 0) rank = Math.clz32(rest22) - HLL_PRECISION + 1;
  else rank = 32 - HLL_PRECISION + (next === 0 ? 33 : Math.clz32(next) + 1);
  return (register << RANK_BITS) | Math.min(rank, RANK_MASK);
}

/** Keeps only the highest rank per register: the canonical (smallest) form of a sketch. */
export function reduceCodes(codes: Iterable<number>): number[] {
  // A Map, not a register array: the live path reduces many sketches of a few codes each.
  const best = new Map<number, number>();
  for (const code of codes) {
    const register = code >>> RANK_BITS;
    const rank = code & RANK_MASK;
    if ((best.get(register) ?? 0) < rank) best.set(register, rank);
  }
  return [...best].map(([register, rank]) => (register << RANK_BITS) | rank).sort((a, b) => a - b);
}

/** An empty register array, the sketch of nothing: merges start from one. */
export const emptyRegisters = (): Uint8Array => new Uint8Array(HLL_REGISTERS);

/** Adds one code to a register array in place. */
export function foldCode(registers: Uint8Array, code: number): void {
  const register = code >>> RANK_BITS;
  const rank = code & RANK_MASK;
  if (rank > registers[register]!) registers[register] = rank;
}

/** Merges a sketch, sparse or dense, into a register array in place (byte-wise max of ranks), and returns it. */
export function foldSketch(registers: Uint8Array, sketch: Sketch | Iterable<number>): Uint8Array {
  if (sketch instanceof Uint8Array) {
    const n = Math.min(sketch.length, HLL_REGISTERS);
    for (let r = 0; r < n; r++) if (sketch[r]! > registers[r]!) registers[r] = sketch[r]!;
  } else for (const code of sketch) foldCode(registers, code);
  return registers;
}

/**
 * A register array as a settled item stores it: 4 bits per register instead of 8. Byte 0 is the
 * format (1), byte 1 the base (the smallest rank above 0); then 512 bytes, register 2i in the low
 * nibble and 2i + 1 in the high one: 0 an empty register, 1–14 the ranks base … base + 13, 15 a rank
 * listed after them as (register high byte, register low byte, rank). A register's ranks cluster
 * (they grow with the log of the members per register), so exceptions are rare: a dense sketch costs
 * ≈ 515 bytes instead of 1,024, and each item read or written with one is billed that much less.
 * Where the packed form would not be smaller the raw 1,024 bytes are kept (unpackRegisters tells
 * them apart by length), which is also how sketches stored before packing read.
 */
export function packRegisters(registers: Uint8Array): Uint8Array {
  let base = 0;
  for (let r = 0; r < HLL_REGISTERS; r++) if (registers[r]! && (base === 0 || registers[r]! < base)) base = registers[r]!;
  const exceptions: number[] = [];
  const nibble = (r: number) => {
    const rank = registers[r]!;
    if (rank === 0) return 0;
    if (rank - base < PACKED_RANKS) return rank - base + 1;
    exceptions.push(r);
    return 15;
  };
  const body = new Uint8Array(HLL_REGISTERS / 2);
  for (let i = 0; i < body.length; i++) body[i] = nibble(2 * i) | (nibble(2 * i + 1) << 4);
  const length = 2 + body.length + 3 * exceptions.length;
  if (length >= HLL_REGISTERS) return registers.slice(0, HLL_REGISTERS);
  const packed = new Uint8Array(length);
  packed[0] = PACKED_FORMAT;
  packed[1] = base;
  packed.set(body, 2);
  exceptions.forEach((r, i) => packed.set([r >>> 8, r & 0xff, registers[r]!], 2 + body.length + 3 * i));
  return packed;
}

/** The register array of a stored dense sketch (packRegisters), packed or raw. */
export function unpackRegisters(stored: Uint8Array): Uint8Array {
  if (stored.length === HLL_REGISTERS) return stored;
  if (stored[0] !== PACKED_FORMAT || stored.length < 2 + HLL_REGISTERS / 2 || (stored.length - 2 - HLL_REGISTERS / 2) % 3 !== 0) throw new Error(`not a stored sketch (${stored.length} bytes)`);
  const base = stored[1]!;
  const registers = new Uint8Array(HLL_REGISTERS);
  for (let i = 0; i < HLL_REGISTERS / 2; i++) {
    const byte = stored[2 + i]!;
    const low = byte & 15;
    const high = byte >>> 4;
    if (low && low < 15) registers[2 * i] = base + low - 1;
    if (high && high < 15) registers[2 * i + 1] = base + high - 1;
  }
  for (let at = 2 + HLL_REGISTERS / 2; at < stored.length; at += 3) registers[(stored[at]! << 8) | stored[at + 1]!] = stored[at + 2]!;
  return registers;
}
const PACKED_FORMAT = 1;
/** ranks one nibble holds above the base (1–14; 0 is empty and 15 an exception) */
const PACKED_RANKS = 14;

/** The codes of a register array, one per non-empty register in register order: what reduceCodes returns for the same sketch. */
export function codesOfRegisters(registers: Uint8Array): number[] {
  const codes: number[] = [];
  const n = Math.min(registers.length, HLL_REGISTERS);
  for (let r = 0; r < n; r++) if (registers[r]) codes.push((r << RANK_BITS) | registers[r]!);
  return codes;
}

/** A sketch in its sparse form: the codes a number set holds. */
export const sketchCodes = (sketch: Sketch): number[] => (sketch instanceof Uint8Array ? codesOfRegisters(sketch) : sketch);

/** 2^-rank for every rank a register can hold. */
const INVERSE_POWERS = Float64Array.from({ length: RANK_MASK + 1 }, (_, rank) => 2 ** -rank);

/** The cardinality estimate of a sketch (HLL with linear counting for small cardinalities). */
export function hllEstimate(sketch: Sketch): number {
  const registers = sketch instanceof Uint8Array ? sketch : foldSketch(emptyRegisters(), sketch);
  let empty = 0;
  for (let r = 0; r < HLL_REGISTERS; r++) if (!registers[r]) empty++;
  if (empty === HLL_REGISTERS) return 0;
  // Empty registers contribute 2^0 each, added first, then the others in register order: the same
  // floating-point sums, so the same estimates, as when sketches were merged as sorted codes.
  let sum = empty;
  for (let r = 0; r < HLL_REGISTERS; r++) if (registers[r]) sum += INVERSE_POWERS[registers[r]!]!;
  const alpha = 0.7213 / (1 + 1.079 / HLL_REGISTERS);
  const raw = (alpha * HLL_REGISTERS * HLL_REGISTERS) / sum;
  if (raw <= 2.5 * HLL_REGISTERS && empty > 0) return Math.round(HLL_REGISTERS * Math.log(HLL_REGISTERS / empty));
  return Math.round(raw);
}
