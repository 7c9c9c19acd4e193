import { describe, expect, it } from 'vitest';
import { appEventGroups, DimensionValues, dimensionValuesNamespace, MAX_DIMENSION_VALUES, NONE_VALUE, OTHER_VALUE } from '../../lib/app/dimension-values.js';
import { MemoryCounterStore } from '../../lib/adapters/memory/index.js';
import type { CounterStore } from '../../lib/ports.js';

const clock = { now: () => 0 };

describe('admitted dimension values', () => {
  it('admits the first values met, then counts the rest as (other), for good', async () => {
    const counters = new MemoryCounterStore();
    const values = new DimensionValues(counters, clock);
    const resolved: string[] = [];
    for (let i = 0; i < MAX_DIMENSION_VALUES + 5; i++) resolved.push(await values.resolve('shop', 'purchase', 'country', `c${i}`));
    expect(resolved.slice(0, MAX_DIMENSION_VALUES)).toEqual(Array.from({ length: MAX_DIMENSION_VALUES }, (_, i) => `c${i}`));
    expect(resolved.slice(MAX_DIMENSION_VALUES)).toEqual(Array(5).fill(OTHER_VALUE));
    // an admitted value stays admitted; another container reads the same slots
    expect(await values.resolve('shop', 'purchase', 'country', 'c3')).toBe('c3');
    const other = new DimensionValues(counters, clock);
    expect(await other.resolve('shop', 'purchase', 'country', 'c9')).toBe('c9');
    expect(await other.resolve('shop', 'purchase', 'country', 'late')).toBe(OTHER_VALUE);
    expect(await counters.listState(dimensionValuesNamespace('shop', 'purchase', 'country'))).toHaveLength(MAX_DIMENSION_VALUES);
    // each dimension has its own slots
    expect(await values.resolve('shop', 'purchase', 'device', 'ios')).toBe('ios');
  });

  it('two containers racing for slots never admit more than the bound, nor one value twice', async () => {
    const counters = new MemoryCounterStore();
    const a = new DimensionValues(counters, clock);
    const b = new DimensionValues(counters, clock);
    // both read the empty slots first, then write, interleaved
    const wanted = Array.from({ length: 2 * MAX_DIMENSION_VALUES }, (_, i) => `v${i % 15}`);
    const results = await Promise.all(wanted.map((value, i) => (i % 2 ? a : b).resolve('p', 't', 'd', value)));
    const slots = (await counters.listState(dimensionValuesNamespace('p', 't', 'd'))).map((r) => String(r.value.value));
    expect(slots).toHaveLength(MAX_DIMENSION_VALUES);
    expect(new Set(slots).size).toBe(MAX_DIMENSION_VALUES);
    // whatever each container answered agrees with the slots
    results.forEach((result, i) => expect(result).toBe(slots.includes(wanted[i]!) ? wanted[i] : OTHER_VALUE));
  });

  it('absent, empty, overlong and separator-bearing values take no slot', async () => {
    const counters = new MemoryCounterStore();
    const values = new DimensionValues(counters, clock);
    expect(await values.resolve('p', 't', 'd', undefined)).toBe(NONE_VALUE);
    expect(await values.resolve('p', 't', 'd', null)).toBe(NONE_VALUE);
    for (const hostile of ['', 'a|b', 'a=b', 'x'.repeat(33), 'tab\there', OTHER_VALUE, NONE_VALUE, { nested: 1 }, [1]]) {
      expect(await values.resolve('p', 't', 'd', hostile)).toBe(OTHER_VALUE);
    }
    expect(await counters.listState(dimensionValuesNamespace('p', 't', 'd'))).toEqual([]);
    // integers and booleans count as their text
    expect(await values.resolve('p', 't', 'd', 3)).toBe('3');
    expect(await values.resolve('p', 't', 'd', true)).toBe('true');
  });

  it('a store that does not answer is an error, never a guess', async () => {
    const failing = Object.create(new MemoryCounterStore(), { listState: { value: async () => Promise.reject(new Error('ThrottlingException')) } }) as CounterStore;
    await expect(new DimensionValues(failing, clock).resolve('p', 't', 'd', 'x')).rejects.toThrow('ThrottlingException');
  });

  it("an event's groups: each declared dimension in order, each measure it carries in thousandths", async () => {
    const values = new DimensionValues(new MemoryCounterStore(), clock);
    const groups = await appEventGroups(values, 'shop', { name: 'purchase', properties: { amount: 12.3456, country: 'DE' } }, { version: 2, dimensions: ['country', 'device'], measures: ['amount', 'items'] });
    expect(groups).toEqual({ schema_version: 2, dimensions: ['country=DE', `device=${NONE_VALUE}`], measures: ['amount=12346'] });
  });
});
