// Shared by bench/ingest and bench/query: CPU time from /proc, medians,
// the machine line.
import fs from 'node:fs';
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
