// bench/query/profile.mjs: instructions per query of wharfd as it serves
// bench/query's request ("latest 100 logs of one of 50 workers") through
// nginx, counted by callgrind: the whole process (request threads,
// libfcgi, SQLite, JSON), user space only, exact and independent of the
// machine's load. wharfd is populated natively, then restarted under
// callgrind on the same database and address; after a warm-up the
// counters are zeroed (callgrind_control -z), REQ requests run over CONC
// keep-alive connections, and the counts are dumped (-d) and split by
// object: libfcgi, jansson, SQLite, libc, OpenSSL, wharfd's own.
//
//   node bench/query/profile.mjs [ROWS] [REQ] [CONC] [PATH]
//
// PATH: rest (GET /api/monitoring/logs?worker=W&limit=100, the default) or
// rpc (POST /rpc getLogs with the same params). Prints one JSON line; the
// callgrind file is kept (its path is in the output) for callgrind_annotate.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { BIN, Proc, startStack } from '../../tests/lib/stack.mjs';
import { machineLine } from '../lib.mjs';
import { populateLogs } from './populate.mjs';

const ROWS = Number(process.argv[2] || 1_000_000);
const REQ = Number(process.argv[3] || 2000);
const CONC = Number(process.argv[4] || 8);
const PATH = process.argv[5] || 'rest';
const WORKERS = 50;

const stack = await startStack({ tag: 'bench-query-profile', workers: [], wharfdArgs: ['--threads', '8', '--retention-interval', '0'] });
let vg;
try {
  await populateLogs(stack, ROWS, WORKERS);

  // The same wharfd, under callgrind.
  const { addr } = stack.wharfd;
  await stack.wharfd.stop();
  stack.procs = stack.procs.filter((p) => p !== stack.wharfd);
  const out = path.join(stack.dir, 'callgrind.out');
  const db = path.join(stack.dir, 'wharf.db');
  vg = new Proc('wharfd-callgrind', 'valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, BIN.wharfd,
    '--listen', addr, '--db', db, '--public-key', stack.keys.publicPath, '--threads', '8', '--retention-interval', '0'],
  { logDir: stack.logDir });
  await vg.waitLine(/^wharfd listening on /, 60000);

  const agent = new http.Agent({ keepAlive: true, maxSockets: CONC });
  const one = (w) => new Promise((resolve, reject) => {
    const headers = { authorization: `Bearer ${stack.token}` };
    let body;
    if (PATH === 'rpc') {
      body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ContainerMonitoringOps.getLogs', params: { worker: `q${w}`, limit: 100 } });
      Object.assign(headers, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    }
    const req = http.request(PATH === 'rpc' ? `${stack.http}/rpc` : `${stack.http}/api/monitoring/logs?worker=q${w}&limit=100`,
      { agent, method: PATH === 'rpc' ? 'POST' : 'GET', headers }, (res) => {
        let len = 0;
        res.on('data', (c) => { len += c.length; });
        res.on('end', () => (res.statusCode === 200 && len > 1000 ? resolve(len) : reject(new Error(`status ${res.statusCode}, ${len} bytes`))));
      });
    req.on('error', reject);
    req.end(body);
  });
  const run = async (n) => {
    let next = 0;
    let bytes = 0;
    await Promise.all(Array.from({ length: CONC }, async () => {
      while (next < n) {
        const len = await one((next++ * 17) % WORKERS);
        bytes += len;
      }
    }));
    return bytes;
  };
  const control = (flag) => {
    const r = spawnSync('callgrind_control', [flag, String(vg.pid)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`callgrind_control ${flag}: ${r.stderr}`);
  };

  await run(200); // warm-up: caches, statements, kept connections
  control('-z');
  const bytes = await run(REQ);
  control('-d');
  agent.destroy();
  await vg.stop(60000);

  // The dump callgrind_control -d wrote (out.N), by object.
  const dump = fs.readdirSync(stack.dir).filter((f) => f.startsWith('callgrind.out.')).sort().at(0);
  const file = path.join(stack.dir, dump);
  const ann = spawnSync('callgrind_annotate', ['--threshold=100', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const groups = { libfcgi: 0, json: 0, sqlite: 0, libc: 0, openssl: 0, ours: 0, other: 0 };
  const top = [];
  for (const line of ann.stdout.split('\n')) {
    const m = /^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(\S+)\s+\[(.+)\]\s*$/.exec(line);
    if (!m) continue;
    if (/:(clone|start_thread)$/.test(m[2])) continue; // the threads' roots: the total again
    const ir = Number(m[1].replace(/,/g, ''));
    const obj = path.basename(m[3]);
    const g = /libfcgi/.test(obj) ? 'libfcgi' : /jansson/.test(obj) ? 'json'
      : /sqlite/.test(obj) ? 'sqlite' : /^libc[.-]|ld-linux|libm[.-]/.test(obj) ? 'libc'
        : /libcrypto|libssl/.test(obj) ? 'openssl' : /wharfd/.test(obj) ? 'ours' : 'other';
    groups[g] += ir;
    if (top.length < 25) top.push(`${Math.round(ir / REQ)} ${m[2]} ${obj}`);
  }
  const total = Object.values(groups).reduce((a, b) => a + b, 0);
  const perReq = Object.fromEntries(Object.entries(groups).map(([k, v]) => [k, Math.round(v / REQ)]));
  console.log(JSON.stringify({
    machine: machineLine(), rows: ROWS, requests: REQ, concurrency: CONC, path: PATH,
    bytesPerAnswer: Math.round(bytes / REQ), irPerRequest: Math.round(total / REQ), byGroup: perReq, top,
    callgrindFile: process.env.WHARF_KEEP_TMP === '1' ? file : undefined,
  }, null, 1).replace(/\n {2,}/g, ' '));
} finally {
  if (vg) await vg.stop(60000);
  await stack.stop();
}
