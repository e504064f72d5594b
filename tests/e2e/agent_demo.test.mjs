// `make run` (scripts/run-stack): the demo worker's agent supervises the
// demo app (scripts/demo-app), and within seconds its logs, its error and
// its process state are on the orchestrator (issue 5, "Demo app").

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BUILD, ROOT, childPids, freePort, get, procGone, tempDir, waitFor } from '../lib/stack.mjs';

describe('make run: the demo app reaches the orchestrator', () => {
  let dir, stack, out = '', env, http;
  const started = new Set();

  before(async () => {
    dir = tempDir('agent-demo');
    const runDir = path.join(dir, 'run');
    const port = await freePort();
    stack = spawn(path.join(ROOT, 'scripts/run-stack'), [], {
      env: { ...process.env, WHARF_PORT: `${port}`, WHARFD_PORT: `${await freePort()}`,
        WHARFD_WS_PORT: `${await freePort()}`, WHARF_RUN_DIR: runDir, B: path.relative(ROOT, BUILD) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    stack.exited = new Promise((resolve) => stack.on('exit', (code, signal) => resolve({ code, signal })));
    stack.stdout.on('data', (d) => { out += d; });
    stack.stderr.on('data', (d) => { out += d; });
    await waitFor(() => {
      if (stack.exitCode !== null) throw new Error(`run-stack exited:\n${out}`);
      return /wharf is up/.test(out) && fs.existsSync(path.join(runDir, 'env'));
    }, { timeout: 20000, what: () => `run-stack to be up:\n${out}` });
    env = Object.fromEntries(fs.readFileSync(path.join(runDir, 'env'), 'utf8').split('\n')
      .filter((l) => l.startsWith('export ')).map((l) => l.slice(7).split(/=(.*)/s).slice(0, 2)));
    http = `http://127.0.0.1:${port}`;
    for (const p of childPids(stack.pid)) started.add(p);
  });

  after(async () => {
    if (stack && stack.exitCode === null) {
      stack.kill('SIGTERM');
      await stack.exited;
    }
    for (const p of started) await waitFor(() => procGone(p), { what: `stack process ${p} to end` });
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const rpc = async (method, params) => {
    const r = await get(`${http}/rpc`, {
      method: 'POST', headers: { Authorization: `Bearer ${env.WHARF_TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: `ContainerMonitoringOps.${method}`, params }),
    });
    if (!r.json || r.json.error) throw new Error(r.body);
    return r.json.result;
  };

  test('logs, the error and the process state arrive within seconds', async () => {
    const t0 = Date.now();
    await waitFor(async () => {
      const p = await rpc('getProcess', { worker: 'demo', instanceId: 'demo-app' });
      return p && p.status === 'running' && p.pid > 0;
    }, { timeout: 10000, what: 'demo-app running on the orchestrator' });
    await waitFor(async () => (await rpc('getErrors', { worker: 'demo', instanceId: 'demo-app' })).data
      .some((e) => e.message === 'payment provider timed out' && e.level === 50),
    { timeout: 10000, interval: 200, what: 'the demo error stored' });
    assert.ok(Date.now() - t0 < 10000);
    const logs = await rpc('getLogs', { worker: 'demo', instanceId: 'demo-app', order: 'asc' });
    assert.ok(logs.data.some((l) => /listening on http/.test(l.message) && l.level === 'info'));
    // the app answers on its expected port, and the agent saw the port
    const st = await get(`${http}/api/workers/demo/processes/demo-app`, { headers: { Authorization: `Bearer ${env.WHARF_TOKEN}` } });
    assert.equal(st.status, 200);
    assert.ok(st.json.expectedPort > 0);
    assert.equal((await get(`http://127.0.0.1:${st.json.expectedPort}/`)).json.ok, true);
  });
});
