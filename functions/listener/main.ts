import { writeFileSync } from 'node:fs';
import { awsPorts } from '../../lib/adapters/aws/index.js';
import { Listener } from '../../lib/listener/listener.js';
import { EmfMetrics, powertoolsLoggers } from '../../lib/adapters/aws/powertools.js';
import { createLogger, recordLogger, setLogBackend } from '../../lib/log.js';
import { EnvironmentError } from '../../lib/util/env.js';
import { listenerConfig } from './env.js';

/** The listener container's entry: relays from RELAY_URLS → SQS, checkpoints in DynamoDB. */
setLogBackend(powertoolsLoggers());
const log = createLogger({ component: 'listener' });
let config: ReturnType<typeof listenerConfig>;
try {
  config = listenerConfig();
} catch (error) {
  log('error', 'invalid environment', { issues: error instanceof EnvironmentError ? error.issues : [String(error)] });
  process.exit(2);
}
const relays = config.relayUrls;
const HEARTBEAT_FILE = config.heartbeatFile;
const ports = awsPorts(config.aws);
const metrics = new EmfMetrics();
const listener = new Listener({
  relays,
  queue: ports.queue(),
  checkpoints: ports.checkpoints(),
  metrics,
  catchUpSeconds: config.catchUpSeconds,
  log: recordLogger(log),
});
await listener.start();

// The container health check reads this file: it is refreshed while at least one relay is connected.
const heartbeat = setInterval(() => {
  if (listener.status().some((relay) => relay.connected)) writeFileSync(HEARTBEAT_FILE, String(Date.now()));
}, 10_000);
const report = setInterval(() => {
  metrics.flush();
  log('info', 'listener status', { relays: listener.status(), counts: listener.counts });
}, 60_000);

let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  log('info', 'stopping listener', { signal });
  clearInterval(heartbeat);
  clearInterval(report);
  // ECS sends SIGTERM, then SIGKILL after stopTimeout: flush and checkpoint within it.
  await listener.stop();
  metrics.flush();
  log('info', 'listener stopped', { counts: listener.counts });
  process.exit(0);
};
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
