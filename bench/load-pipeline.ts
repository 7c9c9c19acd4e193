import { rm } from 'node:fs/promises';
import WebSocket from 'ws';
import { finalizeEvent, generateSecretKey, getPublicKey, type VerifiedEvent } from 'nostr-tools/pure';
import { loadWasmSigner } from '../lib/nostr/sign.js';
import { seededRandom, simulatedUsers, WorkloadGenerator } from '../lib/local/stack/simulator.js';
import { startLocalStack } from '../lib/local/stack/stack.js';
import { resultIn, sendResult, spawnTask } from './child.js';
import { scratchDir } from './load-writes.js';

/**
 * The real local pipeline under load: the local stack (relay → listener → queue → ingest → compactor
 * → API, lib/local/stack/stack.ts) in a child process on free ports with a temp data dir, fed signed events
 * over WebSocket from this process: a ramp of rising rates finds the highest it keeps up with (flat
 * out, the relay's verification starves ingest in the same process, so "as fast as it takes" says
 * nothing), then the timed part runs at that rate while probe notes measure publish-to-visible.
 */

export interface TimedPhase {
  seconds: number;
  targetRate: number;
  published: number;
  /** publishes the relay refused (OK false) */
  refused: number;
  /** events the stack ingested during the phase, per second */
  ingestedPerSecond: number;
  publishedPerSecond: number;
  probes: { count: number; p50Ms: number; p99Ms: number; maxMs: number; lost: number };
  /** queue depth (messages) at the end of the phase, and at its start */
  backlogMessages: number;
  backlogStart: number;
  /** the phase kept up: ingested >= 95 % of what it published, and the queue did not grow by more than a second of events */
  sustained: boolean;
}

/** The timed phase's figures are its last attempt's (a second one, a ramp step lower, when the first did not hold). */
export interface PipelineReport extends TimedPhase {
  /** the ramp: each step's rate, events published and ingested, the queue after it, and whether the stack kept up */
  calibration: { stepSeconds: number; steps: { rate: number; published: number; ingestedPerSecond: number; queueDepth: number; kept: boolean }[] };
  attempts: TimedPhase[];
  signMs: number;
}

/** Child task: the local stack until SIGTERM. Its URLs go to the parent as soon as it is up. */
export async function serveStack(input: { dataDir: string }): Promise<{ stopped: true }> {
  const stack = await startLocalStack({
    dataDir: input.dataDir,
    port: 0,
    relayPort: 0,
    simulate: false,
    // The bench is one caller polling hard: the per-caller limit would only measure itself.
    rateLimit: { perSecond: 100_000, burst: 100_000, trackedCallers: 1000 },
    log: (line) => console.error(`stack: ${line}`),
  });
  sendResult({ apiUrl: stack.apiUrl, relayUrl: stack.relayUrl });
  await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
  await stack.stop();
  return { stopped: true };
}

const EVENTS_ACCEPTED = /^funnel_events_accepted_total\S*\s+(\d+)/gm;
const QUEUE_DEPTH = /^(?:funnel_)?queue_depth\S*\s+(\d+)/m;

/**
 * A GET that retries a failed connection a few times: a keep-alive socket the server closes as the
 * client reuses it fails the request without saying anything about the stack.
 */
async function get(url: string): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetch(url);
    } catch (error) {
      if (attempt >= 5) throw new Error(`GET ${url}: ${String((error as Error)?.cause ?? error)}`);
      await sleep(100 * attempt);
    }
  }
}

async function stackMetrics(apiUrl: string): Promise<{ accepted: number; queueDepth: number }> {
  const text = await (await get(`${apiUrl}/metrics`)).text();
  let accepted = 0;
  for (const m of text.matchAll(EVENTS_ACCEPTED)) accepted += Number(m[1]);
  return { accepted, queueDepth: Number(QUEUE_DEPTH.exec(text)?.[1] ?? NaN) };
}

/** Signed events of the simulator's workload, created "now" (signing is setup, so it happens before the timed part). */
async function signPool(generator: WorkloadGenerator, count: number): Promise<VerifiedEvent[]> {
  const events: VerifiedEvent[] = [];
  const seen = new Set<string>();
  const now = Math.floor(Date.now() / 1000);
  while (events.length < count) {
    const event = generator.next(now);
    if (seen.has(event.id)) continue;
    seen.add(event.id);
    events.push(event);
  }
  return events;
}

/** Publishes over one WebSocket, at most `inFlight` unanswered; counts the relay's OKs. */
class Publisher {
  private readonly ws: WebSocket;
  private pending = 0;
  ok = 0;
  refused = 0;
  private waiters: (() => void)[] = [];

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.ws.on('message', (data) => {
      const message = JSON.parse(String(data)) as unknown[];
      if (message[0] !== 'OK') return;
      this.pending--;
      if (message[2] === true) this.ok++;
      else this.refused++;
      this.waiters.splice(0).forEach((w) => w());
    });
  }

  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
  }

  async send(event: VerifiedEvent, inFlight: number): Promise<void> {
    while (this.pending >= inFlight) await new Promise<void>((r) => this.waiters.push(r));
    this.pending++;
    this.ws.send(JSON.stringify(['EVENT', event]));
  }

  close(): void {
    this.ws.close();
  }
}

/** the listener's events per queue message at most (what a queue depth is in events) */
const EVENTS_PER_MESSAGE = 25;
/** Ramp rates, events/s: a step the stack keeps up with leads to the next. */
const RAMP = [100, 150, 200, 300, 400, 600, 800, 1_000, 1_300, 1_600, 2_000, 2_500, 3_000];

/** Publishes `events` at `rate` per second (in 5 ms slices) over at most `seconds`; returns how many went out. */
async function publishAt(publisher: Publisher, events: VerifiedEvent[], rate: number, seconds: number, onTick?: (elapsedMs: number) => unknown): Promise<number> {
  const t0 = performance.now();
  let sent = 0;
  while (sent < events.length) {
    const elapsedMs = performance.now() - t0;
    if (elapsedMs >= seconds * 1000) break;
    await onTick?.(elapsedMs);
    const due = Math.min(events.length, Math.ceil((elapsedMs / 1000) * rate));
    while (sent < due) await publisher.send(events[sent++]!, 5_000);
    await sleep(5);
  }
  return sent;
}

export async function runPipeline(options: { seconds: number; stepSeconds: number; log: (line: string) => void }): Promise<PipelineReport> {
  const log = options.log;
  const generator = new WorkloadGenerator(simulatedUsers(1_000), seededRandom(3), await loadWasmSigner(new Uint8Array(32)));
  let signMs = 0;
  const sign = async (count: number) => {
    const t0 = performance.now();
    const pool = await signPool(generator, count);
    signMs += performance.now() - t0;
    return pool;
  };

  // --- a ramp: steps at rising rates until the stack no longer keeps up; the last step it kept up with is the rate
  const { steps, targetRate } = await withStack(log, async (urls, publisher) => {
    const steps: PipelineReport['calibration']['steps'] = [];
    let targetRate = 0;
    for (const rate of RAMP) {
      const pool = await sign(rate * options.stepSeconds);
      // Throughput after the step's first 10 s, once the pipeline's own latency has passed.
      let mid: { at: number; accepted: number } | undefined;
      const midAt = Math.min(10_000, (options.stepSeconds * 1000) / 2);
      await publishAt(publisher, pool, rate, options.stepSeconds, async (elapsedMs) => {
        if (!mid && elapsedMs >= midAt) mid = { at: performance.now(), accepted: (await stackMetrics(urls.apiUrl)).accepted };
      });
      const end = { at: performance.now(), ...(await stackMetrics(urls.apiUrl)) };
      const ingestedPerSecond = mid ? ((end.accepted - mid.accepted) * 1000) / (end.at - mid.at) : 0;
      const kept = ingestedPerSecond >= 0.9 * rate;
      steps.push({ rate, published: pool.length, ingestedPerSecond, queueDepth: end.queueDepth, kept });
      log(`pipeline: ramp ${rate} events/s for ${options.stepSeconds} s: ingested ${ingestedPerSecond.toFixed(0)}/s after its first 10 s, queue ${end.queueDepth} messages: ${kept ? 'kept up' : 'fell behind'}`);
      if (!kept) break;
      targetRate = rate;
    }
    return { steps, targetRate: targetRate || RAMP[0]! };
  });

  // --- the timed phase at the ramp's rate, with probes, on a fresh stack (the step that fell behind may
  // have left the last one in trouble); one step lower, again fresh, if it does not hold for the whole phase
  const timedOn = (rate: number) =>
    withStack(log, async (urls, publisher) => {
      const timed = async (rate: number) => {
        const pool = await sign(Math.ceil(rate * (options.seconds + 1)));
        log(`pipeline: ${options.seconds} s at ${rate} events/s (${pool.length.toLocaleString('en-US')} pre-signed events), one probe a second…`);
        const before = await stackMetrics(urls.apiUrl);
        const refusedBefore = publisher.refused;
        const latencies: number[] = [];
        const probes: Promise<void>[] = [];
        let lost = 0;
        const probe = async () => {
          const secret = generateSecretKey();
          const pubkey = getPublicKey(secret);
          const event = finalizeEvent({ kind: 1, created_at: Math.floor(Date.now() / 1000), tags: [], content: 'load bench probe' }, secret);
          const p0 = performance.now();
          await publisher.send(event, Number.MAX_SAFE_INTEGER);
          for (let poll = 0; ; poll++) {
            const nowS = Math.floor(Date.now() / 1000);
            // A window no earlier poll asked, so the API's response cache cannot answer it.
            const url = `${urls.apiUrl}/api/v2/analytics/user/${pubkey}/summary?startTs=${nowS - 86400 - poll * 60}&endTs=${nowS + 60}`;
            const body = (await (await get(url)).json()) as { data?: { totals?: { posts?: number } } };
            if ((body.data?.totals?.posts ?? 0) > 0) return void latencies.push(performance.now() - p0);
            if (performance.now() - p0 > 60_000) return void lost++;
            await sleep(100);
          }
        };
        const t0 = performance.now();
        let nextProbe = 0;
        const sent = await publishAt(publisher, pool, rate, options.seconds, (elapsedMs) => {
          if (elapsedMs < nextProbe) return;
          probes.push(probe());
          nextProbe += 1000;
        });
        const elapsed = (performance.now() - t0) / 1000;
        const after = await stackMetrics(urls.apiUrl);
        await Promise.all(probes);
        const sorted = [...latencies].sort((x, y) => x - y);
        const quantile = (q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]! : NaN);
        const figure: TimedPhase = {
          seconds: elapsed,
          targetRate: rate,
          published: sent,
          refused: publisher.refused - refusedBefore,
          ingestedPerSecond: (after.accepted - before.accepted) / elapsed,
          publishedPerSecond: sent / elapsed,
          probes: { count: latencies.length + lost, p50Ms: quantile(0.5), p99Ms: quantile(0.99), maxMs: sorted.at(-1) ?? NaN, lost },
          backlogMessages: after.queueDepth,
          backlogStart: before.queueDepth,
          sustained: after.accepted - before.accepted >= 0.95 * sent && (after.queueDepth - before.queueDepth) * EVENTS_PER_MESSAGE <= rate,
        };
        log(`pipeline: ${rate} events/s for ${options.seconds} s: ingested ${figure.ingestedPerSecond.toFixed(0)}/s, p99 ${figure.probes.p99Ms.toFixed(0)} ms, queue ${after.queueDepth}: ${figure.sustained ? 'sustained' : 'not sustained'}`);
        return figure;
      };
      return timed(rate);
    });
  const attempts = [await timedOn(targetRate)];
  const lower = RAMP.filter((r) => r < targetRate).at(-1);
  if (!attempts[0]!.sustained && lower !== undefined) attempts.push(await timedOn(lower));
  return { calibration: { stepSeconds: options.stepSeconds, steps }, ...attempts.at(-1)!, attempts, signMs };
}

/** A local stack in a child process with a fresh data dir, and a publisher to its relay, for `work`. */
async function withStack<T>(log: (line: string) => void, work: (urls: { apiUrl: string; relayUrl: string }, publisher: Publisher) => Promise<T>): Promise<T> {
  const dataDir = await scratchDir('funnel-load-pipeline-', false);
  const child = spawnTask('stack', { dataDir }, 4096);
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    for (const line of chunk.split('\n')) if (line.trim() && !line.includes('"level":"info"')) log(line.slice(0, 300));
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  try {
    const urls = await new Promise<{ apiUrl: string; relayUrl: string }>((resolve, reject) => {
      const poll = setInterval(() => {
        const ready = resultIn<{ apiUrl: string; relayUrl: string }>(stdout);
        if (ready) {
          clearInterval(poll);
          resolve(ready);
        }
      }, 50);
      void exited.then((code) => {
        clearInterval(poll);
        reject(new Error(`the local stack exited (${code}) before it was up`));
      });
    });
    log(`pipeline: local stack up (API ${urls.apiUrl}, relay ${urls.relayUrl}), pid ${child.pid}`);
    const publisher = new Publisher(urls.relayUrl);
    await publisher.open();
    try {
      return await work(urls, publisher);
    } finally {
      publisher.close();
    }
  } finally {
    if (child.exitCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    await exited;
    clearTimeout(timer);
    await rm(dataDir, { recursive: true, force: true });
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
