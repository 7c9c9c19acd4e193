/**
 * Structured JSON logs: one object per line with a level, a message, the component and a correlation id
 * (the API request id, or the ingest batch id), so one request or batch can be followed across lines.
 */
export type Logger = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

export function createLogger(base: { component: string; correlationId?: string }, write: (line: string) => void = (line) => console.log(line)): Logger {
  return (level, msg, fields = {}) => write(JSON.stringify({ time: new Date().toISOString(), level, component: base.component, correlationId: base.correlationId, msg, ...fields }));
}
