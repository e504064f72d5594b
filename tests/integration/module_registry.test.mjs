// The registry (/api/workers), the unified terminal view (/api/terminals)
// and /metrics, with background probing (wharf_health_interval) done once
// per interval for all nginx worker processes together.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { childPids, freeStaticPort, get, startStack, waitFor } from '../lib/stack.mjs';

const INTERVAL_MS = 400;

function parseMetrics(text) {
  const m = {};
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    m[line.slice(0, i)] = Number(line.slice(i + 1));
  }
  return m;
}

describe('registry, terminals, metrics', () => {
  let stack, deadPort;

  before(async () => {
    deadPort = await freeStaticPort();
    stack = await startStack({
      tag: 'module-registry',
      workers: [
        { name: 'live', container: 'live-box', terminalCmd: 'cat', params: ['max_sessions=7'] },
        { name: 'dead', addr: `127.0.0.1:${deadPort}` },
      ],
      healthInterval: `${INTERVAL_MS}ms`,
      extraHttp: 'wharf_health_timeout 300ms;',
    });
  });

  after(async () => stack && stack.stop());

  const json = async (p) => {
    const r = await get(`${stack.http}${p}`, { headers: stack.auth });
    return r;
  };

  test('GET /api/workers: every worker, its upstream, sessions, requests, health', async () => {
    const r = await json('/api/workers');
    assert.equal(r.status, 200, r.body);
    assert.match(r.headers.get('content-type'), /^application\/json/);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.ok(Array.isArray(r.json));
    const live = r.json.find((w) => w.name === 'live');
    assert.deepEqual(Object.keys(live), ['name', 'container', 'source', 'upstream', 'paths', 'max_sessions', 'health',
      'sessions', 'sessions_here', 'requests', 'rejected_sessions']);
    assert.equal(live.container, 'live-box');
    assert.equal(live.source, 'static');
    assert.deepEqual(live.upstream, { name: 'wharf_worker_live', servers: [stack.agents.live.addr] });
    assert.deepEqual(live.paths, { terminal: '/api/workers/live/terminal', websocket: '/api/workers/live/websocket' });
    assert.equal(live.max_sessions, 7);
    assert.deepEqual(Object.keys(live.health), ['terminal', 'websocket']);
    assert.deepEqual(live.sessions, { terminal: 0, websocket: 0, http: 0 });
    assert.deepEqual(Object.keys(live.requests), ['1xx', '2xx', '3xx', '4xx', '5xx', 'other']);
    assert.equal(r.json.find((w) => w.name === 'dead').max_sessions, null);
  });

  test('GET /api/workers/NAME: one worker; unknown 404, malformed 400, JSON', async () => {
    const r = await json('/api/workers/live');
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json.name, 'live');
    assert.equal(r.json.upstream.name, 'wharf_worker_live');
    const u = await json('/api/workers/nosuch');
    assert.equal(u.status, 404);
    assert.equal(u.json.error.code, 'worker_not_found');
    const m = await json('/api/workers/No_Such');
    assert.equal(m.status, 400);
    assert.equal(m.json.error.code, 'invalid_worker_name');
    // with a slash it is the worker's own root, passed to its agent
    const root = await json('/api/workers/live/');
    assert.notEqual(root.json?.name, 'live');
  });

  test('background probing fills in health, once per interval for all processes', async (t) => {
    assert.ok(childPids(stack.nginx.pid).length >= 2);
    await waitFor(async () => (await json('/api/workers/live')).json.health.terminal.status === 'healthy',
      { timeout: 5000, what: 'a background probe of live' });
    // Rounds counted over a window of our own: probing began when nginx
    // started, a while before startStack() returned under load.
    const t0 = Date.now();
    const rounds0 = parseMetrics((await json('/metrics')).body).wharf_health_rounds_total;
    await new Promise((r) => setTimeout(r, 6 * INTERVAL_MS));
    const m = parseMetrics((await json('/metrics')).body);
    const elapsed = Date.now() - t0;
    const rounds = m.wharf_health_rounds_total;
    const inWindow = rounds - rounds0;
    t.diagnostic(`${inWindow} rounds in ${elapsed} ms at ${INTERVAL_MS} ms (${rounds} since the start), `
      + `${m['wharf_probes_total{worker="live",check="terminal"}']} probes of live/terminal`);
    // two processes each probing on their own would make twice as many
    assert.ok(inWindow <= elapsed / INTERVAL_MS + 2, `${inWindow} rounds in ${elapsed} ms`);
    assert.ok(inWindow >= (elapsed / INTERVAL_MS) * 0.5, `${inWindow} rounds in ${elapsed} ms`);
    for (const w of ['live', 'dead']) {
      for (const c of ['terminal', 'websocket']) {
        const n = m[`wharf_probes_total{worker="${w}",check="${c}"}`];
        assert.ok(n >= rounds - 1 && n <= rounds, `${w}/${c}: ${n} probes for ${rounds} rounds`);
      }
    }
    assert.equal(m['wharf_health{worker="live",check="terminal"}'], 1);
    assert.equal(m['wharf_health{worker="dead",check="terminal"}'], 0);
    assert.ok(m['wharf_health_latency_seconds{worker="live",check="terminal"}'] < 0.3);
    const checkedAt = m['wharf_health_checked_timestamp_seconds{worker="live",check="terminal"}'];
    assert.ok(Math.abs(checkedAt - Date.now() / 1000) < 3, `checked at ${checkedAt}`);
  });

  test('GET /api/terminals: the unified view, filtered by worker and status', async () => {
    const all = await json('/api/terminals');
    assert.equal(all.status, 200, all.body);
    const live = all.json.find((t) => t.worker === 'live');
    assert.deepEqual(Object.keys(live), ['worker', 'container', 'path', 'protocols', 'health', 'sessions', 'sessions_here', 'max_sessions']);
    assert.equal(live.path, '/api/workers/live/terminal');
    assert.equal(live.health.status, 'healthy');
    assert.equal(live.sessions, 0);
    assert.equal(all.json.find((t) => t.worker === 'dead').health.status, 'unhealthy');
    assert.match(all.json.find((t) => t.worker === 'dead').health.error, /Connection refused/);

    assert.deepEqual((await json('/api/terminals?status=healthy')).json.map((t) => t.worker), ['live']);
    assert.deepEqual((await json('/api/terminals?status=unhealthy')).json.map((t) => t.worker), ['dead']);
    assert.deepEqual((await json('/api/terminals?worker=dead')).json.map((t) => t.worker), ['dead']);
    assert.deepEqual((await json('/api/terminals?worker=dead&status=healthy')).json, []);

    const badStatus = await json('/api/terminals?status=sick');
    assert.equal(badStatus.status, 400);
    assert.equal(badStatus.json.error.code, 'bad_request');
    const badName = await json('/api/terminals?worker=-x');
    assert.equal(badName.status, 400);
    assert.equal(badName.json.error.code, 'invalid_worker_name');
    const unknown = await json('/api/terminals?worker=nosuch');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json.error.code, 'worker_not_found');
  });

  test('/metrics is Prometheus text, every sample line well formed', async () => {
    const r = await json('/metrics');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
    const lines = r.body.trimEnd().split('\n');
    for (const l of lines) {
      assert.match(l, /^(# (HELP|TYPE) wharf_\w+ .+|wharf_\w+(\{(\w+="[^"]*",?)+\})? -?\d+(\.\d+)?)$/, l);
    }
    const m = parseMetrics(r.body);
    assert.equal(m.wharf_workers, 2);
    for (const kind of ['terminal', 'websocket', 'http']) assert.equal(m[`wharf_sessions{worker="live",kind="${kind}"}`], 0);
  });

  test('only GET and HEAD (and PUT, DELETE of one worker: registry_live)', async () => {
    for (const p of ['/api/workers', '/api/terminals', '/metrics', '/api/workers/live']) {
      const one = p === '/api/workers/live';
      const r = await get(`${stack.http}${p}`, { method: one ? 'POST' : 'DELETE', headers: stack.auth });
      assert.equal(r.status, 405, p);
      assert.equal(r.json.error.code, 'method_not_allowed');
      assert.equal(r.headers.get('allow'), one ? 'GET, HEAD, PUT, DELETE' : 'GET, HEAD', p);
      const h = await get(`${stack.http}${p}`, { method: 'HEAD', headers: stack.auth });
      assert.equal(h.status, 200, p);
      assert.equal(h.body, '');
    }
  });

  test('the error log has no alert, crit or emerg', () => {
    const bad = stack.nginx.errorLog().split('\n').filter((l) => /\[(alert|crit|emerg)\]/.test(l));
    assert.deepEqual(bad, []);
  });
});
