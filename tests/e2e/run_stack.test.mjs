// `make run` (scripts/run-stack) as a new user meets it: started from a
// private folder (mode 0700, as anything under /root) it takes large bodies
// and loses no line; with its output cut short by a pipe (`make run | head`)
// Ctrl-C still stops every part it started.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { BUILD, ROOT, freePort, mintToken, procGone, startAgent, waitFor } from '../lib/stack.mjs';

// Every descendant of pid, from /proc.
function descendants(pid) {
  const kids = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!kids.has(ppid)) kids.set(ppid, []);
      kids.get(ppid).push(Number(d));
    } catch {
      // ended while we read
    }
  }
  const out = [];
  const walk = (p) => { for (const k of kids.get(p) || []) { out.push(k); walk(k); } };
  walk(pid);
  return out;
}

// The stack's own daemons, from their pid files and the run-stack's tree.
function stackPids(runDir, shellPid) {
  const pids = new Set(descendants(shellPid));
  const nginxPid = path.join(runDir, 'nginx/nginx.pid');
  if (fs.existsSync(nginxPid)) pids.add(Number(fs.readFileSync(nginxPid, 'utf8')));
  return [...pids];
}

// A private parent (0700) holding the run folder, as /root would.
function privateRunDir(tag) {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), `wharf-${tag}-`));
  fs.chmodSync(parent, 0o700);
  return { parent, runDir: path.join(parent, 'run') };
}

async function stackEnv(runDir) {
  return {
    ...process.env,
    WHARF_PORT: `${await freePort()}`,
    WHARFD_PORT: `${await freePort()}`,
    WHARFD_WS_PORT: `${await freePort()}`,
    WHARF_RUN_DIR: runDir,
    B: path.relative(ROOT, BUILD),
  };
}

function readEnvFile(runDir) {
  return Object.fromEntries(fs.readFileSync(path.join(runDir, 'env'), 'utf8').split('\n')
    .filter((l) => l.startsWith('export ')).map((l) => l.slice(7).split(/=(.*)/s).slice(0, 2)));
}

describe('make run', () => {
  test('`make run | head -5`, then Ctrl-C: every part of the stack stops', async () => {
    const { parent, runDir } = privateRunDir('run-pipe');
    // Its own process group, as a shell's job: Ctrl-C is SIGINT to it all.
    const sh = spawn('bash', ['-c', `'${path.join(ROOT, 'scripts/run-stack')}' | head -5`], {
      env: await stackEnv(runDir), detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    sh.stdout.on('data', (d) => { out += d; });
    sh.stderr.on('data', (d) => { out += d; });
    let pids = [];
    try {
      // head has its 5 lines and is gone; the stack runs on, its output
      // going to a closed pipe.
      await waitFor(() => out.split('\n').length > 5 && fs.existsSync(path.join(runDir, 'env')),
        { timeout: 30000, what: () => `the stack to be up and head to have its lines:\n${out}` });
      await waitFor(() => (pids = stackPids(runDir, sh.pid)).length >= 4,
        { what: 'wharfd, the agent and nginx' });
      // The stack still serves after its banner hit the closed pipe.
      const env = readEnvFile(runDir);
      const r = await fetch(`${env.WHARF_URL}/api/workers`, { headers: { Authorization: `Bearer ${env.WHARF_TOKEN}` } });
      assert.equal(r.status, 200);
      // The banner's first lines: the console's URL, served.
      const consoleUrl = out.match(/^ {2}console +(http:\/\/127\.0\.0\.1:\d+\/console\/)$/m);
      assert.ok(consoleUrl, `the banner names the console:\n${out}`);
      const page = await fetch(consoleUrl[1]);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<title>wharf console<\/title>/);
      for (const p of pids) assert.ok(!procGone(p), `stack process ${p} ended before Ctrl-C`);
      process.kill(-sh.pid, 'SIGINT');
      for (const p of pids) await waitFor(() => procGone(p), { timeout: 15000, what: `stack process ${p} to stop after Ctrl-C` });
    } finally {
      // Those seen while the stack was up too: a part that outlived a
      // failed run-stack is no longer its descendant.
      for (const p of new Set([...pids, ...stackPids(runDir, sh.pid)])) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
      try { process.kill(-sh.pid, 'SIGKILL'); } catch { /* gone */ }
      fs.rmSync(parent, { recursive: true, force: true });
    }
  });

  test('from a private folder: a 1 MiB storeLogs body is stored, and 200,000 lines of an agent arrive exactly once', async () => {
    const { parent, runDir } = privateRunDir('run-private');
    const stack = spawn(path.join(ROOT, 'scripts/run-stack'), [], {
      env: await stackEnv(runDir), stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    stack.stdout.on('data', (d) => { out += d; });
    stack.stderr.on('data', (d) => { out += d; });
    const exited = new Promise((resolve) => stack.on('exit', resolve));
    let agent;
    try {
      await waitFor(() => {
        if (stack.exitCode !== null) throw new Error(`run-stack exited:\n${out}`);
        return /wharf is up/.test(out);
      }, { timeout: 30000, what: () => `run-stack to be up:\n${out}` });
      assert.equal(fs.statSync(parent).mode & 0o777, 0o700);
      const env = readEnvFile(runDir);
      const key = fs.readFileSync(path.join(runDir, 'keys/private.pem'), 'utf8');

      // 1 MiB of storeLogs, far over nginx's in-memory body buffer: nginx
      // spools it to its temp folder inside the private run folder.
      const lines = [];
      let size = 0;
      for (let i = 1; size < 1024 * 1024; i++) {
        const l = { sequence: i, timestamp: new Date().toISOString(), level: 'info', stream: 'stdout', message: `big-body line ${i} ${'x'.repeat(200)}` };
        size += JSON.stringify(l).length + 1;
        lines.push(l);
      }
      const ingest = mintToken(key, { sub: 'bulk', scope: 'ingest' });
      const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ContainerMonitoringOps.storeLogs', params: { instanceId: 'bulk-1', logs: lines } });
      assert.ok(body.length >= 1024 * 1024);
      const r = await fetch(`${env.WHARF_URL}/rpc`, {
        method: 'POST', body, headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${ingest}` },
      });
      const text = await r.text();
      assert.equal(r.status, 200, text);
      assert.equal(JSON.parse(text).error, undefined, text);

      // 200,000 lines from an agent shipping through this nginx.
      const N = 200000;
      agent = await startAgent({
        name: 'lines', logDir: parent,
        orchestrator: env.WHARF_URL, token: mintToken(key, { sub: 'lines', scope: 'ingest' }),
        keys: { publicPath: path.join(runDir, 'keys/public.pem') },
        args: ['--instance-id', 'seq'], app: ['seq', '1', `${N}`],
      });
      const db = new Database(path.join(runDir, 'wharf.db'), { readonly: true, fileMustExist: true });
      try {
        const count = () => db.prepare("SELECT count(*) AS n, count(DISTINCT message) AS d, min(CAST(message AS INTEGER)) AS lo, max(CAST(message AS INTEGER)) AS hi FROM container_logs WHERE worker_name = 'lines'").get();
        await waitFor(() => count().n >= N, { timeout: 60000, interval: 200, what: () => `${N} lines stored (have ${count().n})` });
        assert.deepEqual(count(), { n: N, d: N, lo: 1, hi: N });
        const bulk = db.prepare("SELECT count(*) AS n FROM container_logs WHERE worker_name = 'bulk'").get();
        assert.equal(bulk.n, lines.length);
      } finally {
        db.close();
      }
    } finally {
      if (agent) await agent.stop();
      if (stack.exitCode === null) stack.kill('SIGTERM');
      await exited;
      fs.rmSync(parent, { recursive: true, force: true });
    }
  });
});
