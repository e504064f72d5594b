#!/usr/bin/env node
// bench/agent: how fast wharf-agent captures and batches a chatty app's
// output (issue 5). A process prints as fast as it can for SECONDS; the
// agent ships to a sink that answers every JSON-RPC call with success and
// stores nothing. Reported per repetition: lines printed and captured,
// lines/s captured and shipped, the agent's CPU per line (utime+stime from
// /proc), its peak RSS (VmHWM) and the requests it made.
//
//   node bench/agent/run.mjs [SECONDS=10] [REPS=3]     (B=build by default)
//
// Configurations, run interleaved in every repetition (medians per
// configuration): INFLIGHT (comma-separated --ship-inflight values,
// default "4"; 0 passes no flag) times BUFFERS (comma-separated --buffer-bytes values,
// default: the agent's default). Each repetition also measures the idle
// agent's RSS (VmRSS 1 s after start, shipping enabled, app `sleep`).
//   INFLIGHT=1,4 BUFFERS=16777216,4194304,1048576 node bench/agent/run.mjs 10 3

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

const INFLIGHT = (process.env.INFLIGHT || '4').split(',').map(Number);
const BUFFERS = process.env.BUFFERS ? process.env.BUFFERS.split(',').map(Number) : [0];

function vmRss(pid) {
  return Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
}

// The idle agent: shipping on (heartbeats), one sleeping app, no client.
async function idle(sink) {
  const agent = spawn(AGENT, ['--worker', 'bench', '--listen', '127.0.0.1:0', '--insecure-no-auth',
    '--orchestrator', `http://127.0.0.1:${sink.port}`, '--log-level', 'error',
    '--', 'sleep', '30'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve) => agent.stdout.on('data', (d) => { if (/listening on/.test(d)) resolve(); }));
  await new Promise((r) => setTimeout(r, 1000));
  const rss = vmRss(agent.pid);
  agent.kill('SIGTERM');
  await new Promise((r) => agent.on('exit', r));
  return rss;
}

async function once(sink, inflight, buffer) {
  // 60-byte pino-ish lines, as fast as `yes` writes them, for SECONDS
  const line = '{"level":30,"time":1764236400000,"msg":"request served ok"}';
  // 0: no flag (the agent's default; also an older agent without it)
  const extra = inflight ? ['--ship-inflight', String(inflight)] : [];
  if (buffer) extra.push('--buffer-bytes', String(buffer));
  // one run: `timeout` exits 124, which without autoRestart false would
  // be a crash restarted 3 times (4 x SECONDS of output)
  const config = path.join(os.tmpdir(), `wharf-bench-agent-${process.pid}.json`);
  fs.writeFileSync(config, JSON.stringify({ processes: [{ instanceId: 'app', command: 'timeout',
    args: [String(SECONDS), 'yes', line], autoRestart: false }] }));
  const agent = spawn(AGENT, ['--worker', 'bench', '--listen', '127.0.0.1:0', '--insecure-no-auth',
    '--orchestrator', `http://127.0.0.1:${sink.port}`, '--log-level', 'error', ...extra,
    '--config', config], { stdio: ['ignore', 'pipe', 'inherit'] });
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
  fs.rmSync(config, { force: true });
  const captured = h.shipping.shipped + h.shipping.queued + h.shipping.dropped;
  return {
    captured, shipped: h.shipping.shipped, dropped: h.shipping.dropped, requests: h.shipping.requests,
    capturedPerSec: Math.round(captured / SECONDS),
    // shipped while the app printed and the queue drained
    shippedPerSec: Math.round(h.shipping.shipped / wall), wall,
    inflightPeak: h.shipping.inflight_peak,
    cpuUsPerLine: +(cpu * 1e6 / captured).toFixed(3), peakRssKiB: rss,
  };
}

const sink = await startSink();
const configs = INFLIGHT.flatMap((k) => BUFFERS.map((b) => ({ inflight: k, buffer: b })));
const runs = configs.map(() => []);
const idleRss = [];
for (let i = 0; i < REPS; i++) {
  idleRss.push(await idle(sink));
  for (let c = 0; c < configs.length; c++) runs[c].push(await once(sink, configs[c].inflight, configs[c].buffer));
}
sink.srv.close();
const med = (v) => { const s = [...v].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
console.log(JSON.stringify({
  idleRssKiB: { runs: idleRss, median: med(idleRss) },
  configs: configs.map((cfg, c) => ({
    ...cfg,
    runs: runs[c],
    median: Object.fromEntries(Object.keys(runs[c][0]).map((k) => [k, med(runs[c].map((r) => r[k]))])),
  })),
}, null, 1));
