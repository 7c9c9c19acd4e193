import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import chromium from '@sparticuz/chromium';
import { chromium as playwright, type Browser, type Page } from 'playwright-core';

/**
 * A real headless Chromium for the browser tests: the binary shipped inside the @sparticuz/chromium
 * npm package (unpacked to the temp dir on first use, ≈ 4 s), driven by playwright-core. Nothing is
 * downloaded: the flags keep Chromium off the network (this machine has none but loopback).
 */
export const OFFLINE_FLAGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

export async function launchBrowser(): Promise<Browser> {
  const executablePath = await chromium.executablePath();
  return playwright.launch({ executablePath, headless: true, args: [...chromium.args, ...OFFLINE_FLAGS] });
}

/** Where the browser tests leave their screenshots (gitignored). */
export const SCREENSHOTS = join(process.cwd(), 'test-results', 'dashboard');

export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  // no hover highlight left where the last click was
  await page.mouse.move(0, 0);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/**
 * Fails a page on what a user would see as broken: an uncaught error, a console error, or a request
 * that leaves loopback (the page must need no CDN). Returns the list to assert empty.
 */
export function watchPage(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    // a refused read is shown on the page, and Chromium also logs its status: that is not a defect
    if (message.type() === 'error' && !/Failed to load resource: the server responded with a status of (400|404)/.test(message.text())) problems.push(`console: ${message.text()}`);
  });
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (!['127.0.0.1', 'localhost'].includes(url.hostname) && !['data:', 'blob:'].includes(url.protocol)) problems.push(`external request: ${request.url()}`);
  });
  return problems;
}

/**
 * Text on the page whose contrast with its background is under WCAG AA (4.5:1; 3:1 for large text):
 * each visible element with text of its own, against the first opaque background behind it. (Run in
 * the page, so written as the page's JavaScript: this project type-checks without the DOM library.)
 */
const CONTRAST_CHECK = `(() => {
  const rgb = (color) => (color.match(/[\\d.]+/g) || []).map(Number);
  const luminance = ([r, g, b]) => {
    const [R, G, B] = [r, g, b].map((c) => { const s = c / 255; return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * R + 0.7152 * G + 0.0722 * B;
  };
  const background = (el) => {
    for (let node = el; node; node = node.parentElement) {
      const [r, g, b, a = 1] = rgb(getComputedStyle(node).backgroundColor);
      if (a > 0.5) return [r, g, b];
    }
    return [255, 255, 255];
  };
  const failures = [];
  for (const el of document.querySelectorAll('body *')) {
    if (el.closest('svg') || !el.offsetParent) continue;
    if (![...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim())) continue;
    const style = getComputedStyle(el);
    const [l1, l2] = [luminance(rgb(style.color)), luminance(background(el))].sort((a, b) => b - a);
    const ratio = (l1 + 0.05) / (l2 + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) failures.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + '.' + el.className + ': "' + el.textContent.trim().slice(0, 30) + '" ' + ratio.toFixed(2) + ':1');
  }
  return failures;
})()`;

export const lowContrastText = (page: Page): Promise<string[]> => page.evaluate(CONTRAST_CHECK);
