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
//
// LINES (comma-separated, default "yes,pino"): what the app prints. "yes": one
// 60-byte pino-ish line repeated (`yes`); "pino": realistic pino lines
// whose fields vary (bench/agent/pino_lines.c, built here with cc);
// "random": base64 of /dev/urandom in 100-character lines (incompressible).
// AGENTS (";"-separated "label=PATH [FLAGS...]", default "agent=$B/bin/
// wharf-agent"): agents compared in the same repetition, e.g. the previous
// commit built aside and this one with and without buffer compression:
//   AGENTS="before=OLD/build/bin/wharf-agent;after=build/bin/wharf-agent;\
//   off=build/bin/wharf-agent --buffer-compress off" LINES=yes,pino \
//   node bench/agent/run.mjs 10 3
// The agent runs with --log-level info; its exit line "ship: buffer: ..."
// (agents with buffer compression) gives the compression ratio and the
// time spent compressing and decompressing.

import { execFileSync, spawn } from 'node:child_process';
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
const LINES = (process.env.LINES || 'yes,pino').split(',');
const AGENTS = (process.env.AGENTS || `agent=${AGENT}`).split(';').map((a) => {
  const eq = a.indexOf('=');
  const [bin, ...flags] = a.slice(eq + 1).trim().split(/\s+/);
  return { label: a.slice(0, eq), bin: path.resolve(ROOT, bin), flags };
});

// the realistic printer, built once per run
let PINO_BIN = null;
function pinoBin() {
  if (!PINO_BIN) {
    PINO_BIN = path.join(os.tmpdir(), `wharf-bench-pino-${process.pid}`);
    execFileSync('cc', ['-O2', '-o', PINO_BIN, path.join(ROOT, 'bench/agent/pino_lines.c')]);
  }
  return PINO_BIN;
}
const BUFFERS = process.env.BUFFERS ? process.env.BUFFERS.split(',').map(Number) : [0];

function vmRss(pid) {
  return Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
}

// The idle agent: shipping on (heartbeats), one sleeping app, no client.
async function idle(sink, agentCfg) {
  const agent = spawn(agentCfg.bin, [...agentCfg.flags, '--worker', 'bench', '--listen', '127.0.0.1:0', '--insecure-no-auth',
    '--orchestrator', `http://127.0.0.1:${sink.port}`, '--log-level', 'error',
    '--', 'sleep', '30'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve) => agent.stdout.on('data', (d) => { if (/listening on/.test(d)) resolve(); }));
  await new Promise((r) => setTimeout(r, 1000));
  const rss = vmRss(agent.pid);
  agent.kill('SIGTERM');
  await new Promise((r) => agent.on('exit', r));
  return rss;
}

async function once(sink, inflight, buffer, lines, agentCfg) {
  // 60-byte pino-ish lines, as fast as `yes` writes them, for SECONDS
  const line = '{"level":30,"time":1764236400000,"msg":"request served ok"}';
  const app = lines === 'pino' ? { command: pinoBin(), args: [String(SECONDS)] }
    : lines === 'random' ? { command: 'timeout', args: [String(SECONDS), 'base64', '-w', '100', '/dev/urandom'] }
      : { command: 'timeout', args: [String(SECONDS), 'yes', line] };
  // 0: no flag (the agent's default; also an older agent without it)
  const extra = inflight ? ['--ship-inflight', String(inflight)] : [];
  if (buffer) extra.push('--buffer-bytes', String(buffer));
  // one run: `timeout` exits 124, which without autoRestart false would
  // be a crash restarted 3 times (4 x SECONDS of output)
  const config = path.join(os.tmpdir(), `wharf-bench-agent-${process.pid}.json`);
  fs.writeFileSync(config, JSON.stringify({ processes: [{ instanceId: 'app', ...app,
    autoRestart: false }] }));
  const agent = spawn(agentCfg.bin, ['--worker', 'bench', '--listen', '127.0.0.1:0', '--insecure-no-auth',
    '--orchestrator', `http://127.0.0.1:${sink.port}`, '--log-level', 'info', ...extra,
    ...agentCfg.flags, '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let errText = '';
  agent.stderr.on('data', (d) => { errText = (errText + d).slice(-8192); });
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
  // "ship: buffer: N chunks compressed, IN -> OUT bytes (ratio R), K kept
  // raw, D decompressed, W dropped whole, T ms; queue memory peak M bytes"
  const z = /ship: buffer: (\d+) chunks compressed, (\d+) -> (\d+) bytes \(ratio ([\d.]+)\), (\d+) kept raw, (\d+) decompressed, (\d+) dropped whole, ([\d.]+) ms; queue memory peak (\d+)/.exec(errText);
  const zStats = z ? {
    zChunks: Number(z[1]), zRatio: Number(z[4]), zKeptRaw: Number(z[5]), zDecompressed: Number(z[6]),
    zDroppedWhole: Number(z[7]), zMs: Number(z[8]),
    zUsPerLine: +(Number(z[8]) * 1e3 / captured).toFixed(4), queueMemPeakKiB: Math.round(Number(z[9]) / 1024),
  } : {};
  return {
    captured, shipped: h.shipping.shipped, dropped: h.shipping.dropped, requests: h.shipping.requests,
    capturedPerSec: Math.round(captured / SECONDS),
    // shipped while the app printed and the queue drained
    shippedPerSec: Math.round(h.shipping.shipped / wall), wall,
    inflightPeak: h.shipping.inflight_peak,
    cpuUsPerLine: +(cpu * 1e6 / captured).toFixed(3), peakRssKiB: rss, ...zStats,
  };
}

const sink = await startSink();
const configs = LINES.flatMap((lines) => AGENTS.flatMap((agent) => INFLIGHT.flatMap((k) =>
  BUFFERS.map((b) => ({ lines, agent, inflight: k, buffer: b })))));
const runs = configs.map(() => []);
const idleRss = Object.fromEntries(AGENTS.map((a) => [a.label, []]));
for (let i = 0; i < REPS; i++) {
  for (const a of AGENTS) idleRss[a.label].push(await idle(sink, a));
  for (let c = 0; c < configs.length; c++) {
    const cfg = configs[c];
    runs[c].push(await once(sink, cfg.inflight, cfg.buffer, cfg.lines, cfg.agent));
  }
}
sink.srv.close();
if (PINO_BIN) fs.rmSync(PINO_BIN, { force: true });
const med = (v) => { const s = [...v].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
console.log(JSON.stringify({
  idleRssKiB: Object.fromEntries(AGENTS.map((a) => [a.label,
    { runs: idleRss[a.label], median: med(idleRss[a.label]) }])),
  configs: configs.map((cfg, c) => ({
    ...cfg, agent: cfg.agent.label, agentFlags: cfg.agent.flags.join(' '),
    runs: runs[c],
    median: Object.fromEntries(Object.keys(runs[c][0]).map((k) => [k, med(runs[c].map((r) => r[k]))])),
  })),
}, null, 1));
