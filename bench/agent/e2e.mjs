#!/usr/bin/env node
// bench/agent, end to end: a process printing as fast as it can for
// SECONDS under a real agent that ships through real nginx (module) to a
// real wharfd on SQLite. Reported: lines stored per second (stored lines
// over the time from the agent's start until its queue is empty), lines
// dropped by the
// agent (its buffer was full: wharfd slower than the app), the agent's CPU
// per captured line and peak RSS.
//
//   make all && node bench/agent/e2e.mjs [SECONDS=10]

import fs from 'node:fs';
import { startAgent, startStack, waitFor } from '../../tests/lib/stack.mjs';

const SECONDS = Number(process.argv[2] || 10);
const stack = await startStack({ tag: 'bench-agent', workers: [] });
try {
  const line = '{"level":30,"time":1764236400000,"msg":"request served ok"}';
  const agent = await startAgent({
    name: 'bench', keys: stack.keys, logDir: stack.logDir, args: ['--log-level', 'error'],
    orchestrator: stack.http, token: stack.mint({ sub: 'bench', scope: 'ingest' }),
    app: ['timeout', String(SECONDS), 'yes', line],
  });
  const rpc = async (method, params) => {
    const r = await fetch(`${stack.http}/rpc`, {
      method: 'POST', headers: { ...stack.auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: `ContainerMonitoringOps.${method}`, params }),
    });
    return (await r.json()).result;
  };
  const t0 = Date.now();
  const health = async () => (await fetch(`http://${agent.addr}/health`)).json();
  let h;
  await waitFor(async () => {
    h = await health();
    return h.processes.running === 0 && h.shipping.queued === 0;
  }, { timeout: (SECONDS + 120) * 1000, interval: 500, what: 'the agent to ship everything' });
  const wall = (Date.now() - t0) / 1000;
  const stats = await rpc('getLogStats', { worker: 'bench', instanceId: 'app' });
  const s = fs.readFileSync(`/proc/${agent.pid}/stat`, 'utf8').slice(0, 4096);
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  const cpu = (Number(f[11]) + Number(f[12])) / 100;
  const rss = Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${agent.pid}/status`, 'utf8'))[1]);
  const captured = h.shipping.shipped + h.shipping.dropped;
  console.log(JSON.stringify({
    stored: stats.total, dropped: h.shipping.dropped, captured,
    wall, storedPerSec: Math.round(stats.total / wall),
    cpuUsPerLine: +(cpu * 1e6 / captured).toFixed(2), peakRssKiB: rss, requests: h.shipping.requests,
  }));
  await agent.stop();
} finally {
  await stack.stop();
}
