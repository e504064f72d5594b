// The live registry (issue 15): PUT and DELETE /api/workers/NAME add,
// change and remove workers at run time, with nothing reloaded. Every
// nginx worker process sees a change at once (worker_processes 2: fresh
// connections land on both); a live worker is routed, probed, counted and
// listed as a wharf_worker is, with keepalive connections of its own; the
// API wants scope "admin" and answers the module's JSON errors.

import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { childPids, get, startFakeEndpoint, startStack, waitFor } from '../lib/stack.mjs';

// Requests, each on a connection of its own, at least n and until both
// nginx worker processes have answered some (the stack adds the answering
// process's pid to every answer): their statuses.
async function fresh(url, n, headers) {
  const agent = new http.Agent({ keepAlive: false });
  const one = () => new Promise((resolve, reject) => {
    const req = http.get(url, { agent, headers: { ...headers, connection: 'close' } }, (res) => {
      res.resume();
      res.on('end', () => resolve([res.statusCode, res.headers['x-wharf-pid']]));
    });
    req.on('error', reject);
  });
  const out = [];
  const pids = new Set();
  for (let i = 0; i < 400 && (i < n || pids.size < 2); i++) {
    const [status, pid] = await one();
    out.push(status);
    pids.add(pid);
  }
  assert.equal(pids.size, 2, 'both nginx worker processes answered');
  return out;
}

describe('live registry: the API', () => {
  let stack, fakeA, fakeB, startPids;
  const put = (name, body, token) => get(`${stack.http}/api/workers/${name}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token || stack.token}`, 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const del = (name, token) => get(`${stack.http}/api/workers/${name}`, {
    method: 'DELETE', headers: { authorization: `Bearer ${token || stack.token}` },
  });
  const read = (p) => get(`${stack.http}${p}`, { headers: stack.auth });
  const pids = () => [stack.nginx.pid, ...childPids(stack.nginx.pid).sort()];

  before(async () => {
    fakeA = await startFakeEndpoint('ws');
    fakeB = await startFakeEndpoint('ws');
    stack = await startStack({
      tag: 'registry-api', workers: [{ name: 'demo' }], extraHttp: 'add_header X-Wharf-Pid $pid always;',
    });
    startPids = pids();
  });
  after(async () => {
    if (stack) await stack.stop();
    for (const f of [fakeA, fakeB]) if (f) await f.close();
  });

  test('PUT adds a worker: 201 with its registry entry, routed at once by every process', async () => {
    const before = pids();
    assert.equal(before.length, 3, 'worker_processes 2');
    const r = await put('api-1', { upstream: fakeA.addr, container: 'api-c', max_sessions: 5 });
    assert.equal(r.status, 201, r.body);
    assert.match(r.headers.get('content-type'), /^application\/json/);
    assert.equal(r.json.name, 'api-1');
    assert.equal(r.json.source, 'live');
    assert.equal(r.json.container, 'api-c');
    assert.deepEqual(r.json.upstream, { name: null, servers: [fakeA.addr] });
    assert.deepEqual(r.json.paths, { terminal: '/api/workers/api-1/terminal', websocket: '/api/workers/api-1/websocket' });
    assert.equal(r.json.max_sessions, 5);
    assert.deepEqual(r.json.sessions, { terminal: 0, websocket: 0, http: 0 });

    // right after the answer, on fresh connections: both processes route it
    const statuses = await fresh(`${stack.http}/api/workers/api-1/hello`, 40, stack.auth);
    assert.deepEqual([...new Set(statuses)], [200]);
    const seen = fakeA.requests.filter((q) => q.url === '/hello');
    assert.equal(seen.length, statuses.length);
    // the agent's token, for this worker, never the client's
    const claims = JSON.parse(Buffer.from(seen[0].headers.authorization.split('.')[1], 'base64url'));
    assert.deepEqual([claims.sub, claims.aud], ['api-1', 'api-1']);
    assert.deepEqual(pids(), before, 'nothing was reloaded');
  });

  test('GET lists live and static workers alike, with their source', async () => {
    const r = await read('/api/workers');
    assert.equal(r.status, 200);
    const by = Object.fromEntries(r.json.map((w) => [w.name, w]));
    assert.equal(by.demo.source, 'static');
    assert.equal(by['api-1'].source, 'live');
    assert.deepEqual(Object.keys(by['api-1']), Object.keys(by.demo));
    const one = await read('/api/workers/api-1');
    assert.equal(one.status, 200);
    assert.equal(one.json.source, 'live');
    const t = await read('/api/terminals?worker=api-1');
    assert.equal(t.status, 200);
    assert.deepEqual(t.json.map((x) => [x.worker, x.container, x.path, x.max_sessions]),
      [['api-1', 'api-c', '/api/workers/api-1/terminal', 5]]);
    const m = await read('/metrics');
    assert.match(m.body, /^wharf_workers 2$/m);
    const n = fakeA.requests.filter((q) => q.url === '/hello').length;
    assert.match(m.body, new RegExp(`^wharf_requests_total\\{worker="api-1",class="2xx"\\} ${n}$`, 'm'));
  });

  test('PUT again changes it: 200; defaults come back for what the body leaves out', async () => {
    const r = await put('api-1', { upstream: fakeB.addr });
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json.container, 'api-1');
    assert.equal(r.json.max_sessions, null);
    assert.deepEqual(r.json.upstream.servers, [fakeB.addr]);
    // its counters stay: the same worker
    assert.equal(r.json.requests['2xx'], fakeA.requests.filter((q) => q.url === '/hello').length);
    const statuses = await fresh(`${stack.http}/api/workers/api-1/moved`, 20, stack.auth);
    assert.deepEqual([...new Set(statuses)], [200]);
    assert.equal(fakeB.requests.filter((q) => q.url === '/moved').length, statuses.length);
    assert.equal(fakeA.requests.filter((q) => q.url === '/moved').length, 0);
  });

  test('keepalive to a live worker: one connection per process, kept across a change that keeps the address', async () => {
    await put('ka', { upstream: fakeA.addr });
    // one client connection: one nginx process, one upstream connection
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const conns = async (n, p) => {
      const out = [];
      for (let i = 0; i < n; i++) {
        out.push(await new Promise((resolve, reject) => {
          http.get(`${stack.http}/api/workers/ka${p}`, { agent, headers: stack.auth }, (res) => {
            let b = '';
            res.on('data', (d) => { b += d; });
            res.on('end', () => resolve(JSON.parse(b).conn));
          }).on('error', reject);
        }));
      }
      return out;
    };
    const first = await conns(10, '/k1');
    assert.equal(new Set(first).size, 1, `one upstream connection for 10 requests: ${first}`);
    const same = await put('ka', { upstream: fakeA.addr, max_sessions: 3 });
    assert.equal(same.status, 200);
    const second = await conns(5, '/k2');
    assert.deepEqual([...new Set(second)], [first[0]], 'the same connection after a change at the same address');
    const moved = await put('ka', { upstream: fakeB.addr });
    assert.equal(moved.status, 200);
    const third = await conns(5, '/k3');
    assert.equal(new Set(third).size, 1);
    assert.equal(fakeB.requests.filter((q) => q.url === '/k3').length, 5);
    agent.destroy();
  });

  test('health probes and sessions of a live worker work as for a static one', async () => {
    const agent = stack.agents.demo; // a real agent, registered a second time, live
    const r = await put('term', { upstream: agent.addr, max_sessions: 1 });
    assert.equal(r.status, 201, r.body);
    // the agent checks the module's token: sub and aud must be its own
    // worker name, so this agent (worker "demo") refuses "term"'s token
    const probe = await read('/api/workers/term/health/terminal');
    assert.equal(probe.json.worker, 'term');
    assert.equal(probe.json.status, 'unhealthy');
    const ok = await put('term', { upstream: fakeA.addr, max_sessions: 1 });
    assert.equal(ok.status, 200);
    const healthy = await read('/api/workers/term/health/terminal');
    assert.equal(healthy.status, 200, healthy.body);
    assert.equal(healthy.json.status, 'healthy');
    const all = await read('/health/terminal');
    assert.ok(all.json.workers.some((w) => w.worker === 'term' && w.status === 'healthy'), all.body);
    // a session, counted, and capped by max_sessions
    const ws = new WebSocket(`${stack.ws}/api/workers/term/terminal`, { headers: stack.auth });
    await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
    const listed = await read('/api/workers/term');
    assert.equal(listed.json.sessions.terminal, 1);
    const second = await new Promise((resolve) => {
      const w2 = new WebSocket(`${stack.ws}/api/workers/term/terminal`, { headers: stack.auth });
      w2.on('error', () => {});
      w2.on('unexpected-response', (req, res) => resolve(res.statusCode));
      w2.on('open', () => { w2.close(); resolve(101); });
    });
    assert.equal(second, 503);
    ws.close();
    await waitFor(async () => (await read('/api/workers/term')).json.sessions.terminal === 0,
      { what: 'the session to be counted out' });
  });

  test('bad input: the module\'s JSON errors, and nothing changes', async () => {
    const before = (await read('/api/workers')).body;
    const cases = [
      ['not json', '{"upstream":', 400, 'invalid_body', /not JSON/],
      ['not an object', '[1]', 400, 'invalid_body', /JSON object/],
      ['no upstream', {}, 400, 'invalid_body', /"upstream" is required/],
      ['unknown member', { upstream: fakeA.addr, colour: 'red' }, 400, 'invalid_body', /unknown member "colour"/],
      ['host name', { upstream: 'localhost:80' }, 400, 'invalid_body', /not an IP address/],
      ['no port', { upstream: '127.0.0.1' }, 400, 'invalid_body', /no port/],
      ['bad port', { upstream: '127.0.0.1:70000' }, 400, 'invalid_body', /upstream/],
      ['a path', { upstream: '127.0.0.1:80/x' }, 400, 'invalid_body', /upstream/],
      ['upstream not a string', { upstream: 80 }, 400, 'invalid_body', /must be a string/],
      ['bad container', { upstream: fakeA.addr, container: '-x' }, 400, 'invalid_body', /container/],
      ['max_sessions too big', { upstream: fakeA.addr, max_sessions: 1000001 }, 400, 'invalid_body', /max_sessions/],
      ['max_sessions negative', { upstream: fakeA.addr, max_sessions: -1 }, 400, 'invalid_body', /max_sessions/],
      ['max_sessions a string', { upstream: fakeA.addr, max_sessions: '3' }, 400, 'invalid_body', /max_sessions/],
      ['bad path', { upstream: fakeA.addr, terminal_path: 'terminal' }, 400, 'invalid_body', /terminal_path/],
      ['another name', { name: 'other', upstream: fakeA.addr }, 400, 'invalid_body', /the URL says "bad"/],
      ['no body', '', 400, 'invalid_body', /no body/],
      ['too large', { upstream: fakeA.addr, container: 'x'.repeat(5000) }, 413, 'body_too_large', /4096/],
    ];
    for (const [what, body, status, code, msg] of cases) {
      const r = await put('bad', body);
      assert.equal(r.status, status, `${what}: ${r.body}`);
      assert.equal(r.json.error.code, code, what);
      assert.match(r.json.error.message, msg, what);
    }
    // at the limit: 4096 bytes is fine
    const pad = 4096 - JSON.stringify({ upstream: fakeA.addr, container: '' }).length;
    const edge = await put('edge', { upstream: fakeA.addr, container: 'c'.repeat(pad) });
    assert.equal(edge.status, 400, 'a 4096-byte body is read; its container is too long');
    assert.match(edge.json.error.message, /container/);
    const name = await put('Bad_Name', { upstream: fakeA.addr });
    assert.equal(name.status, 400);
    assert.equal(name.json.error.code, 'invalid_worker_name');
    assert.equal((await read('/api/workers')).body, before);
  });

  test('admin scope and sub "*" are required', async () => {
    const body = { upstream: fakeA.addr };
    const none = await get(`${stack.http}/api/workers/x1`, { method: 'PUT', body: JSON.stringify(body) });
    assert.equal(none.status, 401);
    assert.equal(none.json.error.code, 'unauthorized');
    for (const claims of [{ sub: '*', scope: 'read terminal control ingest' }, { sub: 'x1', scope: 'admin' }]) {
      const r = await put('x1', body, stack.mint(claims));
      assert.equal(r.status, 403, JSON.stringify(claims));
      assert.equal(r.json.error.code, 'forbidden');
      assert.match(r.json.error.message, /scope "admin" and sub "\*"/);
    }
    const d = await del('api-1', stack.mint({ sub: '*', scope: 'read' }));
    assert.equal(d.status, 403);
    assert.equal((await read('/api/workers/api-1')).status, 200);
  });

  test('a wharf_worker\'s name is the configuration\'s: PUT and DELETE answer 409', async () => {
    const p = await put('demo', { upstream: fakeA.addr });
    assert.equal(p.status, 409);
    assert.equal(p.json.error.code, 'worker_is_static');
    assert.match(p.json.error.message, /demo\.conf:\d+/);
    const d = await del('demo');
    assert.equal(d.status, 409);
    assert.equal(d.json.error.code, 'worker_is_static');
    const r = await read('/api/workers/demo');
    assert.equal(r.json.source, 'static');
  });

  test('DELETE removes it everywhere at once; again is 404', async () => {
    const before = pids();
    const r = await del('api-1');
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json.removed, 'api-1');
    assert.deepEqual(r.json.wharfd, { status: 'ok', http_status: 200, error: null });
    const statuses = await fresh(`${stack.http}/api/workers/api-1/hello`, 40, stack.auth);
    assert.deepEqual([...new Set(statuses)], [404]);
    assert.ok(!(await read('/api/workers')).json.some((w) => w.name === 'api-1'));
    assert.equal((await read('/api/terminals?worker=api-1')).status, 404);
    assert.doesNotMatch((await read('/metrics')).body, /worker="api-1"/);
    assert.ok(!(await read('/health/terminal')).json.workers.some((w) => w.worker === 'api-1'));
    const again = await del('api-1');
    assert.equal(again.status, 404);
    assert.equal(again.json.error.code, 'worker_not_found');
    assert.deepEqual(pids(), before);
  });

  test('the nginx master and worker pids are the same after all of it; no alert in the error log', () => {
    assert.deepEqual(pids(), startPids);
    const bad = stack.nginx.errorLog().split('\n').filter((l) => /\[(alert|crit|emerg)\]/.test(l));
    assert.deepEqual(bad, []);
  });
});
