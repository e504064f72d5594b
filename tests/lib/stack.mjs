// The test harness: starts real wharf processes on loopback, in a temp
// folder, and stops every one of them by pid.
//
// Every integration and end-to-end test builds on this file, so that they all
// run the very binaries `make` built (build/ or build/san/ with SANITIZE=1),
// the real conf/nginx.conf and conf/wharf.conf, and the Debian nginx binary
// with the module loaded through load_module.
//
// WHARF_NGINX_BIN and WHARF_MODULE name another nginx binary and the module
// built for it (`make test-nginx` runs the module's tests on each nginx
// version that way, scripts/test-nginx); by default Debian's /usr/sbin/nginx
// and $B/ngx_http_wharf_module.so.

import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket, { WebSocketServer } from 'ws';
import { sharedPgServer, storeRows } from './pg.mjs';

export { ENGINES } from './pg.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BUILD = path.resolve(ROOT, process.env.B || 'build');
export const SANITIZE = process.env.SANITIZE === '1';
export const BIN = {
  wharfd: path.join(BUILD, 'bin/wharfd'),
  agent: path.join(BUILD, 'bin/wharf-agent'),
  wharfctl: path.join(BUILD, 'bin/wharfctl'),
  module: process.env.WHARF_MODULE || path.join(BUILD, 'ngx_http_wharf_module.so'),
  nginx: process.env.WHARF_NGINX_BIN || '/usr/sbin/nginx',
};

// The nginx version under test, from `nginx -v` ("nginx version: nginx/1.22.1"),
// as [major, minor, patch]; asked once, when a test first wants it. A few
// checks differ by version (docs/DESIGN-module.md, "What to re-check on an
// nginx upgrade").
let nginxVersionCache;
export function nginxVersion() {
  if (!nginxVersionCache) {
    const r = spawnSync(BIN.nginx, ['-v']);
    const out = `${r.stdout}${r.stderr}`;
    const m = /nginx\/(\d+)\.(\d+)\.(\d+)/.exec(out);
    if (!m) throw new Error(`${BIN.nginx} -v: no version in ${JSON.stringify(out)}${r.error ? ` (${r.error.message})` : ''}`);
    nginxVersionCache = m.slice(1).map(Number);
  }
  return nginxVersionCache;
}

// Whether the nginx under test is major.minor.patch or later.
export function nginxAtLeast(major, minor, patch) {
  const have = nginxVersion();
  const want = [major, minor, patch];
  for (let i = 0; i < 3; i++) {
    if (have[i] !== want[i]) return have[i] > want[i];
  }
  return true;
}

// Under SANITIZE=1 the module carries ASan, but the nginx binary is Debian's
// own: the ASan runtime is preloaded into it. nginx frees its pools only at
// exit paths ASan does not see as frees, so leak detection is off for nginx
// alone; our daemons keep it on. Reports go to files that tests/run reads.
function sanitizerEnv(forNginx) {
  if (!SANITIZE) return {};
  const dir = process.env.WHARF_SAN_LOG_DIR || os.tmpdir();
  const env = {
    ASAN_OPTIONS: `log_path=${dir}/asan:detect_leaks=${forNginx ? 0 : 1}:abort_on_error=0`,
    UBSAN_OPTIONS: `log_path=${dir}/ubsan:print_stacktrace=1:halt_on_error=1`,
  };
  if (forNginx) {
    const asan = spawnSync('gcc', ['-print-file-name=libasan.so']).stdout.toString().trim();
    const ubsan = spawnSync('gcc', ['-print-file-name=libubsan.so']).stdout.toString().trim();
    env.LD_PRELOAD = `${asan}:${ubsan}`;
  }
  return env;
}

// WHARF_VALGRIND=1 (make test-valgrind): wharfd and wharf-agent run under
// valgrind memcheck, one log per process in WHARF_VG_LOG_DIR, which
// tests/run reads (an error or a definite leak fails the run). valgrind
// runs the program in its own pid, so pids, signals and childPids() hold;
// forked children are silent until they exec, and exec leaves valgrind.
// Every wait (waitFor, Proc.stop) is scaled by TIMEOUT_SCALE.
export const VALGRIND = process.env.WHARF_VALGRIND === '1';
export const TIMEOUT_SCALE = VALGRIND ? Number(process.env.WHARF_TIMEOUT_SCALE || 5) : 1;
function valgrindPrefix(name) {
  if (!VALGRIND) return [];
  const dir = process.env.WHARF_VG_LOG_DIR || os.tmpdir();
  return ['valgrind', '--leak-check=full', '--errors-for-leak-kinds=definite', '--error-exitcode=99',
    '--child-silent-after-fork=yes', '--num-callers=30', '--keep-debuginfo=yes', // nginx unloads the module before exit
    `--log-file=${dir}/vg-${name}-%p.log`];
}
// Tests run wharfctl themselves (spawnSync(BIN.wharfctl)): under valgrind
// BIN.wharfctl becomes a script that runs it under memcheck as well.
if (VALGRIND && process.env.WHARF_VG_LOG_DIR) {
  const wrapper = path.join(process.env.WHARF_VG_LOG_DIR, `wharfctl-vg-${process.pid}.sh`);
  const argv = [...valgrindPrefix('wharfctl'), BIN.wharfctl].map((a) => `'${a}'`).join(' ');
  fs.writeFileSync(wrapper, `#!/bin/sh\nexec ${argv} "$@"\n`, { mode: 0o755 });
  BIN.wharfctl = wrapper;
}

// Waits until cond() returns a truthy value (sync or async), polling every
// `interval` ms; throws with `what` (a string, or a function called at the
// time of failure) after `timeout` ms.
export async function waitFor(cond, { timeout = 10000, interval = 25, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout * TIMEOUT_SCALE;
  let last;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      const desc = typeof what === 'function' ? what() : what;
      throw new Error(`timed out after ${timeout} ms waiting for ${desc}${last ? `: ${last.message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// A free port below the kernel's ephemeral range, for a listener that a
// test names in a config before it starts: a port from freePort() may be
// handed out again, meanwhile, to any process's outgoing connection.
export async function freeStaticPort() {
  let low = 32768;
  try {
    low = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').split(/\s+/)[0]);
  } catch { /* the usual default */ }
  for (let i = 0; i < 100; i++) {
    const port = 10000 + Math.floor(Math.random() * Math.max(1, low - 10000));
    const ok = await new Promise((resolve) => {
      const srv = net.createServer();
      srv.unref();
      srv.on('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (ok) return port;
  }
  return freePort();
}

// WHARF_TEST_LOG_ROOT (tests/run sets it): every log a test produced is
// kept there, for tests/run's last check, which searches them all for
// anything shaped like a token. Folders that the harness made (tempDir,
// "wharf-*" in the temp folder) are removed by the tests with
// fs.rmSync(); their logs (*.log files, and every file under a "logs"
// folder) are copied there first, whoever removes them.
export const LOG_ROOT = process.env.WHARF_TEST_LOG_ROOT || '';

export function keepLogs(dir) {
  if (!LOG_ROOT || !fs.existsSync(dir)) return;
  const dest = path.join(LOG_ROOT, `${path.basename(dir)}-${process.pid}-${Date.now()}`);
  const walk = (from, inLogs) => {
    let entries;
    try {
      entries = fs.readdirSync(from, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(from, e.name);
      if (e.isDirectory()) walk(p, inLogs || e.name === 'logs');
      else if (e.isFile() && (inLogs || e.name.endsWith('.log'))) {
        const to = path.join(dest, path.relative(dir, p));
        fs.mkdirSync(path.dirname(to), { recursive: true });
        try {
          fs.copyFileSync(p, to);
        } catch { /* gone meanwhile */ }
      }
    }
  };
  walk(dir, false);
}

if (LOG_ROOT && !fs.rmSync.wharfKeepsLogs) {
  const rmSync = fs.rmSync;
  const tmp = os.tmpdir();
  fs.rmSync = function rmSyncKeepingLogs(p, opts) {
    const abs = path.resolve(String(p));
    if (path.dirname(abs) === tmp && path.basename(abs).startsWith('wharf-')) keepLogs(abs);
    return rmSync.call(this, p, opts);
  };
  fs.rmSync.wharfKeepsLogs = true;
}

export function tempDir(tag) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `wharf-${tag}-`));
  // nginx's worker processes drop to `nobody` when the master runs as root;
  // they must be able to reach the temp folders under this prefix.
  fs.chmodSync(dir, 0o755);
  return dir;
}

export function pidAlive(pid) {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie still answers kill(0); it is not alive for our purposes, but
  // it does show that nobody reaped it, so callers that care read the state.
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/\) Z /.test(stat);
  } catch {
    return false;
  }
}

export function procGone(pid) {
  return !fs.existsSync(`/proc/${pid}`);
}

// Children of a pid, from /proc (no pgrep dependency, no shell).
export function childPids(ppid) {
  const out = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === ppid) out.push(Number(d));
    } catch {
      // the process ended while we read
    }
  }
  return out;
}

// A process we started: its pid, its output lines, and a stop() that sends
// SIGTERM and then SIGKILL, waiting for it to exit.
export class Proc {
  constructor(name, cmd, args, { env = {}, cwd, logDir }) {
    this.name = name;
    this.lines = [];
    this.exit = null;
    this.logPath = path.join(logDir, `${name}.log`);
    const log = fs.openSync(this.logPath, 'a');
    this.child = spawn(cmd, args, {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', log],
    });
    fs.closeSync(log);
    this.pid = this.child.pid;
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
    let buf = '';
    this.child.stdout.on('data', (d) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        this.lines.push(buf.slice(0, i));
        fs.appendFileSync(this.logPath, `[stdout] ${buf.slice(0, i)}\n`);
        buf = buf.slice(i + 1);
      }
    });
  }

  async waitLine(re, timeout = 10000) {
    return waitFor(() => {
      if (this.exit) throw new Error(`${this.name} exited (${JSON.stringify(this.exit)}); see ${this.logPath}:\n${this.tail()}`);
      return this.lines.find((l) => re.test(l));
    }, { timeout, what: `${this.name} to print ${re}` });
  }

  tail() {
    try {
      return fs.readFileSync(this.logPath, 'utf8').split('\n').slice(-20).join('\n');
    } catch {
      return '';
    }
  }

  async stop(timeout = 10000) {
    if (this.exit) return this.exit;
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), timeout * TIMEOUT_SCALE);
    const r = await this.exited;
    clearTimeout(t);
    return r;
  }
}

// Agent options (issue 5): keys (generateKeys()'s, for --public-key;
// without them the agent runs with --insecure-no-auth), orchestrator (URL
// it ships to, or an array of them) and token (its ingest token, passed in WHARF_TOKEN), config (an object written as
// its --config JSON file), app (["cmd", "arg", ...] run after "--"),
// listen (default 127.0.0.1:0), wrap (a command that runs the agent, e.g.
// ['ip', 'netns', 'exec', NS]: with an exec-ing wrapper the pid stays the
// agent's).
export async function startAgent({ name = 'demo', container, terminalCmd, env = {}, args = [], logDir,
  keys, orchestrator, token, config, app, listen = '127.0.0.1:0', wrap = [] } = {}) {
  const a = ['--worker', name, '--listen', listen];
  if (container) a.push('--container', container);
  if (terminalCmd) a.push('--terminal-cmd', terminalCmd);
  if (keys) a.push('--public-key', keys.publicPath);
  else a.push('--insecure-no-auth');
  // several (an array): --orchestrator each, in order of preference
  for (const o of [].concat(orchestrator || [])) a.push('--orchestrator', o);
  // the ingest token goes in the environment, never on the command line
  // (which every user sees: the agent refuses --token)
  const tokenEnv = token ? { WHARF_TOKEN: token } : {};
  if (config) {
    const file = path.join(logDir, `agent-${name}-config.json`);
    fs.writeFileSync(file, JSON.stringify(config));
    a.push('--config', file);
  }
  const tail = app ? ['--', ...app] : [];
  const cmd = [...wrap, ...valgrindPrefix(`agent-${name}`), BIN.agent];
  const p = new Proc(`agent-${name}`, cmd[0], [...cmd.slice(1), ...a, ...args, ...tail], {
    env: { ...sanitizerEnv(false), ...tokenEnv, ...env },
    logDir,
  });
  const line = await p.waitLine(/^wharf-agent listening on /);
  p.addr = line.replace(/^wharf-agent listening on /, '').trim();
  p.port = Number(p.addr.split(':').pop());
  p.worker = name;
  return p;
}

// keys: generateKeys()'s result, for --public-key; wsAddr: the live feed's
// listen address (--ws-listen); gateway: the nginx URL process control uses.
// addr: listen there instead of a fresh port (a restart on the same address).
// db: the --db value (a postgresql:// URL); default the SQLite file
// dir/wharf.db.
// name: the process's name in its log file (several wharfd in one test).
export async function startWharfd({ dir, logDir, env = {}, args = [], keys, wsAddr, gateway, addr: fixedAddr, db, name = 'wharfd' }) {
  const addr = fixedAddr || `127.0.0.1:${await freePort()}`;
  const extra = [];
  if (keys) extra.push('--public-key', keys.publicPath);
  if (wsAddr) extra.push('--ws-listen', wsAddr);
  if (gateway) extra.push('--gateway', gateway);
  const vg = valgrindPrefix('wharfd');
  const p = new Proc(name, vg[0] || BIN.wharfd, [...vg.slice(1), ...(vg.length ? [BIN.wharfd] : []),
    '--listen', addr, '--db', db || path.join(dir, 'wharf.db'), ...extra, ...args], {
    env: { ...sanitizerEnv(false), ...env },
    logDir,
  });
  await p.waitLine(/^wharfd listening on /);
  p.addr = addr;
  return p;
}

// params: wharf_worker's optional parameters, e.g. ['max_sessions=2'].
export function writeWorkerConf(workersDir, name, addr, container, params = []) {
  const args = [name, addr];
  if (container) args.push(container);
  args.push(...params);
  const r = spawnSync(path.join(ROOT, 'scripts/worker-conf'), args);
  if (r.status !== 0) throw new Error(`worker-conf failed: ${r.stderr}`);
  fs.writeFileSync(path.join(workersDir, `${name}.conf`), r.stdout);
}

// Renders conf/nginx.conf for this prefix; returns the config's path.
// keys: { publicPath, privatePath } from generateKeys(), or none (auth off).
// module: the .so to load (default: the build's).
// consoleDir: the console's files (default: the build's).
export function renderNginxConf({ prefix, listen, wharfd, wharfdWs, workersDir, keys, healthInterval = 'off', module = BIN.module,
  consoleDir = path.join(BUILD, 'console') }) {
  const conf = path.join(prefix, 'nginx.conf');
  const args = [conf, module, prefix, listen, wharfd, wharfdWs, workersDir];
  if (keys) args.push(keys.publicPath, keys.privatePath);
  const r = spawnSync(path.join(ROOT, 'scripts/render-nginx-conf'), args, {
    env: { ...process.env, WHARF_HEALTH_INTERVAL: healthInterval, WHARF_CONSOLE_DIR: consoleDir },
  });
  if (r.status !== 0) throw new Error(`render-nginx-conf failed: ${r.stderr}`);
  // WHARF_SPLICE=on: every worker tunnel of every test's nginx is moved by
  // splice(2) (wharf_splice, docs/DIRECTIVES.md), to run the module's and
  // the terminal's suites once that way; a location that says otherwise
  // keeps its own setting.
  if (process.env.WHARF_SPLICE === 'on') {
    fs.writeFileSync(conf, fs.readFileSync(conf, 'utf8').replace(/^http \{$/m, 'http {\n    wharf_splice on;'));
  }
  return conf;
}

// --- tokens ------------------------------------------------------------------
// The orchestrator's ES256 key pair, made with node's crypto and written as
// PEM for nginx; and tokens signed by node's crypto, an implementation
// independent of the libjwt that the module verifies them with.

export function generateKeys(dir) {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const publicPath = path.join(dir, 'public.pem');
  const privatePath = path.join(dir, 'private.pem');
  fs.writeFileSync(publicPath, publicKey.export({ type: 'spki', format: 'pem' }));
  fs.writeFileSync(privatePath, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  return { publicKey, privateKey, publicPath, privatePath };
}

const b64url = (data) => Buffer.from(data).toString('base64url');

export const ALL_SCOPES = 'ingest read control terminal admin';

// The clock skew every verifier tolerates on exp, nbf and iat, in seconds
// (common/token.h): a token is expired only that long after its exp.
export const TOKEN_LEEWAY = Number(/#define WHARF_TOKEN_LEEWAY (\d+)/
  .exec(fs.readFileSync(path.join(ROOT, 'common/token.h'), 'utf8'))[1]);

// The key id of an EC P-256 key (public or private KeyObject): its RFC 7638
// JWK thumbprint, as common/keys.c computes it (so independently checked).
export function keyId(key) {
  const pub = key instanceof crypto.KeyObject && key.type === 'public' ? key : crypto.createPublicKey(key);
  const jwk = pub.export({ format: 'jwk' });
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return crypto.createHash('sha256').update(canonical).digest('base64url');
}

// An ES256 JWT. claims: sub, scope, aud, exp (absolute) or ttl (seconds
// from now, default 1 h), and any other claim; header: to forge one (the
// default names the signing key's kid, as wharf's tokens do).
export function mintToken(privateKey, claims = {}, { header } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const { ttl = 3600, ...rest } = claims;
  const body = { sub: '*', scope: 'read', iat: now, exp: now + ttl, ...rest };
  const h = header || { alg: 'ES256', typ: 'JWT', kid: keyId(privateKey) };
  const input = `${b64url(JSON.stringify(h))}.${b64url(JSON.stringify(body))}`;
  const sig = crypto.sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${b64url(sig)}`;
}

// { header, claims } of a JWT, and whether its ES256 signature verifies.
export function decodeToken(token, publicKey) {
  const [h, c, sig] = token.split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url'));
  const claims = JSON.parse(Buffer.from(c, 'base64url'));
  let valid;
  if (publicKey) {
    valid = header.alg === 'ES256' && crypto.verify('sha256', Buffer.from(`${h}.${c}`),
      { key: publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(sig || '', 'base64url'));
  }
  return { header, claims, valid };
}

// `nginx -t` on a config: { status, output }.
export function nginxTest(prefix, conf) {
  const r = spawnSync(BIN.nginx, ['-t', '-p', prefix, '-c', conf, '-e', path.join(prefix, 'logs/error.log')], {
    env: { ...process.env, ...sanitizerEnv(true) },
  });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

// name: the process's name in its log file (several gateways in one test).
export async function startNginx({ prefix, conf, logDir, name = 'nginx' }) {
  // -g "daemon off;" keeps the master as our child, so its pid is ours to
  // stop and its exit is seen; master_process stays on as in production.
  // WHARF_VALGRIND_NGINX=1 (with WHARF_VALGRIND=1) runs nginx under memcheck
  // too, as one process (master_process off: valgrind follows no worker
  // fork), so tests that reload or count workers do not apply.
  const vg = VALGRIND && process.env.WHARF_VALGRIND_NGINX === '1' ? valgrindPrefix('nginx') : [];
  const p = new Proc(name, vg[0] || BIN.nginx, [...vg.slice(1), ...(vg.length ? [BIN.nginx] : []),
    '-p', prefix, '-c', conf, '-e', path.join(prefix, 'logs/error.log'),
    '-g', vg.length ? 'daemon off; master_process off;' : 'daemon off;'], {
      env: sanitizerEnv(true),
      logDir,
    });
  p.prefix = prefix;
  await waitFor(() => {
    if (p.exit) throw new Error(`nginx exited: ${fs.readFileSync(path.join(prefix, 'logs/error.log'), 'utf8')}`);
    return fs.existsSync(path.join(prefix, 'nginx.pid'));
  }, { what: 'nginx pid file' });
  p.errorLog = () => fs.readFileSync(path.join(prefix, 'logs/error.log'), 'utf8');
  return p;
}

// A whole stack: wharfd, one agent per worker, nginx routing to them.
//   workers: [{ name, container, terminalCmd, env, args, params, ship,
//     app, config }] (ship/app/config: see startAgent); a
//     worker with `addr` gets no agent: its upstream is that address (a
//     test's fake endpoint, or a port where nothing listens).
//   extraHttp: more http-level directives (a file beside the workers').
//   healthInterval: wharf_health_interval (default off: tests probe).
//   wharfdArgs: more wharfd flags.
// The stack has its own ES256 key pair (stack.keys), an operator token
// (stack.token: sub "*", every scope) and stack.mint(claims) for others.
//   keys: { publicPath, privatePath, privateKey } to use instead of a new
//     pair (publicPath may be a folder of keys: wharfctl keys rotate's).
//   engine: the store, 'sqlite' (a file in the stack's folder) or
//     'postgresql' (a database of its own on the process's test server,
//     tests/lib/pg.mjs). stack.store says which ({ engine, path | url });
//     stack.rows(sql, ...params) reads it directly (not through wharfd).
export async function startStack({ tag = 'stack', workers = [{ name: 'demo' }], extraHttp, healthInterval = 'off', wharfdArgs = [], keys, engine = 'sqlite' } = {}) {
  const dir = tempDir(tag);
  const logDir = path.join(dir, 'logs');
  const workersDir = path.join(dir, 'workers.d');
  fs.mkdirSync(logDir, { recursive: true });
  fs.mkdirSync(workersDir);
  const stack = { dir, logDir, workersDir, agents: {}, procs: [] };
  stack.keys = keys || generateKeys(dir);
  stack.mint = (claims, opts) => mintToken(stack.keys.privateKey, claims, opts);
  stack.token = stack.mint({ sub: '*', scope: ALL_SCOPES });
  stack.auth = { Authorization: `Bearer ${stack.token}` };
  try {
    // The ports nginx will use are chosen first: wharfd needs the feed's
    // address and the gateway's URL (process control goes through nginx).
    // Below the ephemeral range: nginx binds them only after wharfd and the
    // agents have started, time enough for any process's outgoing
    // connection to be handed one of the range meanwhile.
    const port = await freeStaticPort();
    const wsPort = await freeStaticPort();
    if (engine === 'postgresql') {
      const server = await sharedPgServer();
      const { url } = await server.createDatabase(tag);
      stack.store = { engine, url, server };
    } else if (engine === 'sqlite') {
      stack.store = { engine, path: path.join(dir, 'wharf.db') };
    } else {
      throw new Error(`unknown engine ${engine}`);
    }
    stack.rows = (sql, ...params) => storeRows(stack.store, sql, ...params);
    // what wharfd was started with, for a test that restarts it
    stack.wharfdOpts = {
      dir, logDir, keys: stack.keys, wsAddr: `127.0.0.1:${wsPort}`,
      gateway: `http://127.0.0.1:${port}`, args: wharfdArgs,
      db: stack.store.url,
    };
    stack.wharfd = await startWharfd(stack.wharfdOpts);
    stack.procs.push(stack.wharfd);
    for (const w of workers) {
      let addr = w.addr;
      if (!addr) {
        // w.ship: the agent ships to this stack with its own ingest token.
        const ship = w.ship ? {
          orchestrator: `http://127.0.0.1:${port}`,
          token: stack.mint({ sub: w.name, scope: 'ingest', ttl: 86400 }),
        } : {};
        const a = await startAgent({ keys: stack.keys, ...ship, ...w, logDir });
        stack.agents[w.name] = a;
        stack.procs.push(a);
        addr = a.addr;
      }
      writeWorkerConf(workersDir, w.name, addr, w.container, w.params);
    }
    if (extraHttp) fs.writeFileSync(path.join(workersDir, '00-extra.conf'), `${extraHttp}\n`);
    const prefix = path.join(dir, 'nginx');
    fs.mkdirSync(prefix, { mode: 0o755 });
    // The console's files, where nginx's worker processes can read them:
    // run as root, they are `nobody`, who cannot enter a checkout under a
    // private home (make test-fresh builds in /root).
    // (A build without a console of its own, make test-valgrind's, serves
    // the plain build's.)
    const consoleDir = path.join(dir, 'console');
    const built = [BUILD, path.join(ROOT, 'build')].map((b) => path.join(b, 'console')).find((d) => fs.existsSync(d));
    if (built) fs.cpSync(built, consoleDir, { recursive: true });
    const conf = renderNginxConf({
      prefix, listen: `127.0.0.1:${port}`, wharfd: stack.wharfd.addr,
      wharfdWs: `127.0.0.1:${wsPort}`, workersDir, keys: stack.keys, healthInterval, consoleDir,
    });
    stack.prefix = prefix;
    stack.conf = conf;
    stack.nginx = await startNginx({ prefix, conf, logDir });
    stack.procs.push(stack.nginx);
    stack.port = port;
    stack.http = `http://127.0.0.1:${port}`;
    stack.ws = `ws://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${stack.http}/api/monitoring/health`)).status === 200,
      { what: 'nginx to answer through to wharfd' });
  } catch (e) {
    await stopAll(stack);
    throw e;
  }
  stack.stop = () => stopAll(stack);
  return stack;
}

// nginx -s reload, by signal to our master; resolves once the master has a
// worker process that was not there before (the new configuration's).
export async function reloadNginx(nginx, { timeout = 10000 } = {}) {
  const before = new Set(childPids(nginx.pid));
  process.kill(nginx.pid, 'SIGHUP');
  return waitFor(() => {
    const fresh = childPids(nginx.pid).filter((p) => !before.has(p));
    return fresh.length ? fresh : null;
  }, { timeout, what: 'new nginx worker processes after the reload' });
}

// Puts wharfd w into the stack's nginx upstream next to the stack's own
// (nginx then gives each request to either) and reloads nginx; the old
// worker processes are gone when it returns (one could otherwise take a
// client's connection and close it after one request).
export async function addWharfdUpstream(stack, w) {
  const conf = fs.readFileSync(stack.conf, 'utf8');
  const one = `server ${stack.wharfd.addr};`;
  if (!conf.includes(one)) throw new Error(`no "${one}" in ${stack.conf}`);
  fs.writeFileSync(stack.conf, conf.replace(one, `${one}\n        server ${w.addr};`));
  const old = childPids(stack.nginx.pid);
  await reloadNginx(stack.nginx);
  await waitFor(() => old.every((p) => procGone(p)), { what: 'the old nginx workers to exit' });
}

// A client of wharfd's live feed at addr (host:port), open; every message
// it gets, parsed, in ws.msgs.
export function openFeed(addr, token) {
  return new Promise((resolve, reject) => {
    const w = new WebSocket(`ws://${addr}/ws/monitoring`, { headers: { authorization: `Bearer ${token}` } });
    w.msgs = [];
    w.on('message', (d) => w.msgs.push(JSON.parse(d.toString())));
    w.on('open', () => resolve(w));
    w.on('error', reject);
  });
}

async function stopAll(stack) {
  // nginx first, so no new request reaches a stopping backend.
  for (const p of [...stack.procs].reverse()) await p.stop();
  if (process.env.WHARF_KEEP_TMP !== '1') fs.rmSync(stack.dir, { recursive: true, force: true });
}

// HTTP helper returning { status, headers, body, json }.
export async function get(url, opts = {}) {
  const res = await fetch(url, opts);
  const body = await res.text();
  let json;
  try {
    json = JSON.parse(body);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, body, json };
}

// As get(), on a connection of its own, closed after the answer: for tests
// that reload or restart nginx, where a kept connection may be one that an
// old worker process is closing as it is reused.
export function getFresh(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: { ...headers, connection: 'close' }, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode, headers: new Headers(res.headers), body: text, json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

// --- fake container endpoints --------------------------------------------------
// Stand-ins for a worker's agent, where the real agent lacks a route (its
// /websocket comes later) or a test needs one that misbehaves. Each records
// the requests it gets: { method, url, headers }.
//   'ws'          WebSocket echo on any path (records close codes), and HTTP
//                 200 JSON {url, headers, conn: client port} otherwise;
//                 "/slow?ms=N" answers N ms late
//   'http200'     answers 200 to everything, WebSocket upgrades included
//   'bad-accept'  answers an upgrade with 101 and a wrong Sec-WebSocket-Accept
//   'hang'        accepts TCP connections and never says a word
//   'sized-101'   answers an upgrade with a valid 101 whose header, padded
//                 by an X-Pad line, is exactly opts.headerBytes bytes long
//                 (the final empty line included), sent in one write
export async function startFakeEndpoint(kind = 'ws', opts = {}) {
  const fake = { kind, requests: [], closes: [], sockets: new Set() };
  const record = (req) => fake.requests.push({ method: req.method, url: req.url, headers: req.headers });
  let server;
  if (kind === 'hang') {
    server = net.createServer((s) => {
      fake.sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => fake.sockets.delete(s));
    });
  } else {
    server = http.createServer((req, res) => {
      record(req);
      const send = () => {
        const body = JSON.stringify({ url: req.url, headers: req.headers, conn: req.socket.remotePort });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      };
      const m = /^\/slow\?ms=(\d+)/.exec(req.url);
      if (m) setTimeout(send, Number(m[1]));
      else send();
    });
    server.on('connection', (s) => {
      fake.sockets.add(s);
      s.on('close', () => fake.sockets.delete(s));
    });
    if (kind === 'ws') {
      fake.wss = new WebSocketServer({ noServer: true });
      server.on('upgrade', (req, sock, head) => {
        record(req);
        fake.wss.handleUpgrade(req, sock, head, (ws) => {
          ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
          ws.on('close', (code) => fake.closes.push({ url: req.url, code }));
          ws.on('error', () => {});
        });
      });
    } else if (kind === 'http200') {
      server.on('upgrade', (req, sock) => {
        record(req);
        sock.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n'
          + 'Connection: close\r\n\r\nok\n');
      });
    } else if (kind === 'sized-101') {
      server.on('upgrade', (req, sock) => {
        record(req);
        const accept = crypto.createHash('sha1')
          .update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
        const head = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
          + `Sec-WebSocket-Accept: ${accept}\r\nX-Pad: `;
        const pad = opts.headerBytes - head.length - '\r\n\r\n'.length;
        if (pad < 1) throw new Error(`a 101 cannot be as short as ${opts.headerBytes} bytes`);
        sock.on('error', () => {});
        sock.write(`${head}${'p'.repeat(pad)}\r\n\r\n`);
      });
    } else if (kind === 'bad-accept') {
      server.on('upgrade', (req, sock) => {
        record(req);
        sock.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
          + 'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n');
      });
    } else {
      throw new Error(`unknown fake endpoint kind ${kind}`);
    }
  }
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.port = server.address().port;
  fake.addr = `127.0.0.1:${fake.port}`;
  fake.close = () => new Promise((resolve) => {
    if (fake.wss) for (const c of fake.wss.clients) c.terminate();
    for (const s of fake.sockets) s.destroy();
    server.close(() => resolve());
  });
  return fake;
}
