import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiHandler } from '../../functions/api/handler.js';
import { retentionFromEnv } from '../../lib/counters/retention.js';
import { partitionOf, partitionPrefix } from '../../lib/facts/partition.js';
import { DEFAULT_ARCHIVE_AFTER_DAYS, TIERED_OBJECT_MIN_BYTES } from '../../lib/facts/storage-tiers.js';
import { backfill } from '../../lib/local/cli/backfill.js';
import { lambdaContext } from '../../lib/local/stack/queue-consumer.js';
import { openPipeline, type Pipeline } from '../../lib/local/stack/stack.js';
import { loadWasmSigner } from '../../lib/nostr/sign.js';

/**
 * The local pipeline a year and more on: a creator's hour that is now past the archive age (365 days,
 * the default, as in AWS) and one that is not. A long-window summary over both answers 200 with the
 * newer hour counted and the older one named in meta.partialReason; a late event for the old hour is
 * stored and leaves its settled counters alone.
 */
const DAY = 86_400;
const OLD_HOUR = Date.UTC(2026, 0, 10, 12) / 1000;
const NEWER_HOUR = OLD_HOUR + 20 * DAY;
/** other people's notes in each hour, so a compacted hour is over the 128 KiB the lifecycle rule moves */
const PADDING = 2500;

let now = 0;
const clock = { now: () => now };
let dir: string;
let pipeline: Pipeline;
const creator = generateSecretKey();
const CREATOR = getPublicKey(creator);

async function send(name: string, events: object[]): Promise<void> {
  const file = join(dir, `${name}.jsonl`);
  await writeFile(file, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  await backfill(file, pipeline);
}

async function hourOfActivity(hourStart: number, likes: number): Promise<object[]> {
  const sign = await loadWasmSigner();
  const note = sign(creator, { kind: 1, created_at: hourStart + 60, tags: [], content: `the creator at ${hourStart}` });
  const others = Array.from({ length: 200 }, () => generateSecretKey());
  const reactions = Array.from({ length: likes }, (_, i) => sign(others[i]!, { kind: 7, created_at: hourStart + 120 + i, tags: [['e', note.id], ['p', CREATOR]], content: '+' }));
  const padding = Array.from({ length: PADDING }, (_, i) => sign(others[i % others.length]!, { kind: 1, created_at: hourStart + 200 + (i % 3000), tags: [], content: `padding ${hourStart} ${i}` }));
  return [note, ...reactions, ...padding];
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'funnel-archived-'));
  pipeline = await openPipeline({ dataDir: join(dir, 'data'), clock, batchWindowMs: 0, ephemeralCounters: true });
  // each hour ingested and settled the day after it happened
  now = (OLD_HOUR + DAY) * 1000;
  await send('old', await hourOfActivity(OLD_HOUR, 5));
  await pipeline.compact();
  now = (NEWER_HOUR + DAY) * 1000;
  await send('newer', await hourOfActivity(NEWER_HOUR, 3));
  await pipeline.compact();
  // 370 days after the old hour was written: it is past the archive age, the newer one (350 days) is not
  now = (OLD_HOUR + DAY + 370 * DAY) * 1000;
}, 120_000);

afterAll(async () => {
  await pipeline?.close();
  await rm(dir, { recursive: true, force: true });
});

describe(`a window reaching facts older than the archive age (${DEFAULT_ARCHIVE_AFTER_DAYS} days), on the local stack`, () => {
  const api = () => createApiHandler({ counters: pipeline.counters, clock, retention: retentionFromEnv(process.env), jobs: { queue: pipeline.jobsQueue, objects: pipeline.objects, settings: { resultTtlSeconds: 3600, perClientPerHour: 20 } } });
  const get = async (path: string) => {
    const url = new URL(path, 'http://x');
    const event = { rawPath: url.pathname, rawQueryString: url.search.slice(1), queryStringParameters: Object.fromEntries(url.searchParams), headers: {}, requestContext: { http: { method: 'GET', sourceIp: '192.0.2.7' } } };
    const response = (await api()(event as unknown as APIGatewayProxyEventV2, lambdaContext('archived'))) as APIGatewayProxyStructuredResultV2;
    return { status: response.statusCode, body: JSON.parse(response.body!) };
  };

  it('the hours were compacted into objects big enough for the lifecycle rule to move', async () => {
    for (const hour of [OLD_HOUR, NEWER_HOUR]) {
      const [object, ...rest] = await pipeline.objects.listSizes!(partitionPrefix(partitionOf(hour)));
      expect(rest).toEqual([]);
      expect(object!.bytes).toBeGreaterThan(TIERED_OBJECT_MIN_BYTES);
    }
  });

  it('a 100-day summary answers 202, then 200 with the readable hour counted and the archived one named', async () => {
    const startTs = OLD_HOUR - 2 * DAY;
    const accepted = await get(`/api/v2/analytics/user/${CREATOR}/summary?startTs=${startTs}&endTs=${startTs + 100 * DAY}`);
    expect(accepted.status).toBe(202);
    await pipeline.jobsConsumer.drain(60_000);
    const polled = await get(accepted.body.data.poll);
    expect(polled.status).toBe(200);
    expect(polled.body.data.status).toBe('complete');
    const { data, meta } = polled.body.data.result;
    expect(data.totals.posts).toBe(1);
    expect(data.totals.reactionsReceived.likes).toBe(3);
    expect(meta.freshness.isPartial).toBe(true);
    expect(meta.partialReason).toMatch(/^archived: 1 hour of facts between 2026-01-10T12:00Z and 2026-01-10T13:00Z were not scanned; .* more than 365 days ago .* S3 Glacier Deep Archive/);
  });

  it('a late event for the archived hour is stored, and the compactor leaves the hour as it was settled', async () => {
    const hourItem = async () => (await pipeline.counters.range(`u:${CREATOR}`, 'h', OLD_HOUR, OLD_HOUR))[0]?.values;
    const before = await hourItem();
    expect(before).toBeDefined();
    const sign = await loadWasmSigner();
    const notes = await pipeline.objects.listSizes!(partitionPrefix(partitionOf(OLD_HOUR)));
    await send('late', [sign(generateSecretKey(), { kind: 7, created_at: OLD_HOUR + 1800, tags: [['e', 'f'.repeat(64)], ['p', CREATOR]], content: '+' })]);
    const summary = (await pipeline.compact()) as { archivedHoursClosed: number; failedHours: number };
    expect(summary.archivedHoursClosed).toBe(1);
    expect(summary.failedHours).toBe(0);
    expect(await hourItem()).toEqual(before);
    // the old object untouched, the late one beside it
    const after = await pipeline.objects.listSizes!(partitionPrefix(partitionOf(OLD_HOUR)));
    expect(after).toHaveLength(2);
    expect(after).toContainEqual(notes[0]);
  });
});
