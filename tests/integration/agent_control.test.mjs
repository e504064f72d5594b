// Process control of a worker's app (issue 5): start, stop and restart
// through the orchestrator's REST, its JSON-RPC, its /ws/monitoring feed,
// and the agent's own /websocket (through nginx); the kill timeout; and
// the agent's own auth (aud = its worker, scopes per route, Origin).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { get, startStack, waitFor, TOKEN_LEEWAY } from '../lib/stack.mjs';

const STUBBORN_KILL_MS = 700;

// A JSON-RPC client over a WebSocket: call() resolves with the answer of
// its id; notifications are kept in .notes.
function rpcSocket(url, opts) {
  const ws = new WebSocket(url, opts);
  const pending = new Map();
  const client = { ws, notes: [], nextId: 1 };
  ws.on('message', (d) => {
    const m = JSON.parse(d.toString());
    if (m.id !== undefined && pending.has(m.id)) {
      pending.get(m.id)(m);
      pending.delete(m.id);
    } else {
      client.notes.push(m);
    }
  });
  client.open = new Promise((resolve, reject) => {
    ws.on('open', resolve);
    ws.on('error', reject);
    ws.on('unexpected-response', (req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
  client.call = (method, params) => new Promise((resolve) => {
    const id = client.nextId++;
    pending.set(id, resolve);
    ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
  });
  client.close = () => new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) return resolve();
    ws.on('close', resolve);
    ws.close();
  });
  return client;
}

describe('process control', () => {
  let stack, agentUrl;
  before(async () => {
    stack = await startStack({
      tag: 'agent-control',
      workers: [{
        name: 'ctl',
        config: {
          processes: [
            { instanceId: 'web', command: 'sh', args: ['-c', 'echo "web up $$"; exec sleep 600'], killTimeoutMs: 5000 },
            // ignores SIGTERM (sleep inherits the ignored signal)
            { instanceId: 'stubborn', command: 'sh', args: ['-c', "trap '' TERM; echo ready; while :; do sleep 0.05; done"],
              killTimeoutMs: STUBBORN_KILL_MS },
          ],
        },
      }],
    });
    agentUrl = `http://${stack.agents.ctl.addr}`;
  });
  after(async () => stack && stack.stop());

  const viaGateway = (p, opts = {}) => get(`${stack.http}/api/workers/ctl${p}`, {
    ...opts, headers: { ...stack.auth, 'Content-Type': 'application/json', ...(opts.headers || {}) },
  });
  const status = async (id) => (await viaGateway(`/processes/${id}`)).json.status;
  const orchRpc = async (method, params) => {
    const r = await get(`${stack.http}/rpc`, {
      method: 'POST', headers: { ...stack.auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: `ContainerMonitoringOps.${method}`, params }),
    });
    return r.json;
  };

  test('the config file started both instances', async () => {
    await waitFor(async () => (await status('web')) === 'running' && (await status('stubborn')) === 'running',
      { what: 'both instances running' });
    const list = await viaGateway('/processes');
    assert.equal(list.status, 200);
    assert.deepEqual(list.json.processes.map((p) => p.instanceId), ['web', 'stubborn']);
  });

  test('orchestrator REST: stop, start, restart', async () => {
    const post = (a) => get(`${stack.http}/api/monitoring/process/web/${a}?worker=ctl`, { method: 'POST', headers: stack.auth });
    let r = await post('stop');
    assert.equal(r.status, 200, r.body);
    await waitFor(async () => (await status('web')) === 'stopped', { what: 'web stopped' });
    r = await post('start');
    assert.equal(r.status, 200, r.body);
    assert.equal((await status('web')), 'running');
    const pid1 = (await viaGateway('/processes/web')).json.pid;
    r = await post('restart');
    assert.equal(r.status, 200, r.body);
    await waitFor(async () => {
      const p = (await viaGateway('/processes/web')).json;
      return p.status === 'running' && p.pid !== pid1;
    }, { what: 'web running again with a new pid' });
  });

  test('orchestrator JSON-RPC: stop, start, restart; unknown instance', async () => {
    let r = await orchRpc('stopProcess', { worker: 'ctl', instanceId: 'web' });
    assert.ok(r.result, JSON.stringify(r));
    await waitFor(async () => (await status('web')) === 'stopped', { what: 'web stopped' });
    r = await orchRpc('startProcess', { worker: 'ctl', instanceId: 'web' });
    assert.equal(r.result.process.status, 'running');
    r = await orchRpc('restartProcess', { worker: 'ctl', instanceId: 'web' });
    assert.ok(r.result, JSON.stringify(r));
    r = await orchRpc('startProcess', { worker: 'ctl', instanceId: 'nope' });
    assert.equal(r.error.code, -32004);
    await waitFor(async () => (await status('web')) === 'running', { what: 'web running' });
    r = await orchRpc('startProcess', { worker: 'ctl', instanceId: 'web' });
    assert.equal(r.error.code, -32009, 'starting a running process is a conflict (S3)');
  });

  test('orchestrator /ws/monitoring: stop, start, restart', async () => {
    const c = rpcSocket(`${stack.ws}/ws/monitoring?access_token=${stack.token}`);
    await c.open;
    let r = await c.call('ContainerMonitoringOps.stopProcess', { worker: 'ctl', instanceId: 'web' });
    assert.ok(r.result, JSON.stringify(r));
    await waitFor(async () => (await status('web')) === 'stopped', { what: 'web stopped' });
    r = await c.call('ContainerMonitoringOps.startProcess', { worker: 'ctl', instanceId: 'web' });
    assert.equal(r.result.process.status, 'running', JSON.stringify(r));
    r = await c.call('ContainerMonitoringOps.restartProcess', { worker: 'ctl', instanceId: 'web' });
    assert.ok(r.result, JSON.stringify(r));
    await waitFor(async () => (await status('web')) === 'running', { what: 'web running' });
    await c.close();
  });

  test("agent's /websocket: events, control, first output streamed back", async () => {
    const c = rpcSocket(`${stack.ws}/api/workers/ctl/websocket?access_token=${stack.token}`);
    await c.open;
    let r = await c.call('stopProcess', { instanceId: 'web' });
    assert.ok(r.result, JSON.stringify(r));
    await waitFor(() => c.notes.some((n) => n.method === 'event' && n.params.type === 'process_stopped'
      && n.params.instanceId === 'web'), { what: 'a process_stopped event' });
    r = await c.call('startProcess', { instanceId: 'web', output: { lines: 1, timeoutMs: 5000 } });
    assert.equal(r.result.process.status, 'running');
    assert.equal(r.result.output.length, 1);
    assert.match(r.result.output[0].message, /^web up \d+$/);
    assert.ok(c.notes.some((n) => n.method === 'output' && /^web up/.test(n.params.message)));
    r = await c.call('restartProcess', { instanceId: 'web', output: { lines: 1, timeoutMs: 5000 } });
    assert.match(r.result.output[0].message, /^web up \d+$/);
    assert.equal(Number(r.result.output[0].message.split(' ')[2]), r.result.process.pid);
    r = await c.call('listProcesses', {});
    assert.equal(r.result.processes.length, 2);
    r = await c.call('noSuchMethod', {});
    assert.equal(r.error.code, -32601);
    await c.close();
  });

  test('one JSON-RPC envelope (issue 17): the agent, wharfd\'s /rpc and the feed refuse a request without "jsonrpc", alike', async () => {
    // The agent accepted a request without "jsonrpc" before issue 17;
    // common/jsonrpc.c's check is now the one of all three.
    const noVersion = (method, params) => ({ id: 3, method, params });
    const want = (r, where) => {
      assert.equal(r.error.code, -32600, `${where}: ${JSON.stringify(r)}`);
      assert.equal(r.id, 3, `${where}: the valid id is echoed`);
      assert.equal(r.error.message, 'Invalid Request: \'jsonrpc\' must be "2.0"', where);
    };
    const agentRpc = async (body) => (await viaGateway('/rpc', { method: 'POST', body: JSON.stringify(body) })).json;
    want(await agentRpc(noVersion('listProcesses', {})), 'agent /rpc');
    want(await agentRpc({ ...noVersion('listProcesses', {}), jsonrpc: '1.0' }), 'agent /rpc, jsonrpc 1.0');
    let r = await agentRpc({ jsonrpc: '2.0', ...noVersion('listProcesses', {}) });
    assert.equal(r.result.processes.length >= 2, true, JSON.stringify(r));
    // a batch: each call checked alone
    r = await agentRpc([noVersion('listProcesses', {}), { jsonrpc: '2.0', id: 4, method: 'listProcesses' }]);
    assert.equal(r.length, 2);
    want(r[0], 'agent /rpc batch');
    assert.ok(r[1].result, JSON.stringify(r[1]));

    const orch = await get(`${stack.http}/rpc`, {
      method: 'POST', headers: { ...stack.auth, 'Content-Type': 'application/json' },
      body: JSON.stringify(noVersion('ContainerMonitoringOps.getWorkers', {})),
    });
    want(orch.json, "wharfd's /rpc");

    const sockets = [
      [`${stack.ws}/api/workers/ctl/websocket?access_token=${stack.token}`, 'listProcesses', "agent's /websocket"],
      [`${stack.ws}/ws/monitoring?access_token=${stack.token}`, 'subscribe', 'the feed'],
    ];
    for (const [url, method, where] of sockets) {
      const ws = new WebSocket(url);
      await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
      const answer = new Promise((resolve) => ws.once('message', (d) => resolve(JSON.parse(d.toString()))));
      ws.send(JSON.stringify(noVersion(method, {})));
      want(await answer, where);
      ws.close();
    }

    // one message rule: the code's standard text, then the detail
    r = await agentRpc({ jsonrpc: '2.0', id: 5, method: 'noSuchMethod' });
    assert.equal(r.error.message, 'Method not found: noSuchMethod');
    r = await agentRpc({ jsonrpc: '2.0', id: 6, method: 'getProcess', params: { instanceId: 'nope' } });
    assert.equal(r.error.code, -32004);
    assert.equal(r.error.message, 'Not found: no such instance');
    // relayed by wharfd with the agent's detail, not its standard text twice
    r = await orchRpc('startProcess', { worker: 'ctl', instanceId: 'nope' });
    assert.equal(r.error.code, -32004);
    assert.equal(r.error.message, 'Not found: agent: no such instance');
  });

  test('stop of a process that ignores SIGTERM kills it after the kill timeout', async () => {
    const pid = (await viaGateway('/processes/stubborn')).json.pid;
    const t0 = Date.now();
    const r = await viaGateway('/processes/stubborn/stop', { method: 'POST' });
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json.process.status, 'stopping');
    await waitFor(async () => (await status('stubborn')) === 'stopped', { what: 'stubborn stopped' });
    const took = Date.now() - t0;
    assert.ok(took >= STUBBORN_KILL_MS, `stopped after ${took} ms`);
    assert.ok(took < STUBBORN_KILL_MS + 3000, `stopped after ${took} ms`);
    const p = (await viaGateway('/processes/stubborn')).json;
    assert.equal(p.signal, 'SIGKILL');
    assert.throws(() => process.kill(pid, 0));
  });

  test('REST over the gateway: create an instance, errors as JSON', async () => {
    let r = await viaGateway('/processes', {
      method: 'POST',
      body: JSON.stringify({ instanceId: 'extra', command: 'sh', args: ['-c', 'echo one; echo two; exec sleep 600'],
        output: { lines: 2, timeoutMs: 5000 } }),
    });
    assert.equal(r.status, 201, r.body);
    assert.deepEqual(r.json.output.map((o) => o.message), ['one', 'two']);
    r = await viaGateway('/processes', { method: 'POST', body: JSON.stringify({ instanceId: 'extra', command: 'true' }) });
    assert.equal(r.status, 409);
    assert.equal(r.json.error.code, 'conflict');
    r = await viaGateway('/processes', { method: 'POST', body: JSON.stringify({ instanceId: 'bad id', command: 'x' }) });
    assert.equal(r.status, 400);
    r = await viaGateway('/processes/nope');
    assert.equal(r.status, 404);
    r = await viaGateway('/processes', { method: 'POST', body: '{not json' });
    assert.equal(r.status, 400);
    r = await viaGateway('/processes/extra/stop', { method: 'POST', body: JSON.stringify({ force: true }) });
    assert.equal(r.status, 200);
    await waitFor(async () => (await status('extra')) === 'stopped', { what: 'extra stopped' });
    assert.equal((await viaGateway('/processes/extra')).json.signal, 'SIGKILL');
  });

  test("the agent's own auth: aud, scopes, Origin; /health open", async () => {
    const tok = (claims) => ({ Authorization: `Bearer ${stack.mint(claims)}` });
    assert.equal((await get(`${agentUrl}/health`)).status, 200);
    let r = await get(`${agentUrl}/processes`);
    assert.equal(r.status, 401);
    assert.equal(r.json.error.code, 'unauthorized');
    r = await get(`${agentUrl}/processes`, { headers: tok({ sub: '*', scope: 'read' }) });
    assert.equal(r.status, 403, 'a token without aud is not for this agent');
    r = await get(`${agentUrl}/processes`, { headers: tok({ sub: 'other', aud: 'other', scope: 'read' }) });
    assert.equal(r.status, 403);
    r = await get(`${agentUrl}/processes`, { headers: tok({ sub: 'ctl', aud: 'ctl', scope: 'read' }) });
    assert.equal(r.status, 200);
    r = await get(`${agentUrl}/processes/web/stop`, { method: 'POST', headers: tok({ sub: 'ctl', aud: 'ctl', scope: 'read' }) });
    assert.equal(r.status, 403, 'stop needs control');
    r = await get(`${agentUrl}/rpc`, {
      method: 'POST', headers: tok({ sub: 'ctl', aud: 'ctl', scope: 'read' }),
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'stopProcess', params: { instanceId: 'web' } }),
    });
    assert.equal(r.json.error.code, -32003);
    r = await get(`${agentUrl}/rpc`, { method: 'POST', body: '{}' });
    assert.equal(r.status, 401);
    assert.equal(r.json.error.code, -32001);
    const expired = tok({ sub: 'ctl', aud: 'ctl', scope: 'read', exp: Math.floor(Date.now() / 1000) - TOKEN_LEEWAY - 10 });
    assert.equal((await get(`${agentUrl}/processes`, { headers: expired })).status, 401);

    const wsTok = stack.mint({ sub: 'ctl', aud: 'ctl', scope: 'read' });
    const bad = rpcSocket(`ws://${stack.agents.ctl.addr}/websocket?access_token=${wsTok}`, { headers: { Origin: 'https://evil.example' } });
    await assert.rejects(bad.open, /HTTP 403/);
    const same = rpcSocket(`ws://${stack.agents.ctl.addr}/websocket?access_token=${wsTok}`, { headers: { Origin: `http://${stack.agents.ctl.addr}` } });
    await same.open;
    await same.close();
    const noTok = rpcSocket(`ws://${stack.agents.ctl.addr}/terminal`);
    await assert.rejects(noTok.open, /HTTP 401/);
  });
});
