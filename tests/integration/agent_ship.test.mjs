// wharf-agent ships what it supervises to the orchestrator (issue 5):
// real agent, real app processes, real nginx + module + wharfd.
//
// The app prints 100,000 lines (pino JSON, some of them errors that
// repeat) and exits 1; the agent restarts it up to maxRestarts. Every line
// must be stored in order without a gap in its sequence, the errors
// de-duplicated with the right counts, and the crashes, restarts and the
// final state stored as process state and events.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startAgent, startStack, tempDir, waitFor } from '../lib/stack.mjs';
import { rpc } from '../lib/ship.mjs';

const LINES = 100000;

// Prints LINES lines on its first run, 10 on later runs, then exits 1.
const APP = `
const fs = require('fs');
const mark = process.argv[2];
const first = !fs.existsSync(mark);
fs.writeFileSync(mark, 'x');
const n = first ? ${LINES} : 10;
const out = [];
for (let i = 1; i <= n; i++) {
  if (i % 1000 === 0) out.push(JSON.stringify({ level: 50, time: Date.now(), msg: 'db timeout after ' + i + ' ms at 127.0.0.1:5432' }));
  else if (i % 5000 === 2500) out.push(JSON.stringify({ level: 'fatal', msg: 'queue overflow' }));
  else if (i % 3 === 0) out.push('plain line ' + i);
  else out.push(JSON.stringify({ level: 30, msg: 'line ' + i }));
}
process.stdout.write(out.join('\\n') + '\\n', () => process.exit(1));
`;

describe('agent shipping through nginx to wharfd', () => {
  let stack, dir;
  before(async () => {
    dir = tempDir('agent-ship-app');
    fs.writeFileSync(path.join(dir, 'app.js'), APP);
    stack = await startStack({
      tag: 'agent-ship',
      workers: [{
        name: 'shipper',
        ship: true,
        // the fatal rule would restart on 'fatal' lines: off, so that the
        // run is exactly "print, exit 1" each time
        config: {
          fatalRestart: false,
          processes: [{
            instanceId: 'app', command: 'node', args: [path.join(dir, 'app.js'), path.join(dir, 'mark')],
            maxRestarts: 2, restartDelayMs: 200,
          }],
        },
      }],
    });
  });
  after(async () => {
    if (stack) await stack.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('100,000 lines, errors, crashes and restarts all arrive', async () => {
    const total = LINES + 2 * 10;
    // final state first: crashed after 3 runs
    await waitFor(async () => {
      const p = await rpc(stack, 'getProcess', { worker: 'shipper', instanceId: 'app' });
      return p && p.status === 'crashed' && p.restartCount === 2;
    }, { timeout: 40000, interval: 250, what: 'the process row to say crashed, restartCount 2' });
    await waitFor(async () => {
      const s = await rpc(stack, 'getLogStats', { worker: 'shipper', instanceId: 'app' });
      return s.total === total;
    }, { timeout: 40000, interval: 250, what: `${total} stored lines` });

    const rows = (await rpc(stack, 'getLogs', { worker: 'shipper', instanceId: 'app', order: 'asc', stream: true }))
      .filter((r) => r.sequence !== undefined);
    assert.equal(rows.length, total);
    for (let i = 0; i < rows.length; i++) {
      if (rows[i].sequence !== i + 1) assert.fail(`row ${i} has sequence ${rows[i].sequence}`);
    }
    // emission order: the first run's lines 1..LINES, then the 10 + 10
    const nth = (r) => Number((/line (\d+)/.exec(r.message) || [])[1]);
    assert.equal(nth(rows[0]), 1);
    assert.equal(nth(rows[LINES - 2]), LINES - 1);
    assert.match(rows[2].message, /^plain line 3$/);
    assert.equal(rows[2].level, 'output');
    assert.equal(rows[0].level, 'info');
    assert.equal(rows[999].level, 'error');
    assert.equal(rows[0].stream, 'stdout');

    const errs = await rpc(stack, 'getErrors', { worker: 'shipper', instanceId: 'app', limit: 1000 });
    const byMsg = Object.fromEntries(errs.data.map((e) => [e.message.replace(/\d+ ms/, 'N ms'), e]));
    // "db timeout after N ms": every number differs, but only the :PORT
    // rule applies, so each i is its own error: 100 rows of 1; the fatal
    // label repeats exactly: 20 in the first run (i % 5000 == 2500)
    assert.equal(byMsg['queue overflow'].occurrenceCount, LINES / 5000);
    assert.equal(byMsg['queue overflow'].level, 60);
    const dbRows = errs.data.filter((e) => e.message.startsWith('db timeout'));
    assert.equal(dbRows.length, LINES / 1000);
    assert.ok(dbRows.every((e) => e.occurrenceCount === 1));

    const crashed = await rpc(stack, 'getEvents', { worker: 'shipper', instanceId: 'app', type: 'process_crashed', limit: 100 });
    assert.equal(crashed.data.length, 3);
    const will = crashed.data.map((e) => (typeof e.payload === 'string' ? JSON.parse(e.payload) : e.payload).willRestart).sort();
    assert.deepEqual(will, [false, true, true]);
    const started = await rpc(stack, 'getEvents', { worker: 'shipper', instanceId: 'app', type: 'process_started', limit: 100 });
    assert.equal(started.data.length, 3);
  });
});

describe('agent killed with SIGKILL and started again', () => {
  let stack;
  const started = [];
  before(async () => {
    stack = await startStack({ tag: 'agent-kill', workers: [] });
  });
  after(async () => {
    for (const a of started) await a.stop();
    if (stack) await stack.stop();
  });

  const startOne = () => startAgentFor(stack, 'killed', {
    processes: [{ instanceId: 'app', command: 'sh', args: ['-c', 'for i in $(seq 1 50); do echo "n $i"; done; exec sleep 600'] }],
  });

  async function startAgentFor(s, name, config) {
    const a = await startAgent({
      name, keys: s.keys, logDir: s.logDir, config,
      orchestrator: s.http, token: s.mint({ sub: name, scope: 'ingest', ttl: 3600 }),
    });
    started.push(a);
    return a;
  }

  test('sequence numbers continue without reuse', async () => {
    const stored = async () => (await rpc(stack, 'getLogStats', { worker: 'killed', instanceId: 'app' })).total;
    const a1 = await startOne();
    await waitFor(async () => (await stored()) === 50, { timeout: 15000, what: '50 lines stored' });
    const r = await fetch(`http://${a1.addr}/processes/app`, { headers: { Authorization: `Bearer ${stack.mint({ sub: 'killed', aud: 'killed', scope: 'read' })}` } });
    const app = await r.json();
    assert.ok(app.pid > 0);
    a1.child.kill('SIGKILL');
    await a1.exited;
    // the app lives on (its own session); end it as the container would
    process.kill(-app.pid, 'SIGKILL');

    await startOne();
    await waitFor(async () => (await stored()) === 100, { timeout: 15000, what: '100 lines stored' });
    const rows = (await rpc(stack, 'getLogs', { worker: 'killed', instanceId: 'app', order: 'asc', stream: true }))
      .filter((x) => x.sequence !== undefined);
    assert.deepEqual(rows.map((x) => x.sequence), Array.from({ length: 100 }, (_, i) => i + 1));
    assert.deepEqual(rows.map((x) => x.message), [...Array.from({ length: 50 }, (_, i) => `n ${i + 1}`),
      ...Array.from({ length: 50 }, (_, i) => `n ${i + 1}`)]);
    assert.deepEqual([...new Set(rows.map((x) => x.processId))], ['app-1']);
  });
});

// Pipelining (--ship-inflight): against a slow sink that answers every
// request after SINK_DELAY_MS, refuses some with HTTP 503 and stores
// others but loses their answer (the connection is cut), the agent keeps
// several requests in flight, and still every line is stored exactly once
// with its own sequence (the sink de-duplicates per sequence, as wharfd
// does), and the crash event and final process row arrive only after every
// line printed before them.
describe('pipelined shipping to a slow, failing sink', () => {
  const LINES_P = 20000;
  const INFLIGHT = 4;
  const SINK_DELAY_MS = 120;
  let sink, agent, dir;
  const st = {
    inflight: 0, peak: 0, requests: 0, refused: 0, cut: 0,
    stored: new Map(),          // sequence -> message
    receipts: new Map(),        // sequence -> times received in an answered or cut request
    cutSeqs: new Set(),         // sequences in requests whose answer was cut
    events: [],                 // { type, storedLines }
    upserts: [],                // statuses, in the order stored
  };

  before(async () => {
    dir = tempDir('agent-pipe');
    sink = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => { body += d; });
      req.on('end', () => {
        const n = ++st.requests;
        st.inflight++;
        st.peak = Math.max(st.peak, st.inflight);
        setTimeout(() => {
          st.inflight--;
          if (n % 5 === 0) {            // refused before storing: retried
            st.refused++;
            res.writeHead(503, { 'Content-Type': 'text/plain' });
            res.end('busy');
            return;
          }
          const calls = JSON.parse(body);
          const answers = calls.map((c) => {
            const m = c.method.replace(/^ContainerMonitoringOps\./, '');
            if (m === 'storeLogs') {
              for (const l of c.params.logs) {
                st.receipts.set(l.sequence, (st.receipts.get(l.sequence) || 0) + 1);
                if (!st.stored.has(l.sequence)) st.stored.set(l.sequence, l.message);
                if (n % 7 === 0) st.cutSeqs.add(l.sequence);
              }
              return { jsonrpc: '2.0', id: c.id, result: { stored: c.params.logs.length } };
            }
            if (m === 'getLastSequence') return { jsonrpc: '2.0', id: c.id, result: { instanceId: c.params.instanceId, lastSequence: 0 } };
            if (m === 'recordEvent') st.events.push({ type: c.params.type, storedLines: st.stored.size });
            if (m === 'upsertProcess') st.upserts.push(c.params.status);
            return { jsonrpc: '2.0', id: c.id, result: {} };
          });
          if (n % 7 === 0) {            // stored, but the answer is lost
            st.cut++;
            req.socket.destroy();
            return;
          }
          res.writeHead(200, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify(answers));
        }, SINK_DELAY_MS);
      });
    });
    await new Promise((r) => sink.listen(0, '127.0.0.1', r));
    agent = await startAgent({
      name: 'piper', logDir: dir, token: 'unused-by-the-sink',
      orchestrator: `http://127.0.0.1:${sink.address().port}`,
      args: ['--ship-inflight', String(INFLIGHT)],
      config: {
        processes: [{ instanceId: 'app', command: 'sh', args: ['-c', `seq 1 ${LINES_P}; exit 3`], autoRestart: false }],
      },
    });
  });
  after(async () => {
    if (agent) await agent.stop();
    if (sink) { sink.closeAllConnections(); sink.close(); }
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test(`up to ${INFLIGHT} requests in flight, every line once, events after their lines`, async () => {
    await waitFor(() => st.stored.size === LINES_P && st.events.some((e) => e.type === 'process_crashed')
      && st.upserts.at(-1) === 'crashed',
    { timeout: 40000, interval: 50, what: () => `${LINES_P} lines, the crash event and row (have ${st.stored.size}, ${JSON.stringify(st.events)}, ${st.upserts})` });

    // pipelined, within the limit
    assert.ok(st.peak > 1, `more than one request in flight (peak ${st.peak})`);
    assert.ok(st.peak <= INFLIGHT, `at most ${INFLIGHT} in flight (peak ${st.peak})`);
    const health = await (await fetch(`http://${agent.addr}/health`)).json();
    assert.equal(health.shipping.inflight_max, INFLIGHT);
    assert.ok(health.shipping.inflight_peak > 1 && health.shipping.inflight_peak <= INFLIGHT);
    assert.equal(health.shipping.dropped, 0);
    // failures happened and were retried
    assert.ok(st.refused > 0 && st.cut > 0, `refused ${st.refused}, cut ${st.cut}`);

    // every line exactly once, gapless, with its own text
    for (let s = 1; s <= LINES_P; s++) {
      if (st.stored.get(s) !== String(s)) assert.fail(`sequence ${s}: ${st.stored.get(s)}`);
    }
    assert.equal(st.stored.size, LINES_P);
    // a line is sent again only after a lost answer
    for (const [s, times] of st.receipts) {
      if (times > 1 && !st.cutSeqs.has(s)) assert.fail(`sequence ${s} received ${times} times without a lost answer`);
    }

    // order of meaning: the crash event (and the final row) only after
    // every line printed before the crash was stored
    const crash = st.events.find((e) => e.type === 'process_crashed');
    assert.equal(crash.storedLines, LINES_P);
    assert.equal(st.upserts.at(-1), 'crashed');
  });
});

// A request the orchestrator can never accept (a whole-request -32700 or
// -32600 answer, or nginx's 413 when its body limit is set below the
// agent's batch size) must not hold up every later line behind an endless
// retry: its lines are dropped, counted in logs_dropped, and shipping goes
// on. stored + dropped = printed.
describe('requests refused for good are dropped and counted, not retried forever', () => {
  const LINES_R = 5000;
  let sink, agent, dir;
  const st = { requests: 0, refusedWhole: 0, refused413: 0, stored: new Map(), dropped: 0, drops: [] };

  before(async () => {
    dir = tempDir('agent-refused');
    sink = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => { body += d; });
      req.on('end', () => {
        const calls = JSON.parse(body);
        const hasLogs = calls.some((c) => c.method.endsWith('storeLogs'));
        if (hasLogs) st.requests++;
        // the 2nd request with lines: a parse error for the whole body;
        // the 4th: nginx's 413 page
        if (hasLogs && st.requests === 2) {
          st.refusedWhole++;
          res.writeHead(200, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } }));
          return;
        }
        if (hasLogs && st.requests === 4) {
          st.refused413++;
          res.writeHead(413, { 'Content-Type': 'text/html' });
          res.end('<html><body>413 Request Entity Too Large</body></html>');
          return;
        }
        const answers = calls.map((c) => {
          const m = c.method.replace(/^ContainerMonitoringOps\./, '');
          if (m === 'storeLogs') for (const l of c.params.logs) st.stored.set(l.sequence, (st.stored.get(l.sequence) || 0) + 1);
          if (m === 'getLastSequence') return { jsonrpc: '2.0', id: c.id, result: { instanceId: c.params.instanceId, lastSequence: 0 } };
          if (m === 'recordEvent' && c.params.type === 'logs_dropped') {
            st.dropped += c.params.payload.count;
            st.drops.push(c.params.payload);
          }
          return { jsonrpc: '2.0', id: c.id, result: {} };
        });
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(answers));
      });
    });
    await new Promise((r) => sink.listen(0, '127.0.0.1', r));
    agent = await startAgent({
      name: 'refused', logDir: dir, token: 'unused-by-the-sink',
      orchestrator: `http://127.0.0.1:${sink.address().port}`,
      args: ['--ship-inflight', '1'],
      config: {
        // slow enough that the lines span several requests
        processes: [{ instanceId: 'app', command: 'sh', args: ['-c', `i=0; while [ $i -lt ${LINES_R} ]; do i=$((i+1)); echo $i; [ $((i % 500)) -eq 0 ] && sleep 0.1; done; exit 0`], autoRestart: false }],
      },
    });
  });
  after(async () => {
    if (agent) await agent.stop();
    if (sink) { sink.closeAllConnections(); sink.close(); }
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the refused lines are reported in logs_dropped and every other line arrives once', async () => {
    await waitFor(() => st.stored.size + st.dropped === LINES_R && st.stored.has(LINES_R),
      { timeout: 40000, interval: 50, what: () => `stored ${st.stored.size} + dropped ${st.dropped} = ${LINES_R} (requests ${st.requests})` });
    assert.equal(st.refusedWhole, 1, 'one whole-request -32700 answer');
    assert.equal(st.refused413, 1, 'one 413 answer');
    assert.ok(st.dropped > 0, 'the refused requests\' lines are counted');
    for (const [s, n] of st.stored) assert.equal(n, 1, `sequence ${s} stored ${n} times`);
    // the dropped ranges are exactly the sequences never stored
    const missing = [];
    for (let s = 1; s <= LINES_R; s++) if (!st.stored.has(s)) missing.push(s);
    assert.equal(missing.length, st.dropped);
    const inRanges = (s) => st.drops.some((d) => s >= d.firstSequence && s <= d.lastSequence);
    for (const s of missing) assert.ok(inRanges(s), `missing sequence ${s} lies in a reported logs_dropped range (${JSON.stringify(st.drops)}; missing ${missing[0]}..${missing.at(-1)})`);
  });
});
