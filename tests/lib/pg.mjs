// PostgreSQL for the tests: a real server from Debian's `postgresql`
// package, made with initdb in a temp folder, listening on 127.0.0.1 at a
// free port (and on a unix socket in its folder), stopped by its pid.
// PostgreSQL refuses to run as root: as root, the folder is given to the
// `postgres` system user (the package creates it) and the server runs as
// that user; otherwise as whoever runs the tests.
//
// One server per test process (node --test runs each file in its own),
// started on first use and stopped when the process exits (or earlier by
// stop()); each stack gets a database of its own (createDatabase). The
// cluster is made once per `tests/run` (WHARF_TEST_PG_TEMPLATE: an initdb'd
// folder that each process copies; made on the spot without it).
//
// Its settings are a test server's: fsync off (a crash of the server
// process loses nothing; only a crash of the machine would), and room
// for the connections of several wharfd.

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

// int8 (counts, ids, sequences) as numbers, as better-sqlite3 gives them
pg.types.setTypeParser(20, (v) => Number(v));

export const ENGINES = (process.env.WHARF_TEST_ENGINES || 'sqlite,postgresql')
  .split(',').map((e) => e.trim()).filter(Boolean);

function pgBin(name) {
  const dirs = fs.existsSync('/usr/lib/postgresql')
    ? fs.readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of dirs) {
    const p = path.join('/usr/lib/postgresql', v, 'bin', name);
    if (fs.existsSync(p)) return p;
  }
  throw new Error(`${name}: PostgreSQL's server is not installed (Debian's postgresql package: scripts/install-deps test)`);
}

// uid/gid to run the server as: root's tests run it as `postgres`
function owner() {
  if (process.getuid() !== 0) return {};
  const line = fs.readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('no postgres user: install Debian\'s postgresql package');
  const f = line.split(':');
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

function chownTree(dir, { uid, gid }) {
  if (uid === undefined) return;
  execFileSync('chown', ['-R', `${uid}:${gid}`, dir]);
}

function freePort() {
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

// initdb into dir/data (dir owned by the server's user).
export function initCluster(dir) {
  const who = owner();
  fs.mkdirSync(dir, { recursive: true });
  fs.chmodSync(dir, 0o755);
  chownTree(dir, who);
  const r = spawnSync(pgBin('initdb'), ['-D', path.join(dir, 'data'), '-U', 'postgres', '--auth=trust',
    '--encoding=UTF8', '--locale=C', '-N'], { ...who, cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`initdb failed: ${r.stderr || r.error}`);
}

class PgServer {
  constructor(dir) {
    this.dir = dir;
    this.who = owner();
    this.proc = null;
    this.dbs = 0;
  }

  async start() {
    if (!this.port) this.port = await freePort();
    const log = fs.openSync(path.join(this.dir, 'postgres.log'), 'a');
    this.proc = spawn(pgBin('postgres'), ['-D', path.join(this.dir, 'data'),
      '-c', 'listen_addresses=127.0.0.1', '-p', String(this.port), '-c', `unix_socket_directories=${this.dir}`,
      '-c', 'fsync=off', '-c', 'full_page_writes=off', '-c', 'max_connections=300',
      '-c', 'shared_buffers=64MB'], { ...this.who, cwd: this.dir, stdio: ['ignore', log, log] });
    fs.closeSync(log);
    // the server does not keep the process alive: the exit hook stops it
    this.proc.unref();
    this.pid = this.proc.pid;
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => resolve({ code, signal })));
    const deadline = Date.now() + 30000;
    for (;;) {
      const c = new pg.Client(this.conn('postgres'));
      try {
        await c.connect();
        await c.end();
        return this;
      } catch (e) {
        await c.end().catch(() => {});
        if (this.proc.exitCode !== null || Date.now() > deadline) {
          throw new Error(`postgres did not start (${e.message}): ${this.log().slice(-2000)}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  log() {
    try {
      return fs.readFileSync(path.join(this.dir, 'postgres.log'), 'utf8');
    } catch {
      return '';
    }
  }

  conn(database) {
    return { host: '127.0.0.1', port: this.port, user: 'postgres', database };
  }

  url(database) {
    return `postgresql://postgres@127.0.0.1:${this.port}/${database}`;
  }

  // A fresh database; its URL.
  async createDatabase(tag = 'wharf') {
    const name = `${tag.replace(/[^a-z0-9_]/g, '_')}_${process.pid}_${++this.dbs}`;
    await this.sql('postgres', `CREATE DATABASE ${name}`);
    return { name, url: this.url(name) };
  }

  // Runs one statement (or several, without params) on database; rows.
  async sql(database, text, params = []) {
    const c = new pg.Client(this.conn(database));
    await c.connect();
    try {
      return (await c.query(text, params)).rows;
    } finally {
      await c.end();
    }
  }

  // mode: 'fast' (SIGINT: clients cut off, a clean checkpoint) or
  // 'immediate' (SIGQUIT: as a crash; recovery at the next start).
  async stop(mode = 'fast') {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode) return;
    process.kill(this.pid, mode === 'immediate' ? 'SIGQUIT' : 'SIGINT');
    const t = setTimeout(() => process.kill(this.pid, 'SIGKILL'), 20000);
    await this.exited;
    clearTimeout(t);
  }

  async restart(mode = 'fast') {
    await this.stop(mode);
    return this.start();
  }

  // For the exit of the process: no awaiting there.
  stopSync() {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode) return;
    try {
      process.kill(this.pid, 'SIGQUIT');
    } catch {
      return;
    }
    const wait = new Int32Array(new SharedArrayBuffer(4));
    for (let i = 0; i < 500 && fs.existsSync(`/proc/${this.pid}`); i++) {
      const stat = (() => {
        try {
          return fs.readFileSync(`/proc/${this.pid}/stat`, 'utf8');
        } catch {
          return '';
        }
      })();
      if (/\) Z /.test(stat)) break; // exited, not yet reaped by us
      Atomics.wait(wait, 0, 0, 20);
    }
  }
}

// A cluster of its own, not shared (a test that restarts or kills its
// server): the caller stops it.
export async function startPgServer(tag = 'pg') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `wharf-${tag}-`));
  const template = process.env.WHARF_TEST_PG_TEMPLATE;
  if (template && fs.existsSync(path.join(template, 'data'))) {
    fs.chmodSync(dir, 0o755);
    execFileSync('cp', ['-a', path.join(template, 'data'), path.join(dir, 'data')]);
    chownTree(dir, owner());
  } else {
    initCluster(dir);
  }
  const server = new PgServer(dir);
  await server.start();
  server.remove = async () => {
    await server.stop();
    if (process.env.WHARF_KEEP_TMP !== '1') fs.rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', () => {
    server.stopSync();
    if (process.env.WHARF_KEEP_TMP !== '1') fs.rmSync(dir, { recursive: true, force: true });
  });
  return server;
}

// The process's shared server, started on first use.
let shared;
export function sharedPgServer() {
  if (!shared) shared = startPgServer('pg-shared');
  return shared;
}

// Rows of a query on a store (a stack's or a wharfd's): SQLite through
// better-sqlite3 (read-only, a fresh connection each time), PostgreSQL
// through pg; `?` placeholders on both.
export async function storeRows(store, sql, ...params) {
  if (store.engine === 'postgresql') {
    let i = 0;
    const text = sql.replace(/\?/g, () => `$${++i}`);
    const c = new pg.Client({ connectionString: store.url });
    await c.connect();
    try {
      return (await c.query(text, params)).rows;
    } finally {
      await c.end();
    }
  }
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(store.path, { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all(...params);
  } finally {
    db.close();
  }
}
