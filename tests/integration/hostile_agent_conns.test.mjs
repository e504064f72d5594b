// Hostile connections (issue 7), the agent's part of the half-open case
// (kept apart from hostile_conns.test.mjs so that each file stays well
// under a minute on a loaded machine): 10,000 concurrent half-open
// connections (TCP connected, nothing sent) to the agent's own listener:
// /health and the gateway's requests are answered meanwhile. (That the
// agent drops a connection whose headers never complete, slowloris, is in
// hostile_conns.test.mjs.)
//
// How many: 10,000 fit the container's descriptor limit (20,000 per
// process), but libwebsockets 4.1.6 inserts each new connection's timeout
// into a sorted list (lws_dll2_add_sorted, 25-50 % of the agent's CPU in
// perf during such a flood), so accepting n connections costs O(n^2):
// 2,000 took 80 ms of the agent's CPU, 6,000 took 2.3 s. 10,000 takes 40-50 s
// of wall time on this loaded 2-core machine, too long for make test; the
// default is 5,000 and WHARF_HOSTILE_AGENT_HALF_OPEN=10000 runs the full
// case (docs/SECURITY.md, "Hostile input"). In production the agent's only
// client is the gateway, whose nginx holds the 10,000 (hostile_conns).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startStack, waitFor } from '../lib/stack.mjs';

const HALF_OPEN = Number(process.env.WHARF_HOSTILE_AGENT_HALF_OPEN || 5000);

// n TCP connections that send nothing; resolves with the sockets once all
// are connected (or failed: counted in .failed).
async function halfOpen(port, n) {
  const socks = [];
  let failed = 0;
  const batch = 500;
  for (let i = 0; i < n; i += batch) {
    await Promise.all(Array.from({ length: Math.min(batch, n - i) }, () => new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
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

async function timed(url, opts = {}, ms = 20000) {
  const t0 = Date.now();
  const r = await fetch(url, { ...opts, signal: AbortSignal.timeout(ms) });
  const body = await r.json();
  return { status: r.status, body, ms: Date.now() - t0 };
}

describe('hostile connections: the agent', () => {
  let stack, agent;
  before(async () => {
    stack = await startStack({ tag: 'hostile-agent-conns', workers: [{ name: 'demo' }] });
    agent = stack.agents.demo;
  });
  after(async () => stack && stack.stop());

  const goodViaNginx = () => timed(`${stack.http}/api/workers/demo/health`, { headers: stack.auth });
  const goodDirect = () => timed(`http://${agent.addr}/health`);

  test(`${HALF_OPEN} half-open connections to the agent: /health and the gateway's requests are served meanwhile`, async () => {
    for (let i = 0; i < 4; i++) assert.equal((await goodViaNginx()).status, 200); // keepalive warm-up
    const before = rssKiB(agent.pid);
    const socks = await halfOpen(agent.port, HALF_OPEN);
    try {
      assert.equal(socks.failed, 0);
      // A new connection straight to the agent waits for the agent to
      // accept the thousands queued before it (single-threaded; when its
      // accept queue is full the kernel drops the SYN and the client
      // retries after 1, 3, 7, 15 s): seconds on a loaded machine. The
      // gateway's requests mostly go over nginx's kept-alive upstream
      // connections (warmed up before the flood), so they are not held up
      // unless one needs a new connection (both printed below).
      const d = await timed(`http://${agent.addr}/health`, {}, 45000);
      assert.equal(d.status, 200);
      const r = await timed(`${stack.http}/api/workers/demo/health`, { headers: stack.auth }, 45000);
      assert.equal(r.status, 200);
      const grown = rssKiB(agent.pid) - before;
      console.log(`# agent: ${HALF_OPEN} half-open held, /health took ${d.ms} ms, through nginx ${r.ms} ms, `
        + `RSS grew ${grown} KiB (${(grown * 1024 / HALF_OPEN).toFixed(0)} B per connection)`);
    } finally {
      for (const s of socks) s.destroy();
    }
    await waitFor(async () => (await goodDirect()).status === 200, { what: 'the agent serving' });
    assert.equal(agent.exit, null);
  });
});
