import { z } from 'zod';
import { retentionEnvShape } from '../lib/counters/retention.js';
import type { AwsConfig } from '../lib/adapters/aws/index.js';
import { parseEnvironment, type Environment } from '../lib/util/env.js';

/**
 * The pieces every entry point's environment schema (`functions/<name>/env.ts`) is made of: the AWS
 * resources' variables here, the core's own (retention, rate limit, jobs, archive) from the modules that
 * own them, with their defaults. Each entry point parses its one schema once, at cold start (its
 * `xConfig()`), into the one configuration object its handler wires the core and the adapters from;
 * nothing below functions/ reads `process.env`. infra/lib sets these variables;
 * test/infra/function-env.test.ts parses every synthesized function's environment with its entry point's
 * schema, so a variable the code needs and the stack does not set fails the tests, not the first request
 * after `cdk deploy`.
 */
const name = z.string().min(1);
const queueUrl = z.string().url();

export const COUNTERS_ENV = { COUNTERS_TABLE: name };
export const FACTS_ENV = { FACTS_BUCKET: name };
export const ATHENA_ENV = { ATHENA_WORKGROUP: name, ATHENA_DATABASE: name };
export const RETENTION_ENV = retentionEnvShape;
export const queueEnv = <K extends string>(variable: K) => ({ [variable]: queueUrl }) as Record<K, typeof queueUrl>;
export const secretArnEnv = <K extends string>(variable: K) => ({ [variable]: z.string().startsWith('arn:') }) as Record<K, z.ZodString>;

/** The variables of the AWS resources, as an entry point's parsed environment holds those it has. */
export interface AwsEnv {
  COUNTERS_TABLE: string;
  FACTS_BUCKET?: string;
  QUEUE_URL?: string;
  LIVE_QUEUE_URL?: string;
  SETTLE_QUEUE_URL?: string;
  JOBS_QUEUE_URL?: string;
  ATHENA_WORKGROUP?: string;
  ATHENA_DATABASE?: string;
  APP_API_KEYS_SECRET_ARN?: string;
}

/** A parsed environment's AWS resources as the configuration awsPorts takes. */
export function awsConfigOf(env: AwsEnv): AwsConfig {
  const { ATHENA_WORKGROUP: workGroup, ATHENA_DATABASE: database } = env;
  return {
    countersTable: env.COUNTERS_TABLE,
    factsBucket: env.FACTS_BUCKET,
    queueUrls: { ingest: env.QUEUE_URL, live: env.LIVE_QUEUE_URL, settle: env.SETTLE_QUEUE_URL, jobs: env.JOBS_QUEUE_URL },
    ...(workGroup !== undefined && database !== undefined && { athena: { workGroup, database } }),
    appApiKeysSecretArn: env.APP_API_KEYS_SECRET_ARN,
  };
}

/**
 * The environment parsed with an entry point's schema, at cold start: a missing, malformed or
 * half-configured variable fails loudly (an EnvironmentError), naming every problem, before any event is
 * handled.
 */
export function parseEnv<S extends z.ZodType>(schema: S, env: Environment = process.env): z.output<S> {
  return parseEnvironment(schema, env);
}

/** An entry point's configuration: its environment parsed with `schema`, made into the object its handler wires from. */
export const configFrom =
  <S extends z.ZodType, C>(schema: S, configOf: (env: z.output<S>) => C) =>
  (env: Environment = process.env): C =>
    configOf(parseEnv(schema, env));
