// bench/query: "latest 100 logs of one of 50 workers" at 1,000,000 rows,
// 64 concurrent keep-alive connections through nginx, against the ceiling
// of a trivial libfcgi responder behind the same nginx configuration,
// interleaved.
//
//   node bench/query/run.mjs [REPS] [SECONDS] [ROWS]
//   WHARF_BENCH_ENGINE=postgresql node bench/query/run.mjs ...
//     wharfd on PostgreSQL (tests/lib/pg.mjs's server) instead of SQLite
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { BUILD, freePort, renderNginxConf, startNginx, startStack, waitFor } from '../../tests/lib/stack.mjs';
import { cpuSeconds, machineLine, median, treeCpu } from '../lib.mjs';
import { populateLogs } from './populate.mjs';

const REPS = Number(process.argv[2] || 3);
const SECONDS = Number(process.argv[3] || 8);
const ROWS = Number(process.argv[4] || 1_000_000);
const WORKERS = 50;
const CONC = 64;
const ENGINE = process.env.WHARF_BENCH_ENGINE || 'sqlite';

const stack = await startStack({ tag: 'bench-query', workers: [], wharfdArgs: ['--threads', '8', '--retention-interval', '0'], engine: ENGINE });
let trivial;
let ngx2;
try {
  // Populate: ROWS logs over 50 workers (populate.mjs).
  const took = await populateLogs(stack, ROWS, WORKERS);
  process.stderr.write(`populated ${ROWS} rows in ${took.toFixed(1)} s\n`);

  // The ceiling: a trivial responder behind an nginx rendered the same way.
  const tport = await freePort();
  trivial = spawn(path.join(BUILD, 'bench/trivial'), [`127.0.0.1:${tport}`, '64'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve) => trivial.stdout.once('data', resolve));
  const prefix2 = path.join(stack.dir, 'nginx-trivial');
  fs.mkdirSync(prefix2, { mode: 0o755 });
  const port2 = await freePort();
  const conf2 = renderNginxConf({ prefix: prefix2, listen: `127.0.0.1:${port2}`, wharfd: `127.0.0.1:${tport}`,
    wharfdWs: `127.0.0.1:${await freePort()}`, workersDir: stack.workersDir, keys: stack.keys });
  ngx2 = await startNginx({ prefix: prefix2, conf: conf2, logDir: stack.logDir });
  await waitFor(async () => (await fetch(`http://127.0.0.1:${port2}/api/monitoring/logs`)).status === 200, { what: 'trivial through nginx' });

  const load = async (base, name) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: CONC });
    const lat = [];
    const cpu0 = name === 'wharfd' ? cpuSeconds(stack.wharfd.pid) : cpuSeconds(trivial.pid);
    const ngxPid = name === 'wharfd' ? stack.nginx.pid : ngx2.pid;
    const n0 = treeCpu(ngxPid);
    const c0 = process.cpuUsage();
    const end = Date.now() + SECONDS * 1000;
    let bad = 0;
    const one = (w) => new Promise((resolve, reject) => {
      const t = process.hrtime.bigint();
      http.get(`${base}/api/monitoring/logs?worker=q${w}&limit=100`, { agent, headers: { authorization: `Bearer ${stack.token}` } }, (res) => {
        let len = 0;
        res.on('data', (c) => { len += c.length; });
        res.on('end', () => {
          if (res.statusCode !== 200 || len < 50) bad++;
          lat.push(Number(process.hrtime.bigint() - t) / 1e6);
          resolve();
        });
      }).on('error', reject);
    });
    await Promise.all(Array.from({ length: CONC }, async (_, i) => {
      let w = i % WORKERS;
      while (Date.now() < end) {
        await one(w);
        w = (w + 17) % WORKERS;
      }
    }));
    agent.destroy();
    lat.sort((a, b) => a - b);
    const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
    return { rps: lat.length / SECONDS, p50: q(0.5), p99: q(0.99), bad, load1: os.loadavg()[0],
      serverCpu: (name === 'wharfd' ? cpuSeconds(stack.wharfd.pid) : cpuSeconds(trivial.pid)) - cpu0,
      nginxCpu: treeCpu(ngxPid) - n0, clientCpu: cpuUsed(c0) };
  };

  // The client's own CPU (this node process, user + system, seconds): a
  // client near SECONDS of CPU is the limit of the run, not the server.
  function cpuUsed(c0) {
    const d = process.cpuUsage(c0);
    return (d.user + d.system) / 1e6;
  }
  const cpus = (x) => `${x.serverCpu.toFixed(2)}/${x.nginxCpu.toFixed(2)}/${x.clientCpu.toFixed(2)} s`;
  const res = { wharfd: [], trivial: [] };
  for (let r = 0; r < REPS; r++) {
    res.wharfd.push(await load(stack.http, 'wharfd'));
    res.trivial.push(await load(`http://127.0.0.1:${port2}`, 'trivial'));
    process.stderr.write(`rep ${r + 1}/${REPS}: wharfd ${res.wharfd.at(-1).rps.toFixed(0)} req/s p99 ${res.wharfd.at(-1).p99.toFixed(2)} ms cpu server/nginx/client ${cpus(res.wharfd.at(-1))}; trivial ${res.trivial.at(-1).rps.toFixed(0)} req/s p99 ${res.trivial.at(-1).p99.toFixed(2)} ms cpu ${cpus(res.trivial.at(-1))}\n`);
  }
  const m = (a, k) => median(a.map((x) => x[k]));
  console.log(JSON.stringify({
    machine: machineLine(), engine: ENGINE, rows: ROWS, workers: WORKERS, concurrency: CONC, seconds: SECONDS, reps: REPS,
    wharfd: { rps: m(res.wharfd, 'rps'), p50: m(res.wharfd, 'p50'), p99: m(res.wharfd, 'p99'), cpu: m(res.wharfd, 'serverCpu'), nginxCpu: m(res.wharfd, 'nginxCpu'), clientCpu: m(res.wharfd, 'clientCpu'), bad: m(res.wharfd, 'bad') },
    trivial: { rps: m(res.trivial, 'rps'), p50: m(res.trivial, 'p50'), p99: m(res.trivial, 'p99'), cpu: m(res.trivial, 'serverCpu'), nginxCpu: m(res.trivial, 'nginxCpu'), clientCpu: m(res.trivial, 'clientCpu'), bad: m(res.trivial, 'bad') },
    all: res,
  }, null, 1));
} finally {
  if (ngx2) await ngx2.stop();
  if (trivial) trivial.kill('SIGKILL');
  await stack.stop();
}
