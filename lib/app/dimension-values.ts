import type { Clock, CounterStore } from '../ports.js';

/**
 * The values an event type's dimension is counted under (docs/metrics.md, "Event types"): the first
 * MAX_DIMENSION_VALUES distinct values ingest meets are admitted, each into a numbered slot written
 * with a conditional put (so two containers cannot both take slot k, and there are never more than
 * MAX_DIMENSION_VALUES); every later value counts as OTHER_VALUE, an absent one as NONE_VALUE. A
 * value, once admitted, stays admitted and a full dimension stays full, so a value is counted under
 * the same group by every container, every retry and every rebuild (the fact keeps what it was
 * counted under). This is what bounds a grouped counter item, whatever callers send.
 */
export const MAX_DIMENSION_VALUES = 10;
/** Longer values count as OTHER_VALUE: a value is part of counter attribute names. */
export const MAX_DIMENSION_VALUE_CHARS = 32;
export const OTHER_VALUE = '(other)';
export const NONE_VALUE = '(none)';
/** How long a container trusts a dimension's slots it read while the dimension is not full. */
const SLOTS_CACHE_MS = 30_000;
/** Dimensions one container keeps the slots of (least recently read out first). */
const MAX_CACHED = 2_000;

export const dimensionValuesNamespace = (project: string, eventType: string, dimension: string) => `dimvals:${project}:${eventType}:${dimension}`;

/**
 * The value as it may be admitted: strings, integers and booleans as text. A value that could not be
 * told apart from the reserved groups or the separators of counter names (`|`, `=`), or is too long,
 * is OTHER_VALUE without taking a slot.
 */
function admissible(raw: unknown): string {
  if (raw === undefined || raw === null) return NONE_VALUE;
  const text = typeof raw === 'string' ? raw : typeof raw === 'number' || typeof raw === 'boolean' ? String(raw) : null;
  if (text === null || text === '' || text.length > MAX_DIMENSION_VALUE_CHARS || /[|=\p{Cc}]/u.test(text) || text === OTHER_VALUE || text === NONE_VALUE) return OTHER_VALUE;
  return text;
}

interface Slots {
  readAt: number;
  values: Set<string>;
}

/** One container's view of the admitted values (ingest keeps it across invocations). */
export class DimensionValues {
  private readonly slots = new Map<string, Slots>();

  constructor(
    private readonly counters: Pick<CounterStore, 'listState' | 'putStateIfAbsent'>,
    private readonly clock: Clock,
  ) {}

  /**
   * The group `raw` counts under for this dimension: admitted (taking a free slot if there is one),
   * OTHER_VALUE or NONE_VALUE. Throws when the store does not answer (ingest's message is then
   * redelivered, never stored with a guess).
   */
  async resolve(project: string, eventType: string, dimension: string, raw: unknown): Promise<string> {
    const value = admissible(raw);
    if (value === NONE_VALUE || value === OTHER_VALUE) return value;
    const namespace = dimensionValuesNamespace(project, eventType, dimension);
    let slots = this.slots.get(namespace);
    if (slots?.values.has(value)) return value;
    const fresh = slots && this.clock.now() - slots.readAt <= SLOTS_CACHE_MS;
    if (slots && slots.values.size >= MAX_DIMENSION_VALUES) return OTHER_VALUE;
    if (!slots || !fresh) slots = await this.read(namespace);
    // Each lost race means another value took the slot: at most MAX_DIMENSION_VALUES rounds.
    for (;;) {
      if (slots.values.has(value)) return value;
      if (slots.values.size >= MAX_DIMENSION_VALUES) return OTHER_VALUE;
      if (await this.counters.putStateIfAbsent(namespace, slots.values.size + 1, { value })) {
        slots.values.add(value);
        return value;
      }
      slots = await this.read(namespace);
    }
  }

  private async read(namespace: string): Promise<Slots> {
    const records = await this.counters.listState(namespace);
    const slots: Slots = { readAt: this.clock.now(), values: new Set(records.map((r) => String(r.value.value))) };
    this.slots.delete(namespace);
    this.slots.set(namespace, slots);
    while (this.slots.size > MAX_CACHED) this.slots.delete(this.slots.keys().next().value!);
    return slots;
  }
}

const perStore = new WeakMap<object, DimensionValues>();
/** One view per counter store per container. */
export function dimensionValuesFor(counters: Pick<CounterStore, 'listState' | 'putStateIfAbsent'>, clock: Clock): DimensionValues {
  let values = perStore.get(counters);
  if (!values) perStore.set(counters, (values = new DimensionValues(counters, clock)));
  return values;
}

/** What an app fact keeps of its schema version's grouping (the fact columns of the same names). */
export interface AppEventGroups {
  schema_version: number;
  dimensions: string[];
  measures: string[];
}

/**
 * An accepted event's groups under the version it was checked against: each declared dimension's
 * resolved value, and each measure it carries in thousandths (rounded: sums are exact to 0.001).
 */
export async function appEventGroups(
  values: DimensionValues,
  project: string,
  event: { name: string; properties?: Record<string, unknown> },
  version: { version: number; dimensions: readonly string[]; measures: readonly string[] },
): Promise<AppEventGroups> {
  const properties = event.properties ?? {};
  const dimensions: string[] = [];
  for (const dimension of version.dimensions) dimensions.push(`${dimension}=${await values.resolve(project, event.name, dimension, properties[dimension])}`);
  const measures = version.measures.flatMap((measure) => {
    const value = properties[measure];
    return typeof value === 'number' && Number.isFinite(value) ? [`${measure}=${Math.round(value * 1000)}`] : [];
  });
  return { schema_version: version.version, dimensions, measures };
}
