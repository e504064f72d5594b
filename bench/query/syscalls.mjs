// bench/query: wharfd's system calls per query, counted by strace. The
// load is run.mjs's ("latest 100 logs of one of 50 workers", 64 keep-alive
// client connections through nginx); after a warm-up, `strace -c -f -p`
// is attached to wharfd for SECONDS and its table is divided by the
// queries answered meanwhile. strace slows every call it sees: the rate
// under it means nothing, the count per query is the figure.
//
//   node bench/query/syscalls.mjs [SECONDS] [ROWS]     (needs strace)
import { spawn } from 'node:child_process';
import http from 'node:http';
import { startStack } from '../../tests/lib/stack.mjs';
import { populateLogs } from './populate.mjs';

const SECONDS = Number(process.argv[2] || 4);
const ROWS = Number(process.argv[3] || 200_000);
const WORKERS = 50;
const CONC = 64;

const stack = await startStack({ tag: 'bench-syscalls', workers: [], wharfdArgs: ['--threads', '8', '--retention-interval', '0'] });
try {
  await populateLogs(stack, ROWS, WORKERS);
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONC });
  let answered = 0;
  let bad = 0;
  let running = true;
  const one = (w) => new Promise((resolve, reject) => {
    http.get(`${stack.http}/api/monitoring/logs?worker=q${w}&limit=100`, { agent, headers: { authorization: `Bearer ${stack.token}` } }, (res) => {
      res.resume();
      res.on('end', () => {
        if (res.statusCode === 200) answered++; else bad++;
        resolve();
      });
    }).on('error', reject);
  });
  const clients = Promise.all(Array.from({ length: CONC }, async (_, i) => {
    let w = i % WORKERS;
    while (running) {
      await one(w);
      w = (w + 17) % WORKERS;
    }
  }));
  await new Promise((r) => setTimeout(r, 1000)); // warm-up: connections open and kept

  const strace = spawn('strace', ['-c', '-f', '-p', String(stack.wharfd.pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let table = '';
  strace.stderr.on('data', (c) => { table += c; });
  await new Promise((r) => setTimeout(r, 300)); // attached to every thread
  const n0 = answered;
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const queries = answered - n0;
  strace.kill('SIGINT');
  await new Promise((r) => strace.on('exit', r));
  running = false;
  await clients;
  agent.destroy();

  // strace -c: % time, seconds, usecs/call, calls, errors, syscall
  const rows = [];
  for (const line of table.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5 || !/^\d+$/.test(f[3]) || f.at(-1) === 'total') continue;
    const errors = f.length === 6 ? Number(f[4]) : 0;
    rows.push({ syscall: f.at(-1), calls: Number(f[3]), errors, perQuery: Number((Number(f[3]) / queries).toFixed(3)) });
  }
  rows.sort((a, b) => b.calls - a.calls);
  const total = rows.reduce((s, r) => s + r.calls, 0);
  console.log(JSON.stringify({ seconds: SECONDS, rows: ROWS, concurrency: CONC, queries, bad,
    perQuery: Number((total / queries).toFixed(2)), syscalls: rows }, null, 1));
} finally {
  await stack.stop();
}
