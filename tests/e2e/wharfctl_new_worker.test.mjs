// scripts/new-worker against a running `make run` stack (scripts/run-stack,
// in a temp run folder on free ports): every refusal leaves the registry
// byte for byte as it was; a good call adds a second worker with no
// restart, and its terminal answers through nginx as soon as new-worker
// returns.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BIN, BUILD, ROOT, childPids, freePort, procGone, startAgent, tempDir, waitFor } from '../lib/stack.mjs';

const NEW_WORKER = path.join(ROOT, 'scripts/new-worker');

// sha256 of every file under dir, by relative path.
function treeHash(dir) {
  const out = {};
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[path.relative(dir, p)] = crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex');
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return out;
}

describe('new-worker on a running make-run stack', () => {
  let dir;
  let runDir;
  let stack;            // the run-stack process
  let stackOut = '';
  let env;              // run/env, parsed
  let agent;
  let workersRoot;
  const started = new Set();

  const newWorker = (args, extra = {}) => {
    const r = spawnSync(NEW_WORKER, args, {
      env: { ...process.env, ...env, WHARF_WORKERS_ROOT: workersRoot, ...extra },
    });
    return { status: r.status, out: r.stdout.toString(), err: r.stderr.toString() };
  };

  before(async () => {
    dir = tempDir('new-worker');
    runDir = path.join(dir, 'run');
    workersRoot = path.join(dir, 'workers');
    const ports = { WHARF_PORT: await freePort(), WHARFD_PORT: await freePort(), WHARFD_WS_PORT: await freePort() };
    stack = spawn(path.join(ROOT, 'scripts/run-stack'), [], {
      env: { ...process.env, ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, `${v}`])),
        WHARF_RUN_DIR: runDir, B: path.relative(ROOT, BUILD) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    stack.exited = new Promise((resolve) => stack.on('exit', (code, signal) => resolve({ code, signal })));
    stack.stdout.on('data', (d) => { stackOut += d; });
    stack.stderr.on('data', (d) => { stackOut += d; });
    await waitFor(() => {
      if (stack.exitCode !== null) throw new Error(`run-stack exited:\n${stackOut}`);
      return /wharf is up/.test(stackOut) && fs.existsSync(path.join(runDir, 'env'));
    }, { timeout: 20000, what: () => `run-stack to be up:\n${stackOut}` });
    env = Object.fromEntries(fs.readFileSync(path.join(runDir, 'env'), 'utf8').split('\n')
      .filter((l) => l.startsWith('export ')).map((l) => l.slice(7).split(/=(.*)/s).slice(0, 2)));
    // Every process of the stack, to check that all are gone at the end.
    for (const p of childPids(stack.pid)) started.add(p);
    // The agent checks the module's tokens with the stack's public key (the
    // one wharfctl keys init made), as make run's demo agent does.
    agent = await startAgent({
      name: 'api', terminalCmd: 'bash --norc --noprofile', logDir: dir,
      keys: { publicPath: path.join(runDir, 'keys/public.pem') },
    });
  });

  after(async () => {
    if (agent) await agent.stop();
    if (stack && stack.exitCode === null) {
      stack.kill('SIGTERM');
      await stack.exited;
    }
    for (const p of started) await waitFor(() => procGone(p), { what: `stack process ${p} to end` });
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the stack has keys, an operator token, and the demo worker', () => {
    assert.ok(fs.existsSync(path.join(runDir, 'keys/private.pem')));
    assert.equal(fs.statSync(path.join(runDir, 'keys/private.pem')).mode & 0o777, 0o600);
    assert.match(env.WHARF_TOKEN, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    assert.equal(fs.statSync(path.join(runDir, 'env')).mode & 0o777, 0o600, 'run/env holds a token');
    assert.ok(fs.existsSync(path.join(runDir, 'workers.d/demo.conf')));
  });

  test('each refusal leaves the registry and the workers root byte for byte unchanged', () => {
    const registry = path.join(runDir, 'workers.d');
    const cases = [
      { args: ['Bad_Name', '--addr', agent.addr], status: 2, why: /not a worker name/ },
      { args: ['demo', '--addr', agent.addr], status: 2, why: /already exists/ },
      { args: ['api', '--addr', '127.0.0.1:70000'], status: 2, why: /port/ },
      { args: ['api', '--addr', 'no-port-here'], status: 2, why: /HOST:PORT/ },
      { args: ['api', '--addr', agent.addr, '--max-sessions', '0'], status: 2, why: /max-sessions/ },
      { args: ['api', '--addr', agent.addr, '--bogus'], status: 2, why: /unknown flag/ },
      // Parses, but nginx -t cannot resolve it: written, checked, removed.
      { args: ['api', '--addr', 'host.invalid:80'], status: 1, why: /nginx -t failed[\s\S]*host not found/ },
      { args: ['api', '--addr', agent.addr], extra: { WHARF_KEY: '' }, status: 2, why: /no private key/ },
    ];
    for (const c of cases) {
      const before = { reg: treeHash(registry), root: fs.existsSync(workersRoot) };
      const r = newWorker(c.args, c.extra);
      assert.equal(r.status, c.status, `${c.args.join(' ')}: ${r.err}`);
      assert.match(r.err, c.why, c.args.join(' '));
      assert.deepEqual(treeHash(registry), before.reg, `${c.args.join(' ')} changed ${registry}`);
      assert.equal(fs.existsSync(workersRoot), before.root, `${c.args.join(' ')} left ${workersRoot}`);
    }
  });

  test('a second worker, registered live: no reload, its terminal answers through nginx at once', async () => {
    const masterPid = Number(fs.readFileSync(path.join(runDir, 'nginx/nginx.pid'), 'utf8'));
    const workerPids = childPids(masterPid).sort();
    const registry = treeHash(path.join(runDir, 'workers.d'));
    const r = newWorker(['api', '--addr', agent.addr, '--max-sessions', '4']);
    assert.equal(r.status, 0, r.err);
    assert.match(r.out, /worker api added/);
    // the live registry (issue 15), not a worker file and a reload
    assert.match(r.out, /registry {3}live, PUT http:\/\/127\.0\.0\.1:\d+\/api\/workers\/api \(kept in .*registry\.json\)/);
    assert.match(r.out, /registered live .*nothing reloaded/);
    assert.deepEqual(treeHash(path.join(runDir, 'workers.d')), registry, 'no worker file');
    assert.deepEqual(childPids(masterPid).sort(), workerPids, 'no reload: the same worker processes');
    const state = JSON.parse(fs.readFileSync(path.join(runDir, 'nginx/state/registry.json'), 'utf8'));
    assert.deepEqual(state.workers.map((w) => [w.name, w.upstream, w.max_sessions]), [['api', agent.addr, 4]]);
    const envFile = path.join(workersRoot, 'api/wharf.env');
    assert.equal(fs.statSync(envFile).mode & 0o777, 0o600);
    const token = /^WHARF_TOKEN=(.*)$/m.exec(fs.readFileSync(envFile, 'utf8'))[1];
    const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url'));
    assert.equal(claims.sub, 'api');
    assert.equal(claims.scope, 'ingest');

    // At once: no wait, no retry.
    const t = spawnSync(BIN.wharfctl, ['terminal', 'api'], {
      input: 'echo $((6*7))\nexit 4\n',
      env: { ...process.env, WHARF_URL: env.WHARF_URL, WHARF_TOKEN: env.WHARF_TOKEN },
      timeout: 10000,
    });
    assert.equal(t.status, 4, t.stderr.toString());
    assert.match(t.stdout.toString(), /[\r\n]42\r\n/);

    // The same nginx master, and the stack's processes all still there.
    assert.equal(Number(fs.readFileSync(path.join(runDir, 'nginx/nginx.pid'), 'utf8')), masterPid);
    for (const p of started) assert.ok(!procGone(p), `stack process ${p} ended`);
    // And the name is taken now.
    const again = newWorker(['api', '--addr', agent.addr]);
    assert.equal(again.status, 2);
    assert.match(again.err, /already (exists|registered)/);
  });

  test('--no-reload and no --addr: a worker file, a free port is picked, nginx is left alone', () => {
    const master = Number(fs.readFileSync(path.join(runDir, 'nginx/nginx.pid'), 'utf8'));
    const before = childPids(master).sort();
    const r = newWorker(['later', '--no-reload']);
    assert.equal(r.status, 0, r.err);
    assert.match(r.out, /not reloaded/);
    const m = /server 127\.0\.0\.1:(\d+);/.exec(fs.readFileSync(path.join(runDir, 'workers.d/later.conf'), 'utf8'));
    assert.ok(m && Number(m[1]) >= 9100 && Number(m[1]) <= 9999, 'a port from 9100 on');
    assert.deepEqual(childPids(master).sort(), before, 'no reload');
  });

  test('the printed command starts the new worker as it says, and it serves through nginx', async () => {
    const port = await freePort();
    const r = newWorker(['web', '--addr', `127.0.0.1:${port}`]);
    assert.equal(r.status, 0, r.err);
    const line = /start its agent:\n\s+(.*)\n/.exec(r.out);
    assert.ok(line, r.out);
    // No wharf-agent on PATH here: the line names the agent it will run.
    const workerEnv = fs.readFileSync(path.join(workersRoot, 'web/wharf.env'), 'utf8');
    // wharf.env names no path of this host (docker run --env-file takes
    // it as is); the printed line gives the key's path itself.
    assert.doesNotMatch(workerEnv, /^WHARF_PUBLIC_KEY=/m);
    assert.match(line[1], /--public-key '\/.*\/web\/public\.pem'\)$/);
    // Exactly what a user pastes: a shell, the printed line, nothing else
    // from this process's environment that the line does not set itself.
    const cleanEnv = { PATH: process.env.PATH, HOME: process.env.HOME || '/root' };
    const agentProc = spawn('bash', ['-c', line[1]], { env: cleanEnv, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let agentOut = '';
    agentProc.stdout.on('data', (d) => { agentOut += d; });
    agentProc.stderr.on('data', (d) => { agentOut += d; });
    try {
      await waitFor(() => {
        if (agentProc.exitCode !== null) throw new Error(`the printed command exited ${agentProc.exitCode}:\n${agentOut}`);
        return /listening on/.test(agentOut);
      }, { what: () => `the agent of the printed command to listen:\n${agentOut}` });
      const t = spawnSync(BIN.wharfctl, ['terminal', 'web'], {
        input: 'echo $((7*6))\nexit 3\n',
        env: { ...process.env, WHARF_URL: env.WHARF_URL, WHARF_TOKEN: env.WHARF_TOKEN },
        timeout: 10000,
      });
      assert.equal(t.status, 3, t.stderr.toString());
      // The worker's login shell prints its prompt before the typed-ahead
      // command's answer.
      assert.match(t.stdout.toString(), /(^|[\r\n ])42\r\n/);
    } finally {
      process.kill(-agentProc.pid, 'SIGTERM');
      await waitFor(() => procGone(agentProc.pid), { what: 'the printed agent to stop' });
    }
  });
});
