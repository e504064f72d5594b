// bench/ingest: log and error ingestion end to end through nginx, and the
// raw limit of the same schema, measured in the same run, interleaved.
//
//   node bench/ingest/run.mjs [REPS] [LINES_PER_CLIENT]
//
// Per repetition: (1) raw: bench/ingest/raw (a C loop of prepared inserts,
// transactions of 10,000, same pragmas and row size) into a fresh file in
// the same folder; (2) logs: 4 clients, each its own worker and keep-alive
// connection, storeLogs batches of 500 through nginx; (3) errors: the same
// with storeErrors, 500 per batch, 100 distinct fingerprints per worker
// (everything after the first 100 is a repeat). Medians are reported.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { ROOT, BUILD, startStack } from '../../tests/lib/stack.mjs';
import { cpuSeconds, machineLine, median, perfInstructions, treeCpu, postRpc } from '../lib.mjs';

const REPS = Number(process.argv[2] || 3);
const PER_CLIENT = Number(process.argv[3] || 100000);
const BATCH = 500;
const CLIENTS = 4;
const MSG = 'GET /api/items?page=2 200 in 12 ms from 10.0.0.7 user-agent curl/8'; // 66 bytes

// A fresh stack (empty database, new nginx) per repetition.
let stack;
let agents;
let url;
async function fresh() {
  if (stack) await stack.stop();
  stack = await startStack({ tag: 'bench-ingest', workers: [], wharfdArgs: ['--threads', '8', '--retention-interval', '0'] });
  agents = Array.from({ length: CLIENTS }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }));
  url = new URL(`${stack.http}/rpc`);
}


async function e2e(kind, rep) {
  const bodies = []; // built before the clock starts
  for (let c = 0; c < CLIENTS; c++) {
    const list = [];
    for (let from = 1; from <= PER_CLIENT; from += BATCH) {
      const params = { instanceId: `${kind}-${rep}` };
      if (kind === 'logs') {
        params.logs = Array.from({ length: BATCH }, (_, i) => ({ sequence: from + i, timestamp: '2026-11-27T09:00:00.000Z', level: 'info', message: MSG, stream: 'stdout' }));
      } else {
        params.errors = Array.from({ length: BATCH }, (_, i) => ({ level: 50, message: `TypeError: x is undefined #${(from + i) % 100} at 2026-11-27T09:00:${String((from + i) % 60).padStart(2, '0')}.123Z`, timestamp: '2026-11-27T09:00:00.000Z' }));
      }
      list.push(JSON.stringify({ jsonrpc: '2.0', id: from, method: `ContainerMonitoringOps.${kind === 'logs' ? 'storeLogs' : 'storeErrors'}`, params }));
    }
    bodies.push(list);
  }
  const tokens = Array.from({ length: CLIENTS }, (_, c) => stack.mint({ sub: `bench-${c}`, scope: 'ingest' }));
  const stopPerf = perfInstructions(stack.wharfd.pid);
  await new Promise((r) => setTimeout(r, 200)); // let perf attach
  const cpu0 = cpuSeconds(stack.wharfd.pid);
  const ngx0 = treeCpu(stack.nginx.pid);
  const t0 = process.hrtime.bigint();
  const client0 = process.cpuUsage();
  await Promise.all(bodies.map(async (list, c) => {
    for (const b of list) {
      const r = await postRpc(agents[c], url, tokens[c], b);
      if (r.error) throw new Error(JSON.stringify(r.error));
    }
  }));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  // the node client's own CPU: when it nears secs (one core), the client,
  // not wharfd, is what limits the rate
  const cu = process.cpuUsage(client0);
  const clientCpu = (cu.user + cu.system) / 1e6;
  const rows = CLIENTS * PER_CLIENT;
  const wharfdCpu = cpuSeconds(stack.wharfd.pid) - cpu0;
  const nginxCpu = treeCpu(stack.nginx.pid) - ngx0;
  const insns = await stopPerf();
  return { rowsPerSec: rows / secs, secs, wharfdCpu, nginxCpu, clientCpu, cpuUsPerRow: wharfdCpu / rows * 1e6,
    insnsPerRow: insns === null ? null : insns / rows, load1: os.loadavg()[0] };
}

function raw(rep, txn) {
  const db = path.join(stack.dir, `raw-${rep}-${txn}.db`);
  const r = spawnSync(path.join(BUILD, 'bench/raw'), [db, path.join(ROOT, 'schema/sqlite/0001_init.sql'), String(CLIENTS * PER_CLIENT), String(txn), String(MSG.length)]);
  if (r.status !== 0) throw new Error(`raw: ${r.stderr}`);
  for (const f of [db, `${db}-wal`, `${db}-shm`]) fs.rmSync(f, { force: true });
  return JSON.parse(r.stdout.toString());
}

const results = { raw10k: [], raw100: [], logs: [], errors: [] };
try {
  for (let rep = 0; rep < REPS; rep++) {
    await fresh();
    results.raw10k.push(raw(rep, 10000));
    results.logs.push(await e2e('logs', rep));
    results.raw100.push(raw(rep, 100));
    results.errors.push(await e2e('errors', rep));
    process.stderr.write(`rep ${rep + 1}/${REPS}: raw ${results.raw10k.at(-1).rowsPerSec.toFixed(0)}/s, logs ${results.logs.at(-1).rowsPerSec.toFixed(0)}/s, errors ${results.errors.at(-1).rowsPerSec.toFixed(0)}/s; wharfd CPU/row logs ${results.logs.at(-1).cpuUsPerRow.toFixed(1)} µs errors ${results.errors.at(-1).cpuUsPerRow.toFixed(1)} µs${results.logs.at(-1).insnsPerRow ? `; insns/row logs ${results.logs.at(-1).insnsPerRow.toFixed(0)} errors ${results.errors.at(-1).insnsPerRow.toFixed(0)}` : ''}; client CPU/s of run logs ${(results.logs.at(-1).clientCpu / results.logs.at(-1).secs).toFixed(2)} errors ${(results.errors.at(-1).clientCpu / results.errors.at(-1).secs).toFixed(2)}; load ${os.loadavg()[0].toFixed(2)}\n`);
  }
} finally {
  if (stack) await stack.stop();
}
const m = (a, k) => median(a.map((x) => x[k]));
const out = {
  machine: machineLine(),
  reps: REPS,
  rowsPerRep: CLIENTS * PER_CLIENT,
  raw10kPerSec: m(results.raw10k, 'rowsPerSec'),
  raw100PerSec: m(results.raw100, 'rowsPerSec'),
  logsPerSec: m(results.logs, 'rowsPerSec'),
  logsWharfdCpuS: m(results.logs, 'wharfdCpu'),
  logsNginxCpuS: m(results.logs, 'nginxCpu'),
  logsInsnsPerRow: m(results.logs, 'insnsPerRow'),
  logsCpuUsPerRow: m(results.logs, 'cpuUsPerRow'),
  errorsPerSec: m(results.errors, 'rowsPerSec'),
  errorsWharfdCpuS: m(results.errors, 'wharfdCpu'),
  errorsInsnsPerRow: m(results.errors, 'insnsPerRow'),
  errorsCpuUsPerRow: m(results.errors, 'cpuUsPerRow'),
  all: results,
};
out.logsVsRaw = out.logsPerSec / out.raw10kPerSec;
console.log(JSON.stringify(out, null, 1));
