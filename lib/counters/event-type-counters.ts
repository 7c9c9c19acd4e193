import type { Fact } from '../facts/schema.js';

/**
 * The counters of a registered app event type (docs/metrics.md, "Event types"), from the fact's
 * `schema_version`, `dimensions` and `measures` columns, so live counting, settling (the same rows in
 * SQL below) and rebuilds count an event under the same groups.
 *
 * `p:<project>:<type>` holds, for the whole type and for each `<dimension>=<value>` group (suffix
 * `|<dimension>=<value>`): `n` (events), `s.<measure>` (the measure's sum in thousandths) and
 * `c.<measure>` (events that carried it, avg's denominator); and the `users` sketch of the type.
 * `p:<project>:<type>:<dA>,<dB>` (names in code-point order) holds the same counters per pair of
 * values, suffix `|<valueA>|<valueB>`. Values never hold `|` or `=` (dimension-values.ts).
 */
export const eventTypeScope = (project: string, eventType: string) => `p:${project}:${eventType}`;
export const dimensionPairScope = (project: string, eventType: string, a: string, b: string) => `p:${project}:${eventType}:${[a, b].sort().join(',')}`;
/** The scope a metric grouped by `groupBy` (none, one or two dimensions) reads. */
export const eventTypeMetricScope = (project: string, eventType: string, groupBy: readonly string[]) =>
  groupBy.length === 2 ? dimensionPairScope(project, eventType, groupBy[0]!, groupBy[1]!) : eventTypeScope(project, eventType);
export const EVENTS_METRIC = 'n';
export const sumMetric = (measure: string) => `s.${measure}`;
export const carriedMetric = (measure: string) => `c.${measure}`;
export const singleGroupSuffix = (dimension: string, value: string) => `|${dimension}=${value}`;
export const pairGroupSuffix = (valueA: string, valueB: string) => `|${valueA}|${valueB}`;

const split = (entry: string): [string, string] => {
  const at = entry.indexOf('=');
  return [entry.slice(0, at), entry.slice(at + 1)];
};

/** The type's counts of one fact (none for an app event whose type has no schema). */
export function eventTypeCounts(fact: Fact): { scope: string; metric: string; amount: number }[] {
  if (fact.source !== 'app' || fact.schema_version === null || fact.schema_version === undefined) return [];
  const eventType = fact.type.slice(4);
  const project = fact.project ?? '';
  const measures = (fact.measures ?? []).map((entry) => {
    const [name, value] = split(entry);
    return { name, thousandths: Number(value) };
  });
  const out: { scope: string; metric: string; amount: number }[] = [];
  const countFor = (scope: string, suffix: string) => {
    out.push({ scope, metric: EVENTS_METRIC + suffix, amount: 1 });
    for (const { name, thousandths } of measures) {
      out.push({ scope, metric: sumMetric(name) + suffix, amount: thousandths });
      out.push({ scope, metric: carriedMetric(name) + suffix, amount: 1 });
    }
  };
  const typeScope = eventTypeScope(project, eventType);
  const dimensions = (fact.dimensions ?? []).map(split);
  countFor(typeScope, '');
  for (const [dimension, value] of dimensions) countFor(typeScope, singleGroupSuffix(dimension, value));
  for (const [a, valueA] of dimensions) {
    for (const [b, valueB] of dimensions) if (a < b) countFor(dimensionPairScope(project, eventType, a, b), pairGroupSuffix(valueA, valueB));
  }
  return out;
}

/**
 * `eventTypeCounts` as rows of the settle statement (scope, metric, amount, created_at, event_id,
 * retracted), over the facts relation `f`, in both dialects.
 */
export function eventTypeCountsSql(f: string): string[] {
  const registered = `${f}.source = 'app' AND ${f}.schema_version IS NOT NULL`;
  const typeScope = `'p:' || ${f}.project || ':' || substr(${f}.type, 5)`;
  const name = (x: string) => `split_part(${x}, '=', 1)`;
  const value = (x: string) => `substr(${x}, strpos(${x}, '=') + 1)`;
  const rest = `${f}.created_at, ${f}.event_id, ${f}.retracted`;
  const measures = `CROSS JOIN UNNEST(${f}.measures) AS m(x)`;
  // One group: its scope, its suffix and the joins that produce it.
  const groups = [
    { scope: typeScope, suffix: `''`, joins: '', where: 'TRUE' },
    { scope: typeScope, suffix: `'|' || d.x`, joins: `CROSS JOIN UNNEST(${f}.dimensions) AS d(x)`, where: 'TRUE' },
    {
      scope: `${typeScope} || ':' || ${name('a.x')} || ',' || ${name('b.x')}`,
      suffix: `'|' || ${value('a.x')} || '|' || ${value('b.x')}`,
      joins: `CROSS JOIN UNNEST(${f}.dimensions) AS a(x) CROSS JOIN UNNEST(${f}.dimensions) AS b(x)`,
      where: `${name('a.x')} < ${name('b.x')}`,
    },
  ];
  return groups.flatMap(({ scope, suffix, joins, where }) => [
    `SELECT ${scope}, '${EVENTS_METRIC}' || ${suffix}, CAST(1 AS BIGINT), ${rest} FROM ${f} ${joins} WHERE ${registered} AND ${where}`,
    `SELECT ${scope}, '${sumMetric('')}' || ${name('m.x')} || ${suffix}, CAST(${value('m.x')} AS BIGINT), ${rest} FROM ${f} ${joins} ${measures} WHERE ${registered} AND ${where}`,
    `SELECT ${scope}, '${carriedMetric('')}' || ${name('m.x')} || ${suffix}, CAST(1 AS BIGINT), ${rest} FROM ${f} ${joins} ${measures} WHERE ${registered} AND ${where}`,
  ]);
}

/** The type's users sketch rows (scope, sketch, member, created_at, settled_only) over `f`. */
export const eventTypeUsersSql = (f: string) => `SELECT 'p:' || project || ':' || substr(type, 5), 'users', author, created_at, 0 FROM ${f} WHERE source = 'app' AND schema_version IS NOT NULL`;
