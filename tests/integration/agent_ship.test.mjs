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
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startAgent, startStack, tempDir, waitFor } from '../lib/stack.mjs';

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

async function rpc(stack, method, params) {
  const res = await fetch(`${stack.http}/rpc`, {
    method: 'POST',
    headers: { ...stack.auth, 'Content-Type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: `ContainerMonitoringOps.${method}`, params }),
  });
  const text = await res.text();
  if (params.stream) return text.trim().split('\n').map((l) => JSON.parse(l));
  const j = JSON.parse(text);
  if (j.error) throw new Error(`${method}: ${JSON.stringify(j.error)}`);
  return j.result;
}

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
