#!/usr/bin/env node
// bench/registry (issue 15): adding and removing workers at run time, the
// live registry's API against the reload path, while terminals are open
// and typing.
//
//   make all && node bench/registry/run.mjs [--workers 1000] [--terminals 200]
//   make bench-registry                    (the same, full size)
//   node bench/registry/run.mjs --quick    (a smoke run: 50 workers, 20 terminals)
//
// One stack (nginx with the module, worker_processes 2, wharfd, one agent
// whose terminals run `cat` on a raw tty). First, --terminals terminals
// are opened through nginx and each types a key every 250 ms, checking
// its echo, for the whole run. Then the same changes, --workers adds and
// then as many removals, go through the two paths, one after the other:
//
//   api      PUT /api/workers/NAME, DELETE /api/workers/NAME (live
//            registry, wharf_registry_state: each change fsync()ed)
//   reload   NAME.conf written into workers.d/ (removed), then SIGHUP to
//            nginx's master, as scripts/new-worker's static path does
//
// For each change, the time from its start until the worker routes (a
// GET through nginx, on a new connection each time, answers 200; 404 for a
// removal), sequentially: changes per second and the p50/p99 of that time.
// Around each path: nginx's RSS (master and every worker process,
// VmRSS) and its process count; during each, the terminals' key round
// trip p99; after each, sessions dropped: a terminal that closed, or whose
// last key was not echoed within 5 s (target 0). The live workers' upstream
// is one HTTP server of this process, which answers 200 to anything.
//
// Prints one JSON object; --out FILE writes it too.

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';
import { childPids, startStack, waitFor, writeWorkerConf } from '../../tests/lib/stack.mjs';
import { machineLine } from '../lib.mjs';

const WebSocket = createRequire(new URL('../../tests/package.json', import.meta.url))('ws');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const QUICK = args.includes('--quick');
const WORKERS = Number(opt('workers', QUICK ? 50 : 1000));
const TERMINALS = Number(opt('terminals', QUICK ? 20 : 200));
const OUT = opt('out', null);
const KEY_EVERY_MS = 250;
const ECHO_WAIT_MS = 5000;

const pct = (v, p) => (v.length ? [...v].sort((a, b) => a - b)[Math.min(v.length - 1, Math.floor(v.length * p))] : null);
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const rssKiB = (pid) => {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
  } catch {
    return 0;
  }
};

// nginx as a whole: every process, and their RSS
function nginxMemory(master) {
  const pids = [master, ...childPids(master)];
  return { processes: pids.length, rssKiB: pids.reduce((s, p) => s + rssKiB(p), 0) };
}

// A request on a new connection: its status.
const agent = new http.Agent({ keepAlive: false });
function status(url, headers) {
  return new Promise((resolve) => {
    const req = http.get(url, { agent, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(0));
  });
}

function request(url, method, headers, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.end(body);
  });
}

// The typing terminals: each sends a key every KEY_EVERY_MS and times its
// echo; rtt collects round trips while `window` is open.
class Typists {
  constructor(url, headers, n) {
    this.url = url;
    this.headers = headers;
    this.n = n;
    this.terms = [];
    this.rtt = [];
  }

  async open() {
    for (let i = 0; i < this.n; i++) {
      const ws = new WebSocket(this.url, { headers: this.headers });
      const t = { ws, closed: false, sent: 0, echoed: 0, lastEcho: Date.now(), pending: [] };
      ws.on('message', (d) => {
        for (let k = 0; k < d.length; k++) {
          const at = t.pending.shift();
          if (at !== undefined) this.rtt.push(ms(at));
          t.echoed++;
        }
        t.lastEcho = Date.now();
      });
      ws.on('close', () => { t.closed = true; });
      ws.on('error', () => {});
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('unexpected-response', (q, r) => reject(new Error(`terminal ${i}: HTTP ${r.statusCode}`)));
        ws.once('error', reject);
      });
      this.terms.push(t);
    }
    // stty has run in every one of them
    await new Promise((r) => setTimeout(r, 500));
    this.timer = setInterval(() => {
      for (const t of this.terms) {
        if (t.closed) continue;
        t.pending.push(process.hrtime.bigint());
        t.sent++;
        t.ws.send(Buffer.from('k'));
      }
    }, KEY_EVERY_MS);
  }

  window() {
    this.rtt = [];
  }

  // terminals that closed, or did not echo their keys in ECHO_WAIT_MS
  async dropped() {
    const want = this.terms.map((t) => t.sent);
    await waitFor(() => this.terms.every((t, i) => t.closed || t.echoed >= want[i]),
      { timeout: ECHO_WAIT_MS, what: 'the echoes' }).catch(() => {});
    return this.terms.filter((t, i) => t.closed || t.echoed < want[i]).length;
  }

  close() {
    clearInterval(this.timer);
    for (const t of this.terms) t.ws.close();
  }
}

async function phase(name, stack, typists, change) {
  const before = nginxMemory(stack.nginx.pid);
  typists.window();
  const added = [];
  const removed = [];
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < WORKERS; i++) added.push(await change('add', `${name}-${i}`));
  const addS = ms(t0) / 1000;
  const mid = nginxMemory(stack.nginx.pid);
  const t1 = process.hrtime.bigint();
  for (let i = 0; i < WORKERS; i++) removed.push(await change('remove', `${name}-${i}`));
  const removeS = ms(t1) / 1000;
  const rtt = typists.rtt;
  const dropped = await typists.dropped();
  const after = nginxMemory(stack.nginx.pid);
  return {
    addsPerS: +(WORKERS / addS).toFixed(1),
    addToRoutesMs: { p50: +pct(added, 0.5).toFixed(2), p99: +pct(added, 0.99).toFixed(2), max: +Math.max(...added).toFixed(2) },
    removesPerS: +(WORKERS / removeS).toFixed(1),
    removeToGoneMs: { p50: +pct(removed, 0.5).toFixed(2), p99: +pct(removed, 0.99).toFixed(2) },
    nginxBefore: before,
    nginxWithAll: mid,
    nginxAfter: after,
    keyRttMs: { p50: +pct(rtt, 0.5).toFixed(2), p99: +pct(rtt, 0.99).toFixed(2), keys: rtt.length },
    sessionsDropped: dropped,
  };
}

// the live workers' upstream: 200 to anything
const upstream = http.createServer((req, res) => { res.writeHead(200, { 'content-length': 2 }); res.end('ok'); });
await new Promise((r) => upstream.listen(0, '127.0.0.1', r));
const upstreamAddr = `127.0.0.1:${upstream.address().port}`;

const stack = await startStack({
  tag: 'bench-registry',
  workers: [{ name: 'typing', terminalCmd: "sh -c 'stty raw -echo; exec cat'" }],
  // room for every worker at once, either way (about 1.3 KiB each)
  extraHttp: `wharf_zone_size ${Math.max(4, Math.ceil((WORKERS * 2.5) / 1024) + 2)}m;`,
});

const auth = stack.auth;
const routeOf = (name) => `${stack.http}/api/workers/${name}/x`;
const until = async (name, want) => {
  for (;;) {
    if (await status(routeOf(name), auth) === want) return;
  }
};

try {
  const typists = new Typists(`${stack.ws}/api/workers/typing/terminal`, auth, TERMINALS);
  await typists.open();
  const idle = nginxMemory(stack.nginx.pid);

  const api = await phase('api', stack, typists, async (what, name) => {
    const t0 = process.hrtime.bigint();
    if (what === 'add') {
      const s = await request(`${stack.http}/api/workers/${name}`, 'PUT',
        { ...auth, 'content-type': 'application/json' }, JSON.stringify({ upstream: upstreamAddr }));
      if (s !== 201) throw new Error(`PUT ${name}: ${s}`);
      await until(name, 200);
    } else {
      const s = await request(`${stack.http}/api/workers/${name}`, 'DELETE', auth);
      if (s !== 200) throw new Error(`DELETE ${name}: ${s}`);
      await until(name, 404);
    }
    return ms(t0);
  });

  const reload = await phase('reload', stack, typists, async (what, name) => {
    const t0 = process.hrtime.bigint();
    if (what === 'add') {
      writeWorkerConf(stack.workersDir, name, upstreamAddr);
    } else {
      fs.unlinkSync(path.join(stack.workersDir, `${name}.conf`));
    }
    process.kill(stack.nginx.pid, 'SIGHUP');
    await until(name, what === 'add' ? 200 : 404);
    return ms(t0);
  });

  typists.close();
  const out = {
    machine: machineLine(),
    workers: WORKERS,
    terminals: TERMINALS,
    nginxIdleWithTerminals: idle,
    api,
    reload,
    ratios: {
      addsPerS: +(api.addsPerS / reload.addsPerS).toFixed(1),
      addToRoutesP99: +(reload.addToRoutesMs.p99 / api.addToRoutesMs.p99).toFixed(1),
      rssAfterKiB: +(reload.nginxAfter.rssKiB / api.nginxAfter.rssKiB).toFixed(2),
    },
  };
  console.log(JSON.stringify(out, null, 1));
  if (OUT) fs.writeFileSync(OUT, `${JSON.stringify(out, null, 1)}\n`);
} finally {
  await stack.stop();
  upstream.close();
}
