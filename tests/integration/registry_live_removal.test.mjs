// Removing a live worker (issue 15): DELETE /api/workers/NAME ends its
// sessions with a close frame that says why (1001, "worker NAME was
// removed"), in every nginx worker process, never in the middle of a
// frame; other workers' sessions go on; wharfd forgets the worker; and
// nothing of it is left in the gateway.

import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { get, startAgent, startFakeEndpoint, startStack, waitFor } from '../lib/stack.mjs';
import { Terminal, TTY_PROTOCOL } from '../lib/terminal.mjs';

// A WebSocket through the gateway, on a connection of its own: resolves
// once open; .closed gets {code, reason}, .error any protocol error, .pid
// the nginx worker process that took it (the stack adds its pid to every
// answer).
function openWs(url, headers) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers, agent: new http.Agent({ keepAlive: false }) });
    ws.closed = null;
    ws.on('close', (code, reason) => { ws.closed = { code, reason: reason.toString() }; });
    ws.on('error', (e) => { ws.error = e; });
    ws.once('upgrade', (res) => { ws.pid = res.headers['x-wharf-pid']; });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
  });
}

describe('live registry: removal', () => {
  let stack, agent, fake, fake2;
  const put = (name, body) => get(`${stack.http}/api/workers/${name}`, {
    method: 'PUT', headers: { ...stack.auth, 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  const del = (name) => get(`${stack.http}/api/workers/${name}`, { method: 'DELETE', headers: stack.auth });
  const read = (p) => get(`${stack.http}${p}`, { headers: stack.auth });

  before(async () => {
    fake = await startFakeEndpoint('ws');
    fake2 = await startFakeEndpoint('ws');
    stack = await startStack({
      tag: 'registry-rm', workers: [{ name: 'demo' }], extraHttp: 'add_header X-Wharf-Pid $pid always;',
    });
    // a real agent, registered live under its own name
    agent = await startAgent({ name: 'rm-term', keys: stack.keys, logDir: stack.logDir });
    stack.procs.push(agent);
  });
  after(async () => {
    if (stack) await stack.stop();
    for (const f of [fake, fake2]) if (f) await f.close();
  });

  test('a terminal of a live worker: opened, then ended with a close frame that says why', async () => {
    assert.equal((await put('rm-term', { upstream: agent.addr })).status, 201);
    const t = await Terminal.open(`${stack.ws}/api/workers/rm-term/terminal`, { protocol: TTY_PROTOCOL, headers: stack.auth });
    t.send('echo live-$((6*7))\r');
    await t.expect(/live-42/);
    // a session of another worker, which goes on
    assert.equal((await put('rm-other', { upstream: fake2.addr })).status, 201);
    const other = await openWs(`${stack.ws}/api/workers/rm-other/echo`, stack.auth);
    assert.equal((await read('/api/workers/rm-term')).json.sessions.terminal, 1);

    const r = await del('rm-term');
    assert.equal(r.status, 200, r.body);
    await t.waitClosed(3000);
    assert.deepEqual(t.closed, { code: 1001, reason: 'worker rm-term was removed' });
    assert.equal(t.error, undefined);

    const echoed = new Promise((resolve) => other.once('message', (d) => resolve(d.toString())));
    other.send('still here');
    assert.equal(await echoed, 'still here');
    assert.equal(other.closed, null);
    other.close();
    assert.equal((await read('/api/workers/rm-term')).status, 404);
  });

  test('the sessions in every nginx worker process end', async () => {
    assert.equal((await put('rm-many', { upstream: fake.addr })).status, 201);
    // sessions in both processes: opened until each has a few
    const socks = [];
    const per = () => socks.reduce((m, s) => ({ ...m, [s.pid]: (m[s.pid] || 0) + 1 }), {});
    for (let i = 0; i < 200 && (socks.length < 16 || Object.keys(per()).length < 2
      || Math.min(...Object.values(per())) < 3); i++) {
      socks.push(await openWs(`${stack.ws}/api/workers/rm-many/s${i}`, stack.auth));
    }
    assert.equal(Object.keys(per()).length, 2, JSON.stringify(per()));
    const live = await read('/api/workers/rm-many');
    assert.equal(live.json.sessions.websocket, socks.length);
    const t0 = Date.now();
    assert.equal((await del('rm-many')).status, 200);
    await waitFor(() => socks.every((s) => s.closed), { timeout: 3000, what: 'every session to close' });
    const took = Date.now() - t0;
    for (const s of socks) {
      assert.deepEqual(s.closed, { code: 1001, reason: 'worker rm-many was removed' });
      assert.equal(s.error, undefined);
    }
    // the agent side of each tunnel is closed too
    await waitFor(() => fake.wss.clients.size === 0, { timeout: 3000, what: 'the upstream side to close' });
    assert.ok(took < 3000, `${took} ms`);
  });

  test('a session in the middle of a large frame ends at a frame\'s end, or without a close frame, never broken', async (t) => {
    assert.equal((await put('rm-big', { upstream: fake.addr })).status, 201);
    const outcomes = [];
    for (let round = 0; round < 6; round++) {
      const ws = await openWs(`${stack.ws}/api/workers/rm-big/big${round}`, stack.auth);
      let got = 0;
      ws.on('message', (d) => { got += d.length; });
      // 4 MiB echoed back in one frame, while the worker goes
      ws.send(Buffer.alloc(4 * 1024 * 1024, round));
      await waitFor(() => got > 0 || ws.closed || round % 2 === 0, { timeout: 3000, what: 'the echo to start' });
      assert.equal((await del('rm-big')).status, 200);
      await waitFor(() => ws.closed, { timeout: 5000, what: 'the session to end' });
      assert.equal(ws.error, undefined, `round ${round}: ${ws.error && ws.error.message}`);
      assert.ok([1001, 1006].includes(ws.closed.code), `round ${round}: ${JSON.stringify(ws.closed)}`);
      if (ws.closed.code === 1001) assert.equal(ws.closed.reason, 'worker rm-big was removed');
      outcomes.push(ws.closed.code);
      assert.equal((await put('rm-big', { upstream: fake.addr })).status, 201);
    }
    t.diagnostic(`close codes: ${outcomes.join(' ')}`);
    assert.ok(outcomes.includes(1001), `at least one clean close: ${outcomes}`);
    await del('rm-big');
  });

  test('wharfd forgets the removed worker: getWorkers, REST and JSON-RPC', async () => {
    // the worker has sent a heartbeat: wharfd lists it
    const ingest = stack.mint({ sub: 'rm-seen', scope: 'ingest' });
    const hb = await get(`${stack.http}/rpc`, {
      method: 'POST', headers: { authorization: `Bearer ${ingest}`, 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ContainerMonitoringOps.heartbeat', params: { container: 'c1' } }),
    });
    assert.equal(hb.status, 200, hb.body);
    const listed = async () => (await read('/api/monitoring/workers')).json.workers.map((w) => w.name);
    assert.ok((await listed()).includes('rm-seen'));
    assert.equal((await put('rm-seen', { upstream: fake.addr })).status, 201);
    const r = await del('rm-seen');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { removed: 'rm-seen', wharfd: { status: 'ok', http_status: 200, error: null } });
    assert.ok(!(await listed()).includes('rm-seen'), 'gone from wharfd when DELETE answers');
    // the RPC itself: admin scope; idempotent
    const rpc = (token, params) => get(`${stack.http}/rpc`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ContainerMonitoringOps.removeWorker', params }),
    });
    const again = await rpc(stack.token, { worker: 'rm-seen' });
    assert.deepEqual(again.json.result, { worker: 'rm-seen', removed: false });
    const reader = await rpc(stack.mint({ sub: '*', scope: 'read' }), { worker: 'rm-seen' });
    assert.equal(reader.json.error.code, -32003);
    const none = await rpc(stack.token, {});
    assert.equal(none.json.error.code, -32602);
  });

  test('wharfd down: the worker is removed from the gateway all the same, and the answer says so', async () => {
    assert.equal((await put('rm-down', { upstream: fake.addr })).status, 201);
    await stack.wharfd.stop();
    const r = await del('rm-down');
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json.removed, 'rm-down');
    assert.equal(r.json.wharfd.status, 'failed');
    assert.equal((await read('/api/workers/rm-down')).status, 404);
  });

  test('nothing is left: no alert in the error log', () => {
    const bad = stack.nginx.errorLog().split('\n').filter((l) => /\[(alert|crit|emerg)\]/.test(l));
    assert.deepEqual(bad, []);
  });
});
