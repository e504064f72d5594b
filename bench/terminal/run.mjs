#!/usr/bin/env node
// bench/terminal (issue 5): terminals through nginx + the wharf module to
// wharf-agent, against the ceiling of reading the same PTY with no server.
//
//   make all && node bench/terminal/run.mjs [REPS=3]
//
// - throughput: `head -c 100000000 /dev/zero | base64 | cat` in a terminal,
//   bytes received by a WebSocket client through nginx until the close
//   frame; ceiling: the same command on a PTY read straight from its master
//   by python3's pty module (no server). Interleaved repetitions, medians.
// - keystroke echo: 2000 single keys to `cat` on a raw terminal (cat
//   writes each key back), round trip per key through nginx: p50, p99.
// - time to first prompt: WebSocket open to the first prompt of bash.
// - 200 concurrent sessions (each running stty + cat): the agent's RSS growth per
//   session (VmRSS before and with all open).

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { startStack } from '../../tests/lib/stack.mjs';

// the npm ws package lives with the tests
const WebSocket = createRequire(new URL('../../tests/package.json', import.meta.url))('ws');
const REPS = Number(process.argv[2] || 3);
const CMD = 'head -c 100000000 /dev/zero | base64 | cat';

const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const pct = (v, p) => [...v].sort((a, b) => a - b)[Math.min(v.length - 1, Math.floor(v.length * p))];
const rssKiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);

function open(url) {
  const ws = new WebSocket(url);
  ws.binaryType = 'nodebuffer';
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (q, r) => reject(new Error(`HTTP ${r.statusCode}`)));
  });
}

async function throughput(url) {
  const t0 = process.hrtime.bigint();
  const ws = await open(url);
  let bytes = 0;
  ws.on('message', (d) => { bytes += d.length; });
  await new Promise((r) => ws.once('close', r));
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return { bytes, s, mbps: bytes / s / 1e6 };
}

function ceiling() {
  const py = `
import os, pty, time, sys
t = time.perf_counter()
pid, fd = pty.fork()
if pid == 0:
    os.execv('/bin/sh', ['sh', '-c', sys.argv[1]])
n = 0
while True:
    try:
        b = os.read(fd, 65536)
    except OSError:
        break
    if not b:
        break
    n += len(b)
os.waitpid(pid, 0)
print(n, time.perf_counter() - t)`;
  const r = spawnSync('python3', ['-c', py, CMD], { encoding: 'utf8' });
  const [bytes, s] = r.stdout.trim().split(' ').map(Number);
  return { bytes, s, mbps: bytes / s / 1e6 };
}

const stack = await startStack({
  tag: 'bench-terminal',
  workers: [
    { name: 'tput', terminalCmd: `sh -c '${CMD}'` },
    // raw mode, no tty echo: cat itself sends each key back, one byte
    { name: 'echo', terminalCmd: "sh -c 'stty raw -echo; exec cat'" },
    { name: 'shell', terminalCmd: 'bash --norc --noprofile' },
  ],
});
const url = (w) => `${stack.ws}/api/workers/${w}/terminal?access_token=${stack.token}`;
try {
  const tp = [], ceil = [];
  for (let i = 0; i < REPS; i++) {
    tp.push(await throughput(url('tput')));
    ceil.push(ceiling());
  }

  // keystrokes
  const ws = await open(url('echo'));
  await new Promise((r) => setTimeout(r, 300));     // stty has run
  let got = 0;
  let wake = null;
  ws.on('message', (d) => { got += d.length; if (wake) wake(); });
  const rtts = [];
  for (let i = 0; i < 2000; i++) {
    const want = got + 1;
    const t = process.hrtime.bigint();
    const done = new Promise((r) => { wake = () => { if (got >= want) r(); }; });
    ws.send(Buffer.from('a'));
    await done;
    rtts.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  ws.close();

  // first prompt
  const prompts = [];
  for (let i = 0; i < 10; i++) {
    const t = process.hrtime.bigint();
    const s = await open(url('shell'));
    let out = '';
    await new Promise((r) => s.on('message', (d) => { out += d.toString(); if (/[$#] $/.test(out)) r(); }));
    prompts.push(Number(process.hrtime.bigint() - t) / 1e6);
    s.close();
  }

  // 200 sessions
  const agentPid = stack.agents.echo.pid;
  await new Promise((r) => setTimeout(r, 500));
  const before = rssKiB(agentPid);
  const many = await Promise.all(Array.from({ length: 200 }, () => open(url('echo'))));
  for (const s of many) s.send(Buffer.from('x'));
  await new Promise((r) => setTimeout(r, 1000));
  const during = rssKiB(agentPid);
  for (const s of many) s.close();

  const out = {
    throughputMBps: +median(tp.map((x) => x.mbps)).toFixed(1),
    ceilingMBps: +median(ceil.map((x) => x.mbps)).toFixed(1),
    ratio: +(median(tp.map((x) => x.mbps)) / median(ceil.map((x) => x.mbps))).toFixed(3),
    throughputRuns: tp.map((x) => +x.mbps.toFixed(1)),
    ceilingRuns: ceil.map((x) => +x.mbps.toFixed(1)),
    bytes: tp[0].bytes,
    keyP50ms: +pct(rtts, 0.5).toFixed(3),
    keyP99ms: +pct(rtts, 0.99).toFixed(3),
    firstPromptMsMedian: +median(prompts).toFixed(1),
    agentRssBeforeKiB: before,
    agentRssWith200KiB: during,
    rssPerSessionKiB: +((during - before) / 200).toFixed(1),
  };
  console.log(JSON.stringify(out, null, 1));
} finally {
  await stack.stop();
}
