import { createHash } from 'node:crypto';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import type { Clock, CounterStore } from '../ports.js';
import { forEachMapped } from '../util/concurrency.js';
import { appEventSchema, type AppEvent } from './events.js';

/**
 * The schema registry of first-party app events (docs/metrics.md, "App events"): per project and event
 * type, numbered, immutable versions of a JSON Schema (draft 2020-12) for the events' `properties`,
 * with the dimensions metrics may group by. The newest version is enforced; an event may name an older
 * one (`schemaVersion`). A version is written with a conditional put, so two registrations of the same
 * number cannot both win. Records live beside the counters: `s:schema:<project>:<type>` (id = version),
 * `s:schemas:<project>` (the project's event types), `s:project:<project>` (its settings).
 */

/** A schema's JSON text at most: it is compiled to code in every api and ingest container that meets it. */
export const MAX_SCHEMA_BYTES = 16_384;
/** Versions one event type may have: a version is one record read with the rest on every cache miss. */
export const MAX_SCHEMA_VERSIONS = 100;
/** Event types with a schema, per project. */
export const MAX_SCHEMA_TYPES = 200;
/** Dimensions one event type may declare (metrics group by one or two of them). */
export const MAX_DIMENSIONS = 3;
/**
 * Numeric properties one event type's metrics sum and average. Each costs two counters per group
 * (its sum and how many events carried it), so this bounds the items (docs/metrics.md, "Event types").
 */
export const MAX_MEASURES = 3;
/** A measure's value is summed in thousandths: at most this in magnitude, so sums stay exact in a double. */
export const MAX_MEASURE_MAGNITUDE = 1e9;
/** Dimension and measure names: they are part of counter attribute names, of JSON paths and of SQL. */
export const FIELD_NAME_SOURCE = '[A-Za-z_][A-Za-z0-9_]{0,31}';
export const FIELD_NAME = new RegExp(`^${FIELD_NAME_SOURCE}$`);
/** Event types whose name is a built-in metric of GET /v1/metrics/{metric}. */
export const RESERVED_EVENT_TYPES = new Set(['events', 'daily_active_users']);
/** How long a container trusts what it read of the registry: a new version is enforced within this. */
export const SCHEMA_CACHE_MS = 30_000;
/** Compiled validators one container keeps (least recently used out first). */
const MAX_COMPILED = 500;

/**
 * Keywords a schema may not use: regular expressions (`pattern`, `patternProperties`) run on every
 * event and a hostile one backtracks for ever; `format` needs vocabularies Funnel does not load; a `$ref`
 * outside the schema would be fetched.
 */
const FORBIDDEN_KEYWORDS = new Set(['pattern', 'patternProperties', 'format', '$dynamicRef', '$recursiveRef', '$id']);

export const schemaVersionsNamespace = (project: string, eventType: string) => `schema:${project}:${eventType}`;
export const schemaTypesNamespace = (project: string) => `schemas:${project}`;
export const projectSettingsNamespace = (project: string) => `project:${project}`;
const typeId = (eventType: string) => parseInt(createHash('sha256').update(eventType).digest('hex').slice(0, 13), 16);

export interface SchemaVersion {
  eventType: string;
  version: number;
  schema: Record<string, unknown>;
  dimensions: string[];
  /** numeric properties summed and averaged (absent on versions registered before measures: none) */
  measures: string[];
  registeredAt: string;
}

export interface ProjectSettings {
  /** events of a type with no schema: stored (`accept`, the default) or refused (`reject`) */
  unregisteredEvents: 'accept' | 'reject';
}
const DEFAULT_SETTINGS: ProjectSettings = { unregisteredEvents: 'accept' };

/** A registration the registry refuses, with what is wrong (a 400, or 409 for `conflict`). */
export class SchemaRegistrationError extends Error {
  constructor(
    readonly code: 'bad_schema' | 'conflict' | 'too_many',
    message: string,
  ) {
    super(message);
    this.name = 'SchemaRegistrationError';
  }
}

const newAjv = () => new Ajv2020({ strict: true, allErrors: false, validateSchema: true });

/** What is wrong with a schema as Funnel would compile it, or null. */
export function schemaProblem(schema: Record<string, unknown>, dimensions: readonly string[], measures: readonly string[] = []): string | null {
  if (JSON.stringify(schema).length > MAX_SCHEMA_BYTES) return `the schema must serialise to at most ${MAX_SCHEMA_BYTES} bytes`;
  const forbidden = findForbidden(schema, '');
  if (forbidden) return forbidden;
  try {
    newAjv().compile(schema);
  } catch (error) {
    return `not a valid JSON Schema (draft 2020-12, strict): ${(error as Error).message}`;
  }
  if (dimensions.length > MAX_DIMENSIONS) return `at most ${MAX_DIMENSIONS} dimensions`;
  const properties = (schema.properties ?? {}) as Record<string, { type?: unknown } | undefined>;
  for (const dimension of dimensions) {
    const type = properties[dimension]?.type;
    if (!['string', 'integer', 'boolean'].includes(String(type))) return `dimension ${dimension} must be a property the schema declares with type string, integer or boolean`;
  }
  if (new Set(dimensions).size !== dimensions.length) return 'dimensions must be distinct';
  for (const name of [...dimensions, ...measures]) if (!FIELD_NAME.test(name)) return `${name}: dimension and measure names are 1-32 of A-Z a-z 0-9 _, not starting with a digit`;
  if (measures.length > MAX_MEASURES) return `at most ${MAX_MEASURES} measures`;
  for (const measure of measures) {
    if (!['number', 'integer'].includes(String(properties[measure]?.type))) return `measure ${measure} must be a property the schema declares with type number or integer`;
  }
  if (new Set(measures).size !== measures.length) return 'measures must be distinct';
  if (measures.some((m) => dimensions.includes(m))) return 'a property is a dimension or a measure, not both';
  return null;
}

/**
 * The measures a registration names, or by default every top-level property the schema declares as a
 * number or integer (when there are at most MAX_MEASURES of them: more must be named).
 */
export function measuresOf(schema: Record<string, unknown>, named: readonly string[] | undefined): string[] | { problem: string } {
  if (named) return [...named];
  const properties = (schema.properties ?? {}) as Record<string, { type?: unknown } | undefined>;
  const numeric = Object.keys(properties).filter((name) => ['number', 'integer'].includes(String(properties[name]?.type)) && FIELD_NAME.test(name));
  if (numeric.length > MAX_MEASURES) return { problem: `the schema declares ${numeric.length} numeric properties; name at most ${MAX_MEASURES} of them in measures` };
  return numeric;
}

function findForbidden(node: unknown, path: string): string | null {
  if (Array.isArray(node)) {
    for (const [i, item] of node.entries()) {
      const found = findForbidden(item, `${path}/${i}`);
      if (found) return found;
    }
    return null;
  }
  if (node === null || typeof node !== 'object') return null;
  for (const [key, value] of Object.entries(node)) {
    // `properties` names are the event's keys, not keywords
    const inProperties = path.endsWith('/properties') || path.endsWith('/$defs');
    if (!inProperties && FORBIDDEN_KEYWORDS.has(key)) return `${path || '/'}: the keyword ${key} is not allowed (regular expressions, formats and identifiers are refused)`;
    if (!inProperties && key === '$ref' && !(typeof value === 'string' && value.startsWith('#'))) return `${path || '/'}: only local $ref (#…) is allowed`;
    const found = findForbidden(value, `${path}/${key}`);
    if (found) return found;
  }
  return null;
}

function versionOf(record: { id: number; value: Record<string, unknown> }): SchemaVersion {
  const stored = record.value as unknown as SchemaVersion;
  return { ...stored, measures: stored.measures ?? [], version: record.id };
}

/** Every version of an event type's schema, oldest first. */
export async function schemaVersions(counters: Pick<CounterStore, 'listState'>, project: string, eventType: string): Promise<SchemaVersion[]> {
  return (await counters.listState(schemaVersionsNamespace(project, eventType))).map(versionOf).sort((a, b) => a.version - b.version);
}

/**
 * Registers a schema as the event type's next version. Registering what the newest version already
 * says returns that version (a retried PUT makes no second version). Of two registrations racing for
 * one number, one wins and the other gets `conflict`.
 */
export async function registerSchema(
  counters: CounterStore,
  clock: Clock,
  project: string,
  eventType: string,
  body: { schema: Record<string, unknown>; dimensions: string[]; measures?: string[] },
): Promise<{ version: SchemaVersion; created: boolean }> {
  if (RESERVED_EVENT_TYPES.has(eventType)) throw new SchemaRegistrationError('bad_schema', `${eventType} is the name of a built-in metric of GET /v1/metrics; choose another event type name`);
  const measures = measuresOf(body.schema, body.measures);
  if (!Array.isArray(measures)) throw new SchemaRegistrationError('bad_schema', measures.problem);
  const problem = schemaProblem(body.schema, body.dimensions, measures);
  if (problem) throw new SchemaRegistrationError('bad_schema', problem);
  const versions = await schemaVersions(counters, project, eventType);
  const newest = versions.at(-1);
  if (newest && JSON.stringify([newest.schema, newest.dimensions, newest.measures]) === JSON.stringify([body.schema, body.dimensions, measures])) return { version: newest, created: false };
  if (versions.length >= MAX_SCHEMA_VERSIONS) throw new SchemaRegistrationError('too_many', `${eventType} has ${MAX_SCHEMA_VERSIONS} versions, the most one event type may have`);
  if (!newest) {
    const types = await counters.listState(schemaTypesNamespace(project));
    if (types.length >= MAX_SCHEMA_TYPES) throw new SchemaRegistrationError('too_many', `the project has schemas for ${MAX_SCHEMA_TYPES} event types, the most it may have`);
  }
  const version: SchemaVersion = { eventType, version: (newest?.version ?? 0) + 1, schema: body.schema, dimensions: body.dimensions, measures, registeredAt: new Date(clock.now()).toISOString() };
  const { version: n, ...value } = version;
  if (!(await counters.putStateIfAbsent(schemaVersionsNamespace(project, eventType), n, value))) {
    throw new SchemaRegistrationError('conflict', `version ${n} of ${eventType} was registered by another request just now; read it and register again`);
  }
  // The type index after its first version: a crash in between leaves a version the next registration lists.
  await counters.putState(schemaTypesNamespace(project), typeId(eventType), { eventType });
  return { version, created: true };
}

/** One version, or null. */
export async function schemaVersion(counters: Pick<CounterStore, 'getState'>, project: string, eventType: string, n: number): Promise<SchemaVersion | null> {
  const value = await counters.getState(schemaVersionsNamespace(project, eventType), n);
  return value ? versionOf({ id: n, value }) : null;
}

/** The project's event types with a schema, each with its newest version. */
export async function listSchemas(counters: Pick<CounterStore, 'listState'>, project: string): Promise<SchemaVersion[]> {
  const types = (await counters.listState(schemaTypesNamespace(project))).map((r) => String(r.value.eventType)).sort();
  const newest = await forEachMapped(types, 8, async (type) => (await schemaVersions(counters, project, type)).at(-1) ?? null);
  return newest.filter((v): v is SchemaVersion => v !== null);
}

export async function projectSettings(counters: Pick<CounterStore, 'getState'>, project: string): Promise<ProjectSettings> {
  const stored = await counters.getState(projectSettingsNamespace(project), 0);
  return { ...DEFAULT_SETTINGS, ...(stored?.unregisteredEvents === 'reject' || stored?.unregisteredEvents === 'accept' ? { unregisteredEvents: stored.unregisteredEvents } : {}) };
}

export async function putProjectSettings(counters: Pick<CounterStore, 'putState'>, project: string, settings: ProjectSettings): Promise<void> {
  await counters.putState(projectSettingsNamespace(project), 0, { ...settings });
}

/** Why an app event is refused by the registry (counted under these names, docs/metrics.md). */
export type SchemaRejectReason = 'schema_invalid' | 'unregistered_type' | 'unknown_schema_version';

/**
 * The registry as one container sees it: what it read, for SCHEMA_CACHE_MS, and compiled validators
 * (versions never change, so a compiled one is kept while it is used). `load` reads what a batch needs;
 * `check` is then synchronous, so a batch is checked without a read per event.
 */
export class SchemaValidators {
  private readonly registry = new Map<string, { readAt: number; versions: SchemaVersion[]; settings: ProjectSettings }>();
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(
    private readonly counters: Pick<CounterStore, 'listState' | 'getState'>,
    private readonly clock: Clock,
  ) {}

  /**
   * Reads (or keeps) the versions of these event types and the project's settings. When the store does
   * not answer, what was read before stands, however old (the api keeps accepting; ingest checks again
   * later); a type never read is thrown for (the caller answers 503, or ingest's message is redelivered).
   */
  async load(project: string, eventTypes: Iterable<string>): Promise<void> {
    const now = this.clock.now();
    const types = [...new Set(eventTypes)];
    const stale = types.filter((type) => {
      const entry = this.registry.get(`${project}\u0000${type}`);
      return !entry || now - entry.readAt > SCHEMA_CACHE_MS;
    });
    if (!stale.length) return;
    const keyOf = (type: string) => `${project}\u0000${type}`;
    try {
      const settings = await projectSettings(this.counters, project);
      const read = await forEachMapped(stale, 8, async (type) => schemaVersions(this.counters, project, type));
      stale.forEach((type, i) => this.registry.set(keyOf(type), { readAt: now, versions: read[i]!, settings }));
    } catch (error) {
      if (stale.some((type) => !this.registry.has(keyOf(type)))) throw error;
    }
    // Bounded like the compiled validators: the oldest reads go first.
    while (this.registry.size > MAX_COMPILED) this.registry.delete(this.registry.keys().next().value!);
  }

  /**
   * Whether the event may be stored: with the version it was checked against (null for a type with no
   * schema), or why not, with the path of the first failing value. Its type must have been loaded.
   */
  check(project: string, event: AppEvent): { version: SchemaVersion | null } | { reason: SchemaRejectReason; message: string } {
    const entry = this.registry.get(`${project}\u0000${event.name}`);
    if (!entry) throw new Error(`schemas of ${project}/${event.name} were not loaded`);
    if (!entry.versions.length) {
      return entry.settings.unregisteredEvents === 'reject' ? { reason: 'unregistered_type', message: `${event.name} has no registered schema, and the project refuses such events` } : { version: null };
    }
    const wanted = event.schemaVersion ?? entry.versions.at(-1)!.version;
    const version = entry.versions.find((v) => v.version === wanted);
    if (!version) return { reason: 'unknown_schema_version', message: `${event.name} has no schema version ${wanted} (newest: ${entry.versions.at(-1)!.version})` };
    const validate = this.validator(project, version);
    const properties = event.properties ?? {};
    if (!validate(properties)) {
      const error = validate.errors?.[0];
      return { reason: 'schema_invalid', message: `properties${error?.instancePath ?? ''}: ${error?.message ?? 'does not match the schema'} (schema version ${version.version})` };
    }
    // A measure is summed in thousandths: beyond this magnitude a sum would stop being exact.
    for (const measure of version.measures) {
      const value = properties[measure];
      if (typeof value === 'number' && !(Math.abs(value) <= MAX_MEASURE_MAGNITUDE)) {
        return { reason: 'schema_invalid', message: `properties/${measure}: a measure must be at most ${MAX_MEASURE_MAGNITUDE} in magnitude (schema version ${version.version})` };
      }
    }
    return { version };
  }

  /** The loaded versions of a type, oldest first (empty when it has none). Its type must have been loaded. */
  versions(project: string, eventType: string): readonly SchemaVersion[] {
    const entry = this.registry.get(`${project}\u0000${eventType}`);
    if (!entry) throw new Error(`schemas of ${project}/${eventType} were not loaded`);
    return entry.versions;
  }

  private validator(project: string, version: SchemaVersion): ValidateFunction {
    const key = `${project}\u0000${version.eventType}\u0000${version.version}`;
    const kept = this.compiled.get(key);
    if (kept) this.compiled.delete(key);
    else while (this.compiled.size >= MAX_COMPILED) this.compiled.delete(this.compiled.keys().next().value!);
    const validate = kept ?? newAjv().compile(version.schema);
    this.compiled.set(key, validate);
    return validate;
  }
}

/** One event's refusal, as POST /v1/events answers it. */
export interface AppEventRefusal {
  index: number;
  reason: 'invalid_shape' | SchemaRejectReason;
  message: string;
}

/**
 * The check POST /v1/events makes before queueing, so the caller learns what is wrong at once: each
 * event's shape, then its project's schema (ingest checks both again, and counts what it refuses).
 */
export async function screenAppEvents(
  events: readonly unknown[],
  project: string,
  validators: SchemaValidators,
): Promise<{ accepted: AppEvent[]; versions: (SchemaVersion | null)[]; rejected: AppEventRefusal[] }> {
  const parsed = events.map((event) => appEventSchema.safeParse(event));
  await validators.load(project, parsed.flatMap((p) => (p.success ? [p.data.name] : [])));
  const accepted: AppEvent[] = [];
  /** the version each accepted event was checked against, by its index in `accepted` */
  const versions: (SchemaVersion | null)[] = [];
  const rejected: AppEventRefusal[] = [];
  parsed.forEach((result, index) => {
    if (!result.success) {
      rejected.push({ index, reason: 'invalid_shape', message: result.error.issues.map((i) => `${i.path.join('.') || 'event'}: ${i.message}`).join('; ') });
      return;
    }
    const checked = validators.check(project, result.data);
    if ('reason' in checked) rejected.push({ index, ...checked });
    else {
      accepted.push(result.data);
      versions.push(checked.version);
    }
  });
  return { accepted, versions, rejected };
}

const perStore = new WeakMap<object, SchemaValidators>();
/** One registry view per counter store per container (api and ingest keep theirs across invocations). */
export function schemaValidatorsFor(counters: Pick<CounterStore, 'listState' | 'getState'>, clock: Clock): SchemaValidators {
  let validators = perStore.get(counters);
  if (!validators) perStore.set(counters, (validators = new SchemaValidators(counters, clock)));
  return validators;
}
