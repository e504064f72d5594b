#!/usr/bin/env node
// The soak (issue 7, item 4): one real stack under mixed load for a while,
// then an exact account of what it did.
//
//   make soak                      10 minutes, the full load below
//   SOAK_SECONDS=60 make soak      shorter
//   node tests/soak/soak.mjs       the same (B=build by default)
//
// Why tests/soak and not bench/: it is a pass/fail test on the test
// harness, and tests/integration/soak_smoke.test.mjs runs it for 15 s in
// `make test` so that it cannot rot.
//
// Load (defaults; each a SOAK_* environment variable, see DEFAULTS):
// - ingest: 20 agents, each supervising tests/soak/app.py, which prints
//   50 pino-style JSON lines per second (1 in 100 a level-50 error) for the
//   whole soak; the agents ship them through nginx to wharfd (1,000
//   lines/s in all);
// - 200 terminals through nginx to `sh` on the agents (10 per agent),
//   typing one key every 250 ms and checking each key's echo and each
//   command's output, thinking 1 s between commands, and closing and
//   re-opening after 20..60 s (handshake and shell churn);
// - 50 live-feed subscribers on /ws/monitoring (45 following one worker's
//   logs and errors each, 5 following every worker's errors), checking
//   that each gets every row committed after it subscribed, once, and the
//   final count of every folded error;
// - REST: 4 clients, each a query every 100 ms, round robin over
//   /api/monitoring/logs, /errors, /processes, /api/workers, /api/terminals,
//   and every 20th request an injected bad one (limit=-1: 400
//   invalid_params, the only error the soak expects).
//
// Checks (any failure: exit 1): per agent, the rows stored equal the lines
// printed, with sequences exactly 1..N (nothing lost, nothing duplicated)
// and the folded error's occurrenceCount equal to the errors printed;
// every feed subscriber got every row of its workers stamped after its
// subscription, once, and was never lagged; no request failed except the
// injected ones, and those got their 400; no terminal key, command or
// handshake failed; nginx logged no emerg, alert or crit; wharfd and every agent exited 0 on SIGTERM; and the RSS of
// nginx (master + workers), wharfd and the agents (sum) grew by at most
// SOAK_RSS_BOUND (10 %) from the warm-up to the end. RSS "start" is the
// median of the samples in the window after the warm-up, "end" the median
// of the last window of the load.
//
// Prints a table and a JSON summary (also written to SOAK_JSON if set).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { BIN, childPids, startStack, tempDir, waitFor } from '../lib/stack.mjs';
import { Histogram } from './hist.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const APP = path.join(HERE, 'app.py');

export const DEFAULTS = {
  seconds: 600, // SOAK_SECONDS: length of the load
  warmup: 60, // SOAK_WARMUP: seconds before the RSS baseline
  rssWindow: 30, // SOAK_RSS_WINDOW: seconds of samples in each RSS median
  agents: 20, // SOAK_AGENTS
  linesPerSec: 50, // SOAK_LINES_PER_SEC, per agent
  errorEvery: 100, // SOAK_ERROR_EVERY: 1 line in N is an error
  terminals: 200, // SOAK_TERMINALS
  keyIntervalMs: 250, // SOAK_KEY_INTERVAL_MS: between keys of one terminal
  thinkMs: 1000, // SOAK_THINK_MS: between commands of one terminal
  sessionMinMs: 20000, // SOAK_SESSION_MIN_MS
  sessionMaxMs: 60000, // SOAK_SESSION_MAX_MS
  subscribers: 50, // SOAK_SUBSCRIBERS
  unfiltered: 5, // SOAK_UNFILTERED: subscribers following every worker's errors
  restClients: 4, // SOAK_REST_CLIENTS
  restIntervalMs: 100, // SOAK_REST_INTERVAL_MS: per client
  injectEvery: 20, // SOAK_INJECT_EVERY: 1 REST request in N is a bad one
  rssBound: 0.10, // SOAK_RSS_BOUND: largest RSS growth allowed (null: report only)
  timeoutMs: 15000, // SOAK_TIMEOUT_MS: one key, command, or catch-up wait
};

export function optionsFromEnv(env = process.env) {
  const o = { ...DEFAULTS };
  const names = {
    seconds: 'SOAK_SECONDS', warmup: 'SOAK_WARMUP', rssWindow: 'SOAK_RSS_WINDOW', agents: 'SOAK_AGENTS',
    linesPerSec: 'SOAK_LINES_PER_SEC', errorEvery: 'SOAK_ERROR_EVERY', terminals: 'SOAK_TERMINALS',
    keyIntervalMs: 'SOAK_KEY_INTERVAL_MS', thinkMs: 'SOAK_THINK_MS', sessionMinMs: 'SOAK_SESSION_MIN_MS',
    sessionMaxMs: 'SOAK_SESSION_MAX_MS', subscribers: 'SOAK_SUBSCRIBERS', unfiltered: 'SOAK_UNFILTERED',
    restClients: 'SOAK_REST_CLIENTS', restIntervalMs: 'SOAK_REST_INTERVAL_MS', injectEvery: 'SOAK_INJECT_EVERY',
    rssBound: 'SOAK_RSS_BOUND', timeoutMs: 'SOAK_TIMEOUT_MS',
  };
  for (const [k, v] of Object.entries(names)) {
    if (env[v] === undefined || env[v] === '') continue;
    o[k] = env[v] === 'null' ? null : Number(env[v]);
    if (o[k] !== null && !Number.isFinite(o[k])) throw new Error(`${v}: not a number: ${env[v]}`);
  }
  return o;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (a) => {
  if (!a.length) return null;
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

// VmRSS (what the bound is on) or RssAnon (heap, stacks, anonymous maps:
// where a leak shows; VmRSS adds the pages of shared libraries a process
// has touched, which grow as new code paths run), in KiB.
function rssKiB(pid, field = 'VmRSS') {
  try {
    return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
  } catch {
    return 0;
  }
}

export function machineLine() {
  const cpu = os.cpus()[0]?.model || 'unknown cpu';
  const load = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  return `${os.cpus().length} x ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ${os.type()} ${os.release()}, load ${load}`;
}

function startThread(file, data, log) {
  const w = new Worker(new URL(file, import.meta.url), { workerData: data });
  const msgs = [];
  const waiters = [];
  w.on('message', (m) => {
    if (m.type === 'log') { log(m.line); return; }
    msgs.push(m);
    for (const f of waiters.splice(0)) f();
  });
  w.on('error', (e) => { msgs.push({ type: 'crash', error: e.stack || String(e) }); for (const f of waiters.splice(0)) f(); });
  w.next = async (type) => {
    for (;;) {
      const i = msgs.findIndex((m) => m.type === type || m.type === 'crash');
      if (i >= 0) {
        const [m] = msgs.splice(i, 1);
        if (m.type === 'crash') throw new Error(`${file} crashed: ${m.error}`);
        return m;
      }
      await new Promise((r) => waiters.push(r));
    }
  };
  return w;
}

export async function runSoak(opts = {}, log = (s) => console.error(`soak: ${s}`)) {
  const o = { ...DEFAULTS, ...opts };
  const t0run = Date.now();
  const appDir = tempDir('soak-app');
  const names = Array.from({ length: o.agents }, (_, i) => `soak-${String(i + 1).padStart(2, '0')}`);
  const countFile = (w) => path.join(appDir, `${w}.count.json`);
  const goFile = path.join(appDir, 'go');
  const machine = machineLine();
  log(`${machine}`);
  log(`load: ${o.agents} agents x ${o.linesPerSec} lines/s, ${o.terminals} terminals, ${o.subscribers} subscribers, `
    + `${o.restClients} REST clients, for ${o.seconds} s (warm-up ${o.warmup} s)`);

  // The soak runs private copies of the binaries: a colleague's rebuild of
  // build/ during a 10-minute run must not change the code under it (a .so
  // rewritten in place kills the nginx workers that have it mapped).
  const binDir = tempDir('soak-bin');
  const saved = { ...BIN };
  for (const k of ['wharfd', 'agent', 'module']) {
    const dst = path.join(binDir, path.basename(BIN[k]));
    fs.copyFileSync(BIN[k], dst);
    fs.chmodSync(dst, 0o755);
    BIN[k] = dst;
  }
  let stack;
  try {
    stack = await startStack({
    tag: 'soak',
    workers: names.map((name) => ({
      name,
      ship: true,
      terminalCmd: 'sh',
      config: {
        processes: [{
          instanceId: 'app', command: 'python3',
          args: [APP, String(o.linesPerSec), String(o.seconds), String(o.errorEvery), countFile(name), name, goFile],
        }],
      },
    })),
    });
  } catch (e) {
    Object.assign(BIN, saved);
    fs.rmSync(binDir, { recursive: true, force: true });
    throw e;
  }
  log(`stack up in ${((Date.now() - t0run) / 1000).toFixed(1)} s`);
  const checks = [];
  const check = (name, ok, detail) => {
    checks.push({ name, ok: !!ok, detail });
    if (!ok) log(`FAIL ${name}: ${detail}`);
  };
  let result;
  try {
    result = await drive(stack, o, names, countFile, goFile, log, check);
  } finally {
    // Scan the logs, then stop everything and check the daemons' exits.
    const errLog = fs.existsSync(path.join(stack.prefix, 'logs/error.log'))
      ? fs.readFileSync(path.join(stack.prefix, 'logs/error.log'), 'utf8') : '';
    const levels = {};
    for (const m of errLog.matchAll(/\[(emerg|alert|crit|error|warn)\]/g)) levels[m[1]] = (levels[m[1]] || 0) + 1;
    const severe = errLog.split('\n').filter((l) => /\[(emerg|alert|crit)\]/.test(l));
    const stops = [];
    const tStop = Date.now();
    // The agents first, all at once, while nginx still takes what they
    // flush at exit (stopping nginx first would leave each waiting out its
    // --flush-timeout-ms); then the rest in the harness's order.
    await Promise.all(Object.values(stack.agents).map((a) => a.stop()));
    const keep = process.env.WHARF_KEEP_TMP;
    process.env.WHARF_KEEP_TMP = '1';
    await stack.stop();
    if (keep === undefined) delete process.env.WHARF_KEEP_TMP; else process.env.WHARF_KEEP_TMP = keep;
    log(`stack stopped in ${((Date.now() - tStop) / 1000).toFixed(1)} s`);
    for (const p of stack.procs) if (p.name !== 'nginx') stops.push({ name: p.name, ...p.exit });
    const daemonLogs = {};
    for (const p of stack.procs) {
      const text = fs.existsSync(p.logPath) ? fs.readFileSync(p.logPath, 'utf8') : '';
      // wharfd and the agent log one line per event with its level
      daemonLogs[p.name] = (text.match(/\b(error|ERROR|fatal|FATAL)\b/g) || []).length;
    }
    if (result) {
      result.nginxErrorLog = levels;
      result.daemonErrorLines = daemonLogs;
      result.exits = stops;
      check('nginx logged no emerg/alert/crit', severe.length === 0, severe.slice(0, 3).join(' | ') || 'none');
      const bad = stops.filter((s) => s.code !== 0);
      check('wharfd and every agent exited 0 on SIGTERM', bad.length === 0,
        bad.length ? JSON.stringify(bad) : `${stops.length} processes, all 0`);
    }
    Object.assign(BIN, saved);
    fs.rmSync(binDir, { recursive: true, force: true });
    if (process.env.WHARF_KEEP_TMP !== '1') {
      fs.rmSync(stack.dir, { recursive: true, force: true });
      fs.rmSync(appDir, { recursive: true, force: true });
    } else {
      log(`kept ${stack.dir} and ${appDir}`);
    }
  }
  result.checks = checks;
  result.ok = checks.every((c) => c.ok);
  result.wallSeconds = Math.round((Date.now() - t0run) / 1000);
  result.machine = machine;
  result.options = o;
  return result;
}

async function drive(stack, o, names, countFile, goFile, log, check) {
  const auth = { authorization: `Bearer ${stack.token}` };
  const hist = {};
  const H = (k) => (hist[k] ||= new Histogram());
  const errors = {};
  const injected = { sent: 0, answered400: 0 };
  const counts = {};
  const fail = (route, detail) => {
    errors[route] = (errors[route] || 0) + 1;
    if (errors[route] <= 3) log(`error ${route}: ${detail}`);
  };

  // --- feed subscribers first, so that they see the load from its start
  const feed = startThread('./feed.mjs', {
    url: `${stack.ws}/ws/monitoring`, token: stack.mint({ sub: '*', scope: 'read', ttl: o.seconds + 3600 }),
    workers: names, count: o.subscribers, unfiltered: o.unfiltered, timeoutMs: Math.max(60000, o.timeoutMs),
  }, log);
  const { tSub } = await feed.next('ready');
  log(`${o.subscribers} feed subscribers ready`);

  // --- RSS samples: nginx master + workers, wharfd, each agent
  const samples = [];
  const sample = () => {
    const nginxPids = [stack.nginx.pid, ...childPids(stack.nginx.pid)];
    const agents = names.map((n) => rssKiB(stack.agents[n].pid));
    samples.push({
      t: (Date.now() - tLoad) / 1000,
      nginx: nginxPids.reduce((a, p) => a + rssKiB(p), 0),
      nginxProcs: nginxPids.length,
      wharfd: rssKiB(stack.wharfd.pid),
      agents: agents.reduce((a, b) => a + b, 0),
      agentMax: Math.max(...agents),
      agentEach: agents,
      nginxAnon: nginxPids.reduce((a, p) => a + rssKiB(p, 'RssAnon'), 0),
      wharfdAnon: rssKiB(stack.wharfd.pid, 'RssAnon'),
      agentsAnon: names.reduce((a, n) => a + rssKiB(stack.agents[n].pid, 'RssAnon'), 0),
    });
  };

  // --- terminals
  const termToken = stack.mint({ sub: '*', scope: 'terminal', ttl: o.seconds + 3600 });
  const tLoad = Date.now();
  fs.writeFileSync(goFile, ''); // the apps start printing
  const terms = startThread('./terminals.mjs', {
    urls: names.map((n) => `${stack.ws}/api/workers/${n}/terminal?access_token=${termToken}`),
    count: o.terminals, keyIntervalMs: o.keyIntervalMs, thinkMs: o.thinkMs,
    sessionMs: [o.sessionMinMs, o.sessionMaxMs], durationMs: o.seconds * 1000, timeoutMs: o.timeoutMs,
  }, log);

  // --- REST clients
  const routes = [
    ['rest.logs', (w) => `/api/monitoring/logs?worker=${w}&limit=100`, (j) => Array.isArray(j.data) && j.pagination],
    ['rest.errors', (w) => `/api/monitoring/errors?worker=${w}`, (j) => Array.isArray(j.data)],
    ['rest.processes', (w) => `/api/monitoring/processes?worker=${w}`, (j) => Array.isArray(j.data)],
    ['rest.workers', () => '/api/workers', (j) => j !== undefined],
    ['rest.terminals', () => '/api/terminals', (j) => j !== undefined],
  ];
  let restStop = false;
  let nreq = 0;
  const restClient = async (c) => {
    let i = c;
    while (!restStop) {
      const n = ++nreq;
      const w = names[i % names.length];
      if (n % o.injectEvery === 0) {
        // injected: a negative limit is invalid_params, 400
        injected.sent++;
        const t = performance.now();
        try {
          const res = await fetch(`${stack.http}/api/monitoring/logs?worker=${w}&limit=-1`, { headers: auth });
          const j = await res.json().catch(() => null);
          H('rest.injected').add(performance.now() - t);
          if (res.status === 400 && j?.error?.code === 'invalid_params') injected.answered400++;
          else fail('rest.injected', `HTTP ${res.status} ${JSON.stringify(j)}`);
        } catch (e) {
          fail('rest.injected', e.message);
        }
      } else {
        const [route, url, shape] = routes[i % routes.length];
        counts[route] = (counts[route] || 0) + 1;
        const t = performance.now();
        try {
          const res = await fetch(`${stack.http}${url(w)}`, { headers: auth });
          const body = await res.text();
          H(route).add(performance.now() - t);
          let j;
          try { j = JSON.parse(body); } catch { j = undefined; }
          if (res.status !== 200 || !shape(j)) fail(route, `HTTP ${res.status} ${body.slice(0, 200)}`);
        } catch (e) {
          fail(route, e.message);
        }
      }
      i++;
      await sleep(o.restIntervalMs);
    }
  };
  const rest = Array.from({ length: o.restClients }, (_, c) => restClient(c));

  // --- the load runs; RSS sampled every few seconds
  const every = Math.max(1, Math.min(5, o.rssWindow / 5));
  const endAt = tLoad + o.seconds * 1000;
  let lastReport = 0;
  while (Date.now() < endAt) {
    sample();
    const el = (Date.now() - tLoad) / 1000;
    if (el - lastReport >= Math.max(10, o.seconds / 20)) {
      lastReport = el;
      const s = samples.at(-1);
      log(`t=${el.toFixed(0)}s rss nginx ${s.nginx} KiB wharfd ${s.wharfd} KiB agents ${s.agents} KiB; `
        + `rest ${nreq} requests; load ${os.loadavg()[0].toFixed(2)}`);
    }
    await sleep(Math.min(every * 1000, Math.max(0, endAt - Date.now())));
  }
  sample();
  terms.postMessage('stop');
  const termDone = await terms.next('done');
  restStop = true;
  await Promise.all(rest);
  log(`load over after ${((Date.now() - tLoad) / 1000).toFixed(0)} s; accounting`);

  // --- ingest accounting: printed (the app's own count) vs stored
  await waitFor(() => names.every((n) => fs.existsSync(countFile(n))),
    { timeout: 120000, interval: 500, what: 'every app to write its count' });
  const printed = Object.fromEntries(names.map((n) => [n, JSON.parse(fs.readFileSync(countFile(n), 'utf8'))]));
  const rpc = async (method, params) => {
    const res = await fetch(`${stack.http}/rpc`, {
      method: 'POST', headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: `ContainerMonitoringOps.${method}`, params }),
    });
    const j = await res.json();
    if (j.error) throw new Error(`${method}: ${JSON.stringify(j.error)}`);
    return j.result;
  };
  const stats = async (w) => (await rpc('getLogStats', { worker: w, instanceId: 'app' })).total;
  try {
    await waitFor(async () => {
      for (const n of names) if ((await stats(n)) < printed[n].printed) return false;
      return true;
    }, { timeout: 120000, interval: 500, what: 'every printed line to be stored' });
  } catch (e) {
    log(e.message);
  }
  const perAgent = [];
  const tsBySeq = {}; // worker -> agent timestamps (ms) by sequence
  for (const n of names) {
    // Every stored row, streamed: sequences must be exactly 1..N and each
    // row must carry the app's line number n = its sequence.
    const res = await fetch(`${stack.http}/api/monitoring/logs?worker=${n}&instanceId=app&format=ndjson&order=asc`, { headers: auth });
    const text = await res.text();
    const lines = text.trim().split('\n').map((l) => JSON.parse(l));
    const rows = lines.filter((r) => r.sequence !== undefined);
    let gaps = 0, dups = 0, wrong = 0, errRows = 0;
    const seen = new Set();
    const ts = (tsBySeq[n] = []);
    for (const r of rows) {
      ts[r.sequence] = Date.parse(r.timestamp);
      if (seen.has(r.sequence)) dups++;
      seen.add(r.sequence);
      const m = /"n": (\d+)/.exec(r.message) || /request (\d+) served/.exec(r.message);
      if (r.level === 'error') errRows++;
      if (m && Number(m[1]) !== r.sequence) wrong++;
    }
    for (let s = 1; s <= printed[n].printed; s++) if (!seen.has(s)) gaps++;
    const extra = rows.filter((r) => r.sequence > printed[n].printed).length;
    const errs = await rpc('getErrors', { worker: n, instanceId: 'app', limit: 1000 });
    const occ = errs.data.reduce((a, e) => a + e.occurrenceCount, 0);
    perAgent.push({
      worker: n, printed: printed[n].printed, stored: rows.length, lost: gaps, duplicated: dups + extra,
      misnumbered: wrong, errorsPrinted: printed[n].errors, errorLogRows: errRows, errorRows: errs.data.length,
      errorOccurrences: occ,
    });
  }
  const pa = (f) => perAgent.filter(f).map((a) => a.worker).join(', ');
  check('every printed line stored exactly once (per agent)',
    perAgent.every((a) => a.stored === a.printed && a.lost === 0 && a.duplicated === 0 && a.misnumbered === 0),
    pa((a) => !(a.stored === a.printed && a.lost === 0 && a.duplicated === 0 && a.misnumbered === 0)) || 'all agents exact');
  check('every printed error counted (occurrenceCount, per agent)',
    perAgent.every((a) => a.errorOccurrences === a.errorsPrinted && a.errorLogRows === a.errorsPrinted),
    pa((a) => !(a.errorOccurrences === a.errorsPrinted && a.errorLogRows === a.errorsPrinted)) || 'all agents exact');

  log(`ingest accounted ${((Date.now() - tLoad) / 1000).toFixed(0)} s after the load began`);
  // --- feed: every subscriber caught up to the last row of its workers
  // (the rows stamped after a subscriber's subscribe answer; see feed.mjs)
  const required = {};
  tSub.forEach((t, k) => {
    if (t === null) return;
    required[k] = {};
    if (k < o.unfiltered) return; // errors only: checked by count below
    for (const n of [names[k % names.length]]) {
      const ts = tsBySeq[n];
      let from = 1;
      while (from < ts.length && !(ts[from] > t)) from++;
      if (from <= printed[n].printed) required[k][n] = [from, printed[n].printed];
    }
  });
  feed.postMessage({ type: 'finish', required, errors: Object.fromEntries(names.map((n) => [n, printed[n].errors])) });
  const feedDone = await feed.next('done');
  await feed.terminate();
  await terms.terminate();

  // --- merge histograms and errors
  for (const part of [termDone, feedDone]) {
    for (const [k, j] of Object.entries(part.hist)) H(k).merge(j);
    for (const [k, v] of Object.entries(part.errors)) errors[k] = (errors[k] || 0) + v;
  }
  counts['terminal.key'] = termDone.stats.keys;
  counts['terminal.command'] = termDone.stats.commands;
  counts['terminal.open'] = termDone.stats.sessions;
  counts['feed.line'] = feedDone.stats.rows;
  counts['feed.subscribe'] = feedDone.stats.subscribers;
  counts['rest.injected'] = injected.sent;
  const latency = {};
  for (const [k, h] of Object.entries(hist).sort()) {
    latency[k] = { count: counts[k] ?? h.n, samples: h.n, p50: h.q(0.5), p99: h.q(0.99), max: Math.round(h.max * 10) / 10 };
  }
  check('no errors beyond the injected ones', Object.keys(errors).length === 0,
    Object.keys(errors).length ? JSON.stringify(errors) : 'none');
  check('every injected bad request answered 400 invalid_params', injected.answered400 === injected.sent,
    `${injected.answered400} of ${injected.sent}`);
  check('terminals typed', termDone.stats.commands > 0 && termDone.stats.keys > 0,
    `${termDone.stats.sessions} sessions, ${termDone.stats.keys} keys, ${termDone.stats.commands} commands`);

  // --- RSS: start = median of the window after the warm-up, end = median
  // of the last window of the load
  const inWin = (a, b) => samples.filter((s) => s.t >= a && s.t <= b);
  const startWin = inWin(o.warmup, o.warmup + o.rssWindow);
  const endWin = inWin(o.seconds - o.rssWindow, o.seconds + 1);
  const rss = {};
  for (const k of ['nginx', 'wharfd', 'agents']) {
    const first = samples.length ? samples[0][k] : null;
    const start = median(startWin.map((s) => s[k]));
    const end = median(endWin.map((s) => s[k]));
    const peak = Math.max(...samples.map((s) => s[k]));
    const aStart = median(startWin.map((s) => s[`${k}Anon`]));
    const aEnd = median(endWin.map((s) => s[`${k}Anon`]));
    rss[k] = {
      firstKiB: first, startKiB: start, endKiB: end, peakKiB: peak,
      growthPct: start ? Math.round(((end - start) / start) * 1000) / 10 : null,
      anonStartKiB: aStart, anonEndKiB: aEnd, anonGrowthPct: aStart ? Math.round(((aEnd - aStart) / aStart) * 1000) / 10 : null,
    };
  }
  const agentGrowth = names.map((n, i) => {
    const a = median(startWin.map((s) => s.agentEach[i]));
    const b = median(endWin.map((s) => s.agentEach[i]));
    return a ? ((b - a) / a) * 100 : 0;
  });
  rss.agents.maxSingleGrowthPct = Math.round(Math.max(...agentGrowth) * 10) / 10;
  rss.nginx.processes = samples.at(-1)?.nginxProcs;
  rss.samples = samples.length;
  // [s, VmRSS nginx, wharfd, agents, RssAnon nginx, wharfd, agents] in KiB
  rss.series = samples.map((x) => [Math.round(x.t), x.nginx, x.wharfd, x.agents, x.nginxAnon, x.wharfdAnon, x.agentsAnon]);
  if (o.rssBound !== null && o.rssBound !== undefined) {
    for (const k of ['nginx', 'wharfd', 'agents']) {
      check(`RSS of ${k} grew at most ${o.rssBound * 100} % after warm-up`,
        rss[k].growthPct !== null && rss[k].growthPct <= o.rssBound * 100,
        `${rss[k].startKiB} -> ${rss[k].endKiB} KiB (${rss[k].growthPct} %)`);
    }
  }
  const sum = (k) => perAgent.reduce((a, x) => a + x[k], 0);
  return {
    ingest: {
      printed: sum('printed'), stored: sum('stored'), lost: sum('lost'), duplicated: sum('duplicated'),
      errorsPrinted: sum('errorsPrinted'), errorOccurrences: sum('errorOccurrences'), perAgent,
    },
    terminals: termDone.stats,
    feed: feedDone.stats,
    rest: { requests: nreq, injected },
    errors, latency, rss,
  };
}

export function table(r) {
  const out = [];
  const pad = (s, n) => String(s ?? '-').padStart(n);
  out.push(`machine: ${r.machine}`);
  out.push(`ingest: ${r.ingest.printed} printed, ${r.ingest.stored} stored, ${r.ingest.lost} lost, `
    + `${r.ingest.duplicated} duplicated; errors ${r.ingest.errorsPrinted} printed, ${r.ingest.errorOccurrences} counted`);
  out.push('');
  out.push(`${'agent'.padEnd(10)}${pad('printed', 9)}${pad('stored', 9)}${pad('lost', 6)}${pad('dup', 5)}${pad('err out', 9)}${pad('err in', 8)}`);
  for (const a of r.ingest.perAgent) {
    out.push(`${a.worker.padEnd(10)}${pad(a.printed, 9)}${pad(a.stored, 9)}${pad(a.lost, 6)}${pad(a.duplicated, 5)}${pad(a.errorsPrinted, 9)}${pad(a.errorOccurrences, 8)}`);
  }
  out.push('');
  out.push(`${'route'.padEnd(18)}${pad('count', 9)}${pad('errors', 8)}${pad('p50 ms', 9)}${pad('p99 ms', 9)}${pad('max ms', 9)}`);
  for (const [k, l] of Object.entries(r.latency)) {
    out.push(`${k.padEnd(18)}${pad(l.count, 9)}${pad(r.errors[k] || 0, 8)}${pad(l.p50, 9)}${pad(l.p99, 9)}${pad(l.max, 9)}`);
  }
  for (const [k, v] of Object.entries(r.errors)) if (!r.latency[k]) out.push(`${k.padEnd(18)}${pad('', 9)}${pad(v, 8)}`);
  out.push('');
  out.push(`${'RSS KiB'.padEnd(10)}${pad('first', 9)}${pad('start', 9)}${pad('end', 9)}${pad('peak', 9)}${pad('growth', 9)}`
    + `${pad('anon st', 9)}${pad('anon end', 9)}${pad('anon gr', 9)}`);
  for (const k of ['nginx', 'wharfd', 'agents']) {
    const x = r.rss[k];
    out.push(`${k.padEnd(10)}${pad(x.firstKiB, 9)}${pad(x.startKiB, 9)}${pad(x.endKiB, 9)}${pad(x.peakKiB, 9)}${pad(`${x.growthPct} %`, 9)}`
      + `${pad(x.anonStartKiB, 9)}${pad(x.anonEndKiB, 9)}${pad(`${x.anonGrowthPct} %`, 9)}`);
  }
  out.push('');
  for (const c of r.checks) out.push(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`);
  out.push(r.ok ? 'soak: PASS' : 'soak: FAIL');
  return out.join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const o = optionsFromEnv();
  // a short run scales its warm-up and RSS windows down with it
  if (!process.env.SOAK_WARMUP) o.warmup = Math.min(o.warmup, Math.round(o.seconds / 6));
  if (!process.env.SOAK_RSS_WINDOW) o.rssWindow = Math.min(o.rssWindow, Math.max(2, Math.round(o.seconds / 10)));
  const r = await runSoak(o);
  const { perAgent, ...ingest } = r.ingest;
  const json = { ...r, ingest: { ...ingest, perAgent } };
  console.log(JSON.stringify(json, null, 1));
  console.log(table(r));
  if (process.env.SOAK_JSON) fs.writeFileSync(process.env.SOAK_JSON, `${JSON.stringify(json, null, 1)}\n`);
  process.exit(r.ok ? 0 : 1);
}
