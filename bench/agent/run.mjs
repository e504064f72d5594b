#!/usr/bin/env node
// bench/agent: how fast wharf-agent captures and batches a chatty app's
// output (issue 5). A process prints as fast as it can for SECONDS; the
// agent ships to a sink that answers every JSON-RPC call with success and
// stores nothing. Reported per repetition: lines printed and captured,
// lines/s captured and shipped, the agent's CPU per line (utime+stime from
// /proc), its peak RSS (VmHWM) and the requests it made.
//
//   node bench/agent/run.mjs [SECONDS=10] [REPS=3]     (B=build by default)

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const AGENT = path.join(ROOT, process.env.B || 'build', 'bin/wharf-agent');
const SECONDS = Number(process.argv[2] || 10);
const REPS = Number(process.argv[3] || 3);
const TICK = os.constants ? 100 : 100;      // USER_HZ on Linux

// The sink: one result per call, found without parsing the whole body.
function startSink() {
  let requests = 0, bytes = 0;
  const srv = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      requests++;
      bytes += body.length;
      const out = [];
      for (const m of body.matchAll(/"id":(\d+),"method":"ContainerMonitoringOps\.(\w+)"/g)) {
        const result = m[2] === 'getLastSequence' ? { lastSequence: 0 } : { ok: true };
        out.push(`{"jsonrpc":"2.0","id":${m[1]},"result":${JSON.stringify(result)}}`);
      }
      res.setHeader('Content-Type', 'application/json');
      res.end(`[${out.join(',')}]`);
    });
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({
    srv, port: srv.address().port, stats: () => ({ requests, bytes }),
  })));
}

function procStat(pid) {
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return { cpuTicks: Number(f[11]) + Number(f[12]) };
}

function hwm(pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]);
}

async function health(port) {
  return (await fetch(`http://127.0.0.1:${port}/health`)).json();
}

async function once(sink) {
  // 60-byte pino-ish lines, as fast as `yes` writes them, for SECONDS
  const line = '{"level":30,"time":1764236400000,"msg":"request served ok"}';
  const agent = spawn(AGENT, ['--worker', 'bench', '--listen', '127.0.0.1:0', '--insecure-no-auth',
    '--orchestrator', `http://127.0.0.1:${sink.port}`, '--log-level', 'error',
    '--', 'timeout', String(SECONDS), 'yes', line], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve) => {
    let buf = '';
    agent.stdout.on('data', (d) => {
      buf += d;
      const m = /listening on [^:]+:(\d+)/.exec(buf);
      if (m) resolve(Number(m[1]));
    });
  });
  const t0 = Date.now();
  let h;
  for (;;) {
    await new Promise((r) => setTimeout(r, 200));
    h = await health(port);
    if (h.processes.running === 0 && h.shipping.queued === 0 && Date.now() - t0 > 1000) break;
  }
  const wall = (Date.now() - t0) / 1000;
  const cpu = procStat(agent.pid).cpuTicks / TICK;
  const rss = hwm(agent.pid);
  agent.kill('SIGTERM');
  await new Promise((r) => agent.on('exit', r));
  const captured = h.shipping.shipped + h.shipping.queued + h.shipping.dropped;
  return {
    captured, shipped: h.shipping.shipped, dropped: h.shipping.dropped, requests: h.shipping.requests,
    capturedPerSec: Math.round(captured / SECONDS), wall,
    cpuUsPerLine: +(cpu * 1e6 / captured).toFixed(2), peakRssKiB: rss,
  };
}

const sink = await startSink();
const runs = [];
for (let i = 0; i < REPS; i++) runs.push(await once(sink));
sink.srv.close();
const median = (k) => { const v = runs.map((r) => r[k]).sort((a, b) => a - b); return v[Math.floor(v.length / 2)]; };
console.log(JSON.stringify({ runs, median: Object.fromEntries(Object.keys(runs[0]).map((k) => [k, median(k)])) }, null, 1));
