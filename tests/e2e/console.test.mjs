// The console (/console/, docs/console.md) in a real browser: Debian's
// chromium driven by playwright-core, against a real stack (nginx with the
// module, wharfd, four agents). Signs in, reads the fleet, opens a terminal
// and a grid of four, restarts the app from the worker page and watches its
// events, logs and errors arrive live; a bad token gets the sign-in
// message; no URL the browser asked for holds a token, and the browser's
// console has no error. Screenshots of each page go to WHARF_SCREENSHOTS
// (default build/screenshots).

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { SHOTS, launchBrowser, openPage, screenText, shot } from '../lib/browser.mjs';
import { ROOT, generateKeys, get, mintToken, startStack, tempDir, waitFor, TOKEN_LEEWAY } from '../lib/stack.mjs';

const BASH = 'bash --norc --noprofile';
const JWT = /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/;

describe('console in Chromium', () => {
  let stack;
  let browser;
  const pages = [];

  before(async () => {
    stack = await startStack({
      tag: 'e2e-console',
      healthInterval: '1s',
      workers: [
        { name: 'demo', terminalCmd: BASH, ship: true, app: ['node', path.join(ROOT, 'tests/fixtures/console/app.js')] },
        { name: 'w2', terminalCmd: BASH },
        { name: 'w3', terminalCmd: BASH },
        { name: 'w4', terminalCmd: BASH },
      ],
    });
    browser = await launchBrowser();
    console.log(`# screenshots: ${SHOTS}`);
  });

  // Each test's page closes with it (its terminals too); what it recorded
  // stays for the last test.
  afterEach(async () => {
    for (const p of pages.filter((q) => !q.closed)) {
      p.closed = true;
      p.lastUrl = p.page.url();
      await p.context.close();
    }
  });

  after(async () => {
    if (browser) await browser.close();
    if (stack) await stack.stop();
  });

  const open = async (opts) => {
    const p = await openPage(browser, opts);
    pages.push(p);
    return p;
  };
  const url = (frag = '') => `${stack.http}/console/${frag}`;
  // Signs in through the page itself, as an operator would.
  const signIn = async (page, token = stack.token) => {
    await page.goto(url());
    await page.locator('#token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('.page-fleet').waitFor();
  };
  const row = (page, name) => page.locator(`.page-fleet .vrow[data-key="${name}"]`);

  test('nginx serves the console: no token needed, assets gzipped, strict headers', async () => {
    const index = await get(url());
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-type'), /^text\/html/);
    assert.match(index.headers.get('content-security-policy'), /script-src 'self'/);
    assert.equal(index.headers.get('cache-control'), 'no-cache');
    const js = index.body.match(/src="(assets\/main-[A-Z0-9]+\.js)"/)[1];
    const asset = await fetch(url(js), { headers: { 'Accept-Encoding': 'gzip' } });
    assert.equal(asset.status, 200);
    assert.equal(asset.headers.get('content-encoding'), 'gzip');
    assert.match(asset.headers.get('content-type'), /^text\/javascript/);
    assert.match(asset.headers.get('cache-control'), /immutable/);
    const bare = await fetch(`${stack.http}/console`, { redirect: 'manual' });
    assert.equal(bare.status, 301);
    assert.equal(bare.headers.get('location'), '/console/');
  });

  test('sign in with a pasted token; the fleet shows demo healthy', async () => {
    const { page } = await open();
    await page.goto(url());
    await page.locator('#token').waitFor();
    await shot(page, 'console-signin');
    await page.locator('#token').fill(stack.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await row(page, 'demo').locator('.c-term', { hasText: 'healthy' }).waitFor({ timeout: 15000 });
    await page.locator('.page-fleet[data-loaded="complete"]').waitFor();
    for (const w of ['w2', 'w3', 'w4']) await row(page, w).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('wharf.token')), stack.token);
    await waitFor(async () => /\b\d+ s ago|min ago/.test(await row(page, 'demo').locator('.c-seen').innerText()),
      { timeout: 15000, what: 'demo last seen' });
    await waitFor(async () => /app running/.test(await row(page, 'demo').locator('.c-proc').innerText()),
      { timeout: 15000, what: 'demo app running in the fleet' });
    await shot(page, 'console-fleet');
  });

  test('keyboard: / filters, arrows and Enter open a worker', async () => {
    const { page } = await open();
    await signIn(page);
    await row(page, 'demo').waitFor();
    await page.keyboard.press('/');
    await page.keyboard.type('w3');
    await waitFor(async () => (await page.locator('.page-fleet .vrow[data-key]').count()) === 1, { what: 'one row left' });
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await page.locator('.page-worker[data-worker="w3"]').waitFor();
  });

  test('a narrow window keeps the fleet readable', async () => {
    const { page } = await open({ viewport: { width: 420, height: 800 } });
    await signIn(page);
    await row(page, 'demo').locator('.c-term', { hasText: 'healthy' }).waitFor({ timeout: 15000 });
    assert.ok(await row(page, 'demo').locator('.c-name').isVisible());
    assert.ok(!(await row(page, 'demo').locator('.c-sess').isVisible()), 'the sessions column folds away');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `no sideways scrolling (${overflow} px too wide)`);
    await shot(page, 'console-fleet-narrow');
  });

  test('a bad token gets the sign-in message, and a way to sign in again', async () => {
    const { page } = await open();
    // Signed by a key this gateway does not know: refused with 401.
    const other = generateKeys(tempDir('console-keys'));
    const forged = mintToken(other.privateKey, { sub: '*', scope: 'read terminal control' });
    await page.goto(url(`#token=${forged}`));
    const msg = page.locator('.signin-msg');
    await msg.waitFor();
    assert.match(await msg.innerText(), /refused this token/i);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('wharf.token')), null);
    await shot(page, 'console-signin-refused');
    await page.locator('#token').fill('not a token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await waitFor(async () => /not a token/.test(await msg.innerText()), { what: 'the not-a-token message' });
    const expired = stack.mint({ sub: '*', scope: 'read', exp: Math.floor(Date.now() / 1000) - TOKEN_LEEWAY - 30 });
    await page.locator('#token').fill(expired);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await waitFor(async () => /expired/.test(await msg.innerText()), { what: 'the expired message' });
    await page.locator('#token').fill(stack.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await row(page, 'demo').waitFor();
  });

  test('a sign-in link carries the token in the fragment, which leaves the address bar', async () => {
    const { page } = await open();
    await page.goto(url(`#token=${stack.token}&next=/w/w2`));
    await page.locator('.page-worker[data-worker="w2"]').waitFor();
    assert.doesNotMatch(page.url(), /token/);
    // The entry was replaced, not added: back leads to the page before.
    await page.goBack();
    assert.doesNotMatch(page.url(), /token/);
  });

  test('the demo terminal: echo $((6*7)) prints 42, and stty size follows the window', async () => {
    const { page } = await open();
    await signIn(page);
    await page.goto(url('#/t/demo'));
    const host = page.locator('.page-terminal .term-host[data-worker="demo"]');
    await host.and(page.locator('[data-state="open"]')).waitFor({ timeout: 15000 });
    await host.click();
    await page.keyboard.type('echo $((6*7))\n');
    await waitFor(async () => /^42\s*$/m.test(await screenText(page, 'demo')), { what: () => 'the answer 42' });
    await shot(page, 'console-terminal');
    const wide = Number(await host.getAttribute('data-cols'));
    await page.setViewportSize({ width: 900, height: 600 });
    await waitFor(async () => Number(await host.getAttribute('data-cols')) < wide, { what: 'the terminal to shrink' });
    const cols = Number(await host.getAttribute('data-cols'));
    const rows = Number(await host.getAttribute('data-rows'));
    await page.keyboard.type('clear; stty size\n');
    await waitFor(async () => new RegExp(`^${rows} ${cols}\\s*$`, 'm').test(await screenText(page, 'demo')),
      { what: () => `stty size to print ${rows} ${cols}` });
    await page.keyboard.type('exit 3\n');
    await page.locator('.term-status', { hasText: 'exited with code 3' }).waitFor();
  });

  test('a grid of four terminals, each typed in', async () => {
    const { page } = await open();
    await signIn(page);
    const names = ['demo', 'w2', 'w3', 'w4'];
    await page.goto(url(`#/grid/${names.join(',')}`));
    for (const n of names) {
      await page.locator(`.pane[data-worker="${n}"] .term-host[data-state="open"]`).waitFor({ timeout: 15000 });
    }
    for (const [i, n] of names.entries()) {
      await page.locator(`.pane[data-worker="${n}"] .term-host`).click();
      await page.keyboard.type(`echo pane-${n}-$((${i + 1}*11))\n`);
    }
    for (const [i, n] of names.entries()) {
      await waitFor(async () => new RegExp(`^pane-${n}-${(i + 1) * 11}\\s*$`, 'm').test(await screenText(page, n, '.pane')),
        { what: () => `pane ${n}'s answer` });
    }
    const sizes = await page.locator('.pane .term-host').evaluateAll((els) => els.map((e) => `${e.dataset.cols}x${e.dataset.rows}`));
    assert.equal(sizes.length, 4);
    await shot(page, 'console-grid');
    // Closing a pane leaves the others' sessions as they were.
    await page.getByRole('button', { name: 'close w4' }).click();
    await waitFor(async () => (await page.locator('.pane').count()) === 3, { what: 'three panes' });
    assert.doesNotMatch(page.url(), /w4/);
    assert.equal(await page.locator('.pane[data-worker="w2"] .term-host').getAttribute('data-state'), 'open');
    assert.match(await screenText(page, 'w2', '.pane'), /^pane-w2-22\s*$/m);
  });

  test('restart the app from the worker page: events, logs and the error count arrive live', async () => {
    const { page } = await open();
    await signIn(page);
    await page.goto(url('#/w/demo'));
    const proc = page.locator('.procs tr[data-instance="app"]');
    await proc.locator('[data-status="running"]').waitFor({ timeout: 15000 });
    await page.locator('.pill[data-state="live"]').waitFor({ timeout: 10000 });
    await page.getByRole('tab', { name: /Errors/ }).click();
    const count = page.locator('.errors .errcount').first();
    await waitFor(async () => (await count.getAttribute('data-count')) === '3', { what: 'the error counted 3' });
    assert.equal(await page.locator('.errors tbody tr[data-hash]').count(), 1, 'one row for the three occurrences');
    await shot(page, 'console-worker-errors');
    await page.getByRole('tab', { name: /Events/ }).click();
    const started = await page.locator('.events tr[data-type="process_started"]').count();
    await page.getByRole('tab', { name: /Logs/ }).click();
    const pids = async () => [...(await page.locator('.loglist').innerText()).matchAll(/console-app started, pid (\d+)/g)].map((m) => m[1]);
    const before = await pids();
    await proc.getByRole('button', { name: 'restart app' }).click();
    // All of it through the feed: the page is not reloaded.
    await waitFor(async () => (await pids()).length > before.length, { timeout: 15000, what: 'the new run\'s first line' });
    await shot(page, 'console-worker-logs');
    await page.getByRole('tab', { name: /Events/ }).click();
    await waitFor(async () => (await page.locator('.events tr[data-type="process_started"]').count()) > started,
      { timeout: 10000, what: 'a process_started event' });
    assert.ok(await page.locator('.events tr[data-type="process_stopped"]').count() > 0, 'the stop is an event too');
    await shot(page, 'console-worker-events');
    await page.getByRole('tab', { name: /Errors/ }).click();
    await waitFor(async () => (await count.getAttribute('data-count')) === '6', { what: 'the error counted 6' });
  });

  test('no URL the browser asked for holds a token; its console has no error', () => {
    const urls = pages.flatMap((p) => [...p.requests, ...p.sockets]);
    assert.ok(urls.some((u) => u.includes('/ws/monitoring')), 'the feed was opened');
    assert.ok(urls.some((u) => u.includes('/terminal')), 'terminals were opened');
    for (const u of urls) assert.doesNotMatch(u, JWT, `a token in ${u}`);
    for (const p of pages) {
      // The refused token's page: the 401 answers themselves are what the
      // browser reports there.
      const errors = p.errors.filter((e) => !/status of 401/.test(e));
      assert.deepEqual(errors, [], `console errors on ${p.lastUrl}`);
    }
  });
});
