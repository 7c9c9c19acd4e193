import { z } from 'zod';

/**
 * A positive number as an environment variable: its default when absent or empty, otherwise a number
 * greater than zero (`what` names the unit in the error).
 */
export const positiveVariable = (fallback: number, what = 'a positive number') =>
  z
    .string()
    .optional()
    .transform((raw, ctx) => {
      const value = raw === undefined || raw === '' ? fallback : Number(raw);
      if (!Number.isFinite(value) || value <= 0) {
        ctx.addIssue({ code: 'custom', message: `must be ${what}, got ${raw}` });
        return z.NEVER;
      }
      return value;
    });

/** Variables parsed with a shape; the first problem throws, naming the variable. */
export function parseVariables<S extends z.ZodRawShape>(shape: S, env: NodeJS.ProcessEnv): z.infer<z.ZodObject<S>> {
  const result = z.object(shape).safeParse(env);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new Error(`${issue.path.join('.')} ${issue.message}`);
  }
  return result.data;
}
