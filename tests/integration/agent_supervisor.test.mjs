// The supervisor (issue 5, part 1): PID-1 duties, restart rules, the
// fatal-error rule, health by port, signals, ordered shutdown with flush,
// long lines. Real agents and real processes; where the result is stored
// on the orchestrator, a real stack.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { ROOT, freePort, get, procGone, startAgent, startStack, tempDir, waitFor } from '../lib/stack.mjs';

function ppidOf(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

// Every JSON message of the agent's /websocket, after subscribing to lines.
async function feed(agent) {
  const ws = new WebSocket(`ws://${agent.addr}/websocket`);
  const msgs = [];
  ws.on('message', (d) => msgs.push(JSON.parse(d.toString())));
  await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
  ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'subscribe', params: { logs: true } }));
  await waitFor(() => msgs.some((m) => m.id === 1), { what: 'subscribe answer' });
  return { ws, msgs, close: () => new Promise((r) => { ws.on('close', r); ws.close(); }) };
}

describe('supervisor, one agent per case', () => {
  let dir;
  const agents = [];
  before(() => { dir = tempDir('agent-sup'); });
  after(async () => {
    for (const a of agents) await a.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const start = async (name, config, extra = {}) => {
    const a = await startAgent({ name, logDir: dir, config, ...extra });
    agents.push(a);
    return a;
  };
  const proc = async (a, id) => (await get(`http://${a.addr}/processes/${id}`)).json;

  test('orphans of the app are re-parented to the agent and reaped (subreaper)', async () => {
    const a = await start('orphans', {
      processes: [{ instanceId: 'app', command: 'sh', args: ['-c', '(sleep 1; exit 0) & echo "gc $!"; exit 3'], autoRestart: false }],
    });
    const f = await feed(a);
    await f.close();
    let gc;
    await waitFor(async () => {
      const p = await proc(a, 'app');
      return p.status === 'crashed' && p.exitCode === 3;
    }, { what: 'app crashed with 3' });
    // the line came through the feed or not; read the pid from /proc instead
    gc = (fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number)
      .find((pid) => { try { return ppidOf(pid) === a.pid && fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('sh'); } catch { return false; } }));
    assert.ok(gc, 'the orphaned subshell has the agent as its parent');
    await waitFor(() => procGone(gc), { timeout: 5000, what: `orphan ${gc} reaped, no zombie` });
  });

  test('restart policy: crashes up to maxRestarts, exit 0 with output is a clean stop', async () => {
    const a = await start('policy', {
      processes: [
        { instanceId: 'crash', command: 'sh', args: ['-c', 'echo x; exit 2'], maxRestarts: 2, restartDelayMs: 50 },
        { instanceId: 'clean', command: 'sh', args: ['-c', 'echo bye; exit 0'] },
        { instanceId: 'missing', command: '/no/such/program' },
      ],
    });
    await waitFor(async () => {
      const p = await proc(a, 'crash');
      return p.status === 'crashed' && p.restartCount === 2 && p.processId === 'crash-3' && p.pid === null;
    }, { what: 'crash: 3 runs, then crashed' });
    await new Promise((r) => setTimeout(r, 300));    // no 4th run may come
    assert.equal((await proc(a, 'crash')).processId, 'crash-3');
    await waitFor(async () => (await proc(a, 'clean')).status === 'stopped', { what: 'clean stopped' });
    assert.equal((await proc(a, 'clean')).exitCode, 0);
    const m = await proc(a, 'missing');
    assert.equal(m.status, 'stopped', 'S7: cannot exec -> stopped, no restart');
    assert.match(m.lastError, /No such file/);
  });

  test('fatal error line restarts the app (E10); configurable', async () => {
    const app = ['-c', 'echo \'{"level":60,"msg":"boom"}\'; exec sleep 600'];
    const a = await start('fatal', {
      processes: [{ instanceId: 'app', command: 'sh', args: app, maxRestarts: 1, restartDelayMs: 50 }],
    });
    await waitFor(async () => {
      const p = await proc(a, 'app');
      return p.status === 'crashed' && p.restartCount === 1 && p.signal === 'SIGTERM';
    }, { what: 'two fatal runs, each ended by SIGTERM' });
    const off = await start('fatal-off', {
      fatalRestart: false,
      processes: [{ instanceId: 'app', command: 'sh', args: app }],
    });
    // An absence (no fatal restart) can only be watched for a while.
    await new Promise((r) => setTimeout(r, 500));
    const p = await proc(off, 'app');
    assert.equal(p.status, 'running');
    assert.equal(p.processId, 'app-1');
  });

  test('health by port: confirmed, then unresponsive twice -> restart (P3, P5)', async () => {
    const port = await freePort();
    const script = path.join(dir, 'port.js');
    fs.writeFileSync(script, `
      const srv = require('http').createServer((q, s) => s.end('ok')).listen(${port}, '127.0.0.1');
      // up for 5 health checks (~1 s at 200 ms), counted from the first
      // one rather than from node's start, which is slow on a loaded box
      let checks = 0;
      srv.on('connection', () => { if (++checks === 5) srv.close(); });
      setInterval(() => {}, 1e6);`);
    const a = await start('health', {
      processes: [{ instanceId: 'web', command: 'node', args: [script], expectedPort: port,
        healthCheckIntervalMs: 200, portGraceMs: 0, maxRestarts: 1, restartDelayMs: 50 }],
    });
    const f = await feed(a);
    // The event may have gone out before the feed was subscribed (node
    // starts fast on a quiet machine); the process's state says it too.
    await waitFor(async () => f.msgs.some((m) => m.method === 'event' && m.params.type === 'port_ready')
      || (await proc(a, 'web')).portReady === true, { what: 'port_ready' });
    await waitFor(async () => (await proc(a, 'web')).processId === 'web-2', { timeout: 8000, what: 'a health restart' });
    assert.ok(f.msgs.some((m) => m.method === 'event' && m.params.type === 'health_check_failed'));
    await f.close();
  });

  test("the worker template's agent.json is a valid config", async () => {
    const a = await start('template', undefined, { args: ['--config', path.join(ROOT, 'templates/worker/agent.json')] });
    const p = await proc(a, 'app');
    assert.equal(p.command, '/app/start');
    assert.equal(p.expectedPort, 3000);
    assert.equal(p.maxRestarts, 120);
    // there is no /app here: the start fails, and is not retried (S7)
    assert.equal(p.status, 'stopped');
  });

  test('signals are passed on to the app; lines stream to /websocket', async () => {
    const a = await start('signals', {
      processes: [{ instanceId: 'app', command: 'sh', args: ['-c', 'trap "echo got USR1" USR1; echo ready; while :; do sleep 0.05; done'] }],
    });
    const f = await feed(a);
    await waitFor(async () => (await proc(a, 'app')).status === 'running', { what: 'running' });
    await new Promise((r) => setTimeout(r, 200));     // the trap is set before "ready"
    process.kill(a.pid, 'SIGUSR1');
    await waitFor(() => f.msgs.some((m) => m.method === 'log' && m.params.message === 'got USR1'),
      { what: 'got USR1 on the feed' });
    await f.close();
  });
});

describe('ordered shutdown with flush, long lines (stored on the orchestrator)', () => {
  let stack, dir;
  before(async () => {
    dir = tempDir('agent-sup-stack');
    stack = await startStack({ tag: 'agent-sup2', workers: [] });
  });
  after(async () => {
    if (stack) await stack.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const rpc = async (method, params) => {
    const r = await get(`${stack.http}/rpc`, {
      method: 'POST', headers: { ...stack.auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: `ContainerMonitoringOps.${method}`, params }),
    });
    if (params.stream) return r.body.trim().split('\n').map((l) => JSON.parse(l)).filter((x) => x.sequence !== undefined);
    return r.json.result;
  };

  test('SIGTERM stops the instances last-first, and what they print on the way out is stored', async () => {
    const body = (n) => `trap 'echo "${n} got TERM"; sleep 0.3; echo "${n} bye"; exit 0' TERM; echo "${n} up"; while :; do sleep 0.05; done`;
    const a = await startAgent({
      name: 'orderly', keys: stack.keys, logDir: stack.logDir,
      orchestrator: stack.http, token: stack.mint({ sub: 'orderly', scope: 'ingest' }),
      config: {
        processes: [
          { instanceId: 'first', command: 'sh', args: ['-c', body('first')] },
          { instanceId: 'second', command: 'sh', args: ['-c', `head -c 100000 /dev/zero | tr '\\0' y; echo; echo short; ${body('second')}`] },
        ],
      },
    });
    await waitFor(async () => (await rpc('getLogStats', { worker: 'orderly' })).total >= 5,
      { what: 'the up lines stored' });
    const t0 = Date.now();
    process.kill(a.pid, 'SIGTERM');
    const exit = await a.exited;
    assert.equal(exit.code, 0);
    assert.ok(Date.now() - t0 >= 600, 'one after the other');
    // stdout only: sh also reports on stderr that its sleep was terminated
    // (the whole process group gets SIGTERM)
    const logs = async (id) => (await rpc('getLogs', { worker: 'orderly', instanceId: id, order: 'asc', stream: true }))
      .filter((r) => r.stream === 'stdout');
    const first = (await logs('first')).map((r) => r.message);
    const second = await logs('second');
    assert.deepEqual(first, ['first up', 'first got TERM', 'first bye']);
    assert.deepEqual(second.slice(-3).map((r) => r.message), ['second up', 'second got TERM', 'second bye']);
    // a 100,000-byte line is cut at 64 KiB and flagged
    assert.equal(second[0].message.length, 65536);
    assert.deepEqual(second[0].metadata, { split: true, continued: false });
    assert.equal(second[1].message.length, 100000 - 65536);
    assert.deepEqual(second[1].metadata, { split: false, continued: true });
    assert.equal(second[2].message, 'short');
    // second (created last) was stopped first
    const stopped = (await rpc('getEvents', { worker: 'orderly', type: 'process_stopped', order: 'asc' })).data;
    assert.deepEqual(stopped.map((e) => e.instanceId), ['second', 'first']);
    const rows = (await rpc('getProcesses', { worker: 'orderly' })).data;
    assert.deepEqual(rows.map((r) => r.status), ['stopped', 'stopped']);
  });
});
