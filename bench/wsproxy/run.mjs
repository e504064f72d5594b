// bench/wsproxy: WebSocket echo through wharf_route, against the same echo
// server through a plain proxy_pass location of the same nginx, and direct.
//
//   node bench/wsproxy/run.mjs [--quick] [--only echo,handshake,idle,callgrind,syscalls]
//   (--only sweep: the idle part's sweep over request sizes alone)
//
//   BENCH_REPS=5 BENCH_DURATION=2 BENCH_IDLE=10000 B=build
//   BENCH_SWEEP=0 BENCH_SWEEP_SESSIONS=2000 BENCH_SWEEP_STEP=256
//   BENCH_SWEEP_MAX=3840 BENCH_SWEEP_REPS=1   the idle sweep (benchIdleSweep)
//   BENCH_CONNS=1000 BENCH_SIZES=4096   only these echo cells
//   BENCH_ECHO_TARGETS=open,wharfvar    more targets in them
//   BENCH_CG_CELLS=1x64,100x4096,100x65536  callgrind's echo cells
//   BENCH_CG_ECHO=0                     callgrind: handshakes only
//   BENCH_CG_HANDSHAKE=0                callgrind: messages only
//   BENCH_CG_TARGETS=plain,open,wharf   callgrind: these handshake targets
//
// Everything on loopback, in a temp folder; every process started here is
// stopped by pid. One nginx worker process, whose CPU is read from
// /proc/PID/stat (and /proc/PID/schedstat) around each measurement by the
// load client itself. Targets, run interleaved (A, B, C, A, B, C, ...):
//
//   A  wharf   /api/workers/echo/...  wharf_route as in conf/wharf.conf
//                                     (auth on, the operator's token)
//   S  splice  /spliced/echo/...      the same with wharf_splice on: the
//                                     tunnel moved by splice(2) (issue 18)
//   A' open    /open/echo/...         wharf_route, wharf_auth off
//   A" nokeys   /open/echo/...         the same in an nginx without keys:
//                                     no token for the agent either
//   V  wharfvar /var/echo/...          wharf_route, auth off, the former
//                                     proxy_pass with variables
//   B  plain   /plain/...             proxy_pass to the same upstream
//   B16 plain16 /plain16/...          the same with proxy_buffer_size 16k,
//                                     the tunnel buffer of conf/wharf.conf
//   B-auth plainauth /plain/...        the same, the client sending A's
//                                     Authorization header (idle only)
//   C  direct  the echo server itself
//
// The order rotates with each repetition (see order()).
//
// The syscalls part (not in the default set: it needs perf and counts
// with a tracepoint on, which costs CPU of its own) runs each echo cell
// once more per target under `perf stat -e raw_syscalls:sys_enter` on the
// nginx worker: system calls per message, independent of load.
//
// Results: a JSON file (build/bench/wsproxy.json) and a summary on stdout.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { childPids, freePort, generateKeys, mintToken, waitFor } from '../../tests/lib/stack.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const B = path.resolve(ROOT, process.env.B || 'build');
const MODULE = process.env.WHARF_MODULE || path.join(B, 'ngx_http_wharf_module.so');
const WSLOAD = path.join(B, 'bench/wsload');
const WSECHO = path.join(B, 'bench/wsecho');
const NGINX = process.env.WHARF_NGINX_BIN || '/usr/sbin/nginx';

const args = process.argv.slice(2);
const QUICK = args.includes('--quick');
const onlyArg = args.indexOf('--only');
const ONLY = onlyArg >= 0 ? args[onlyArg + 1].split(',') : ['echo', 'handshake', 'idle', 'callgrind'];
const REPS = Number(process.env.BENCH_REPS || (QUICK ? 1 : 5));
const DURATION = Number(process.env.BENCH_DURATION || (QUICK ? 0.5 : 2));
// Each idle session holds two descriptors in the nginx worker (client and
// upstream): 10,000 of them need a RLIMIT_NOFILE above 20,000, which an
// unprivileged container may not grant (then worker_rlimit_nofile fails
// with EPERM); the default stays under the hard limit found here.
const NOFILE_HARD = Number(spawnSync('sh', ['-c', 'ulimit -Hn']).stdout.toString().trim()) || 1048576;
const IDLE = Number(process.env.BENCH_IDLE
  || (QUICK ? 1000 : Math.min(10000, Math.floor((NOFILE_HARD - 100) / 200) * 100)));
const OUT = path.join(B, 'bench/wsproxy.json');

// not "wharf-*": other test runs on this machine clean those up
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsproxy-bench-'));
fs.chmodSync(dir, 0o755);
const procs = [];

function start(cmd, argv, opts = {}) {
  const p = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  p.out = '';
  p.err = '';
  p.stdout.on('data', (d) => { p.out += d; });
  p.stderr.on('data', (d) => { p.err += d; });
  p.done = new Promise((resolve) => p.on('exit', (code, signal) => resolve({ code, signal })));
  procs.push(p);
  return p;
}

async function stop(p, sig = 'SIGTERM') {
  if (p.exitCode !== null || p.signalCode !== null) return;
  p.kill(sig);
  const t = setTimeout(() => p.kill('SIGKILL'), 30000);
  await p.done;
  clearTimeout(t);
}

function loadavg() {
  return fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

function machine() {
  const cpu = fs.readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/)?.[1] || 'unknown CPU';
  const nginxV = spawnSync(NGINX, ['-v']).stderr.toString().trim();
  return `${os.cpus().length} x ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, `
    + `${os.type()} ${os.release()}, ${nginxV}, node ${process.version}`;
}

// ---------------------------------------------------------------------------

const keys = generateKeys(dir);
const token = mintToken(keys.privateKey, { sub: '*', scope: 'read terminal', ttl: 6 * 3600 });
const AUTH = `Authorization: Bearer ${token}`;

// The proxy lines of conf/wharf.conf's /api/workers/ location; the plain
// location has the same, less what only the module provides: the
// wharf_balancer upstream (a static proxy_pass, as plain's) and the
// module's token for the agent, which the module sets itself. (The
// informational X-Wharf-Worker and X-Wharf-Container headers of wharf.conf
// are left out of both: nothing reads them, and they cost every request.)
const PROXY_COMMON = `
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $wharf_connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_buffering off;
            proxy_request_buffering off;
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
            proxy_connect_timeout 5s;`;
const PROXY_WHARF = `
            proxy_pass http://wharf_workers;
            proxy_set_header Authorization "";${PROXY_COMMON}`;

function nginxConf({ prefix, port, echoPort, single, noKeys }) {
  return `
load_module ${MODULE};
${single ? 'master_process off;\ndaemon off;' : ''}
worker_processes 1;
worker_rlimit_nofile ${Math.min(65536, NOFILE_HARD)};
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 40000; }
http {
    access_log off;
    client_body_temp_path ${prefix}/tmp/body;
    proxy_temp_path ${prefix}/tmp/proxy;
    fastcgi_temp_path ${prefix}/tmp/fastcgi;
    uwsgi_temp_path ${prefix}/tmp/uwsgi;
    scgi_temp_path ${prefix}/tmp/scgi;

    map $http_upgrade $wharf_connection_upgrade { default upgrade; "" ""; }

    ${noKeys ? 'wharf_auth off;' : `wharf_auth_public_key ${keys.publicPath};
    wharf_auth_private_key ${keys.privatePath};`}

    upstream echo { server 127.0.0.1:${echoPort}; keepalive 32; }
    wharf_worker echo upstream=echo;
    upstream wharf_workers { wharf_balancer; }

    server {
        listen 127.0.0.1:${port} backlog=4096;

        location /api/workers/ {
            wharf_route;${PROXY_WHARF}
        }

        location /open/ {
            wharf_route prefix=/open/;
            wharf_auth off;${PROXY_WHARF}
        }

        location /spliced/ {
            wharf_route prefix=/spliced/;
            wharf_splice on;${PROXY_WHARF}
        }

        location /plain/ {
            proxy_pass http://echo/;${PROXY_COMMON}
        }

        # stock nginx with the tunnel buffer conf/wharf.conf ships (16 KiB
        # rather than a page): how much of splice's gain a bigger buffer
        # alone gives
        location /plain16/ {
            proxy_pass http://echo/;${PROXY_COMMON}
            proxy_buffer_size 16k;
            proxy_busy_buffers_size 16k;
        }

        # the module's former configuration: proxy_pass with variables
        location /var/ {
            wharf_route prefix=/var/;
            wharf_auth off;
            proxy_pass http://$wharf_upstream$wharf_path$is_args$args;
            proxy_set_header Authorization $wharf_upstream_authorization;${PROXY_COMMON}
        }

        # the same as /plain/, to measure how much two identical
        # locations differ on this machine: the noise floor
        location /plainb/ {
            proxy_pass http://echo/;${PROXY_COMMON}
        }

        # stock nginx, no module: what a proxy_pass with variables costs
        location /plainvar/ {
            set $target echo;
            proxy_pass http://$target/ws;${PROXY_COMMON}
        }
    }
}
`;
}

const TARGETS = {
  wharf: { path: '/api/workers/echo/ws', headers: [AUTH] },
  splice: { path: '/spliced/echo/ws', headers: [AUTH] },
  open: { path: '/open/echo/ws', headers: [] },
  nokeys: { path: '/open/echo/ws', headers: [], noKeys: true },
  wharfvar: { path: '/var/echo/ws', headers: [] },
  plain: { path: '/plain/ws', headers: [] },
  plain16: { path: '/plain16/ws', headers: [] },
  // B-auth: a plain proxy_pass whose client sends the same token as A's
  // (a plain proxy in front of a service that authenticates its clients
  // forwards their token); nothing in the location differs from B
  plainauth: { path: '/plain/ws', headers: [AUTH] },
  plainb: { path: '/plainb/ws', headers: [] },
  plainvar: { path: '/plainvar/x', headers: [] },
};

async function startNginx(echoPort, { single = false, valgrind = null, noKeys = false } = {}) {
  const prefix = fs.mkdtempSync(path.join(dir, 'nginx-'));
  fs.chmodSync(prefix, 0o755);
  fs.mkdirSync(path.join(prefix, 'tmp'));
  const port = await freePort();
  const conf = path.join(prefix, 'nginx.conf');
  fs.writeFileSync(conf, nginxConf({ prefix, port, echoPort, single, noKeys }));
  const argv = ['-p', prefix, '-c', conf, '-e', path.join(prefix, 'error.log')];
  if (!single) argv.push('-g', 'daemon off;');
  const p = valgrind ? start('valgrind', [...valgrind, NGINX, ...argv]) : start(NGINX, argv);
  p.port = port;
  p.prefix = prefix;
  await waitFor(() => {
    if (p.exitCode !== null) throw new Error(`nginx exited: ${p.err}${fs.readFileSync(path.join(prefix, 'error.log'), 'utf8')}`);
    return fs.existsSync(path.join(prefix, 'nginx.pid'));
  }, { timeout: 60000, what: 'nginx to start' });
  if (!single) {
    p.worker = await waitFor(() => childPids(p.pid)[0], { what: 'the nginx worker process' });
  }
  // answers?
  await waitFor(() => new Promise((resolve) => {
    const r = spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${port}/plain/`]);
    resolve(r.stdout.toString() !== '000');
  }), { timeout: 60000, what: 'nginx to answer' });
  return p;
}

function wsload(argv) {
  const r = spawnSync(WSLOAD, argv, { timeout: 600000 });
  const line = r.stdout.toString().trim().split('\n').pop();
  if (r.status !== 0) throw new Error(`wsload ${argv.join(' ')}: exit ${r.status}: ${r.stderr}${line}`);
  return JSON.parse(line);
}

// Interleaved, A B C, then B C A, then C A B...: each target takes each
// place in the sequence as often, so none gains from going first (after
// another target's load, or a quiet moment). BENCH_ORDER=fixed: A B C always.
const order = (targets, rep) => (process.env.BENCH_ORDER === 'fixed' ? targets
  : targets.map((_, i) => targets[(i + rep) % targets.length]));

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

// --- echo: messages/s and nginx CPU per message ------------------------------

// BENCH_ECHO_TARGETS=wharf,open,plain,...: more targets in the echo cells
// (wharf, splice, plain, plain16, plainb and direct are always there)
const ECHO_TARGETS = [...new Set(['wharf', 'splice', 'plain', 'plain16', 'direct', 'plainb',
  ...(process.env.BENCH_ECHO_TARGETS ? process.env.BENCH_ECHO_TARGETS.split(',') : [])])]
  .filter((t) => t === 'direct' || (TARGETS[t] && !TARGETS[t].noKeys));

async function benchEcho(echo, ngx) {
  const cells = [];
  const conns = process.env.BENCH_CONNS ? process.env.BENCH_CONNS.split(',').map(Number)
    : QUICK ? [1, 100] : [1, 100, 1000];
  const sizes = process.env.BENCH_SIZES ? process.env.BENCH_SIZES.split(',').map(Number) : [64, 4096, 65536];
  for (const c of conns) {
    for (const size of sizes) {
      const runs = Object.fromEntries(ECHO_TARGETS.map((t) => [t, []]));
      const load0 = loadavg();
      for (let rep = 0; rep < REPS; rep++) {
        for (const t of order(ECHO_TARGETS, rep)) {
          const base = ['--mode', 'echo', '--conns', `${c}`, '--size', `${size}`,
            '--duration', `${DURATION}`, '--warmup', '0.5'];
          const r = t === 'direct'
            ? wsload([...base, '--port', `${echo.port}`, '--path', '/ws'])
            : wsload([...base, '--port', `${ngx.port}`, '--path', TARGETS[t].path,
              ...TARGETS[t].headers.flatMap((h) => ['--header', h]), '--pid', `${ngx.worker}`]);
          runs[t].push(r);
        }
      }
      const cell = { conns: c, size, load: `${load0} -> ${loadavg()}`, runs };
      for (const t of Object.keys(runs)) {
        cell[t] = {
          rate: median(runs[t].map((r) => r.rate)),
          cpu_us_per_msg: t === 'direct' ? null : median(runs[t].map((r) => r.cpu_us / r.count)),
          sched_us_per_msg: t === 'direct' ? null : median(runs[t].map((r) => r.sched_ns / 1000 / r.count)),
          client_cpu_share: median(runs[t].map((r) => r.client_cpu_us / (r.seconds * 1e6))),
        };
      }
      cell.rate_ratio = cell.wharf.rate / cell.plain.rate;
      cell.cpu_ratio = cell.wharf.cpu_us_per_msg / cell.plain.cpu_us_per_msg;
      cell.sched_ratio = cell.wharf.sched_us_per_msg / cell.plain.sched_us_per_msg;
      cell.splice_rate_ratio = cell.splice.rate / cell.plain.rate;
      cell.splice_cpu_ratio = cell.splice.cpu_us_per_msg / cell.plain.cpu_us_per_msg;
      cell.splice_sched_ratio = cell.splice.sched_us_per_msg / cell.plain.sched_us_per_msg;
      // the spread: each repetition's splice/plain ratio, in run order
      const perRep = (a, b) => runs[a].map((r, i) => (r.sched_ns / r.count) / (runs[b][i].sched_ns / runs[b][i].count));
      cell.splice_sched_ratios = perRep('splice', 'plain');
      // against stock nginx with wharf.conf's 16 KiB tunnel buffer
      cell.splice16_sched_ratio = cell.splice.sched_us_per_msg / cell.plain16.sched_us_per_msg;
      cell.splice16_sched_ratios = perRep('splice', 'plain16');
      cell.plain16_sched_ratio = cell.plain16.sched_us_per_msg / cell.plain.sched_us_per_msg;
      cell.aa_sched_ratios = perRep('plainb', 'plain');
      cell.aa_rate_ratio = cell.plainb.rate / cell.plain.rate;
      cell.aa_cpu_ratio = cell.plainb.cpu_us_per_msg / cell.plain.cpu_us_per_msg;
      console.log(`echo ${c} conns ${size} B: msg/s wharf ${cell.wharf.rate.toFixed(0)} plain ${cell.plain.rate.toFixed(0)} `
        + `plain-again ${cell.plainb.rate.toFixed(0)} direct ${cell.direct.rate.toFixed(0)} (x${cell.rate_ratio.toFixed(3)}, `
        + `A/A x${cell.aa_rate_ratio.toFixed(3)}); nginx CPU us/msg `
        + `stat ${cell.wharf.cpu_us_per_msg.toFixed(2)} vs ${cell.plain.cpu_us_per_msg.toFixed(2)} (x${cell.cpu_ratio.toFixed(3)}, `
        + `A/A x${cell.aa_cpu_ratio.toFixed(3)}), schedstat ${cell.wharf.sched_us_per_msg.toFixed(2)} vs `
        + `${cell.plain.sched_us_per_msg.toFixed(2)} (x${cell.sched_ratio.toFixed(3)}); load ${cell.load}`);
      console.log(`  wharf + splice: msg/s ${cell.splice.rate.toFixed(0)} (x${cell.splice_rate_ratio.toFixed(3)} of plain); `
        + `nginx CPU us/msg stat ${cell.splice.cpu_us_per_msg.toFixed(2)} (x${cell.splice_cpu_ratio.toFixed(3)}), `
        + `schedstat ${cell.splice.sched_us_per_msg.toFixed(2)} (x${cell.splice_sched_ratio.toFixed(3)}; per repetition `
        + `${cell.splice_sched_ratios.map((x) => x.toFixed(3)).join(' ')})`);
      console.log(`  plain16 (proxy_buffer_size 16k): msg/s ${cell.plain16.rate.toFixed(0)}; schedstat `
        + `${cell.plain16.sched_us_per_msg.toFixed(2)} (x${cell.plain16_sched_ratio.toFixed(3)} of plain); splice `
        + `x${cell.splice16_sched_ratio.toFixed(3)} of plain16 (per repetition `
        + `${cell.splice16_sched_ratios.map((x) => x.toFixed(3)).join(' ')}); A/A per repetition `
        + `${cell.aa_sched_ratios.map((x) => x.toFixed(3)).join(' ')}`);
      cells.push(cell);
    }
  }
  return cells;
}

// --- system calls per message (perf, a tracepoint on the nginx worker) -------

// One wsload run of a cell under `perf stat -e raw_syscalls:sys_enter -p
// WORKER`: { count, syscalls, per_message, sched_us_per_msg }.
async function syscallsOnce(echo, ngx, t, c, size) {
  const out = path.join(dir, `perf.${t}.${c}.${size}.txt`);
  const perf = start('perf', ['stat', '-x', ',', '-e', 'raw_syscalls:sys_enter', '-o', out, '-p', `${ngx.worker}`]);
  await new Promise((r) => setTimeout(r, 300));
  try {
    const r = wsload(['--mode', 'echo', '--conns', `${c}`, '--size', `${size}`, '--duration', `${DURATION}`,
      '--warmup', '0', '--port', `${ngx.port}`, '--path', TARGETS[t].path,
      ...TARGETS[t].headers.flatMap((h) => ['--header', h]), '--pid', `${ngx.worker}`]);
    await stop(perf, 'SIGINT');
    const line = fs.readFileSync(out, 'utf8').split('\n').find((l) => l.includes('raw_syscalls:sys_enter'));
    const syscalls = Number(line.split(',')[0]);
    return { count: r.count, syscalls, per_message: syscalls / r.count, sched_us_per_msg: r.sched_ns / 1000 / r.count };
  } finally {
    await stop(perf, 'SIGINT');
  }
}

const SYSCALL_TARGETS = ['plain', 'plain16', 'wharf', 'splice'];

async function benchSyscalls(echo, ngx) {
  const probe = spawnSync('perf', ['stat', '-x', ',', '-e', 'raw_syscalls:sys_enter', 'true']);
  if (probe.status !== 0) {
    console.log(`syscalls: skipped, perf cannot count raw_syscalls:sys_enter here: ${probe.stderr}`);
    return { skipped: probe.stderr.toString() };
  }
  const conns = process.env.BENCH_CONNS ? process.env.BENCH_CONNS.split(',').map(Number) : [100];
  const sizes = process.env.BENCH_SIZES ? process.env.BENCH_SIZES.split(',').map(Number) : [64, 4096, 65536];
  const cells = [];
  for (const c of conns) {
    for (const size of sizes) {
      const cell = { conns: c, size };
      for (const t of SYSCALL_TARGETS) cell[t] = await syscallsOnce(echo, ngx, t, c, size);
      console.log(`syscalls per message (perf, the nginx worker, ${c} conns, ${size} B): `
        + SYSCALL_TARGETS.map((t) => `${t} ${cell[t].per_message.toFixed(2)}`).join(', '));
      cells.push(cell);
    }
  }
  return cells;
}

// --- handshakes: new sessions/s and nginx CPU per handshake -------------------

async function benchHandshake(echo, ngx) {
  const runs = { wharf: [], open: [], plain: [], plainvar: [], direct: [] };
  const load0 = loadavg();
  for (let rep = 0; rep < REPS; rep++) {
    for (const t of order(['wharf', 'open', 'plain', 'plainvar', 'direct'], rep)) {
      const base = ['--mode', 'handshake', '--conns', '16', '--duration', `${DURATION}`, '--warmup', '0.3'];
      runs[t].push(t === 'direct'
        ? wsload([...base, '--port', `${echo.port}`, '--path', '/ws'])
        : wsload([...base, '--port', `${ngx.port}`, '--path', TARGETS[t].path,
          ...TARGETS[t].headers.flatMap((h) => ['--header', h]), '--pid', `${ngx.worker}`]));
    }
  }
  const res = { load: `${load0} -> ${loadavg()}`, runs };
  for (const t of Object.keys(runs)) {
    res[t] = {
      rate: median(runs[t].map((r) => r.rate)),
      cpu_us_per_hs: t === 'direct' ? null : median(runs[t].map((r) => r.cpu_us / r.count)),
      sched_us_per_hs: t === 'direct' ? null : median(runs[t].map((r) => r.sched_ns / 1000 / r.count)),
    };
  }
  console.log(`handshakes/s: wharf (auth on) ${res.wharf.rate.toFixed(0)}, open (auth off) ${res.open.rate.toFixed(0)}, `
    + `plain ${res.plain.rate.toFixed(0)}, plainvar ${res.plainvar.rate.toFixed(0)}, direct ${res.direct.rate.toFixed(0)}; `
    + `nginx CPU us/handshake stat ${res.wharf.cpu_us_per_hs.toFixed(1)} / ${res.open.cpu_us_per_hs.toFixed(1)} / `
    + `${res.plain.cpu_us_per_hs.toFixed(1)} / ${res.plainvar.cpu_us_per_hs.toFixed(1)}, schedstat `
    + `${res.wharf.sched_us_per_hs.toFixed(1)} / ${res.open.sched_us_per_hs.toFixed(1)} / ${res.plain.sched_us_per_hs.toFixed(1)} / `
    + `${res.plainvar.sched_us_per_hs.toFixed(1)}; load ${res.load}`);
  return res;
}

// --- idle sessions: nginx worker RSS per session -------------------------------

function rssKiB(pid) {
  return Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
}

// One fresh nginx, `sessions` idle sessions of target t, each with these
// extra request headers; the worker's RSS growth per session, in bytes.
async function idleOnce(echo, t, sessions, extra = []) {
  const headers = [...TARGETS[t].headers, ...extra].flatMap((h) => ['--header', h]);
  const ngx = await startNginx(echo.port, { noKeys: TARGETS[t].noKeys });
  try {
    // one session first, so that what is set up once is not counted
    wsload(['--mode', 'echo', '--conns', '1', '--size', '64', '--duration', '0.2', '--warmup', '0',
      '--port', `${ngx.port}`, '--path', TARGETS[t].path, ...headers]);
    const before = rssKiB(ngx.worker);
    const load = start(WSLOAD, ['--mode', 'idle', '--conns', `${sessions}`, '--size', '64', '--port', `${ngx.port}`,
      '--path', TARGETS[t].path, ...headers]);
    try {
      await waitFor(() => {
        if (load.exitCode !== null) throw new Error(`wsload idle: ${load.err}${load.out}`);
        return /^ready (\d+)/m.exec(load.out);
      }, { timeout: 120000, what: `${sessions} idle sessions` });
      const ready = Number(/^ready (\d+)/m.exec(load.out)[1]);
      if (ready !== sessions) throw new Error(`only ${ready} of ${sessions} sessions echoed: ${load.err}`);
      await new Promise((r) => setTimeout(r, 500));
      const after = rssKiB(ngx.worker);
      return { before_kib: before, after_kib: after, per_session_bytes: ((after - before) * 1024) / sessions };
    } finally {
      await stop(load);
    }
  } finally {
    await stop(ngx, 'SIGQUIT');
  }
}

async function benchIdle(echo) {
  const IDLE_TARGETS = ['wharf', 'open', 'nokeys', 'plain', 'plainauth', 'plainvar', 'wharfvar'];
  const runs = Object.fromEntries(IDLE_TARGETS.map((t) => [t, []]));
  for (let rep = 0; rep < (QUICK ? 1 : 3); rep++) {
    for (const t of order(IDLE_TARGETS, rep)) runs[t].push(await idleOnce(echo, t, IDLE));
  }
  const res = { sessions: IDLE, runs, load: loadavg() };
  for (const t of Object.keys(runs)) res[t] = { per_session_bytes: median(runs[t].map((r) => r.per_session_bytes)) };
  res.difference_bytes = res.wharf.per_session_bytes - res.plain.per_session_bytes;
  res.difference_vs_plainauth_bytes = res.wharf.per_session_bytes - res.plainauth.per_session_bytes;
  res.difference_vs_plainvar_bytes = res.wharf.per_session_bytes - res.plainvar.per_session_bytes;
  for (const t of IDLE_TARGETS) res[t].vs_plain_bytes = res[t].per_session_bytes - res.plain.per_session_bytes;
  console.log(`idle: RSS per session over ${IDLE} sessions: `
    + IDLE_TARGETS.map((t) => `${t} ${res[t].per_session_bytes.toFixed(0)} B (${res[t].vs_plain_bytes >= 0 ? '+' : ''}${res[t].vs_plain_bytes.toFixed(0)})`).join(', '));
  if (process.env.BENCH_SWEEP !== '0') res.sweep = await benchIdleSweep(echo);
  return res;
}

// RSS per session is a step function of the request's size: nginx takes a
// request's memory from 4 KiB pool blocks, so a few bytes more can cost a
// whole block, or nothing, depending on how full the last block was. One
// request shape shows one step; the sweep adds the same client header
// ("X-Pad: " and n bytes) to A and to B (and to B-auth), for n spread
// evenly over one pool block, so that the mean difference is what the
// extra bytes cost over requests of every size, as an operator's fleet,
// with varied requests, pays.
//
//   BENCH_SWEEP=0                  skip it
//   BENCH_SWEEP_SESSIONS=2000      sessions per point
//   BENCH_SWEEP_STEP=256 BENCH_SWEEP_MAX=3840
//   BENCH_SWEEP_REPS=1             repetitions per point (median)
async function benchIdleSweep(echo) {
  const sessions = Number(process.env.BENCH_SWEEP_SESSIONS || (QUICK ? 500 : 2000));
  const step = Number(process.env.BENCH_SWEEP_STEP || (QUICK ? 1024 : 256));
  const max = Number(process.env.BENCH_SWEEP_MAX || 3840);
  const reps = Number(process.env.BENCH_SWEEP_REPS || 1);
  const targets = ['wharf', 'plain', 'plainauth'];
  const points = [];
  // the single shape again (no X-Pad) at this session count: per-session
  // figures must match those at IDLE sessions to the byte
  const shapes = [null];
  for (let n = 0; n <= max; n += step) shapes.push(n);
  for (const [i, n] of shapes.entries()) {
    const extra = n === null ? [] : [`X-Pad: ${'x'.repeat(n)}`];
    const point = { pad: n, load: loadavg() };
    for (const t of targets) point[t] = { runs: [] };
    for (let rep = 0; rep < reps; rep++) {
      for (const t of order(targets, i + rep)) point[t].runs.push(await idleOnce(echo, t, sessions, extra));
    }
    for (const t of targets) point[t].per_session_bytes = median(point[t].runs.map((r) => r.per_session_bytes));
    point.a_minus_b = point.wharf.per_session_bytes - point.plain.per_session_bytes;
    point.a_minus_bauth = point.wharf.per_session_bytes - point.plainauth.per_session_bytes;
    console.log(`idle sweep, ${sessions} sessions, X-Pad ${n === null ? 'none' : `${n} B`}: wharf `
      + `${point.wharf.per_session_bytes.toFixed(1)}, plain ${point.plain.per_session_bytes.toFixed(1)}, `
      + `plain+auth ${point.plainauth.per_session_bytes.toFixed(1)} B/session; A - B ${point.a_minus_b.toFixed(1)}, `
      + `A - B-auth ${point.a_minus_bauth.toFixed(1)}`);
    points.push(point);
  }
  const swept = points.filter((p) => p.pad !== null);
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const res = {
    sessions, step, max, reps, points,
    mean_a_minus_b: mean(swept.map((p) => p.a_minus_b)),
    median_a_minus_b: median(swept.map((p) => p.a_minus_b)),
    mean_a_minus_bauth: mean(swept.map((p) => p.a_minus_bauth)),
    median_a_minus_bauth: median(swept.map((p) => p.a_minus_bauth)),
  };
  console.log(`idle sweep over X-Pad 0..${max} step ${step} (${swept.length} points): A - B mean `
    + `${res.mean_a_minus_b.toFixed(1)} B, median ${res.median_a_minus_b.toFixed(1)} B; A - B-auth mean `
    + `${res.mean_a_minus_bauth.toFixed(1)} B, median ${res.median_a_minus_bauth.toFixed(1)} B`);
  return res;
}

// --- callgrind: instructions per handshake, independent of load ---------------

async function callgrindInstructions(echo, target, n) {
  const out = path.join(dir, `callgrind.${target}.${n}.out`);
  const ngx = await startNginx(echo.port, {
    single: true,
    valgrind: ['--tool=callgrind', `--callgrind-out-file=${out}`, '--trace-children=no'],
    noKeys: TARGETS[target].noKeys,
  });
  try {
    wsload(['--mode', 'handshake', '--conns', '1', '--count', `${n}`, '--port', `${ngx.port}`,
      '--path', TARGETS[target].path, ...TARGETS[target].headers.flatMap((h) => ['--header', h])]);
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    await stop(ngx, 'SIGQUIT');
  }
  if (process.env.BENCH_KEEP_CALLGRIND) fs.copyFileSync(out, path.join(process.env.BENCH_KEEP_CALLGRIND, path.basename(out)));
  const text = fs.readFileSync(out, 'utf8');
  const m = /^(?:summary|totals):\s*(\d+)/m.exec(text);
  return Number(m[1]);
}

async function callgrindEcho(echo, target, conns, size, n) {
  const out = path.join(dir, `callgrind.echo.${target}.${conns}.${size}.${n}.out`);
  const ngx = await startNginx(echo.port, {
    single: true,
    valgrind: ['--tool=callgrind', `--callgrind-out-file=${out}`, '--trace-children=no'],
  });
  try {
    wsload(['--mode', 'echo', '--conns', `${conns}`, '--size', `${size}`, '--count', `${n}`, '--port', `${ngx.port}`,
      '--path', TARGETS[target].path, ...TARGETS[target].headers.flatMap((h) => ['--header', h])]);
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    await stop(ngx, 'SIGQUIT');
  }
  return Number(/^(?:summary|totals):\s*(\d+)/m.exec(fs.readFileSync(out, 'utf8'))[1]);
}

async function benchCallgrind(echo) {
  // Instructions differ a little between runs of the same thing (how many
  // events each epoll_wait returns depends on timing), so each figure is
  // the median of three differences.
  const [n1, n2] = QUICK ? [20, 60] : [100, 500];
  const reps = QUICK ? 1 : 3;
  const res = { n1, n2, reps };
  const CG_TARGETS = process.env.BENCH_CG_TARGETS ? process.env.BENCH_CG_TARGETS.split(',')
    : ['plain', 'plainvar', 'open', 'wharf', 'nokeys', 'wharfvar'];
  for (const t of CG_TARGETS) res[t] = { runs: [] };
  for (let rep = 0; rep < (process.env.BENCH_CG_HANDSHAKE === '0' ? 0 : reps); rep++) {
    for (const t of order(CG_TARGETS, rep)) {
      const i1 = await callgrindInstructions(echo, t, n1);
      const i2 = await callgrindInstructions(echo, t, n2);
      res[t].runs.push({ i1, i2, per_handshake: (i2 - i1) / (n2 - n1) });
    }
  }
  for (const t of CG_TARGETS) res[t].per_handshake = median(res[t].runs.map((r) => r.per_handshake));
  for (const t of ['plain', 'plainvar', 'open', 'wharf', 'nokeys', 'wharfvar']) res[t] ??= { per_handshake: NaN };
  // Per message: the same sessions, more messages; the difference is what
  // the messages cost, whatever the handshakes did.
  res.echo = [];
  const [m1, m2] = QUICK ? [500, 1500] : [2000, 10000];
  // (user space only: what the kernel does for a recv(), a send() or a
  // splice() is not counted by callgrind)
  const cgCells = process.env.BENCH_CG_CELLS
    ? process.env.BENCH_CG_CELLS.split(',').map((c) => c.split('x').map(Number))
    : [[1, 64], [100, 4096], [100, 65536]];
  for (const [conns, size] of process.env.BENCH_CG_ECHO === '0' ? [] : cgCells) {
    const cell = { conns, size, m1, m2, plain: { runs: [] }, wharf: { runs: [] }, splice: { runs: [] } };
    for (let rep = 0; rep < reps; rep++) {
      for (const t of order(['plain', 'wharf', 'splice'], rep)) {
        const i1 = await callgrindEcho(echo, t, conns, size, m1);
        const i2 = await callgrindEcho(echo, t, conns, size, m2);
        cell[t].runs.push({ i1, i2, per_message: (i2 - i1) / (m2 - m1) });
      }
    }
    for (const t of ['plain', 'wharf', 'splice']) cell[t].per_message = median(cell[t].runs.map((r) => r.per_message));
    cell.ratio = cell.wharf.per_message / cell.plain.per_message;
    cell.splice_ratio = cell.splice.per_message / cell.plain.per_message;
    console.log(`instructions per message (callgrind, user space, ${conns} conns, ${size} B, median of ${reps}): plain ${cell.plain.per_message.toFixed(0)}, `
      + `wharf ${cell.wharf.per_message.toFixed(0)} (x${cell.ratio.toFixed(3)}), `
      + `wharf + splice ${cell.splice.per_message.toFixed(0)} (x${cell.splice_ratio.toFixed(3)})`);
    res.echo.push(cell);
  }
  res.plainvar_ratio = res.plainvar.per_handshake / res.plain.per_handshake;
  res.open_ratio = res.open.per_handshake / res.plain.per_handshake;
  res.wharf_ratio = res.wharf.per_handshake / res.plain.per_handshake;
  res.nokeys_ratio = res.nokeys.per_handshake / res.plain.per_handshake;
  res.wharfvar_ratio = res.wharfvar.per_handshake / res.plain.per_handshake;
  if (process.env.BENCH_CG_HANDSHAKE === '0') return res;
  console.log(`instructions per handshake (callgrind, (I(${n2}) - I(${n1})) / ${n2 - n1}, median of ${reps}): `
    + `plain ${res.plain.per_handshake.toFixed(0)}, plainvar ${res.plainvar.per_handshake.toFixed(0)} (x${res.plainvar_ratio.toFixed(3)}), `
    + `wharf auth off ${res.open.per_handshake.toFixed(0)} (x${res.open_ratio.toFixed(3)}), `
    + `wharf auth on ${res.wharf.per_handshake.toFixed(0)} (x${res.wharf_ratio.toFixed(3)}), `
    + `wharf auth off without keys ${res.nokeys.per_handshake.toFixed(0)} (x${res.nokeys_ratio.toFixed(3)}), `
    + `wharf with the former variable proxy_pass ${res.wharfvar.per_handshake.toFixed(0)} (x${res.wharfvar_ratio.toFixed(3)})`);
  return res;
}

// ---------------------------------------------------------------------------

// the results so far, saved after each part (and read by a part that
// saves within itself)
let result;

async function main() {
  for (const f of [MODULE, WSLOAD, WSECHO]) {
    if (!fs.existsSync(f)) throw new Error(`${f} is missing: run make bench`);
  }
  result = { machine: machine(), started: new Date().toISOString(), load_start: loadavg(),
    reps: REPS, duration_s: DURATION };
  console.log(`machine: ${result.machine}; load ${result.load_start}`);

  const echoPort = await freePort();
  const echo = start(WSECHO, [`${echoPort}`]);
  echo.port = echoPort;
  await waitFor(() => /listening/.test(echo.out), { what: 'wsecho' });

  // written after each part, so that a part that fails loses only itself
  const save = () => {
    result.load_end = loadavg();
    result.finished = new Date().toISOString();
    fs.mkdirSync(path.dirname(OUT), { recursive: true });
    fs.writeFileSync(OUT, `${JSON.stringify(result, null, 1)}\n`);
  };

  if (ONLY.includes('echo') || ONLY.includes('handshake') || ONLY.includes('syscalls')) {
    const ngx = await startNginx(echoPort);
    try {
      if (ONLY.includes('echo')) {
        result.echo = await benchEcho(echo, ngx);
        save();
      }
      if (ONLY.includes('handshake')) {
        result.handshake = await benchHandshake(echo, ngx);
        save();
      }
      if (ONLY.includes('syscalls')) {
        result.syscalls = await benchSyscalls(echo, ngx);
        save();
      }
    } finally {
      await stop(ngx, 'SIGQUIT');
    }
  }
  if (ONLY.includes('idle')) {
    result.idle = await benchIdle(echo);
    save();
  } else if (ONLY.includes('sweep')) {
    result.idle = { sweep: await benchIdleSweep(echo) };
    save();
  }
  if (ONLY.includes('callgrind')) {
    result.callgrind = await benchCallgrind(echo);
    save();
  }
  console.log(`results: ${OUT}`);
}

try {
  await main();
} finally {
  for (const p of procs.reverse()) await stop(p, p.spawnfile === NGINX ? 'SIGQUIT' : 'SIGTERM');
  if (process.env.BENCH_KEEP) console.log(`kept ${dir}`);
  else fs.rmSync(dir, { recursive: true, force: true });
}
