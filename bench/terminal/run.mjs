#!/usr/bin/env node
// bench/terminal (issues 5, 18): terminals through nginx + the wharf module to
// wharf-agent, against the ceiling of reading the same PTY with no server.
//
//   make all build/bench/ttyload && node bench/terminal/run.mjs [REPS=5]
//       [--only throughput,keys,prompt,rss] [--callgrind] [--syscalls]
//       [--keys N]
//
// Two clients, so that the client's own cost shows apart from wharf's:
// node's `ws` (what the tests use) and build/bench/ttyload (C, blocking, one
// connection; bench/terminal/ttyload.c). Every measure is taken REPS times,
// interleaved (the order rotates with each repetition), and reported as
// min / median / max with each run's value; the load average before and
// after is printed, since on a shared machine it decides the spread.
//
// - throughput: `head -c 100000000 /dev/zero | base64 | cat` in a terminal
//   (136.8 MB), bytes received through nginx until the close frame, by each
//   client; ceiling: the same command on a PTY read straight from its master
//   in 64 KiB reads by ttyload (C), no server, and by python3's pty module
//   (the ceiling of the earlier figures). Per run, the CPU time of each
//   process: the client itself, the agent, the nginx workers, and the
//   command (head, base64, cat: the agent's reaped children; the ceiling
//   reader's). A client that uses as much CPU as wharf, or a run whose
//   command got less CPU than in the ceiling, shows there.
// - keystroke echo: N single keys (default 2000) to `cat` on a raw
//   terminal (cat writes each key back), one at a time, round trip per key
//   through nginx, by each client; and the same on a bare PTY (ttyload
//   pty-keys): the floor. p50 and p99 per run.
// - time to first prompt: WebSocket open to the first prompt of bash.
// - 200 concurrent sessions (each running stty + cat): the agent's and the
//   nginx workers' RSS growth per session (VmRSS before and with all open).
// - --callgrind: instructions per MB of terminal output and per keystroke,
//   which do not depend on the load: the agent and nginx (one process)
//   under callgrind, the same stream at two sizes, (I(large) - I(small)) /
//   MB between them; 200 and 1000 keys, the same way.
// - --syscalls: system calls and context switches per MB of the agent and
//   of the nginx workers (perf stat, tracepoint counts; one more stream per
//   client, apart from the timed ones). These, too, hardly depend on load.
//
// Results: build/bench/terminal.json and a summary on stdout.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import {
  BIN, BUILD, childPids, freeStaticPort, renderNginxConf, startStack, waitFor,
} from '../../tests/lib/stack.mjs';

// the npm ws package lives with the tests
const WebSocket = createRequire(new URL('../../tests/package.json', import.meta.url))('ws');

const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const value = (name, def) => (args.indexOf(name) >= 0 ? args[args.indexOf(name) + 1] : def);
const REPS = Number(args.find((a) => /^\d+$/.test(a) && !args[args.indexOf(a) - 1]?.startsWith('--')) || 5);
const ONLY = value('--only', 'throughput,keys,prompt,rss').split(',');
const KEYS = Number(value('--keys', 2000));
const CALLGRIND = flag('--callgrind');
const SYSCALLS = flag('--syscalls');
const TTYLOAD = path.join(BUILD, 'bench/ttyload');
const OUT = path.join(BUILD, 'bench/terminal.json');

const streamCmd = (bytes) => `head -c ${bytes} /dev/zero | base64 | cat`;
const CMD = streamCmd(100000000);
// raw mode, no tty echo: cat itself sends each key back, one byte; the R
// says stty has run (both clients wait for it before the first key)
const ECHO_CMD = 'stty raw -echo; printf R; exec cat';

if (!fs.existsSync(TTYLOAD)) {
  console.error(`${TTYLOAD} is missing: make ${path.relative(process.cwd(), TTYLOAD)}`);
  process.exit(2);
}

const sorted = (v) => [...v].sort((a, b) => a - b);
const median = (v) => {
  const s = sorted(v);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const pct = (v, p) => sorted(v)[Math.min(v.length - 1, Math.floor(v.length * p))];
const spread = (v, digits = 1) => ({
  min: +Math.min(...v).toFixed(digits),
  median: +median(v).toFixed(digits),
  max: +Math.max(...v).toFixed(digits),
  runs: v.map((x) => +x.toFixed(digits)),
});
const fmt = (s, unit = '') => `${s.median}${unit} (${s.min}-${s.max}; ${s.runs.join(', ')})`;
// A, B, C, then B, C, A, ...: no measure always runs first or last
const order = (items, rep) => items.map((_, i) => items[(i + rep) % items.length]);
const load = () => os.loadavg().map((x) => +x.toFixed(2));

// --- /proc ---------------------------------------------------------------------

const TICK_US = 1e6 / (Number(spawnSync('getconf', ['CLK_TCK']).stdout.toString()) || 100);
// [own CPU, reaped children's CPU] in us, from /proc/PID/stat
function procCpu(pid) {
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return [(Number(f[11]) + Number(f[12])) * TICK_US, (Number(f[13]) + Number(f[14])) * TICK_US];
}
const rssKiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
const sum = (v) => v.reduce((a, b) => a + b, 0);

// --- clients -------------------------------------------------------------------

function ttyload(argv) {
  const r = spawnSync(TTYLOAD, argv, { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`ttyload ${argv[0]} failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

function open(url) {
  const ws = new WebSocket(url);
  ws.binaryType = 'nodebuffer';
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (q, r) => reject(new Error(`HTTP ${r.statusCode}`)));
  });
}

// The node client: bytes until the close frame.
async function nodeSink(url) {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const ws = await open(url);
  let bytes = 0;
  let frames = 0;
  ws.on('message', (d) => { bytes += d.length; frames++; });
  await new Promise((r) => ws.once('close', r));
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  return { bytes, seconds: s, mbps: bytes / s / 1e6, frames, client_cpu_us: cpu.user + cpu.system };
}

async function nodeKeys(url, n) {
  const ws = await open(url);
  let got = 0;
  let wake = null;
  ws.on('message', (d) => { got += d.length; if (wake) wake(); });
  await waitFor(() => got >= 1, { what: 'the echo terminal to be ready' });
  const cpu0 = process.cpuUsage();
  const rtts = [];
  for (let i = 0; i < n; i++) {
    const want = got + 1;
    const t = process.hrtime.bigint();
    const done = new Promise((r) => { wake = () => { if (got >= want) r(); }; });
    ws.send(Buffer.from('a'));
    await done;
    rtts.push(Number(process.hrtime.bigint() - t) / 1e3);
  }
  const cpu = process.cpuUsage(cpu0);
  ws.close();
  return {
    p50_us: pct(rtts, 0.5), p99_us: pct(rtts, 0.99), max_us: Math.max(...rtts),
    client_cpu_us: cpu.user + cpu.system,
  };
}

function pythonCeiling() {
  const py = `
import os, pty, time, sys, resource
t = time.perf_counter()
pid, fd = pty.fork()
if pid == 0:
    os.execv('/bin/sh', ['sh', '-c', sys.argv[1]])
n = 0
while True:
    try:
        b = os.read(fd, 65536)
    except OSError:
        break
    if not b:
        break
    n += len(b)
os.waitpid(pid, 0)
s = time.perf_counter() - t
me = resource.getrusage(resource.RUSAGE_SELF)
ch = resource.getrusage(resource.RUSAGE_CHILDREN)
print(n, s, int((me.ru_utime + me.ru_stime) * 1e6), int((ch.ru_utime + ch.ru_stime) * 1e6))`;
  const r = spawnSync('python3', ['-c', py, CMD], { encoding: 'utf8' });
  const [bytes, s, self, child] = r.stdout.trim().split(' ').map(Number);
  // python's own start-up is in its CPU; the command's is apart
  return { bytes, seconds: s, mbps: bytes / s / 1e6, client_cpu_us: self, child_cpu_us: child };
}

// --- the measures --------------------------------------------------------------

// A run through wharf, with the CPU each process used during it.
async function wharfRun(stack, agentPid, fn) {
  const workers = childPids(stack.nginx.pid);
  const a0 = procCpu(agentPid);
  const n0 = sum(workers.map((p) => procCpu(p)[0]));
  const r = await fn();
  const a1 = procCpu(agentPid);
  const n1 = sum(workers.map((p) => procCpu(p)[0]));
  return { ...r, agent_cpu_us: a1[0] - a0[0], command_cpu_us: a1[1] - a0[1], nginx_cpu_us: n1 - n0 };
}

const perMB = (r, key) => r[key] / (r.bytes / 1e6);

// REPS runs of each kind, interleaved: { kind: [result, ...] }
async function interleave(kinds) {
  const runs = Object.fromEntries(Object.keys(kinds).map((k) => [k, []]));
  for (let rep = 0; rep < REPS; rep++) {
    for (const k of order(Object.keys(kinds), rep)) runs[k].push(await kinds[k]());
  }
  return runs;
}

async function benchThroughput(stack, url, pathOf) {
  const runs = await interleave({
    c: () => wharfRun(stack, stack.agents.tput.pid, async () => ttyload(['sink', '--port', `${stack.port}`, '--path', pathOf('tput')])),
    node: () => wharfRun(stack, stack.agents.tput.pid, () => nodeSink(url('tput'))),
    ceiling: async () => ttyload(['ceiling', '--', CMD]),
    python: async () => pythonCeiling(),
  });
  const summary = {};
  for (const [k, v] of Object.entries(runs)) {
    // the command's CPU: the agent's reaped children, or the reader's
    for (const r of v) r.command_cpu_us ??= r.child_cpu_us;
    summary[k] = { mbps: spread(v.map((r) => r.mbps)) };
    // CPU per MB, and busy: the share of the run's wall time each process
    // spent on a CPU (a single-threaded client near 100 % set the pace)
    for (const who of ['client', 'agent', 'nginx', 'command']) {
      const key = `${who}_cpu_us`;
      if (v[0][key] === undefined) continue;
      summary[k][`${key}_per_mb`] = spread(v.map((r) => perMB(r, key)), 0);
      summary[k][`${who}_busy_pct`] = +median(v.map((r) => r[key] / (r.seconds * 1e4))).toFixed(0);
    }
    if (v[0].frames) summary[k].frame_mean = Math.round(median(v.map((r) => r.bytes / r.frames)));
  }
  const ceil = summary.ceiling.mbps.median;
  const py = summary.python.mbps.median;
  summary.ratio_c = +(summary.c.mbps.median / ceil).toFixed(3);
  summary.ratio_node = +(summary.node.mbps.median / ceil).toFixed(3);
  summary.ratio_python_ceiling = +(py / ceil).toFixed(3);
  summary.ratio_c_vs_python = +(summary.c.mbps.median / py).toFixed(3);
  summary.ratio_node_vs_python = +(summary.node.mbps.median / py).toFixed(3);
  summary.bytes = runs.c[0].bytes;
  summary.runs = runs;
  return summary;
}

async function benchKeys(stack, url, pathOf) {
  const runs = await interleave({
    c: async () => ttyload(['keys', '--count', `${KEYS}`, '--port', `${stack.port}`, '--path', pathOf('echo')]),
    node: () => nodeKeys(url('echo'), KEYS),
    pty: async () => ttyload(['pty-keys', '--count', `${KEYS}`, '--', ECHO_CMD]),
  });
  const summary = {};
  for (const [k, v] of Object.entries(runs)) {
    summary[k] = {
      p50_us: spread(v.map((r) => r.p50_us)),
      p99_us: spread(v.map((r) => r.p99_us)),
      client_cpu_us_per_key: +median(v.map((r) => r.client_cpu_us / KEYS)).toFixed(1),
    };
  }
  return summary;
}

async function benchPrompt(url) {
  const prompts = [];
  for (let i = 0; i < 10; i++) {
    const t = process.hrtime.bigint();
    const s = await open(url('shell'));
    let out = '';
    await new Promise((r) => s.on('message', (d) => { out += d.toString(); if (/[$#] $/.test(out)) r(); }));
    prompts.push(Number(process.hrtime.bigint() - t) / 1e6);
    s.close();
  }
  return spread(prompts);
}

async function benchRss(stack, url) {
  const agentPid = stack.agents.echo.pid;
  const workers = childPids(stack.nginx.pid);
  const nginxRss = () => sum(workers.map(rssKiB));
  await new Promise((r) => setTimeout(r, 500));
  const before = rssKiB(agentPid);
  const nginxBefore = nginxRss();
  // each session open and its cat ready (the R), then one key each
  const many = await Promise.all(Array.from({ length: 200 }, async () => {
    const s = new WebSocket(url('echo'));
    const ready = new Promise((resolve, reject) => {
      s.once('message', resolve);
      s.once('error', reject);
    });
    await ready;
    return s;
  }));
  for (const s of many) s.send(Buffer.from('x'));
  await new Promise((r) => setTimeout(r, 1000));
  const during = rssKiB(agentPid);
  const nginxDuring = nginxRss();
  for (const s of many) s.close();
  return {
    agentRssBeforeKiB: before,
    agentRssWith200KiB: during,
    agentRssPerSessionKiB: +((during - before) / 200).toFixed(1),
    nginxRssPerSessionKiB: +((nginxDuring - nginxBefore) / 200).toFixed(1),
  };
}

// --- system calls ---------------------------------------------------------------

// perf stat attached to pids while fn runs: { syscalls, switches }.
async function perfCount(pids, fn) {
  const p = spawn('perf', ['stat', '-x,', '-e', 'raw_syscalls:sys_enter,context-switches', '--no-inherit',
    '-p', pids.join(',')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  p.stderr.on('data', (d) => { err += d; });
  const done = new Promise((r) => p.on('exit', r));
  await new Promise((r) => setTimeout(r, 300)); // attached
  let r;
  try {
    r = await fn();
  } finally {
    p.kill('SIGINT');
    await done;
  }
  const count = (ev) => Number(new RegExp(`^(\\d+),[^,]*,${ev}`, 'm').exec(err)?.[1]);
  const res = { syscalls: count('raw_syscalls:sys_enter'), switches: count('context-switches') };
  if (!Number.isFinite(res.syscalls)) throw new Error(`perf stat: ${err.trim()}`);
  return [res, r];
}

async function benchSyscalls(stack, url, pathOf) {
  const res = {};
  const clients = {
    c: async () => ttyload(['sink', '--port', `${stack.port}`, '--path', pathOf('tput')]),
    node: () => nodeSink(url('tput')),
  };
  for (const [k, fn] of Object.entries(clients)) {
    const [nginx, [agent, r]] = await perfCount(childPids(stack.nginx.pid),
      () => perfCount([stack.agents.tput.pid], fn));
    const mb = r.bytes / 1e6;
    res[k] = {
      agent_syscalls_per_mb: +(agent.syscalls / mb).toFixed(0),
      agent_switches_per_mb: +(agent.switches / mb).toFixed(0),
      nginx_syscalls_per_mb: +(nginx.syscalls / mb).toFixed(0),
      nginx_switches_per_mb: +(nginx.switches / mb).toFixed(0),
      mbps: +r.mbps.toFixed(1),
    };
  }
  // per keystroke: the C client's keys, the echo agent
  const [nginx, [agent]] = await perfCount(childPids(stack.nginx.pid),
    () => perfCount([stack.agents.echo.pid], async () => ttyload(['keys', '--count', `${KEYS}`,
      '--port', `${stack.port}`, '--path', pathOf('echo')])));
  res.keys = {
    agent_syscalls_per_key: +(agent.syscalls / KEYS).toFixed(2),
    agent_switches_per_key: +(agent.switches / KEYS).toFixed(2),
    nginx_syscalls_per_key: +(nginx.syscalls / KEYS).toFixed(2),
    nginx_switches_per_key: +(nginx.switches / KEYS).toFixed(2),
  };
  return res;
}

// --- callgrind -----------------------------------------------------------------

const callgrindTotal = (file) => Number(/^(?:summary|totals):\s*(\d+)/m.exec(fs.readFileSync(file, 'utf8'))[1]);

// One terminal session through an agent and an nginx, both under callgrind:
// the agent runs `cmd`, ttyload (mode, args) is the client. Returns [agent
// instructions, nginx instructions, ttyload's result].
async function callgrindSession(cmd, mode, args, dir) {
  const tag = `${mode}.${args.join('_')}.${Date.now()}`;
  const agentOut = path.join(dir, `callgrind.agent.${tag}.out`);
  const nginxOut = path.join(dir, `callgrind.nginx.${tag}.out`);
  const vg = (out) => ['valgrind', '--tool=callgrind', `--callgrind-out-file=${out}`, '--trace-children=no'];
  const stack = await startStack({
    tag: 'bench-terminal-cg',
    workers: [{ name: 'cg', terminalCmd: `sh -c '${cmd}'`, wrap: vg(agentOut) }],
  });
  let ngx;
  let got;
  try {
    // a second nginx on the same workers, as one process under callgrind
    const prefix = path.join(stack.dir, 'nginx-cg');
    fs.mkdirSync(prefix, { mode: 0o755 });
    const port = await freeStaticPort();
    const conf = renderNginxConf({
      prefix, listen: `127.0.0.1:${port}`, wharfd: stack.wharfd.addr, wharfdWs: '127.0.0.1:1',
      workersDir: stack.workersDir, keys: stack.keys, consoleDir: path.join(stack.dir, 'console'),
    });
    ngx = spawn(vg(nginxOut)[0], [...vg(nginxOut).slice(1), BIN.nginx, '-p', prefix, '-c', conf,
      '-e', path.join(prefix, 'logs/error.log'), '-g', 'daemon off; master_process off;'], { stdio: 'ignore' });
    ngx.done = new Promise((r) => ngx.on('exit', r));
    await waitFor(() => fs.existsSync(path.join(prefix, 'nginx.pid')), { what: 'nginx under callgrind', timeout: 60000 });
    await waitFor(() => {
      try {
        got = ttyload([mode, ...args, '--port', `${port}`, '--path', `/api/workers/cg/terminal?access_token=${stack.token}`]);
        return true;
      } catch {
        return false; // nginx not listening yet
      }
    }, { what: 'a session through nginx under callgrind', timeout: 60000, interval: 500 });
  } finally {
    if (ngx) {
      ngx.kill('SIGQUIT');
      await ngx.done;
    }
    await stack.stop();
  }
  return [callgrindTotal(agentOut), callgrindTotal(nginxOut), got];
}

// Per MB: the stream at two sizes; per key: two numbers of keys; the
// difference divided by the difference, so start-up and the handshake drop
// out. Three times each.
async function benchCallgrind() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-terminal-cg-'));
  const [small, large] = [10000000, 40000000];
  const [few, many] = [200, 1000];
  const runs = [];
  try {
    for (let rep = 0; rep < 3; rep++) {
      const a = await callgrindSession(streamCmd(small), 'sink', [], dir);
      const b = await callgrindSession(streamCmd(large), 'sink', [], dir);
      const mb = (b[2].bytes - a[2].bytes) / 1e6;
      const c = await callgrindSession(ECHO_CMD, 'keys', ['--count', `${few}`], dir);
      const d = await callgrindSession(ECHO_CMD, 'keys', ['--count', `${many}`], dir);
      runs.push({
        agent: (b[0] - a[0]) / mb, nginx: (b[1] - a[1]) / mb,
        agentKey: (d[0] - c[0]) / (many - few), nginxKey: (d[1] - c[1]) / (many - few),
      });
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return {
    agent_instructions_per_mb: spread(runs.map((r) => r.agent), 0),
    nginx_instructions_per_mb: spread(runs.map((r) => r.nginx), 0),
    agent_instructions_per_key: spread(runs.map((r) => r.agentKey), 0),
    nginx_instructions_per_key: spread(runs.map((r) => r.nginxKey), 0),
  };
}

// --- main ----------------------------------------------------------------------

const out = { reps: REPS, keys: KEYS, cpus: os.cpus().length, loadBefore: load() };
const stack = await startStack({
  tag: 'bench-terminal',
  workers: [
    { name: 'tput', terminalCmd: `sh -c '${CMD}'` },
    { name: 'echo', terminalCmd: `sh -c '${ECHO_CMD}'` },
    { name: 'shell', terminalCmd: 'bash --norc --noprofile' },
  ],
});
const pathOf = (w) => `/api/workers/${w}/terminal?access_token=${stack.token}`;
const url = (w) => `${stack.ws}${pathOf(w)}`;
try {
  if (ONLY.includes('throughput')) {
    const t = await benchThroughput(stack, url, pathOf);
    out.throughput = t;
    console.log(`throughput, ${REPS} interleaved runs, MB/s median (min-max; runs):`);
    console.log(`  ceiling, C reader        ${fmt(t.ceiling.mbps)}`);
    console.log(`  ceiling, python reader   ${fmt(t.python.mbps)}  (x${t.ratio_python_ceiling})`);
    console.log(`  wharf, C client          ${fmt(t.c.mbps)}  x${t.ratio_c} of the C ceiling, `
      + `x${t.ratio_c_vs_python} of python's`);
    console.log(`  wharf, node client       ${fmt(t.node.mbps)}  x${t.ratio_node} of the C ceiling, `
      + `x${t.ratio_node_vs_python} of python's`);
    console.log('  CPU us per MB, median (busy: % of the wall time on a CPU): client / agent / nginx / the command');
    for (const k of ['ceiling', 'python', 'c', 'node']) {
      const s = t[k];
      const cell = (who) => (s[`${who}_cpu_us_per_mb`] ? `${s[`${who}_cpu_us_per_mb`].median} (${s[`${who}_busy_pct`]} %)` : '-');
      console.log(`    ${k.padEnd(8)} ${cell('client')} / ${cell('agent')} / ${cell('nginx')} / ${cell('command')}`);
    }
    console.log(`  mean frame: ${t.c.frame_mean} B (C client), ${t.node.frame_mean} B (node)`);
  }
  if (SYSCALLS) {
    try {
      out.syscalls = await benchSyscalls(stack, url, pathOf);
      const perKey = out.syscalls.keys;
      console.log(`system calls per key: agent ${perKey.agent_syscalls_per_key} (${perKey.agent_switches_per_key} `
        + `context switches), nginx ${perKey.nginx_syscalls_per_key} (${perKey.nginx_switches_per_key})`);
      for (const [k, v] of Object.entries(out.syscalls)) {
        if (k === 'keys') continue;
        console.log(`system calls per MB, ${k} client: agent ${v.agent_syscalls_per_mb} (${v.agent_switches_per_mb} context switches), `
          + `nginx ${v.nginx_syscalls_per_mb} (${v.nginx_switches_per_mb})`);
      }
    } catch (e) {
      console.log(`system calls: not counted (${e.message})`);
    }
  }
  if (ONLY.includes('keys')) {
    const k = await benchKeys(stack, url, pathOf);
    out.keys_echo = k;
    console.log(`keystroke echo, ${KEYS} keys x ${REPS} runs, us: p50 median (min-max; runs) / p99 median`);
    console.log(`  bare PTY      ${fmt(k.pty.p50_us)} / ${k.pty.p99_us.median}`);
    console.log(`  wharf, C      ${fmt(k.c.p50_us)} / ${k.c.p99_us.median}`);
    console.log(`  wharf, node   ${fmt(k.node.p50_us)} / ${k.node.p99_us.median}`);
  }
  if (ONLY.includes('prompt')) {
    out.firstPromptMs = await benchPrompt(url);
    console.log(`first prompt, ms: ${fmt(out.firstPromptMs)}`);
  }
  if (ONLY.includes('rss')) {
    out.rss = await benchRss(stack, url);
    console.log(`200 sessions: agent ${out.rss.agentRssPerSessionKiB} KiB/session `
      + `(${out.rss.agentRssBeforeKiB} -> ${out.rss.agentRssWith200KiB} KiB), nginx ${out.rss.nginxRssPerSessionKiB} KiB/session`);
  }
} finally {
  await stack.stop();
}
if (CALLGRIND) {
  out.callgrind = await benchCallgrind();
  const cg = out.callgrind;
  console.log(`callgrind, instructions per MB (3 runs): agent ${fmt(cg.agent_instructions_per_mb)}, `
    + `nginx ${fmt(cg.nginx_instructions_per_mb)}`);
  console.log(`callgrind, instructions per key (3 runs): agent ${fmt(cg.agent_instructions_per_key)}, `
    + `nginx ${fmt(cg.nginx_instructions_per_key)}`);
}
out.loadAfter = load();
console.log(`load average before ${out.loadBefore.join(' ')}, after ${out.loadAfter.join(' ')} (${out.cpus} CPUs)`);
fs.mkdirSync(path.dirname(OUT), { recursive: true });
fs.writeFileSync(OUT, `${JSON.stringify(out, null, 1)}\n`);
console.log(`results: ${path.relative(process.cwd(), OUT)}`);
