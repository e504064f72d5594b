// Docker for the container tests: the daemon of scripts/dockerd (Debian's
// docker.io, its own data root in the cache folder, no bridge), the base
// image of scripts/base-image, worker images built by scripts/worker-image,
// and containers that always run on the host network and are removed at
// the end by name.
//
// The daemon is shared by every test file of a run, and by other runs on
// the machine. A file calls dockerUp(), which runs scripts/dockerd up: it
// starts a daemon when none answers and counts the run as a user. Who says
// the run is done with it (scripts/dockerd down, which stops the daemon
// only when it started it and no other user is left):
//   - under tests/run (WHARF_TESTS_RUN_DIR set; WHARF_DOCKERD_USER is
//     tests/run's pid), tests/run itself, once every file has run
//     (dockerUp leaves a mark in that folder);
//   - a file run alone (node --test FILE), its own dockerDown() in after().
// A daemon that someone started by hand is never stopped.
//
// Skipping: only where Docker cannot run at all. Outside a container a
// daemon that does not start is a failure; inside one (make test-fresh's
// clean Debian, where dockerd lacks what it needs) the tests skip, saying
// why (dockerUp's { reason }).

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, Proc, ROOT } from './stack.mjs';

// Debian's own client (20.10, the daemon's version) when there is one: a
// newer client on PATH negotiates down, but builds with the legacy builder
// only with a deprecation notice.
export const DOCKER_BIN = fs.existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';

const RUN_DIR = process.env.WHARF_TESTS_RUN_DIR;
const STARTED_MARK = RUN_DIR ? path.join(RUN_DIR, 'dockerd-started') : null;

let host;               // DOCKER_HOST of the daemon in use
let startedHere = false; // this process ran `scripts/dockerd up` (is a user of it)
const ours = { containers: new Set(), images: new Set() };

export function dockerEnv(extra = {}) {
  return { ...process.env, DOCKER_HOST: host, DOCKER_BUILDKIT: '0', ...extra };
}

function insideContainer() {
  if (fs.existsSync('/.dockerenv') || fs.existsSync('/run/.containerenv')) return true;
  try {
    return /docker|containerd|kubepods|lxc/.test(fs.readFileSync('/proc/1/cgroup', 'utf8'));
  } catch {
    return false;
  }
}

function answers() {
  const r = spawnSync(DOCKER_BIN, ['version', '--format', '{{.Server.Version}}'], { env: dockerEnv(), encoding: 'utf8' });
  return r.status === 0;
}

// Makes sure a daemon answers and the base image is there. Returns
// { ok: true } or { ok: false, reason } (skip: Docker cannot run here).
// Throws when Docker should run here but does not.
export async function dockerUp() {
  const h = spawnSync(path.join(ROOT, 'scripts/dockerd'), ['host'], { encoding: 'utf8' });
  host = /^DOCKER_HOST=(.*)$/m.exec(h.stdout)?.[1];
  if (!host) throw new Error(`scripts/dockerd host: ${h.stderr}`);
  // Always `up`: it starts the daemon when none answers, and counts this
  // run as a user of it either way, so that another run that started it
  // does not stop it under this one (scripts/dockerd, "Users").
  const wasUp = answers();
  const r = spawnSync(path.join(ROOT, 'scripts/dockerd'), ['up'], { encoding: 'utf8', timeout: 120000 });
  if (r.status !== 0 || !answers()) {
    const why = `scripts/dockerd up failed: ${`${r.stderr}`.trim()}`;
    if (!wasUp && insideContainer()) {
      return { ok: false, reason: `Docker cannot run inside this container (${why})` };
    }
    throw new Error(why);
  }
  startedHere = true;
  if (STARTED_MARK) fs.writeFileSync(STARTED_MARK, `${process.pid}\n`);
  const b = spawnSync(path.join(ROOT, 'scripts/base-image'), [], { encoding: 'utf8', env: dockerEnv(), timeout: 900000 });
  if (b.status !== 0) throw new Error(`scripts/base-image: ${b.stderr}`);
  return { ok: true };
}

// The unix socket of the daemon in use (for the watcher's --socket).
export function dockerSocket() {
  return host.replace(/^unix:\/\//, '');
}

// Removes every container and worker image this process made (by name),
// and stops the daemon if this process started it outside tests/run.
// logDir: where to keep each container's output first (the token check of
// tests/run reads every log).
export function dockerDown(logDir) {
  if (!host) return;
  for (const c of ours.containers) {
    if (logDir) {
      const r = docker(['logs', c], { allowFail: true });
      if (r.status === 0) fs.writeFileSync(path.join(logDir, `container-${c}.log`), `${r.stdout}${r.stderr}`);
    }
    docker(['rm', '-f', '-v', c], { allowFail: true });
  }
  ours.containers.clear();
  // --no-prune: the layers under a worker image (the packages, the agent)
  // are the cache the next run builds on.
  for (const i of ours.images) docker(['rmi', '--no-prune', i], { allowFail: true });
  ours.images.clear();
  if (startedHere && !STARTED_MARK) {
    spawnSync(path.join(ROOT, 'scripts/dockerd'), ['down'], { encoding: 'utf8' });
    startedHere = false;
  }
}

// docker ARGS..., synchronously: { status, stdout, stderr }; throws on a
// non-zero exit unless allowFail.
export function docker(args, { allowFail = false, timeout = 120000, input } = {}) {
  const r = spawnSync(DOCKER_BIN, args, { env: dockerEnv(), encoding: 'utf8', timeout, input });
  if (r.status !== 0 && !allowFail) {
    throw new Error(`docker ${args.join(' ')}: exit ${r.status}${r.error ? ` (${r.error.message})` : ''}: ${r.stderr}`);
  }
  return r;
}

// The same, without blocking the event loop (builds, docker stop).
export function dockerAsync(args, { timeout = 600000 } = {}) {
  return runAsync(DOCKER_BIN, args, { timeout });
}

function runAsync(cmd, args, { timeout, env = dockerEnv() }) {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    const t = setTimeout(() => p.kill('SIGKILL'), timeout);
    p.on('exit', (status, signal) => {
      clearTimeout(t);
      resolve({ status, signal, stdout, stderr });
    });
  });
}

// The agent's image of this checkout (scripts/worker-image --agent-only):
// built once per change of its sources, then found by its tag.
export async function agentImage() {
  const r = await runAsync(path.join(ROOT, 'scripts/worker-image'), ['--agent-only'], { timeout: 900000, env: dockerEnv({ DOCKER: DOCKER_BIN }) });
  if (r.status !== 0) throw new Error(`scripts/worker-image --agent-only: ${r.stderr}`);
  return r.stdout.trim();
}

// Builds the image of a worker's folder (scripts/worker-image DIR --tag
// TAG); returns { tag, ms, log }. The image is removed by dockerDown().
export async function buildWorkerImage(dir, tag) {
  const t0 = Date.now();
  ours.images.add(tag);
  const r = await runAsync(path.join(ROOT, 'scripts/worker-image'), [dir, '--tag', tag], { timeout: 900000, env: dockerEnv({ DOCKER: DOCKER_BIN }) });
  if (r.status !== 0) throw new Error(`scripts/worker-image ${dir}: exit ${r.status}:\n${r.stderr.slice(-3000)}`);
  return { tag, ms: Date.now() - t0, log: r.stderr };
}

// docker run -d --network host NAME ...: the only network a test container
// may have. Returns the container's name; dockerDown() removes it.
function runArgs(name, image, { envFile, env = {}, labels = {}, args = [], cmd = [] }) {
  const a = ['run', '-d', '--name', name, '--network', 'host', '--label', 'wharf.test=1'];
  if (envFile) a.push('--env-file', envFile);
  for (const [k, v] of Object.entries(env)) a.push('-e', `${k}=${v}`);
  for (const [k, v] of Object.entries(labels)) a.push('--label', `${k}=${v}`);
  ours.containers.add(name);
  return [...a, ...args, image, ...cmd];
}

export function runContainer(name, image, opts = {}) {
  docker(runArgs(name, image, opts));
  return name;
}

// The same without blocking (several containers started at once).
export async function runContainerAsync(name, image, opts = {}) {
  const r = await dockerAsync(runArgs(name, image, opts));
  if (r.status !== 0) throw new Error(`docker run ${name}: exit ${r.status}: ${r.stderr}`);
  return name;
}

export function inspect(name) {
  return JSON.parse(docker(['inspect', name]).stdout)[0];
}

// Host pids of a container's processes (docker top), with their state
// and parent read from the host's /proc.
export function containerProcs(name) {
  const r = docker(['top', name, '-o', 'pid']);
  return r.stdout.trim().split('\n').slice(1).map(Number).filter(Boolean).map((pid) => {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return { pid, state: f[0], ppid: Number(f[1]), comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) };
    } catch {
      return { pid, state: 'gone' };
    }
  });
}

// A container name unique to this process, so that parallel runs on a
// shared daemon never meet.
export function uniqueName(tag) {
  return `wharf-test-${process.pid}-${tag}`;
}

// A worker's folder as an operator gets it: scripts/new-worker NAME with
// the stack's key (so the agent checks the gateway's tokens) and its
// gateway as the orchestrator. The worker file new-worker writes goes to a
// folder of its own that nginx never reads: in these tests the registry
// entry comes from elsewhere (a static file, or the Docker watcher).
export function newWorkerFolder(stack, name, { workersRoot, addr }) {
  const confDir = fs.mkdtempSync(path.join(stack.dir, `new-worker-conf-${name}-`));
  fs.mkdirSync(path.join(confDir, 'workers.d'));
  const r = spawnSync(path.join(ROOT, 'scripts/new-worker'), [name, '--addr', addr,
    '--conf-dir', confDir, '--nginx-conf', stack.conf, '--nginx-prefix', stack.prefix,
    '--key', stack.keys.privatePath, '--workers-root', workersRoot,
    '--orchestrator', stack.http, '--no-reload'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`new-worker ${name}: exit ${r.status}: ${r.stderr}`);
  return path.join(workersRoot, name);
}

// Rewrites a worker folder's agent.json through fn(config).
export function editAgentJson(dir, fn) {
  const file = path.join(dir, 'agent.json');
  const cfg = JSON.parse(fs.readFileSync(file, 'utf8'));
  fs.writeFileSync(file, `${JSON.stringify(fn(cfg) || cfg, null, 2)}\n`);
}

// wharfctl workers watch-docker against a stack: the stack's gateway, the
// stack's key (the watcher mints its own tokens), the daemon's socket.
export function startWatcher(stack, { args = [], socket = dockerSocket(), name = 'watch-docker', env = {} } = {}) {
  return new Proc(name, BIN.wharfctl, ['--url', stack.http, 'workers', 'watch-docker',
    '--key', stack.keys.privatePath, '--socket', socket, '--log-level', 'debug', ...args],
  { env: { WHARF_TOKEN: '', ...env }, logDir: stack.logDir });
}

// A Docker daemon of the test's own (scripts/dockerd with
// WHARF_DOCKERD_DIR), to restart at will; the shared one is never
// restarted. Its folder is in the cache beside the shared daemon's, named
// after this process, and removed by down({ remove: true }).
export function privateDaemon(tag) {
  const dir = path.join(path.dirname(dockerSocket()), '..', `docker-${tag}-${process.pid}`);
  const env = { ...process.env, WHARF_DOCKERD_DIR: dir };
  const d = {
    dir,
    host: `unix://${path.join(dir, 'docker.sock')}`,
    socket: path.join(dir, 'docker.sock'),
    up() {
      const r = spawnSync(path.join(ROOT, 'scripts/dockerd'), ['up'], { env, encoding: 'utf8', timeout: 120000 });
      if (r.status !== 0) throw new Error(`scripts/dockerd up (${dir}): ${r.stderr}`);
      const b = spawnSync(path.join(ROOT, 'scripts/base-image'), [], { env: { ...env, DOCKER_HOST: d.host }, encoding: 'utf8', timeout: 300000 });
      if (b.status !== 0) throw new Error(`scripts/base-image (${dir}): ${b.stderr}`);
    },
    down({ remove = false } = {}) {
      spawnSync(path.join(ROOT, 'scripts/dockerd'), ['down'], { env, encoding: 'utf8', timeout: 120000 });
      if (!remove) return;
      // dockerd leaves its network namespace file mounted in its folder.
      const mounts = fs.readFileSync('/proc/self/mounts', 'utf8').split('\n')
        .map((l) => l.split(' ')[1]).filter((m) => m && m.startsWith(`${path.resolve(dir)}/`))
        .sort((a, b) => b.length - a.length);
      for (const m of mounts) spawnSync('umount', ['-l', m]);
      fs.rmSync(dir, { recursive: true, force: true });
    },
    docker(args, { allowFail = false } = {}) {
      const r = spawnSync(DOCKER_BIN, args, { env: { ...process.env, DOCKER_HOST: d.host }, encoding: 'utf8', timeout: 120000 });
      if (r.status !== 0 && !allowFail) throw new Error(`docker ${args.join(' ')} (${dir}): ${r.stderr}`);
      return r;
    },
  };
  return d;
}
