import { z } from 'zod';

/**
 * Environment variables as configuration. The core owns the shapes of the variables it reads (zod shapes,
 * with their defaults) and pure `xOf(parsed)` converters; only the entry points (functions/*, lib/local/*)
 * read their environment, each with one schema composed of those shapes, parsed once at start.
 */

/** A variable's value as the environment holds it: a string, or absent. */
export type Environment = Readonly<Record<string, string | undefined>>;

/** An environment its schema refused: every problem, each naming its variable. */
export class EnvironmentError extends Error {
  constructor(readonly issues: string[]) {
    super(`invalid environment: ${issues.join('; ')}`);
    this.name = 'EnvironmentError';
  }
}

/** `env` parsed with `schema`; a missing, malformed or half-configured variable throws, naming every problem. */
export function parseEnvironment<S extends z.ZodType>(schema: S, env: Environment): z.output<S> {
  const result = schema.safeParse(env);
  if (!result.success) throw new EnvironmentError(result.error.issues.map((issue) => `${issue.path.join('.')} ${issue.message}`));
  return result.data;
}

/** Variables parsed with a shape (parseEnvironment of its object). */
export function parseVariables<S extends z.ZodRawShape>(shape: S, env: Environment): z.output<z.ZodObject<S>> {
  return parseEnvironment(z.object(shape), env);
}

/**
 * A number as an environment variable: its default when absent or blank, otherwise the number, which
 * `valid` must accept (`what` says what it must be, in the error, with the value given).
 */
export const numberVariable = (fallback: number, valid: (value: number) => boolean, what: string) =>
  z
    .string()
    .optional()
    .transform((raw, ctx) => {
      const value = raw === undefined || raw.trim() === '' ? fallback : Number(raw);
      if (!valid(value)) {
        ctx.addIssue({ code: 'custom', message: `must be ${what}, got ${raw}` });
        return z.NEVER;
      }
      return value;
    });

/** A number greater than zero (`what` names the unit in the error). */
export const positiveVariable = (fallback: number, what = 'a positive number') => numberVariable(fallback, (value) => Number.isFinite(value) && value > 0, what);

/** A whole number from `min` to `max`. */
export const wholeNumberVariable = (fallback: number, min: number, max = Number.MAX_SAFE_INTEGER, what = `a whole number from ${min} to ${max}`) =>
  numberVariable(fallback, (value) => Number.isInteger(value) && value >= min && value <= max, what);

/**
 * A feature configured by several variables (`names`): all of them set, or none (the feature off). One
 * set without the others is a deployment mistake, refused at start, naming each missing variable,
 * rather than read as "off". For a schema's `superRefine`.
 */
export const allOrNone =
  (feature: string, names: readonly string[]) =>
  (value: Record<string, unknown>, ctx: z.RefinementCtx): void => {
    const set = names.filter((name) => value[name] !== undefined);
    if (set.length === 0 || set.length === names.length) return;
    for (const name of names.filter((n) => !set.includes(n))) {
      ctx.addIssue({ code: 'custom', path: [name], message: `is required with ${set.join(', ')} (${feature}: set ${names.join(' and ')} together, or none of them)` });
    }
  };
