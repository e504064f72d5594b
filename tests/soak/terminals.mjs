// Soak load, in its own thread (worker_threads): N terminals typing through
// nginx into shells on the agents. Each terminal opens a session, waits for
// the prompt, then types commands one key at a time (`echo K<slot>_$((A*7))`
// and Enter), waiting for each key's echo before the next and for the
// command's output (K<slot>_<A*7>, which differs from the echoed text),
// then thinks, and after its session length closes and opens a new one, so
// the soak churns handshakes and shells as well as keystrokes.
//
// Latencies (ms, histograms): terminal.open (upgrade), terminal.key (one
// key to its echo), terminal.command (Enter to the output line). Every
// failure (refused upgrade, timeout, unexpected close) is counted.

import { parentPort, workerData } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { Histogram } from './hist.mjs';

const WebSocket = createRequire(new URL('../package.json', import.meta.url))('ws');
const { urls, count, keyIntervalMs, thinkMs, sessionMs, durationMs, timeoutMs } = workerData;

const hist = { 'terminal.open': new Histogram(), 'terminal.key': new Histogram(), 'terminal.command': new Histogram() };
const errors = {};
const stats = { sessions: 0, keys: 0, commands: 0 };
const fail = (what, detail) => {
  errors[what] = (errors[what] || 0) + 1;
  if ((errors[what] || 0) <= 3) parentPort.postMessage({ type: 'log', line: `terminal error ${what}: ${detail}` });
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const deadline = Date.now() + durationMs;
let stopping = false;

// One session: the socket, its output as text, and waiters woken on data.
class Session {
  constructor(url) {
    this.out = '';
    this.waiter = null;
    this.closed = false;
    this.ws = new WebSocket(url);
    this.ws.on('message', (d) => {
      this.out += d.toString('latin1');
      if (this.out.length > 65536) this.trim();
      if (this.waiter) this.waiter();
    });
    this.ws.on('close', () => {
      this.closed = true;
      if (this.waiter) this.waiter();
    });
    this.ws.on('error', () => {});
  }

  // Keeps the text after `from` only (offsets are relative to this.base).
  trim() {
    this.out = this.out.slice(-4096);
  }

  opened() {
    return new Promise((resolve, reject) => {
      this.ws.once('open', resolve);
      this.ws.once('unexpected-response', (q, r) => reject(new Error(`HTTP ${r.statusCode}`)));
      this.ws.once('error', reject);
    });
  }

  // Resolves when pred(out) holds, rejects after timeoutMs or on close.
  until(pred, what) {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => { this.waiter = null; reject(new Error(`timeout: ${what}`)); }, timeoutMs);
      const check = () => {
        if (pred(this.out)) {
          clearTimeout(t);
          this.waiter = null;
          resolve();
        } else if (this.closed) {
          clearTimeout(t);
          this.waiter = null;
          reject(new Error(`closed: ${what}`));
        }
      };
      this.waiter = check;
      check();
    });
  }
}

async function slot(i) {
  // spread the first opens over a few seconds
  await sleep(Math.floor((i / count) * Math.min(5000, durationMs / 4)));
  let n = 0;
  while (!stopping && Date.now() < deadline) {
    const url = urls[i % urls.length];
    const t0 = performance.now();
    const s = new Session(url);
    try {
      await s.opened();
    } catch (e) {
      fail('terminal.open', e.message);
      s.ws.terminate();
      await sleep(1000);
      continue;
    }
    hist['terminal.open'].add(performance.now() - t0);
    stats.sessions++;
    const end = Math.min(deadline, Date.now() + sessionMs[0] + Math.random() * (sessionMs[1] - sessionMs[0]));
    try {
      await s.until((o) => /[$#] $/.test(o), 'first prompt');
      while (!stopping && Date.now() < end) {
        const a = (i * 1000 + n++) % 100000;
        const cmd = `echo K${i}_$((${a}*7))`;
        s.out = '';
        for (let k = 0; k < cmd.length; k++) {
          if (stopping) break;
          const typed = cmd.slice(0, k + 1);
          const tk = performance.now();
          s.ws.send(Buffer.from(cmd[k]), { binary: true });
          await s.until((o) => o.endsWith(typed), `echo of key ${k} of ${JSON.stringify(cmd)}`);
          hist['terminal.key'].add(performance.now() - tk);
          stats.keys++;
          await sleep(keyIntervalMs);
        }
        if (stopping) break;
        const want = `\r\nK${i}_${a * 7}\r\n`;
        const tc = performance.now();
        s.ws.send(Buffer.from('\r'), { binary: true });
        await s.until((o) => o.includes(want) && /[$#] $/.test(o), `output ${JSON.stringify(want)}`);
        hist['terminal.command'].add(performance.now() - tc);
        stats.commands++;
        await sleep(thinkMs);
      }
    } catch (e) {
      if (!stopping) fail('terminal.session', e.message);
    }
    s.ws.close();
    await s.until(() => s.closed, 'close').catch(() => { s.ws.terminate(); });
  }
}

parentPort.on('message', (m) => {
  if (m === 'stop') stopping = true;
});
await Promise.all(Array.from({ length: count }, (_, i) => slot(i)));
parentPort.postMessage({
  type: 'done', stats, errors,
  hist: Object.fromEntries(Object.entries(hist).map(([k, h]) => [k, h.toJSON()])),
});
