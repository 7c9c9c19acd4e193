import { awsPorts } from '../../lib/adapters/aws/index.js';
import { Listener } from '../../lib/listener/listener.js';
import { noopMetrics } from '../../lib/metrics/registry.js';

/** The listener container's entry: relays from RELAY_URLS → SQS, checkpoints in DynamoDB. */
const relays = (process.env.RELAY_URLS ?? '')
  .split(',')
  .map((url) => url.trim())
  .filter(Boolean);
if (!relays.length) {
  console.error('RELAY_URLS is empty: give one or more relay URLs, comma-separated');
  process.exit(2);
}

const ports = awsPorts();
const listener = new Listener({
  relays,
  queue: ports.queue(),
  checkpoints: ports.checkpoints(),
  metrics: noopMetrics,
  catchUpSeconds: Number(process.env.CATCH_UP_SECONDS ?? 600),
});
await listener.start();

let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(JSON.stringify({ level: 'info', msg: 'stopping listener', signal }));
  // ECS sends SIGTERM, then SIGKILL after stopTimeout: flush and checkpoint within it.
  await listener.stop();
  console.log(JSON.stringify({ level: 'info', msg: 'listener stopped', counts: listener.counts }));
  process.exit(0);
};
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
setInterval(() => console.log(JSON.stringify({ level: 'info', msg: 'listener status', relays: listener.status(), counts: listener.counts })), 60_000).unref();
