// `make run` on PostgreSQL (scripts/run-stack, WHARF_DB): with a
// postgresql:// URL the whole stack serves from that database, and an
// agent's lines shipped through its nginx are stored there exactly once
// (read back with psql, not through wharfd); with WHARF_DB=pg it makes
// and runs a private server of its own (initdb in run/pg), which psql
// reaches through run/env, which keeps its rows across runs and which
// Ctrl-C stops with the rest.

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { sharedPgServer } from '../lib/pg.mjs';
import { BUILD, ROOT, freePort, mintToken, procGone, startAgent, waitFor } from '../lib/stack.mjs';

function readEnvFile(runDir) {
  const env = {};
  for (const l of fs.readFileSync(path.join(runDir, 'env'), 'utf8').split('\n')) {
    if (!l.startsWith('export ')) continue;
    // `export A=1 B=2` (the PG* line) or `export A=1`
    for (const kv of l.slice(7).split(' ')) {
      const [k, v] = kv.split(/=(.*)/s);
      env[k] = v;
    }
  }
  return env;
}

// psql's one-value answer; target: a URL, or null for PG* from env.
function psql(target, sql, env = {}) {
  const args = ['-XtA', '-v', 'ON_ERROR_STOP=1', '-c', sql];
  if (target) args.unshift(target);
  return execFileSync('psql', args, { encoding: 'utf8', env: { ...process.env, ...env } }).trim();
}

// Starts scripts/run-stack; resolves once it is up.
async function runStack(runDir, db) {
  const env = {
    ...process.env,
    WHARF_PORT: `${await freePort()}`,
    WHARFD_PORT: `${await freePort()}`,
    WHARFD_WS_PORT: `${await freePort()}`,
    WHARF_RUN_DIR: runDir,
    WHARF_DB: db,
    B: path.relative(ROOT, BUILD),
  };
  const proc = spawn(path.join(ROOT, 'scripts/run-stack'), [], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  proc.out = '';
  proc.stdout.on('data', (d) => { proc.out += d; });
  proc.stderr.on('data', (d) => { proc.out += d; });
  proc.exited = new Promise((resolve) => proc.on('exit', resolve));
  await waitFor(() => {
    if (proc.exitCode !== null) throw new Error(`run-stack exited:\n${proc.out}`);
    return /wharf is up/.test(proc.out);
  }, { timeout: 60000, what: () => `run-stack to be up:\n${proc.out}` });
  return proc;
}

async function stop(proc) {
  if (proc.exitCode === null) proc.kill('SIGINT');
  await proc.exited;
}

// A run folder that the postgres user can enter (as root, the private
// server runs as postgres).
function runFolder(tag) {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), `wharf-${tag}-`));
  fs.chmodSync(parent, 0o755);
  return { parent, runDir: path.join(parent, 'run') };
}

describe('make run on PostgreSQL', () => {
  test('WHARF_DB=postgresql://...: the API on PostgreSQL; an agent\'s 20,000 lines stored there exactly once', async () => {
    const server = await sharedPgServer();
    const { url } = await server.createDatabase('runstack');
    const { parent, runDir } = runFolder('run-pg-url');
    const stack = await runStack(runDir, url);
    let agent;
    try {
      assert.match(stack.out, new RegExp(`database: ${url.replace(/[?.]/g, '\\$&')}`));
      assert.ok(!fs.existsSync(path.join(runDir, 'wharf.db')), 'no SQLite file');
      const env = readEnvFile(runDir);
      const auth = { Authorization: `Bearer ${env.WHARF_TOKEN}` };
      const health = await (await fetch(`${env.WHARF_URL}/api/monitoring/health`)).json();
      assert.equal(health.database, 'ok');
      assert.equal((await fetch(`${env.WHARF_URL}/api/workers`, { headers: auth })).status, 200);
      const metrics = await (await fetch(`${env.WHARF_URL}/api/monitoring/metrics`, { headers: auth })).text();
      assert.match(metrics, /^wharfd_build_info\{engine="postgresql",/m);
      // the schema is there, migrated by wharfd
      assert.equal(psql(url, 'SELECT max(version) FROM schema_migrations'), '2');

      const N = 20000;
      const key = fs.readFileSync(path.join(runDir, 'keys/private.pem'), 'utf8');
      agent = await startAgent({
        name: 'lines', logDir: parent,
        orchestrator: env.WHARF_URL, token: mintToken(key, { sub: 'lines', scope: 'ingest' }),
        keys: { publicPath: path.join(runDir, 'keys/public.pem') },
        args: ['--instance-id', 'seq'], app: ['seq', '1', `${N}`],
      });
      const count = () => psql(url, "SELECT count(*) || ' ' || count(DISTINCT message) || ' ' || min(message::int) || ' ' || max(message::int) FROM container_logs WHERE worker_name = 'lines'");
      await waitFor(() => Number(count().split(' ')[0]) >= N, { timeout: 60000, interval: 250, what: () => `${N} lines in PostgreSQL (have ${count()})` });
      assert.equal(count(), `${N} ${N} 1 ${N}`);
      // the same rows through the API
      const rpc = await (await fetch(`${env.WHARF_URL}/rpc`, {
        method: 'POST', headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ContainerMonitoringOps.getLogs', params: { worker: 'lines', instanceId: 'seq', limit: 1, total: true } }),
      })).json();
      assert.equal(rpc.result.pagination.total, N, JSON.stringify(rpc));
      // the demo worker's agent, started by make run, registered there too
      await waitFor(() => psql(url, "SELECT count(*) FROM workers WHERE name = 'demo'") === '1', { what: 'the demo worker in PostgreSQL' });
    } finally {
      if (agent) await agent.stop();
      await stop(stack);
      fs.rmSync(parent, { recursive: true, force: true });
    }
  });

  test('WHARF_DB=pg: a private server made once, reached by psql through run/env, kept across runs, stopped by Ctrl-C', async () => {
    const { parent, runDir } = runFolder('run-pg-own');
    try {
      let stack = await runStack(runDir, 'pg');
      let env = readEnvFile(runDir);
      let pgPid;
      try {
        assert.match(stack.out, /a private PostgreSQL cluster, once, in /);
        assert.ok(env.PGHOST && env.PGDATABASE === 'wharf', JSON.stringify(env));
        pgPid = Number(fs.readFileSync(path.join(env.PGHOST, 'data/postmaster.pid'), 'utf8').split('\n')[0]);
        assert.ok(!procGone(pgPid));
        const res = await fetch(`${env.WHARF_URL}/rpc`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', Authorization: `Bearer ${env.WHARF_TOKEN}` },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ContainerMonitoringOps.storeLogs', params: { worker: 'kept', instanceId: 'k', logs: [{ sequence: 1, level: 'info', message: 'across runs' }] } }),
        });
        assert.equal((await res.json()).result.stored, 1);
        assert.equal(psql(null, "SELECT message FROM container_logs WHERE worker_name = 'kept'", env), 'across runs');
      } finally {
        await stop(stack);
      }
      await waitFor(() => procGone(pgPid), { timeout: 15000, what: 'postgres to stop with the stack' });

      stack = await runStack(runDir, 'pg');
      try {
        assert.doesNotMatch(stack.out, /a private PostgreSQL cluster, once/);
        env = readEnvFile(runDir);
        assert.equal(psql(null, "SELECT count(*) FROM container_logs WHERE worker_name = 'kept'", env), '1');
      } finally {
        await stop(stack);
      }
    } finally {
      fs.rmSync(parent, { recursive: true, force: true });
    }
  });

  test('WHARF_DB=nonsense: a clear error, nothing started', async () => {
    const { parent, runDir } = runFolder('run-pg-bad');
    try {
      const r = await new Promise((resolve) => {
        const p = spawn(path.join(ROOT, 'scripts/run-stack'), [], {
          env: { ...process.env, WHARF_RUN_DIR: runDir, WHARF_DB: 'mysql://x', B: path.relative(ROOT, BUILD), WHARF_PORT: '1', WHARFD_PORT: '1', WHARFD_WS_PORT: '1' },
        });
        let out = '';
        p.stderr.on('data', (d) => { out += d; });
        p.on('exit', (code) => resolve({ code, out }));
      });
      assert.notEqual(r.code, 0);
      assert.match(r.out, /WHARF_DB='mysql:\/\/x': use sqlite \(the default\), pg \(a private PostgreSQL server\) or a postgresql:\/\/ URL/);
    } finally {
      fs.rmSync(parent, { recursive: true, force: true });
    }
  });
});
