// bench/query: "latest 100 logs of one of 50 workers" at 1,000,000 rows,
// 64 concurrent keep-alive connections through nginx, against the ceiling
// of a trivial libfcgi responder behind the same nginx configuration,
// interleaved.
//
//   node bench/query/run.mjs [REPS] [SECONDS] [ROWS]
//   WHARF_BENCH_ENGINE=postgresql node bench/query/run.mjs ...
//     wharfd on PostgreSQL (tests/lib/pg.mjs's server) instead of SQLite
//   WHARF_BENCH_WHARFD_ARGS='--recent-rows 0' node bench/query/run.mjs ...
//     more wharfd options (this one: every read from the database)
//   WHARF_BENCH_CLIENT=wrk node bench/query/run.mjs ...
//     the load from Debian's wrk (C, one thread) instead of this node
//     process: the node client parses every 29 KB answer and is the limit
//     of its runs (its CPU is reported); wrk costs a fraction of that
//   WHARF_BENCH_LIVE=N node bench/query/run.mjs ...
//     while wharfd is read, N log lines a second are written to the workers
//     being read (10 per storeLogs call, round robin), from this process:
//     the reads' answers then change under them, as a dashboard's do
//
// Each wharfd repetition also reports how its reads were answered: from
// the recent rows in memory (wharfd_recent_hits_total) or from the
// database (misses, and reads they do not serve).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { BUILD, freePort, renderNginxConf, startNginx, startStack, waitFor } from '../../tests/lib/stack.mjs';
import { cpuSeconds, machineLine, median, postRpc, treeCpu } from '../lib.mjs';
import { populateLogs } from './populate.mjs';

const REPS = Number(process.argv[2] || 3);
const SECONDS = Number(process.argv[3] || 8);
const ROWS = Number(process.argv[4] || 1_000_000);
const WORKERS = 50;
const CONC = 64;
const ENGINE = process.env.WHARF_BENCH_ENGINE || 'sqlite';
const EXTRA = (process.env.WHARF_BENCH_WHARFD_ARGS || '').split(/\s+/).filter(Boolean);
const LIVE = Number(process.env.WHARF_BENCH_LIVE || 0);
const CLIENT = process.env.WHARF_BENCH_CLIENT || 'node';

const stack = await startStack({ tag: 'bench-query', workers: [], wharfdArgs: ['--threads', '8', '--retention-interval', '0', ...EXTRA], engine: ENGINE });
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

  // wharfd's counters of the recent rows (recent.h).
  const recentCounts = async () => {
    const text = await (await fetch(`${stack.http}/api/monitoring/metrics`, { headers: { authorization: `Bearer ${stack.token}` } })).text();
    const get = (n) => Number((new RegExp(`^${n}\\{[^}]*\\} (\\d+)$`, 'm').exec(text) || [])[1] || 0);
    return { hits: get('wharfd_recent_hits_total'), misses: get('wharfd_recent_misses_total') };
  };
  // WHARF_BENCH_LIVE: sequences go on from the populated ones.
  const nextSeq = Array.from({ length: WORKERS }, () => ROWS / WORKERS + 1);
  let written = 0;
  const liveAgent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  // Four writers, each on its own workers (so each worker's sequences
  // stay in order) at a quarter of the rate.
  const liveWriter = (end) => Promise.all([0, 1, 2, 3].map(async (lane) => {
    const t0 = Date.now();
    for (let k = 0; Date.now() < end; k++) {
      const due = t0 + (k * 10 * 1000 * 4) / LIVE;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      const w = (k * 4 + lane) % WORKERS;
      const logs = Array.from({ length: 10 }, (_, i) => ({ sequence: nextSeq[w] + i, level: 'info', message: `live ${nextSeq[w] + i} served in ${i} ms`, stream: 'stdout' }));
      nextSeq[w] += 10;
      const j = await postRpc(liveAgent, new URL(stack.http), stack.token,
        JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ContainerMonitoringOps.storeLogs', params: { worker: `q${w}`, instanceId: 'app', logs } }));
      if (j.error) throw new Error(JSON.stringify(j.error));
      written += 10;
    }
  }));

  const load = async (base, name) => {
    const r0 = name === 'wharfd' ? await recentCounts() : null;
    const w0 = written;
    const cpu0 = name === 'wharfd' ? cpuSeconds(stack.wharfd.pid) : cpuSeconds(trivial.pid);
    const ngxPid = name === 'wharfd' ? stack.nginx.pid : ngx2.pid;
    const n0 = treeCpu(ngxPid);
    const end = Date.now() + SECONDS * 1000;
    const live = name === 'wharfd' && LIVE > 0 ? liveWriter(end) : null;
    const c = CLIENT === 'wrk' ? await wrkClient(base) : await nodeClient(base, end);
    if (live) await live;
    const r1 = name === 'wharfd' ? await recentCounts() : null;
    return { rps: c.count / SECONDS, p50: c.p50, p99: c.p99, bad: c.bad, load1: os.loadavg()[0],
      serverCpu: (name === 'wharfd' ? cpuSeconds(stack.wharfd.pid) : cpuSeconds(trivial.pid)) - cpu0,
      nginxCpu: treeCpu(ngxPid) - n0, clientCpu: c.cpu,
      ...(r1 ? { recentHits: r1.hits - r0.hits, recentMisses: r1.misses - r0.misses, liveRows: written - w0 } : {}) };
  };

  // The node client: CONC keep-alive connections in this process, each
  // walking the workers (w + 17) % 50.
  const nodeClient = async (base, end) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: CONC });
    const lat = [];
    const c0 = process.cpuUsage();
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
    const cpu = cpuUsed(c0);
    agent.destroy();
    lat.sort((a, b) => a - b);
    const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
    return { count: lat.length, p50: q(0.5), p99: q(0.99), bad, cpu };
  };

  // WHARF_BENCH_CLIENT=wrk: Debian's wrk (C, epoll, one thread), CONC
  // connections, the workers in turn (a Lua request()); its own CPU
  // sampled from /proc until it exits.
  const wrkLua = path.join(stack.dir, 'query.lua');
  fs.writeFileSync(wrkLua, `local n = 0
request = function()
  local w = (n * 17) % ${WORKERS}
  n = n + 1
  return wrk.format("GET", "/api/monitoring/logs?worker=q" .. w .. "&limit=100")
end
`);
  const wrkClient = async (base) => {
    const p = spawn('wrk', ['-t1', `-c${CONC}`, `-d${SECONDS}s`, '--latency', '-s', wrkLua,
      '-H', `Authorization: Bearer ${stack.token}`, base], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    let cpu = 0;
    p.stdout.on('data', (c) => { out += c; });
    const tick = setInterval(() => { cpu = Math.max(cpu, cpuSeconds(p.pid) || 0); }, 50);
    const code = await new Promise((resolve) => p.on('exit', resolve));
    clearInterval(tick);
    if (code !== 0) throw new Error(`wrk exited ${code}: ${out}`);
    const ms = (re) => {
      const m = re.exec(out);
      if (!m) throw new Error(`wrk: no ${re} in ${out}`);
      return Number(m[1]) * { us: 1e-3, ms: 1, s: 1e3 }[m[2]];
    };
    const count = Number(/(\d+) requests in/.exec(out)[1]);
    const bad = Number((/Non-2xx or 3xx responses: (\d+)/.exec(out) || [0, 0])[1])
      + Number((/Socket errors: .*?timeout (\d+)/.exec(out) || [0, 0])[1]);
    return { count, p50: ms(/^\s+50%\s+([\d.]+)(us|ms|s)$/m), p99: ms(/^\s+99%\s+([\d.]+)(us|ms|s)$/m), bad, cpu };
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
    process.stderr.write(`rep ${r + 1}/${REPS}: wharfd ${res.wharfd.at(-1).rps.toFixed(0)} req/s p99 ${res.wharfd.at(-1).p99.toFixed(2)} ms cpu server/nginx/client ${cpus(res.wharfd.at(-1))} recent hits ${res.wharfd.at(-1).recentHits} misses ${res.wharfd.at(-1).recentMisses}${LIVE ? ` live rows ${res.wharfd.at(-1).liveRows}` : ''}; trivial ${res.trivial.at(-1).rps.toFixed(0)} req/s p99 ${res.trivial.at(-1).p99.toFixed(2)} ms cpu ${cpus(res.trivial.at(-1))}\n`);
  }
  const m = (a, k) => median(a.map((x) => x[k]));
  console.log(JSON.stringify({
    machine: machineLine(), engine: ENGINE, client: CLIENT, wharfdArgs: EXTRA, live: LIVE, rows: ROWS, workers: WORKERS, concurrency: CONC, seconds: SECONDS, reps: REPS,
    wharfd: { rps: m(res.wharfd, 'rps'), p50: m(res.wharfd, 'p50'), p99: m(res.wharfd, 'p99'), cpu: m(res.wharfd, 'serverCpu'), nginxCpu: m(res.wharfd, 'nginxCpu'), clientCpu: m(res.wharfd, 'clientCpu'), bad: m(res.wharfd, 'bad') },
    trivial: { rps: m(res.trivial, 'rps'), p50: m(res.trivial, 'p50'), p99: m(res.trivial, 'p99'), cpu: m(res.trivial, 'serverCpu'), nginxCpu: m(res.trivial, 'nginxCpu'), clientCpu: m(res.trivial, 'clientCpu'), bad: m(res.trivial, 'bad') },
    all: res,
  }, null, 1));
} finally {
  if (ngx2) await ngx2.stop();
  if (trivial) trivial.kill('SIGKILL');
  await stack.stop();
}
