// Shared by the benchmarks: CPU time from /proc, medians, the machine
// line, a JSON-RPC call.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { childPids } from '../tests/lib/stack.mjs';

const HZ = 100; // USER_HZ on Linux

export function cpuSeconds(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / HZ; // utime + stime
  } catch {
    return 0;
  }
}

// A process and its children (nginx master + workers).
export function treeCpu(pid) {
  return [pid, ...childPids(pid)].reduce((s, p) => s + cpuSeconds(p), 0);
}

export const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export function machineLine() {
  const cpu = os.cpus()[0]?.model || 'unknown cpu';
  const load = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  return `${os.cpus().length} x ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ${os.type()} ${os.release()}, load ${load}`;
}

// Instructions (user space) a process executes between start() and the
// returned stop(): `perf stat -e instructions:u -p PID`, which counts
// the same work the same way however loaded the machine is. Resolves
// to null when perf is missing, not allowed, or the machine has no
// hardware counters (this KVM guest has none: there, use callgrind on
// build/bench/inproc, docs/BENCHMARKS.md).
export function perfInstructions(pid) {
  let p;
  try {
    p = spawn('perf', ['stat', '-x,', '-e', 'instructions:u', '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch {
    return async () => null;
  }
  let err = '';
  p.stderr.on('data', (c) => { err += c; });
  const done = new Promise((resolve) => { p.on('close', () => resolve()); p.on('error', () => resolve()); });
  return async () => {
    p.kill('SIGINT');
    await done;
    const line = err.split('\n').find((l) => l.includes('instructions'));
    const n = line ? Number(line.split(',')[0]) : NaN;
    return Number.isFinite(n) ? n : null;
  };
}

// One JSON-RPC POST to url's /rpc on a keep-alive agent, with a bearer
// token: resolves with the parsed answer.
export function postRpc(agent, url, token, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: '/rpc', method: 'POST', agent,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'content-length': Buffer.byteLength(body) } }, (res) => {
      let d = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { d += c; });
      res.on('end', () => resolve(JSON.parse(d)));
    });
    req.on('error', reject);
    req.end(body);
  });
}
