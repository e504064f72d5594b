// The test harness: starts real wharf processes on loopback, in a temp
// folder, and stops every one of them by pid.
//
// Every integration and end-to-end test builds on this file, so that they all
// run the very binaries `make` built (build/ or build/san/ with SANITIZE=1),
// the real conf/nginx.conf and conf/wharf.conf, and the Debian nginx binary
// with the module loaded through load_module.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BUILD = path.resolve(ROOT, process.env.B || 'build');
export const SANITIZE = process.env.SANITIZE === '1';
export const BIN = {
  wharfd: path.join(BUILD, 'bin/wharfd'),
  agent: path.join(BUILD, 'bin/wharf-agent'),
  wharfctl: path.join(BUILD, 'bin/wharfctl'),
  module: path.join(BUILD, 'ngx_http_wharf_module.so'),
  nginx: '/usr/sbin/nginx',
};

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

// Waits until cond() returns a truthy value (sync or async), polling every
// `interval` ms; throws with `what` (a string, or a function called at the
// time of failure) after `timeout` ms.
export async function waitFor(cond, { timeout = 10000, interval = 25, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
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
class Proc {
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
    const t = setTimeout(() => this.child.kill('SIGKILL'), timeout);
    const r = await this.exited;
    clearTimeout(t);
    return r;
  }
}

export async function startAgent({ name = 'demo', container, terminalCmd, env = {}, args = [], logDir }) {
  const a = ['--worker', name, '--listen', '127.0.0.1:0'];
  if (container) a.push('--container', container);
  if (terminalCmd) a.push('--terminal-cmd', terminalCmd);
  const p = new Proc(`agent-${name}`, BIN.agent, [...a, ...args], {
    env: { ...sanitizerEnv(false), ...env },
    logDir,
  });
  const line = await p.waitLine(/^wharf-agent listening on /);
  p.addr = line.replace(/^wharf-agent listening on /, '').trim();
  p.port = Number(p.addr.split(':').pop());
  p.worker = name;
  return p;
}

export async function startWharfd({ dir, logDir, env = {}, args = [] }) {
  const port = await freePort();
  const addr = `127.0.0.1:${port}`;
  const p = new Proc('wharfd', BIN.wharfd, ['--listen', addr, '--db', path.join(dir, 'wharf.db'), ...args], {
    env: { ...sanitizerEnv(false), ...env },
    logDir,
  });
  await p.waitLine(/^wharfd listening on /);
  p.addr = addr;
  return p;
}

export function writeWorkerConf(workersDir, name, addr, container) {
  const args = [name, addr];
  if (container) args.push(container);
  const r = spawnSync(path.join(ROOT, 'scripts/worker-conf'), args);
  if (r.status !== 0) throw new Error(`worker-conf failed: ${r.stderr}`);
  fs.writeFileSync(path.join(workersDir, `${name}.conf`), r.stdout);
}

// Renders conf/nginx.conf for this prefix; returns the config's path.
export function renderNginxConf({ prefix, listen, wharfd, wharfdWs, workersDir }) {
  const conf = path.join(prefix, 'nginx.conf');
  const r = spawnSync(path.join(ROOT, 'scripts/render-nginx-conf'),
    [conf, BIN.module, prefix, listen, wharfd, wharfdWs, workersDir]);
  if (r.status !== 0) throw new Error(`render-nginx-conf failed: ${r.stderr}`);
  return conf;
}

// `nginx -t` on a config: { status, output }.
export function nginxTest(prefix, conf) {
  const r = spawnSync(BIN.nginx, ['-t', '-p', prefix, '-c', conf, '-e', path.join(prefix, 'logs/error.log')], {
    env: { ...process.env, ...sanitizerEnv(true) },
  });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

export async function startNginx({ prefix, conf, logDir }) {
  // -g "daemon off;" keeps the master as our child, so its pid is ours to
  // stop and its exit is seen; master_process stays on as in production.
  const p = new Proc('nginx', BIN.nginx,
    ['-p', prefix, '-c', conf, '-e', path.join(prefix, 'logs/error.log'), '-g', 'daemon off;'], {
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
//   workers: [{ name, container, terminalCmd, env, args }]
export async function startStack({ tag = 'stack', workers = [{ name: 'demo' }] } = {}) {
  const dir = tempDir(tag);
  const logDir = path.join(dir, 'logs');
  const workersDir = path.join(dir, 'workers.d');
  fs.mkdirSync(logDir, { recursive: true });
  fs.mkdirSync(workersDir);
  const stack = { dir, logDir, agents: {}, procs: [] };
  try {
    stack.wharfd = await startWharfd({ dir, logDir });
    stack.procs.push(stack.wharfd);
    for (const w of workers) {
      const a = await startAgent({ ...w, logDir });
      stack.agents[w.name] = a;
      stack.procs.push(a);
      writeWorkerConf(workersDir, w.name, a.addr, w.container);
    }
    const port = await freePort();
    const wsPort = await freePort();
    const prefix = path.join(dir, 'nginx');
    fs.mkdirSync(prefix, { mode: 0o755 });
    const conf = renderNginxConf({
      prefix, listen: `127.0.0.1:${port}`, wharfd: stack.wharfd.addr,
      wharfdWs: `127.0.0.1:${wsPort}`, workersDir,
    });
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
