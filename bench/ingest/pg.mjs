// bench/ingest/pg.mjs: ingestion on PostgreSQL against PostgreSQL's own
// limit on the same schema, with one and with two wharfd, next to wharfd
// on SQLite; in one run, the cells interleaved, reported as ratios.
//
//   node bench/ingest/pg.mjs [REPS] [LINES_PER_CLIENT]
//   WHARF_BENCH_CLIENTS=8 node bench/ingest/pg.mjs ...   8 clients, not 4
//
// The server is tests/lib/pg.mjs's (Debian's postgresql, initdb in a temp
// folder, fsync off as for the tests: a database's limit on this machine's
// CPU, not its disk; wharfd on SQLite does not sync each commit either).
// Per repetition, each cell on a fresh database:
//   ceiling-insert  bench/ingest/pg_ceiling, one connection, INSERT ...
//                   unnest() of 500 rows, 4 to a transaction (the shape
//                   and group of wharfd's writes), on a database wharfd
//                   migrated (same partitions, same indexes)
//   ceiling-copy    the same with COPY of 500 rows
//   pg-1            wharfd on PostgreSQL, 4 node clients through nginx,
//                   storeLogs of 500 (as bench/ingest/run.mjs)
//   pg-2            the same with two wharfd on the one database, nginx
//                   sharing the FastCGI requests between them
//   sqlite          wharfd on SQLite, the same clients
// The ceiling is the better of the two C cells.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { sharedPgServer } from '../../tests/lib/pg.mjs';
import { BUILD, addWharfdUpstream, startStack, startWharfd, tempDir } from '../../tests/lib/stack.mjs';
import { cpuSeconds, machineLine, median, treeCpu, postRpc } from '../lib.mjs';

const REPS = Number(process.argv[2] || 3);
const PER_CLIENT = Number(process.argv[3] || 100000);
const BATCH = 500;
const GROUP = 4;
// WHARF_BENCH_CLIENTS: concurrent clients (each its own worker) in the
// wharfd cells; 4 by default.
const CLIENTS = Number(process.env.WHARF_BENCH_CLIENTS || 4);
const MSG = 'GET /api/items?page=2 200 in 12 ms from 10.0.0.7 user-agent curl/8'; // 66 bytes
const ROWS = CLIENTS * PER_CLIENT;
const WHARFD_ARGS = ['--threads', '8', '--retention-interval', '0'];


// The request bodies, built once: client c sends worker bench-c's lines.
const BODIES = Array.from({ length: CLIENTS }, () => {
  const list = [];
  for (let from = 1; from <= PER_CLIENT; from += BATCH) {
    const logs = Array.from({ length: Math.min(BATCH, PER_CLIENT - from + 1) }, (_, i) => ({
      sequence: from + i, timestamp: '2026-11-27T09:00:00.000Z', level: 'info', message: MSG, stream: 'stdout' }));
    list.push(JSON.stringify({ jsonrpc: '2.0', id: from, method: 'ContainerMonitoringOps.storeLogs', params: { instanceId: 'bench', logs } }));
  }
  return list;
});

// The CPU of the PostgreSQL server (postmaster and backends) so far; 0
// on SQLite.
function pgCpu(stack) {
  return stack.store.engine === 'postgresql' ? treeCpu(stack.store.server.pid) : 0;
}

// 4 clients through the stack's nginx; rows/s and the CPU of each part.
async function clients(stack, wharfds) {
  const url = new URL(`${stack.http}/rpc`);
  const agents = Array.from({ length: CLIENTS }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }));
  const tokens = Array.from({ length: CLIENTS }, (_, c) => stack.mint({ sub: `bench-${c}`, scope: 'ingest' }));
  const cpu0 = wharfds.map((w) => cpuSeconds(w.pid));
  const ngx0 = treeCpu(stack.nginx.pid);
  const pg0 = pgCpu(stack);
  const client0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await Promise.all(BODIES.map(async (list, c) => {
    for (const b of list) {
      const r = await postRpc(agents[c], url, tokens[c], b);
      if (r.error || r.result.stored !== JSON.parse(b).params.logs.length) throw new Error(JSON.stringify(r));
    }
  }));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  for (const a of agents) a.destroy();
  const each = wharfds.map((w, i) => cpuSeconds(w.pid) - cpu0[i]);
  const cu = process.cpuUsage(client0);
  return { rowsPerSec: ROWS / secs, secs, wharfdCpu: each.reduce((a, b) => a + b, 0), wharfdCpuEach: each,
    nginxCpu: treeCpu(stack.nginx.pid) - ngx0, clientCpu: (cu.user + cu.system) / 1e6,
    pgCpu: pgCpu(stack) - pg0, load1: os.loadavg()[0] };
}

async function wharfdCell(engine, two) {
  const stack = await startStack({ tag: `bench-pg-${engine}`, engine, workers: [], wharfdArgs: WHARFD_ARGS });
  try {
    const wharfds = [stack.wharfd];
    if (two) {
      // A second wharfd on the same database; nginx's upstream gets both.
      const w2 = await startWharfd({ dir: stack.dir, logDir: stack.logDir, keys: stack.keys,
        gateway: stack.wharfdOpts.gateway, db: stack.store.url, args: WHARFD_ARGS });
      stack.procs.push(w2);
      wharfds.push(w2);
      await addWharfdUpstream(stack, w2);
    }
    // Each wharfd's group commits so far, by its wharfd="..." label: with
    // two, nginx gives the request to either, so ask until both answered.
    const commits = async () => {
      const seen = new Map();
      for (let i = 0; i < 16 && seen.size < wharfds.length; i++) {
        const text = await (await fetch(`${stack.http}/api/monitoring/metrics`, { headers: stack.auth })).text();
        const v = (name) => {
          const m = new RegExp(`^${name}\\{[^}]*wharfd="([^"]*)"[^}]*\\} (\\S+)$`, 'm').exec(text);
          return m ? [m[1], Number(m[2])] : [null, NaN];
        };
        const [who, sum] = v('wharfd_commit_duration_seconds_sum');
        seen.set(who, { sum, count: v('wharfd_commit_duration_seconds_count')[1] });
      }
      if (seen.size < wharfds.length) throw new Error(`metrics of ${seen.size} wharfd, ${wharfds.length} run`);
      return seen;
    };
    const c0 = await commits();
    const r = await clients(stack, wharfds);
    // The writers' busy share: the time each spent in group commits over
    // the run's (near 1: the database bounds the rate; well below: the
    // writer waits for requests), averaged over the wharfds; and the
    // storeLogs calls per group commit, over them all.
    const c1 = await commits();
    let busy = 0;
    let groups = 0;
    for (const [who, a] of c1) {
      busy += (a.sum - c0.get(who).sum) / r.secs / c1.size;
      groups += a.count - c0.get(who).count;
    }
    r.writerBusy = busy;
    r.batchesPerCommit = (ROWS / BATCH) / groups;
    // with two, each must have done a share of the work (its CPU says so)
    if (two && Math.max(...r.wharfdCpuEach) > 0.5 && Math.min(...r.wharfdCpuEach) < 0.2 * Math.max(...r.wharfdCpuEach)) {
      throw new Error(`one wharfd did next to nothing: CPU ${r.wharfdCpuEach.join(', ')} s`);
    }
    const n = await stack.rows('SELECT count(*) AS n FROM container_logs');
    if (Number(n[0].n) !== ROWS) throw new Error(`${Number(n[0].n)} rows stored, ${ROWS} sent`);
    return r;
  } finally {
    await stack.stop();
  }
}

// A fresh database that a short-lived wharfd has migrated (partitions
// made): the ceiling's.
async function migratedDb() {
  const server = await sharedPgServer();
  const { url } = await server.createDatabase('bench_ceiling');
  const dir = tempDir('bench-pg-ceiling');
  const w = await startWharfd({ dir, logDir: dir, db: url, args: ['--auth', 'off', ...WHARFD_ARGS] });
  await w.stop();
  fs.rmSync(dir, { recursive: true, force: true });
  return { server, url };
}

async function ceilingCell(mode) {
  const { server, url } = await migratedDb();
  const pg0 = treeCpu(server.pid);
  const p = spawn(path.join(BUILD, 'bench/pg_ceiling'), [url, String(ROWS), String(BATCH), String(GROUP), String(MSG.length), mode, 'raw-0'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout.on('data', (d) => { out += d; });
  p.stderr.on('data', (d) => { err += d; });
  const code = await new Promise((resolve) => p.on('exit', resolve));
  if (code !== 0) throw new Error(`pg_ceiling ${mode}: ${err}`);
  return { ...JSON.parse(out), pgCpu: treeCpu(server.pid) - pg0, load1: os.loadavg()[0] };
}

// WHARF_BENCH_CELLS=ceiling-insert,pg-1,pg-2 runs only those (the
// ratios of cells not run come out null)
const ALL_CELLS = ['ceiling-insert', 'pg-1', 'ceiling-copy', 'pg-2', 'sqlite'];
const cells = process.env.WHARF_BENCH_CELLS ? ALL_CELLS.filter((c) => process.env.WHARF_BENCH_CELLS.split(',').includes(c)) : ALL_CELLS;
const results = Object.fromEntries(cells.map((c) => [c, []]));
const loads = [];
const started = new Date().toISOString();
for (let rep = 0; rep < REPS; rep++) {
  // each repetition starts at another cell, so drift in the machine's
  // load falls on every cell alike
  for (let k = 0; k < cells.length; k++) {
    const cell = cells[(k + rep) % cells.length];
    if (process.env.WHARF_BENCH_VERBOSE) process.stderr.write(`${cell}...\n`);
    let r;
    if (cell === 'ceiling-insert') r = await ceilingCell('insert');
    else if (cell === 'ceiling-copy') r = await ceilingCell('copy');
    else if (cell === 'pg-1') r = await wharfdCell('postgresql', false);
    else if (cell === 'pg-2') r = await wharfdCell('postgresql', true);
    else r = await wharfdCell('sqlite', false);
    results[cell].push(r);
    loads.push(os.loadavg()[0]);
  }
  process.stderr.write(`rep ${rep + 1}/${REPS}: ${cells.map((c) => `${c} ${results[c].at(-1).rowsPerSec.toFixed(0)}/s`).join(', ')}; load ${os.loadavg()[0].toFixed(2)}\n`);
}
for (const c of ALL_CELLS) if (!results[c]) results[c] = [];
const med = Object.fromEntries(ALL_CELLS.map((c) => [c, results[c].length ? median(results[c].map((x) => x.rowsPerSec)) : null]));
const spread = Object.fromEntries(ALL_CELLS.map((c) => [c, results[c].map((x) => Math.round(x.rowsPerSec))]));
const ceiling = Math.max(...[med['ceiling-insert'], med['ceiling-copy']].filter((x) => x !== null));
const ratio = (a, b) => (a === null || b === null ? null : Number((a / b).toFixed(3)));
console.log(JSON.stringify({
  machine: machineLine(), started, finished: new Date().toISOString(), reps: REPS, rowsPerCell: ROWS, batch: BATCH, group: GROUP,
  loadDuring: { min: Math.min(...loads), max: Math.max(...loads) },
  medianRowsPerSec: med, spread,
  ratios: {
    pg1VsCeiling: ratio(med['pg-1'], ceiling),
    pg2VsCeiling: ratio(med['pg-2'], ceiling),
    pg2VsPg1: ratio(med['pg-2'], med['pg-1']),
    pg1VsSqlite: ratio(med['pg-1'], med.sqlite),
  },
  wharfdCpuS: Object.fromEntries(['pg-1', 'pg-2', 'sqlite'].map((c) => [c, median(results[c].map((x) => x.wharfdCpu))])),
  // the database server's CPU per row (µs): what each path costs it,
  // however loaded the machine
  pgCpuUsPerRow: Object.fromEntries(['ceiling-insert', 'ceiling-copy', 'pg-1', 'pg-2'].map((c) => [c,
    Number((median(results[c].map((x) => x.pgCpu)) / ROWS * 1e6).toFixed(2))])),
  clientCpuS: Object.fromEntries(['pg-1', 'pg-2', 'sqlite'].map((c) => [c, median(results[c].map((x) => x.clientCpu))])),
  writerBusy: Object.fromEntries(['pg-1', 'pg-2', 'sqlite'].map((c) => [c, median(results[c].map((x) => x.writerBusy))])),
  batchesPerCommit: Object.fromEntries(['pg-1', 'pg-2', 'sqlite'].map((c) => [c, median(results[c].map((x) => x.batchesPerCommit))])),
  nginxCpuS: Object.fromEntries(['pg-1', 'pg-2', 'sqlite'].map((c) => [c, median(results[c].map((x) => x.nginxCpu))])),
}, null, 1));
process.exit(0);
