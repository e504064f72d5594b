#!/usr/bin/env node
// bench/console (issue 14): the console in Chromium (Debian's, driven by
// playwright-core) against a real stack.
//
//   make all tests/node_modules/.installed && node bench/console/run.mjs [--quick]
//   (make bench-console)
//
// - Fleet with 500 registered workers (16 with agents, 484 static
//   workers.d files whose address has nothing listening): time from
//   navigation start to the first row drawn, and to all 500 rows with the
//   data wharfd stores (last seen, processes, error counts) loaded and the
//   last row drawn after scrolling to it. Median of REPS page loads.
// - Keystroke to screen: a key given to xterm.js (term.input, as a typed
//   key is), sent over the WebSocket through nginx to the agent's PTY,
//   echoed by bash, written by xterm.js and rendered into the page (its
//   onRender after the echo was parsed). 16 terminals of the grid at once
//   (each typing one key at a time), against one terminal alone, in the
//   same run: p50 and p99. Two clocks per key: "echoed" when the echo is
//   in xterm.js's buffer (the network round trip and the parse), "on
//   screen" when xterm.js has drawn it, which it does on the browser's next
//   animation frame (up to 16.7 ms later at 60 Hz: the frame, not wharf).
// - Transfer size: the console's JavaScript and CSS as nginx sends them
//   (gzip_static), xterm.js included.
//
// Prints a table and writes the numbers as JSON to $B/bench/console.json.

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { launchBrowser, openPage } from '../../tests/lib/browser.mjs';
import { BUILD, startStack } from '../../tests/lib/stack.mjs';
import { machineLine, median } from '../lib.mjs';

const QUICK = process.argv.includes('--quick');
const WORKERS = 500;
const TERMINALS = 16;
const REPS = QUICK ? 2 : 5;
const KEYS_GRID = QUICK ? 20 : 60; // per terminal
const KEYS_SINGLE = QUICK ? 60 : 300;

const pct = (v, p) => [...v].sort((a, b) => a - b)[Math.min(v.length - 1, Math.floor(v.length * p))];
const ms = (x) => `${x.toFixed(2)} ms`;

function rawSize(url) {
  return new Promise((resolve, reject) => {
    http.get(url, { headers: { 'Accept-Encoding': 'gzip' } }, (res) => {
      let n = 0;
      res.on('data', (c) => { n += c.length; });
      res.on('end', () => resolve({ bytes: n, encoding: res.headers['content-encoding'] || 'identity', body: null }));
    }).on('error', reject);
  });
}

// In the page: one key into a terminal, resolved with the milliseconds
// until xterm.js parsed and rendered its echo. The echo is looked for at
// the end of the cursor's line joined to the line before it: at the
// right margin readline writes the key, then a space and a carriage
// return to move to the next row, which leaves the key at the end of the
// row above an empty one (a narrow grid tile gets there). A key whose
// echo does not come within KEY_TIMEOUT_MS fails the run, saying what
// the line held, rather than waiting for ever.
const KEY_TIMEOUT_MS = 10000;
const KEY_PROBE = `(view, ch) => new Promise((resolve, reject) => {
  const t = view.term;
  const t0 = performance.now();
  let parsed = 0;
  const tail = () => {
    const b = t.buffer.active;
    const y = b.baseY + b.cursorY;
    const above = y > 0 ? b.getLine(y - 1) : null;
    const line = b.getLine(y);
    return ((above ? above.translateToString(true) : '') + (line ? line.translateToString(true) : '')).trimEnd();
  };
  const a = t.onWriteParsed(() => {
    if (!parsed && tail().endsWith(ch)) parsed = performance.now() - t0;
  });
  const r = t.onRender(() => {
    if (!parsed) return;
    a.dispose();
    r.dispose();
    clearTimeout(timer);
    resolve([parsed, performance.now() - t0]);
  });
  const timer = setTimeout(() => {
    a.dispose();
    r.dispose();
    reject(new Error(view.worker + ': no echo of ' + JSON.stringify(ch) + ' within ${KEY_TIMEOUT_MS} ms; the line ends ' + JSON.stringify(tail().slice(-60))));
  }, ${KEY_TIMEOUT_MS});
  t.input(ch, true);
})`;

async function typeLatencies(page, keys, names) {
  return page.evaluate(async ({ probeSrc, keys: n, names: want }) => {
    const probe = eval(probeSrc); // eslint-disable-line no-eval
    const views = [...window.wharf.terminals].filter((v) => want.includes(v.worker));
    const per = await Promise.all(views.map(async (v, i) => {
      const out = [];
      for (let k = 0; k < n; k++) {
        out.push(await probe(v, k % 2 ? 'a' : 'b'));
        if (k % 40 === 39) v.term.input('\x15', true); // ^U: a fresh line
        if (k % 40 === 39) await new Promise((res) => setTimeout(res, 30));
      }
      return out;
    }));
    return { echoed: per.flat().map((x) => x[0]), screen: per.flat().map((x) => x[1]) };
  }, { probeSrc: KEY_PROBE, keys, names });
}

async function main() {
  const real = Array.from({ length: TERMINALS }, (_, i) => ({ name: `term-${String(i + 1).padStart(2, '0')}`, terminalCmd: 'bash --norc --noprofile' }));
  const fake = Array.from({ length: WORKERS - TERMINALS }, (_, i) => ({ name: `worker-${String(i + 1).padStart(3, '0')}`, addr: '127.0.0.1:9' }));
  console.log(`# ${machineLine()}`);
  console.log(`# starting a stack with ${WORKERS} workers (${TERMINALS} agents)`);
  const stack = await startStack({ tag: 'bench-console', workers: [...real, ...fake], wharfdArgs: ['--threads', '4'] });
  const browser = await launchBrowser();
  const results = { machine: machineLine(), workers: WORKERS, terminals: TERMINALS, quick: QUICK };
  try {
    const base = `${stack.http}/console/`;
    const auth = (ctx) => ctx.addInitScript((t) => sessionStorage.setItem('wharf.token', t), stack.token);

    // --- transfer size ------------------------------------------------------
    const index = await (await fetch(base)).text();
    const assets = [...index.matchAll(/(?:src|href)="(assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]);
    let gz = 0;
    let plain = 0;
    for (const a of assets) {
      const s = await rawSize(base + a);
      if (s.encoding !== 'gzip') throw new Error(`${a} was not sent gzipped`);
      gz += s.bytes;
      plain += fs.statSync(path.join(BUILD, 'console', a)).size;
    }
    results.transfer = { gzipBytes: gz, bytes: plain, files: assets };

    // --- fleet with 500 workers --------------------------------------------
    const first = [];
    const all = [];
    for (let r = 0; r < REPS; r++) {
      const p = await openPage(browser);
      await auth(p.context);
      await p.page.goto(base);
      const tFirst = await (await p.page.waitForFunction(() => document.querySelector('.page-fleet .vrow[data-key]') && performance.now(),
        null, { polling: 'raf', timeout: 60000 })).jsonValue();
      await p.page.waitForFunction((n) => {
        const f = document.querySelector('.page-fleet');
        return f && f.dataset.loaded === 'complete' && f.dataset.rows === String(n);
      }, WORKERS, { polling: 'raf', timeout: 60000 });
      await p.page.evaluate(() => { const b = document.querySelector('.vbody'); b.scrollTop = b.scrollHeight; });
      const tAll = await (await p.page.waitForFunction((last) => document.querySelector(`.vrow[data-key="${last}"]`) && performance.now(),
        `worker-${String(WORKERS - TERMINALS).padStart(3, '0')}`, { polling: 'raf', timeout: 60000 })).jsonValue();
      first.push(tFirst);
      all.push(tAll);
      if (p.errors.length) throw new Error(`console errors: ${p.errors.join('; ')}`);
      await p.context.close();
    }
    results.fleet = { reps: REPS, firstRowMs: median(first), allRowsMs: median(all), firstRowAll: first, allRowsAll: all };

    // --- keystroke to screen: 16 in the grid, then one alone ----------------
    const names = real.map((w) => w.name);
    const g = await openPage(browser, { viewport: { width: 1600, height: 1000 } });
    await auth(g.context);
    await g.page.goto(`${base}#/grid/${names.join(',')}`);
    await g.page.waitForFunction((n) => document.querySelectorAll('.pane .term-host[data-state="open"]').length === n, TERMINALS, { timeout: 60000 });
    // every shell at its prompt
    const prompts = () => g.page.evaluate(() => [...window.wharf.terminals].map((v) => {
      const b = v.term.buffer.active;
      return b.getLine(b.baseY + b.cursorY)?.translateToString(true) || '';
    }));
    for (let i = 0; ; i++) {
      const lines = await prompts();
      if (lines.length === TERMINALS && lines.every((l) => /[#$]\s*$/.test(l))) break;
      if (i > 200) throw new Error(`shells not at a prompt: ${JSON.stringify(lines)}`);
      await g.page.waitForTimeout(100);
    }
    const grid = await typeLatencies(g.page, KEYS_GRID, names);
    await g.context.close();

    const s = await openPage(browser);
    await auth(s.context);
    await s.page.goto(`${base}#/t/${names[0]}`);
    await s.page.locator('.term-host[data-state="open"]').waitFor({ timeout: 20000 });
    await s.page.waitForTimeout(300); // the prompt
    const single = await typeLatencies(s.page, KEYS_SINGLE, [names[0]]);
    if (g.errors.length || s.errors.length) throw new Error(`console errors: ${[...g.errors, ...s.errors].join('; ')}`);
    await s.context.close();
    const sum = (v) => ({ samples: v.screen.length, p50: pct(v.screen, 0.5), p99: pct(v.screen, 0.99),
      echoedP50: pct(v.echoed, 0.5), echoedP99: pct(v.echoed, 0.99) });
    results.keystroke = { grid: { terminals: TERMINALS, ...sum(grid) }, single: sum(single) };
  } finally {
    await browser.close();
    await stack.stop();
  }

  const k = results.keystroke;
  console.log('');
  console.log('| what | value | target |');
  console.log('|---|---|---|');
  console.log(`| fleet, ${WORKERS} workers: first row (median of ${REPS}) | ${ms(results.fleet.firstRowMs)} | |`);
  console.log(`| fleet, ${WORKERS} workers: all rows with wharfd's data, last row drawn | ${ms(results.fleet.allRowsMs)} | |`);
  console.log(`| keystroke to screen, ${TERMINALS} terminals in the grid: p50 / p99 (${k.grid.samples} keys) | ${ms(k.grid.p50)} / ${ms(k.grid.p99)} | p50 < 5 ms |`);
  console.log(`| keystroke echoed into xterm.js's buffer, ${TERMINALS} in the grid: p50 / p99 | ${ms(k.grid.echoedP50)} / ${ms(k.grid.echoedP99)} | |`);
  console.log(`| keystroke to screen, one terminal alone: p50 / p99 (${k.single.samples} keys) | ${ms(k.single.p50)} / ${ms(k.single.p99)} | |`);
  console.log(`| keystroke echoed into xterm.js's buffer, one alone: p50 / p99 | ${ms(k.single.echoedP50)} / ${ms(k.single.echoedP99)} | |`);
  console.log(`| grid / alone, p50 | ${(k.grid.p50 / k.single.p50).toFixed(2)} | |`);
  console.log(`| JS + CSS transferred, gzipped (${results.transfer.files.length} files; ${(results.transfer.bytes / 1024).toFixed(0)} KiB unzipped) | ${(results.transfer.gzipBytes / 1024).toFixed(1)} KiB | < 300 KB |`);
  const out = path.join(BUILD, 'bench/console.json');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\n# written to ${out}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
