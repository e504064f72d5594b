// A real browser for the console's tests and benchmark: Debian's chromium
// (scripts/install-deps test) driven by npm playwright-core over the
// DevTools protocol; never a browser that Playwright downloads.
//
// Each page records what the tests assert on: console errors and uncaught
// exceptions, every request URL and every WebSocket URL the page opened.
// Screenshots go to WHARF_SCREENSHOTS (default build/screenshots), which
// the tests print.

import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { ROOT } from './stack.mjs';

export const CHROMIUM = process.env.WHARF_CHROMIUM || '/usr/bin/chromium';
// Playwright starts each browser with a fresh --user-data-dir of its own
// (a temp folder it removes), so none is given here.
// --disable-dev-shm-usage: in a container (make test-fresh) /dev/shm is
// Docker's 64 MiB, which Chromium's renderers outgrow.
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];
export const SHOTS = path.resolve(process.env.WHARF_SCREENSHOTS || path.join(ROOT, 'build/screenshots'));

export function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

// A fresh context (its own sessionStorage) and page, recording as above.
export async function openPage(browser, { viewport = { width: 1280, height: 800 } } = {}) {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const rec = { context, page, errors: [], requests: [], sockets: [] };
  page.on('console', (m) => {
    if (m.type() === 'error') rec.errors.push(m.text());
  });
  page.on('pageerror', (e) => rec.errors.push(`uncaught: ${e.message}`));
  page.on('request', (r) => rec.requests.push(r.url()));
  page.on('websocket', (ws) => rec.sockets.push(ws.url()));
  return rec;
}

export async function shot(page, name, opts = {}) {
  fs.mkdirSync(SHOTS, { recursive: true });
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file, ...opts });
  return file;
}

// What a terminal pane shows (xterm.js's DOM renderer: one div per row).
export async function screenText(page, worker, scope = '') {
  return page.locator(`${scope} .term-host[data-worker="${worker}"] .xterm-rows`).first().innerText();
}
