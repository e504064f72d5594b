// Soak load, in its own thread (worker_threads): live-feed subscribers on
// /ws/monitoring through nginx. Subscriber k follows one worker's logs and
// errors (workers[k % workers.length]); the first `unfiltered` follow the
// errors of every worker (an operator's dashboard: following every log
// line of 20 workers at once would measure this client's CPU on a loaded
// 2-core machine, not wharf, by the feed's slow-reader rule). Each records, per (worker, instance), which sequences it got (a
// bitmap), and counts a row it gets twice, a row of a worker it did not
// ask for, and any `lagged`. Latency feed.line is from the agent's
// timestamp of a line (when it read it from the app) to its arrival here:
// agent -> nginx -> wharfd commit -> feed -> nginx -> client.
//
// Rows arrive in commit order, which is not sequence order: the agent has
// several requests in flight (agent/ship.h), stored in any order. So
// completeness is checked against time, not order: every row whose agent
// timestamp is later than the subscriber's subscribe answer was committed
// after the subscription and must reach it. On 'finish' with
// {required: {k: {worker: [from, to]}}} (the sequences the main thread
// found with such timestamps) it waits until each subscriber holds them
// all, and until each has seen every worker's folded error reach the
// count printed ({errors: {worker: n}}), then reports what is missing.

import { parentPort, workerData } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { Histogram } from './hist.mjs';

const WebSocket = createRequire(new URL('../package.json', import.meta.url))('ws');
const { url, token, workers, count, unfiltered, timeoutMs } = workerData;

const hist = { 'feed.line': new Histogram(), 'feed.subscribe': new Histogram() };
const errors = {};
const fail = (what, detail) => {
  errors[what] = (errors[what] || 0) + 1;
  if (errors[what] <= 3) parentPort.postMessage({ type: 'log', line: `feed error ${what}: ${detail}` });
};

const subs = [];
function subscriber(k) {
  const worker = k < unfiltered ? null : workers[k % workers.length];
  const sub = { k, worker, seen: new Map(), max: new Map(), occ: new Map(), rows: 0, errorsSeen: 0, open: false, tSub: null };
  return new Promise((resolve) => {
    const t0 = performance.now();
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
    sub.ws = ws;
    ws.on('open', () => {
      sub.open = true;
      ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'subscribe', params: worker ? { worker, kinds: ['log', 'error'] } : { kinds: ['error'] } }));
    });
    ws.on('message', (d) => {
      let m;
      try {
        m = JSON.parse(d.toString());
      } catch (e) {
        fail('feed.json', e.message);
        return;
      }
      if (m.id === 1) {
        sub.tSub = Date.now();
        if (m.result && m.result.subscribed) hist['feed.subscribe'].add(performance.now() - t0);
        else fail('feed.subscribe', JSON.stringify(m));
        resolve(sub);
        return;
      }
      if (m.kind === 'lagged') {
        fail('feed.lagged', `subscriber ${k} missed ${m.missed}`);
        return;
      }
      if (m.kind === 'error') {
        sub.errorsSeen++;
        const w = m.row.workerName;
        if (worker && w !== worker) fail('feed.filter', `subscriber ${k} (${worker}) got ${w}`);
        sub.occ.set(w, Math.max(sub.occ.get(w) || 0, m.row.occurrenceCount || 0));
        return;
      }
      if (m.kind !== 'log') return;
      const r = m.row;
      if (worker && r.workerName !== worker) {
        fail('feed.filter', `subscriber ${k} (${worker}) got ${r.workerName}`);
        return;
      }
      const key = `${r.workerName}/${r.instanceId}`;
      let bits = sub.seen.get(key);
      if (!bits || bits.length <= r.sequence) {
        const grown = new Uint8Array(Math.max(1024, (r.sequence + 1) * 2));
        if (bits) grown.set(bits);
        bits = grown;
        sub.seen.set(key, bits);
      }
      if (bits[r.sequence]) fail('feed.duplicate', `subscriber ${k} ${key}: ${r.sequence} twice`);
      bits[r.sequence] = 1;
      sub.max.set(key, Math.max(sub.max.get(key) || 0, r.sequence));
      sub.rows++;
      const ts = Date.parse(r.timestamp);
      if (Number.isFinite(ts)) hist['feed.line'].add(Date.now() - ts);
    });
    ws.on('unexpected-response', (q, res) => { fail('feed.open', `HTTP ${res.statusCode}`); resolve(sub); });
    ws.on('error', (e) => { if (!sub.closing) fail('feed.socket', e.message); resolve(sub); });
    ws.on('close', (code) => {
      sub.open = false;
      if (!sub.closing) fail('feed.close', `subscriber ${k} closed ${code}`);
    });
    subs.push(sub);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
for (let k = 0; k < count; k++) await subscriber(k);
parentPort.postMessage({ type: 'ready', tSub: subs.map((x) => x.tSub) });

parentPort.on('message', async (m) => {
  if (m.type !== 'finish') return;
  // Every subscriber must hold every sequence in its required ranges.
  const missing = () => {
    const out = [];
    for (const s of subs) {
      for (const [w, [from, to]] of Object.entries(m.required[s.k] || {})) {
        const bits = s.seen.get(`${w}/app`) || new Uint8Array(0);
        let n = 0;
        for (let q = from; q <= to; q++) if (!bits[q]) n++;
        if (n) out.push(`subscriber ${s.k} ${w}: ${n} of ${from}..${to} missing`);
      }
      for (const [w, n] of Object.entries(m.errors)) {
        if (s.worker && s.worker !== w) continue;
        const got = s.occ.get(w) || 0;
        if (got < n) out.push(`subscriber ${s.k} ${w}: error occurrenceCount ${got} < ${n}`);
      }
    }
    return out;
  };
  const deadline = Date.now() + timeoutMs;
  while (missing().length && Date.now() < deadline) await sleep(200);
  for (const b of missing()) fail('feed.missing', b);
  for (const s of subs) {
    s.closing = true;
    s.ws.close();
  }
  parentPort.postMessage({
    type: 'done', errors,
    stats: { subscribers: subs.length, rows: subs.reduce((a, s) => a + s.rows, 0), errorRows: subs.reduce((a, s) => a + s.errorsSeen, 0) },
    hist: Object.fromEntries(Object.entries(hist).map(([k, h]) => [k, h.toJSON()])),
  });
});
