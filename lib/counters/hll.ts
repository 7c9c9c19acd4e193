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
