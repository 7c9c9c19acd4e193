/**
 * The logging seam. Core modules log through a `Logger` (level, message, fields) made by `createLogger`
 * for a component and, where there is one, a correlation id (the API request id, or the ingest batch
 * id), so one request or batch can be followed across lines. An `Error` passed as a field (by
 * convention `error`) is logged with its name, message and stack, never as `String(error)`.
 *
 * Two implementations: plain JSON lines (this file: the local stack, tests, and the default), and
 * Powertools for AWS Lambda Logger in AWS, which each entry point installs at cold start with
 * `setLogBackend` (lib/adapters/aws/powertools.ts). Both follow `POWERTOOLS_LOG_LEVEL`, else `LOG_LEVEL`
 * (debug, info, warn, error; default info): Powertools reads it itself, and the local stack, which owns
 * the environment there, hands the JSON lines theirs with `setLogLevel(logLevelFromEnv(env))`.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type Logger = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void;
export interface LogContext {
  component: string;
  correlationId?: string;
}
/** Makes the Logger of one component (and correlation id). */
export type LoggerFactory = (base: LogContext) => Logger;

/** Powertools' level names and thresholds: a line is written when its level's number is at least the threshold's. */
const THRESHOLDS = { trace: 6, debug: 8, info: 12, warn: 16, error: 20, critical: 24, silent: 28 } as const;
export type LogThreshold = keyof typeof THRESHOLDS;

/** The level threshold from the environment, as Powertools reads it: POWERTOOLS_LOG_LEVEL, else LOG_LEVEL, else info. */
export function logLevelFromEnv(env: NodeJS.ProcessEnv): LogThreshold {
  const raw = (env.POWERTOOLS_LOG_LEVEL || env.LOG_LEVEL || '').toLowerCase();
  return Object.hasOwn(THRESHOLDS, raw) ? (raw as LogThreshold) : 'info';
}

export function isLogged(level: LogLevel, threshold: LogThreshold): boolean {
  return THRESHOLDS[level] >= THRESHOLDS[threshold];
}

const isLevel = (value: unknown): value is LogLevel => value === 'debug' || value === 'info' || value === 'warn' || value === 'error';

/** An Error as a log field: name, message, stack (and its cause, and the error's own fields such as a status code). */
export function errorFields(error: Error): Record<string, unknown> {
  const { name, message, stack } = error;
  const cause = (error as { cause?: unknown }).cause;
  return { ...error, name, message, stack, ...(cause !== undefined ? { cause: cause instanceof Error ? errorFields(cause) : cause } : {}) };
}

const replacer = (_key: string, value: unknown) => (value instanceof Error ? errorFields(value) : typeof value === 'bigint' ? value.toString() : value);

const defaultWrite = (line: string, level: LogLevel) => (level === 'error' || level === 'warn' ? console.error(line) : console.log(line));

/**
 * Plain JSON lines: `{time, level, component, correlationId, msg, ...fields}`, one object per line,
 * below `level` dropped. Warnings and errors go to stderr, the rest to stdout, unless `write` is given.
 */
let defaultThreshold: LogThreshold = 'info';

/** The threshold of every JSON-lines logger made without one (including those made before the call). Returns the previous one. */
export function setLogLevel(level: LogThreshold): LogThreshold {
  const previous = defaultThreshold;
  defaultThreshold = level;
  return previous;
}

export function jsonLinesLogger(base: LogContext, write: (line: string, level: LogLevel) => void = defaultWrite, level?: LogThreshold): Logger {
  return (lineLevel, msg, fields = {}) => {
    if (!isLogged(lineLevel, level ?? defaultThreshold)) return;
    const record = { time: new Date().toISOString(), level: lineLevel, component: base.component, correlationId: base.correlationId, msg, ...fields };
    let line: string;
    try {
      line = JSON.stringify(record, replacer);
    } catch (error) {
      // a circular field: the line still says what happened
      line = JSON.stringify({ ...record, ...Object.fromEntries(Object.keys(fields).map((k) => [k, '[unserializable]'])), logError: String(error) });
    }
    write(line, lineLevel);
  };
}

let backend: LoggerFactory | undefined;

/**
 * Installs the implementation behind every `createLogger` made without its own `write` (Powertools in
 * AWS), including loggers created before the call: they resolve it when they log. `undefined` puts the
 * JSON-lines default back. Returns the previous one.
 */
export function setLogBackend(factory: LoggerFactory | undefined): LoggerFactory | undefined {
  const previous = backend;
  backend = factory;
  return previous;
}

/**
 * A component's Logger. With `write` (or `level`), plain JSON lines to it (the local stack, tests);
 * otherwise the installed backend, JSON lines to stdout/stderr until one is installed.
 */
export function createLogger(base: LogContext, write?: (line: string, level: LogLevel) => void, level?: LogThreshold): Logger {
  if (write || level) return jsonLinesLogger(base, write, level);
  let made: { from: LoggerFactory | undefined; log: Logger } | undefined;
  return (lineLevel, msg, fields) => {
    if (!made || made.from !== backend) made = { from: backend, log: (backend ?? jsonLinesLogger)(base) };
    made.log(lineLevel, msg, fields);
  };
}

/**
 * A record-style log sink (`{ level, msg, ...fields }`, the shape the listener's and the scheduled
 * handlers' `log` options take) writing through a Logger; a missing or unknown level is info.
 */
export function recordLogger(log: Logger): (record: Record<string, unknown>) => void {
  return ({ level, msg, component: _component, ...fields }) => log(isLevel(level) ? level : 'info', String(msg ?? ''), fields);
}
