#!/usr/bin/env node
// bench/agent, end to end: a process printing as fast as it can for
// SECONDS under a real agent that ships through real nginx (module) to a
// real wharfd on SQLite. Reported: lines stored per second (stored lines
// over the time from the agent's start until its queue is empty; while the
// app runs it takes a core of the two), the drain rate (lines shipped from
// the app's end, queue full, until the queue is empty), lines
// dropped by the agent (its buffer was full: wharfd slower than the app),
// the agent's CPU per captured line and peak RSS.
//
// In the same stack right after, wharfd's own ingest rate: 4 node clients,
// each its own worker token and keep-alive connection, storeLogs batches of
// 500 of the same line through nginx (what bench/ingest calls "logs"), so
// that "as fast as wharfd ingests" is compared within one run. A fresh
// stack (empty database) per repetition and configuration; INFLIGHT is a
// comma-separated list of --ship-inflight values, run interleaved.
//
//   make all && INFLIGHT=1,4 node bench/agent/e2e.mjs [SECONDS=10] [REPS=1]

import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { startAgent, startStack, waitFor } from '../../tests/lib/stack.mjs';
import { postRpc } from '../lib.mjs';

const SECONDS = Number(process.argv[2] || 10);
const REPS = Number(process.argv[3] || 1);
const INFLIGHT = (process.env.INFLIGHT || '4').split(',').map(Number);
const LINE = '{"level":30,"time":1764236400000,"msg":"request served ok"}';
const CLIENTS = 4;
const PER_CLIENT = 50000;
const BATCH = 500;

function cpuSeconds(pid) {
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}


// wharfd's ingest rate through nginx, 4 clients, in this stack.
async function direct(stack) {
  const url = new URL(`${stack.http}/rpc`);
  const bodies = [];
  for (let c = 0; c < CLIENTS; c++) {
    const list = [];
    for (let from = 1; from <= PER_CLIENT; from += BATCH) {
      const logs = Array.from({ length: BATCH }, (_, i) => ({ sequence: from + i, timestamp: '2026-11-27T09:00:00.000Z', level: 'info', message: LINE, stream: 'stdout', processId: 'app-1' }));
      list.push(JSON.stringify([{ jsonrpc: '2.0', id: 1, method: 'ContainerMonitoringOps.storeLogs', params: { instanceId: 'app', logs } }]));
    }
    bodies.push(list);
  }
  const tokens = Array.from({ length: CLIENTS }, (_, c) => stack.mint({ sub: `direct-${c}`, scope: 'ingest' }));
  const agents = Array.from({ length: CLIENTS }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }));
  const t0 = process.hrtime.bigint();
  await Promise.all(bodies.map(async (list, c) => {
    for (const b of list) {
      const r = await postRpc(agents[c], url, tokens[c], b);
      if (!Array.isArray(r) || r[0].error) throw new Error(JSON.stringify(r));
    }
  }));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  agents.forEach((a) => a.destroy());
  return Math.round(CLIENTS * PER_CLIENT / secs);
}

async function once(inflight) {
  const stack = await startStack({ tag: 'bench-agent', workers: [], wharfdArgs: ['--threads', '8', '--retention-interval', '0'] });
  try {
    const agent = await startAgent({
      name: 'bench', keys: stack.keys, logDir: stack.logDir, args: ['--log-level', 'error', '--ship-inflight', String(inflight)],
      orchestrator: stack.http, token: stack.mint({ sub: 'bench', scope: 'ingest' }),
      // one run: `timeout` exits 124, a crash that would be restarted
      config: { processes: [{ instanceId: 'app', command: 'timeout', args: [String(SECONDS), 'yes', LINE], autoRestart: false }] },
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
    let h, appEnd;
    await waitFor(async () => {
      h = await health();
      // the drain: from the app's end (the queue full, nothing else
      // competing for the two cores) until the queue is empty
      if (h.processes.running === 0 && !appEnd) appEnd = { t: Date.now(), shipped: h.shipping.shipped, queued: h.shipping.queued };
      return h.processes.running === 0 && h.shipping.queued === 0 && h.shipping.shipped + h.shipping.dropped > 0;
    }, { timeout: (SECONDS + 120) * 1000, interval: 100, what: 'the agent to ship everything' });
    const wall = (Date.now() - t0) / 1000;
    const drainSecs = (Date.now() - appEnd.t) / 1000;
    const drainPerSec = appEnd.queued > 5000 ? Math.round((h.shipping.shipped - appEnd.shipped) / drainSecs) : null;
    // every shipped line is stored once its answer came: wait for the last
    await waitFor(async () => (await rpc('getLogStats', { worker: 'bench', instanceId: 'app' })).total
      === h.shipping.shipped, { timeout: 30000, interval: 250, what: 'the last batches' });
    const stats = await rpc('getLogStats', { worker: 'bench', instanceId: 'app' });
    const cpu = cpuSeconds(agent.pid);
    const rss = Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${agent.pid}/status`, 'utf8'))[1]);
    const captured = h.shipping.shipped + h.shipping.dropped;
    await agent.stop();
    const directPerSec = await direct(stack);
    const storedPerSec = Math.round(stats.total / wall);
    return {
      inflight, stored: stats.total, dropped: h.shipping.dropped, captured, wall,
      storedPerSec, drainPerSec, directPerSec, ratio: +(storedPerSec / directPerSec).toFixed(2),
      drainRatio: drainPerSec ? +(drainPerSec / directPerSec).toFixed(2) : null,
      cpuUsPerLine: +(cpu * 1e6 / captured).toFixed(3), peakRssKiB: rss, requests: h.shipping.requests,
      inflightPeak: h.shipping.inflight_peak, load1: +os.loadavg()[0].toFixed(2),
    };
  } finally {
    await stack.stop();
  }
}

const runs = [];
for (let rep = 0; rep < REPS; rep++) {
  for (const k of INFLIGHT) {
    const r = await once(k);
    runs.push(r);
    process.stderr.write(`rep ${rep + 1}/${REPS} inflight ${k}: ${JSON.stringify(r)}\n`);
  }
}
const med = (v) => { const s = [...v].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
console.log(JSON.stringify({
  runs,
  median: INFLIGHT.map((k) => {
    const rs = runs.filter((r) => r.inflight === k);
    return Object.fromEntries(Object.keys(rs[0]).map((key) => [key, med(rs.map((r) => r[key]))]));
  }),
}, null, 1));
