import { z } from 'zod';
import { retentionEnvShape } from '../lib/counters/retention.js';

/**
 * The pieces every entry point's environment schema (`functions/<name>/env.ts`) is made of. infra/lib
 * sets these variables; test/infra/function-env.test.ts parses every synthesized function's environment
 * with its entry point's schema, so a variable the code needs and the stack does not set fails the tests,
 * not the first request after `cdk deploy`.
 */
const name = z.string().min(1);
const queueUrl = z.string().url();

export const COUNTERS_ENV = { COUNTERS_TABLE: name };
export const FACTS_ENV = { FACTS_BUCKET: name };
export const ATHENA_ENV = { ATHENA_WORKGROUP: name, ATHENA_DATABASE: name };
export const RETENTION_ENV = retentionEnvShape;
export const queueEnv = <K extends string>(variable: K) => ({ [variable]: queueUrl }) as Record<K, typeof queueUrl>;
export const secretArnEnv = <K extends string>(variable: K) => ({ [variable]: z.string().startsWith('arn:') }) as Record<K, z.ZodString>;

/**
 * The environment parsed with an entry point's schema, at cold start: a missing or malformed variable
 * fails loudly, naming every problem, before any event is handled.
 */
export function parseEnv<S extends z.ZodTypeAny>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) throw new Error(`invalid environment: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
  return parsed.data;
}
