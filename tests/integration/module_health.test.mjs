// Health probes from inside nginx: a real WebSocket handshake to each
// worker, per worker and for all at once, against a real agent, an address
// where nothing listens, endpoints that answer wrongly, and ones that never
// answer.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeToken, freeStaticPort, get, startFakeEndpoint, startStack, waitFor } from '../lib/stack.mjs';

const TIMEOUT_MS = 1000;
// What "within the probe timeout plus a small margin" allows on a loaded
// 2-core machine: the scheduling of nginx, node and the agents.
const MARGIN_MS = 600;
// NGX_HTTP_WHARF_PROBE_BUF: the longest handshake response header a probe reads
const PROBE_HEADER_MAX = 4096;

describe('health probes', () => {
  let stack;
  const fakes = {};
  let deadPort;

  before(async () => {
    for (const kind of ['ws', 'http200', 'bad-accept', 'hang']) fakes[kind] = await startFakeEndpoint(kind);
    fakes.hang2 = await startFakeEndpoint('hang');
    fakes.custom = await startFakeEndpoint('ws');
    deadPort = await freeStaticPort();
    stack = await startStack({
      tag: 'module-health',
      workers: [
        { name: 'live', terminalCmd: 'cat' },
        { name: 'nopath', terminalCmd: 'cat', params: ['websocket_path=/no-such-route'] },
        { name: 'dead', addr: `127.0.0.1:${deadPort}` },
        { name: 'plain', addr: fakes.http200.addr },
        { name: 'wsfake', addr: fakes.ws.addr },
        { name: 'badkey', addr: fakes['bad-accept'].addr },
        { name: 'hang', addr: fakes.hang.addr },
        { name: 'hang2', addr: fakes.hang2.addr },
        { name: 'custom', addr: fakes.custom.addr, params: ['terminal_path=/custom/tty', 'websocket_path=/custom/feed'] },
      ],
      extraHttp: `wharf_health_timeout ${TIMEOUT_MS}ms;`,
    });
  });

  after(async () => {
    if (stack) await stack.stop();
    for (const f of Object.values(fakes)) await f.close();
  });

  const probe = async (worker, check) => {
    const t0 = Date.now();
    const r = await get(`${stack.http}/api/workers/${worker}/health/${check}`, { headers: stack.auth });
    r.ms = Date.now() - t0;
    return r;
  };

  const assertShape = (r, worker, check) => {
    assert.match(r.headers.get('content-type'), /^application\/json/);
    assert.equal(r.json.worker, worker);
    assert.equal(r.json.check, check);
    assert.equal(typeof r.json.latency_ms, 'number');
    assert.match(r.json.checked_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  };

  test('a live agent: terminal healthy, 200, no error', async () => {
    const r = await probe('live', 'terminal');
    assert.equal(r.status, 200, r.body);
    assertShape(r, 'live', 'terminal');
    assert.equal(r.json.status, 'healthy');
    assert.equal(r.json.error, null);
    assert.ok(r.json.latency_ms < TIMEOUT_MS, r.body);
  });

  test('a WebSocket endpoint at /websocket: websocket healthy', async () => {
    const r = await probe('wsfake', 'websocket');
    assert.equal(r.status, 200, r.body);
    assertShape(r, 'wsfake', 'websocket');
    assert.equal(r.json.status, 'healthy');
    const req = fakes.ws.requests.findLast((q) => q.url === '/websocket');
    assert.ok(req, 'the endpoint got GET /websocket');
    assert.equal(req.headers.upgrade, 'websocket');
    assert.equal(req.headers['sec-websocket-version'], '13');
  });

  test('a live agent: its live feed (/websocket) is healthy too', async () => {
    const r = await probe('live', 'websocket');
    assert.equal(r.status, 200, r.body);
    assertShape(r, 'live', 'websocket');
    assert.equal(r.json.status, 'healthy');
  });

  test('an agent path that does not exist: unhealthy, says 404', async () => {
    const r = await probe('nopath', 'websocket');
    assert.equal(r.status, 503, r.body);
    assert.equal(r.json.status, 'unhealthy');
    assert.match(r.json.error, /404.*not 101/);
    assert.equal((await probe('nopath', 'terminal')).status, 200);
  });

  test('nothing listening: unhealthy, connection refused', async () => {
    const r = await probe('dead', 'terminal');
    assert.equal(r.status, 503, r.body);
    assertShape(r, 'dead', 'terminal');
    assert.equal(r.json.status, 'unhealthy');
    assert.match(r.json.error, new RegExp(`connect\\(\\) to 127\\.0\\.0\\.1:${deadPort} failed .*Connection refused`));
  });

  test('HTTP 200 without upgrading: unhealthy, says what it answered', async () => {
    for (const check of ['terminal', 'websocket']) {
      const r = await probe('plain', check);
      assert.equal(r.status, 503, r.body);
      assert.equal(r.json.status, 'unhealthy');
      assert.match(r.json.error, /answered "HTTP\/1\.1 200 OK".*not 101 Switching Protocols/);
    }
  });

  test('101 with a wrong Sec-WebSocket-Accept: unhealthy', async () => {
    const r = await probe('badkey', 'terminal');
    assert.equal(r.status, 503, r.body);
    assert.match(r.json.error, /Sec-WebSocket-Accept "s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=" does not match/);
  });

  test('an endpoint that never answers: unhealthy at the timeout', async () => {
    const r = await probe('hang', 'terminal');
    assert.equal(r.status, 503, r.body);
    assert.match(r.json.error, new RegExp(`timed out after ${TIMEOUT_MS} ms while waiting for the handshake response`));
    assert.ok(r.ms >= TIMEOUT_MS - 50 && r.ms < TIMEOUT_MS + MARGIN_MS, `took ${r.ms} ms`);
  });

  test('the probe is a real handshake: fresh random key, module token, close frame 1000', async () => {
    const before = fakes.ws.requests.length;
    assert.equal((await probe('wsfake', 'terminal')).status, 200);
    assert.equal((await probe('wsfake', 'terminal')).status, 200);
    const reqs = fakes.ws.requests.slice(before).filter((q) => q.url === '/terminal');
    assert.equal(reqs.length, 2);
    const keys = reqs.map((q) => q.headers['sec-websocket-key']);
    assert.notEqual(keys[0], keys[1]);
    for (const k of keys) assert.equal(Buffer.from(k, 'base64').length, 16);
    // the agent gets the module's token, bound to it, never the client's
    const auth = reqs[0].headers.authorization;
    assert.ok(auth.startsWith('Bearer '));
    assert.notEqual(auth, stack.auth.Authorization);
    const { header, claims, valid } = decodeToken(auth.slice(7), stack.keys.publicKey);
    assert.equal(header.alg, 'ES256');
    assert.ok(valid, 'signed with the orchestrator key');
    assert.equal(claims.aud, 'wsfake');
    assert.equal(claims.sub, 'wsfake');
    await waitFor(() => fakes.ws.closes.filter((c) => c.url === '/terminal').length >= 2,
      { timeout: 3000, what: 'the probes to close their WebSockets' });
    assert.ok(fakes.ws.closes.filter((c) => c.url === '/terminal').every((c) => c.code === 1000),
      JSON.stringify(fakes.ws.closes));
  });

  test('terminal_path= and websocket_path= choose what is probed', async () => {
    assert.equal((await probe('custom', 'terminal')).status, 200);
    assert.equal((await probe('custom', 'websocket')).status, 200);
    const urls = fakes.custom.requests.map((q) => q.url);
    assert.ok(urls.includes('/custom/tty') && urls.includes('/custom/feed'), urls.join(' '));
    assert.ok(!urls.includes('/terminal'), urls.join(' '));
  });

  test('aggregate /health/terminal: every worker at once, done near the slowest probe', async (t) => {
    const t0 = Date.now();
    const r = await get(`${stack.http}/health/terminal`, { headers: stack.auth });
    const ms = Date.now() - t0;
    t.diagnostic(`9 workers, 2 of which never answer: ${ms} ms (probe timeout ${TIMEOUT_MS} ms)`);
    assert.equal(r.status, 503, r.body);
    assert.equal(r.json.check, 'terminal');
    assert.equal(r.json.status, 'unhealthy');
    // two endpoints that never answer: in turn that would be 2 timeouts
    assert.ok(ms >= TIMEOUT_MS - 50 && ms < TIMEOUT_MS + MARGIN_MS, `took ${ms} ms`);
    const by = Object.fromEntries(r.json.workers.map((w) => [w.worker, w]));
    assert.deepEqual(Object.keys(by).sort(), ['badkey', 'custom', 'dead', 'hang', 'hang2', 'live', 'nopath', 'plain', 'wsfake']);
    for (const w of r.json.workers) assert.equal(w.check, 'terminal');
    for (const n of ['live', 'nopath', 'wsfake', 'custom']) assert.equal(by[n].status, 'healthy', JSON.stringify(by[n]));
    for (const n of ['dead', 'plain', 'badkey', 'hang', 'hang2']) {
      assert.equal(by[n].status, 'unhealthy');
      assert.ok(by[n].error.length > 10, by[n].error);
    }
    assert.match(by.hang2.error, /timed out/);
    assert.equal(r.json.healthy, 4);
    assert.equal(r.json.unhealthy, 5);
  });

  test('aggregate /health/websocket', async () => {
    const r = await get(`${stack.http}/health/websocket`, { headers: stack.auth });
    assert.equal(r.status, 503, r.body);
    const by = Object.fromEntries(r.json.workers.map((w) => [w.worker, w]));
    assert.equal(by.wsfake.status, 'healthy');
    assert.equal(by.custom.status, 'healthy');
    assert.equal(by.live.status, 'healthy');
    assert.equal(by.nopath.status, 'unhealthy');
  });

  test('GET /health: both checks of every worker and wharfd itself', async () => {
    const t0 = Date.now();
    const r = await get(`${stack.http}/health`, { headers: stack.auth });
    const ms = Date.now() - t0;
    assert.equal(r.status, 503, r.body);
    assert.equal(r.json.check, 'all');
    assert.deepEqual(r.json.wharfd, { status: 'healthy', http_status: 200, error: null });
    assert.equal(r.json.workers.length, 18);
    assert.ok(ms < TIMEOUT_MS + MARGIN_MS, `took ${ms} ms`);
  });

  test('clients that leave while probes run leave nothing broken behind', async () => {
    const aborted = [];
    for (const p of ['/health/terminal', '/health', '/api/workers/hang/health/terminal']) {
      for (let i = 0; i < 5; i++) {
        const ac = new AbortController();
        aborted.push(fetch(`${stack.http}${p}`, { headers: stack.auth, signal: ac.signal }).catch(() => 'aborted'));
        setTimeout(() => ac.abort(), 50 + i * 20);
      }
    }
    assert.ok((await Promise.all(aborted)).every((x) => x === 'aborted'));
    await new Promise((r) => setTimeout(r, TIMEOUT_MS + 300));
    const r = await probe('live', 'terminal');
    assert.equal(r.status, 200, r.body);
    assert.ok(stack.nginx.exit === null, 'nginx is running');
  });

  test('a stopped wharfd makes /health unhealthy and says so', async () => {
    // last in this file: wharfd does not come back
    await stack.wharfd.stop();
    const r = await get(`${stack.http}/health`, { headers: stack.auth });
    assert.equal(r.status, 503);
    assert.equal(r.json.wharfd.status, 'unhealthy');
    assert.equal(r.json.wharfd.http_status, 502);
  });

  test('only GET and HEAD: 405 JSON with Allow', async () => {
    const r = await get(`${stack.http}/api/workers/live/health/terminal`, { method: 'POST', headers: stack.auth, body: 'x' });
    assert.equal(r.status, 405, r.body);
    assert.equal(r.json.error.code, 'method_not_allowed');
    assert.equal(r.headers.get('allow'), 'GET, HEAD');
    const h = await get(`${stack.http}/health/terminal`, { method: 'HEAD', headers: stack.auth });
    assert.equal(h.status, 503);
    assert.equal(h.body, '');
  });

  test('the error log has nothing worse than the health changes', () => {
    const bad = stack.nginx.errorLog().split('\n').filter((l) => /\[(alert|crit|emerg)\]/.test(l));
    assert.deepEqual(bad, []);
    assert.match(stack.nginx.errorLog(), /\[warn\].*wharf: worker "dead" terminal is unhealthy: connect\(\) to/);
  });
});

// The probe's answer buffer (docs/DIRECTIVES.md, Limits, "probe response
// header"), at its edge: a valid 101 that just fits, and one a byte over.
describe('the probe response header limit', () => {
  let stack;
  const fakes = {};

  before(async () => {
    fakes.fits = await startFakeEndpoint('sized-101', { headerBytes: PROBE_HEADER_MAX });
    fakes.over = await startFakeEndpoint('sized-101', { headerBytes: PROBE_HEADER_MAX + 1 });
    stack = await startStack({
      tag: 'module-health-limit',
      workers: [
        { name: 'fits', addr: fakes.fits.addr },
        { name: 'over', addr: fakes.over.addr },
      ],
      extraHttp: `wharf_health_timeout ${TIMEOUT_MS}ms;`,
    });
  });

  after(async () => {
    if (stack) await stack.stop();
    for (const f of Object.values(fakes)) await f.close();
  });

  test(`a 101 header of exactly ${PROBE_HEADER_MAX} bytes is healthy; one byte more is unhealthy at once and says why`, async () => {
    const fits = await get(`${stack.http}/api/workers/fits/health/terminal`, { headers: stack.auth });
    assert.equal(fits.status, 200, fits.body);
    assert.equal(fits.json.status, 'healthy');
    assert.equal(fakes.fits.requests.length, 1);

    const t0 = Date.now();
    const over = await get(`${stack.http}/api/workers/over/health/terminal`, { headers: stack.auth });
    const ms = Date.now() - t0;
    assert.equal(over.status, 503, over.body);
    assert.equal(over.json.status, 'unhealthy');
    assert.equal(over.json.error, `the answer is too large (over ${PROBE_HEADER_MAX} bytes)`);
    assert.ok(ms < TIMEOUT_MS, `failed when the buffer filled, not at the timeout (${ms} ms)`);
  });
});
