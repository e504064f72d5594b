// Hostile connections (issue 7): slowloris clients (headers trickled a
// byte at a time) against nginx and against the agent's own listener, and
// 10,000 concurrent half-open connections (TCP connected, nothing sent)
// against nginx (against the agent: hostile_agent_conns.test.mjs). The
// server must drop the slow ones after its timeout, and answer a normal
// request while the attack goes on.
//
// nginx's client_header_timeout is 60 s by default; this stack sets 3 s so
// that the test sees the drop quickly (the mechanism is the same). The
// agent has no setting of its own: libwebsockets drops a connection that
// has not completed its headers within its handshake timeout (measured:
// 10 s from the connection, however fast the bytes trickle).
//
// 10,000 connections: the node test process holds one descriptor each, the
// server as many; the container's limit is 20,000 per process, so 10,000
// fits, one target at a time.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { childPids, startStack, waitFor } from '../lib/stack.mjs';

const HALF_OPEN = 10000;
const SLOW_CLIENTS = 100;
const NGINX_HEADER_TIMEOUT_S = 3;

// A slowloris client: sends a request's headers one byte every `every` ms
// and never finishes them. Resolves { ms, sent, answer } when the server
// closes the connection.
function slowloris(port, { every = 300, giveUp = 40000 } = {}) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const req = `GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ${'a'.repeat(100000)}`;
    let sent = 0;
    let answer = '';
    const s = net.connect(port, '127.0.0.1');
    const tick = setInterval(() => { if (!s.destroyed) s.write(req[sent++]); }, every);
    const stop = setTimeout(() => s.destroy(), giveUp);
    s.on('data', (d) => { answer += d; });
    s.on('error', () => {});
    s.on('close', () => {
      clearInterval(tick);
      clearTimeout(stop);
      resolve({ ms: Date.now() - t0, sent, answer });
    });
  });
}

// n TCP connections that send nothing; resolves with the sockets once all
// are connected (or failed: counted in .failed).
async function halfOpen(port, n) {
  const socks = [];
  let failed = 0;
  const batch = 500;
  for (let i = 0; i < n; i += batch) {
    await Promise.all(Array.from({ length: Math.min(batch, n - i) }, () => new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      // before the connect: on a loaded machine node may run the connect
      // callback late, and a late timestamp would make a drop look early
      s.startedAt = Date.now();
      s.on('connect', () => { s.connectedAt = Date.now(); resolve(); });
      s.on('error', (e) => { s.why = e.code; if (!s.connectedAt) failed++; resolve(); });
      s.on('close', () => { s.closedAt = Date.now(); });
      socks.push(s);
    })));
  }
  socks.failed = failed;
  return socks;
}

const rssKiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);

async function timed(url, opts = {}) {
  const t0 = Date.now();
  const r = await fetch(url, { ...opts, signal: AbortSignal.timeout(20000) });
  const body = await r.json();
  return { status: r.status, body, ms: Date.now() - t0 };
}

describe('hostile connections', () => {
  let stack, agent;
  before(async () => {
    stack = await startStack({
      tag: 'hostile-conns',
      workers: [{ name: 'demo' }],
      extraHttp: `client_header_timeout ${NGINX_HEADER_TIMEOUT_S}s;`,
    });
    agent = stack.agents.demo;
  });
  after(async () => stack && stack.stop());

  const goodViaNginx = () => timed(`${stack.http}/api/workers/demo/health`, { headers: stack.auth });
  const goodDirect = () => timed(`http://${agent.addr}/health`);

  test(`slowloris: ${SLOW_CLIENTS} trickling clients each against nginx and the agent are dropped; others are served meanwhile`, async () => {
    const t0 = Date.now();
    const atNginx = Array.from({ length: SLOW_CLIENTS }, () => slowloris(stack.port));
    const atAgent = Array.from({ length: SLOW_CLIENTS }, () => slowloris(agent.port));
    // served while the slow clients trickle
    const during = [];
    const poll = async (untilMs) => {
      while (Date.now() - t0 < untilMs) {
        during.push((await goodViaNginx()).status, (await goodDirect()).status);
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    await poll(2000);
    const nginxDone = await Promise.all(atNginx);
    const agentDone = await Promise.all(atAgent);
    assert.ok(during.length >= 4 && during.every((s) => s === 200), `during: ${during}`);
    for (const r of nginxDone) {
      assert.ok(r.ms >= NGINX_HEADER_TIMEOUT_S * 1000 - 200 && r.ms < NGINX_HEADER_TIMEOUT_S * 1000 + 5000,
        `nginx dropped a slow client after ${r.ms} ms (${r.sent} bytes)`);
      assert.equal(r.answer, '', 'nginx closes without an answer (408 is only logged)');
    }
    for (const r of agentDone) {
      assert.ok(r.ms >= 5000 && r.ms < 30000, `the agent dropped a slow client after ${r.ms} ms (${r.sent} bytes)`);
    }
    const ms = agentDone.map((r) => r.ms).sort((a, b) => a - b);
    console.log(`# slowloris: nginx dropped after ${Math.min(...nginxDone.map((r) => r.ms))}..${Math.max(...nginxDone.map((r) => r.ms))} ms, `
      + `the agent after ${ms[0]}..${ms.at(-1)} ms`);
    assert.equal((await goodViaNginx()).status, 200);
    assert.equal((await goodDirect()).status, 200);
  });

  test(`${HALF_OPEN} half-open connections to nginx: a normal request is served meanwhile, none is dropped before the header timeout`, async () => {
    const workers = childPids(stack.nginx.pid);
    const before = workers.map(rssKiB);
    const socks = await halfOpen(stack.port, HALF_OPEN);
    try {
      assert.equal(socks.failed, 0);
      const r = await goodViaNginx();
      assert.equal(r.status, 200);
      assert.equal(r.body.worker, 'demo');
      const w = await timed(`${stack.http}/api/monitoring/health`);
      assert.equal(w.status, 200);
      // none is dropped before its header timeout (the first ones may be
      // gone already when connecting 10,000 takes longer than that)
      const early = socks.filter((s) => s.closedAt && s.closedAt - s.startedAt < NGINX_HEADER_TIMEOUT_S * 1000 - 200);
      assert.equal(early.length, 0, `nginx dropped ${early.length} before its header timeout, after `
        + `${early.slice(0, 5).map((s) => `${s.closedAt - s.startedAt} ms (${s.why || 'closed'})`)}`);
      const open = socks.filter((s) => !s.destroyed).length;
      const grown = workers.map(rssKiB).reduce((a, b) => a + b) - before.reduce((a, b) => a + b);
      console.log(`# nginx: ${HALF_OPEN} half-open connected (${open} still open), a request through to the agent took ${r.ms} ms, `
        + `nginx workers grew ${grown} KiB (${(grown * 1024 / HALF_OPEN).toFixed(0)} B per connection)`);
      // after its header timeout nginx lets them all go
      await waitFor(() => socks.every((s) => s.destroyed || s.readableEnded),
        { timeout: NGINX_HEADER_TIMEOUT_S * 1000 + 15000, what: 'nginx to drop the half-open connections' });
    } finally {
      for (const s of socks) s.destroy();
    }
    const bad = stack.nginx.errorLog().split('\n').filter((l) => /\[(alert|crit|emerg)\]/.test(l));
    assert.deepEqual(bad, [], 'no "worker_connections are not enough"');
    assert.equal((await goodViaNginx()).status, 200);
  });
});

