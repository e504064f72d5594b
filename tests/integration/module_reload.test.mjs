// nginx -s reload with a worker added: the new worker is routable at once,
// a terminal opened before the reload keeps working until it closes, and
// the shared counts carry over, decrementing correctly after the reload.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
// getFresh: nginx is reloaded here, and a kept connection may be to an old
// worker process that is closing it
import { childPids, getFresh as get, pidAlive, reloadNginx, startAgent, startStack, waitFor, writeWorkerConf } from '../lib/stack.mjs';
import { Terminal } from '../lib/terminal.mjs';

describe('reload', () => {
  let stack, late;

  before(async () => {
    stack = await startStack({ tag: 'module-reload', workers: [{ name: 'demo', terminalCmd: 'cat' }] });
  });

  after(async () => {
    if (stack) await stack.stop();
    if (late) await late.stop();
  });

  const registry = async () => {
    const r = await get(`${stack.http}/api/workers`, { headers: stack.auth });
    assert.equal(r.status, 200, r.body);
    return Object.fromEntries(r.json.map((w) => [w.name, w]));
  };
  const term = (w) => Terminal.open(`${stack.ws}/api/workers/${w}/terminal`, { headers: stack.auth });

  test('a session opened before a reload that adds a worker still echoes; the new worker routes', async () => {
    const t = await term('demo');
    t.send('before\r');
    await t.expect(/before/);
    assert.equal((await registry()).demo.sessions.terminal, 1);
    assert.equal((await get(`${stack.http}/api/workers/late/health`, { headers: stack.auth })).status, 404);
    const requests2xx = (await registry()).demo.requests['2xx'];

    late = await startAgent({ name: 'late', terminalCmd: 'cat', logDir: stack.logDir });
    writeWorkerConf(stack.workersDir, 'late', late.addr);
    const oldWorkers = childPids(stack.nginx.pid);
    await reloadNginx(stack.nginx);

    // the new configuration answers (the old processes no longer accept)
    await waitFor(async () => (await get(`${stack.http}/api/workers/late/health`, { headers: stack.auth })).status === 200,
      { timeout: 5000, what: 'the new worker to be routable' });
    const h = await get(`${stack.http}/api/workers/late/health`, { headers: stack.auth });
    assert.equal(h.json.worker, 'late');

    const t2 = await term('late');
    t2.send('fresh\r');
    await t2.expect(/fresh/);

    // the old session, served by an old worker process, still works
    t.send('after\r');
    await t.expect(/after/);
    assert.ok(oldWorkers.some(pidAlive), 'an old nginx worker process keeps the session');

    // the count of the session opened before the reload is in the zone the
    // new processes read, and so are the request counts
    let reg = await registry();
    assert.equal(reg.demo.sessions.terminal, 1);
    assert.equal(reg.late.sessions.terminal, 1);
    assert.ok(reg.demo.requests['2xx'] >= requests2xx);

    // closing it decrements the very node it incremented
    t.close();
    await waitFor(async () => (await registry()).demo.sessions.terminal === 0,
      { timeout: 5000, what: 'the pre-reload session to be counted out' });
    await waitFor(() => oldWorkers.every((p) => !pidAlive(p)),
      { timeout: 10000, what: 'the old nginx worker processes to exit once their session ended' });
    t2.close();
    await waitFor(async () => (await registry()).late.sessions.terminal === 0,
      { timeout: 5000, what: 'late back to 0' });
    reg = await registry();
    assert.deepEqual(Object.keys(reg).sort(), ['demo', 'late']);
  });

  test('a reload that removes a worker: 404 for it, the rest untouched', async () => {
    fs.unlinkSync(path.join(stack.workersDir, 'late.conf'));
    await reloadNginx(stack.nginx);
    await waitFor(async () => (await get(`${stack.http}/api/workers/late/health`, { headers: stack.auth })).status === 404,
      { timeout: 5000, what: 'late to be gone' });
    const r = await get(`${stack.http}/api/workers/late/health`, { headers: stack.auth });
    assert.equal(r.json.error.code, 'worker_not_found');
    assert.deepEqual(Object.keys(await registry()), ['demo']);
    assert.equal((await get(`${stack.http}/api/workers/demo/health`, { headers: stack.auth })).status, 200);
  });

  test('a reload with a broken worker file keeps the running configuration', async () => {
    fs.writeFileSync(path.join(stack.workersDir, 'broken.conf'), 'wharf_worker broken upstream=nowhere;\n');
    const before = childPids(stack.nginx.pid);
    process.kill(stack.nginx.pid, 'SIGHUP');
    await waitFor(() => /upstream "nowhere" is not defined/.test(stack.nginx.errorLog()),
      { timeout: 5000, what: 'the reload to be refused' });
    assert.deepEqual(childPids(stack.nginx.pid).sort(), before.sort());
    assert.equal((await get(`${stack.http}/api/workers/demo/health`, { headers: stack.auth })).status, 200);
    fs.unlinkSync(path.join(stack.workersDir, 'broken.conf'));
  });
});
