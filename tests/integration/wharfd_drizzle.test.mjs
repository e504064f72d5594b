// schema/drizzle/schema.ts mirrors the SQL of schema/*.sql: checked column
// by column (name, type, NOT NULL) against a database written by a real
// wharfd, then rows written over JSON-RPC are read back with better-sqlite3
// and Kysely through the names the mirror declares.
//
// Node 20 cannot import TypeScript, so the mirror is read as text: each
// sqliteTable('name', { prop: kind('column')... }) definition is parsed
// into tables, properties and columns.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { ROOT, startStack } from '../lib/stack.mjs';

const M = (name) => `ContainerMonitoringOps.${name}`;

function parseMirror(text) {
  const tables = {};
  const re = /export const (\w+) = sqliteTable\('(\w+)', \{([\s\S]*?)\n\}/g;
  let m;
  while ((m = re.exec(text))) {
    const cols = {};
    for (const line of m[3].split('\n')) {
      const c = /^\s*(\w+): (text|integer|real)\('(\w+)'(?:, \{[^}]*\})?\)(.*),\s*$/.exec(line);
      if (c) {
        cols[c[1]] = { column: c[3], type: c[2].toUpperCase(), notNull: /\.notNull\(\)/.test(c[4]), pk: /\.primaryKey\(\)/.test(c[4]) };
      }
    }
    tables[m[2]] = { name: m[1], cols };
  }
  return tables;
}

describe('Drizzle mirror', () => {
  let stack;
  let db;
  const mirror = parseMirror(fs.readFileSync(path.join(ROOT, 'schema/drizzle/schema.ts'), 'utf8'));

  before(async () => {
    stack = await startStack({ tag: 'wharfd-drizzle', workers: [] });
    const rpc = async (method, params) => {
      const res = await fetch(`${stack.http}/rpc`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.token}` },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: M(method), params }),
      });
      const j = await res.json();
      assert.ok(!j.error, JSON.stringify(j.error));
    };
    await rpc('heartbeat', { worker: 'dz', container: 'box', agentVersion: '9' });
    await rpc('storeLogs', { worker: 'dz', container: 'box', instanceId: 'app', processId: 'p', logs: [
      { sequence: 1, timestamp: '2026-11-27T09:00:00.5Z', level: 'info', message: 'hello', stream: 'stdout', metadata: { a: [1] } },
      { sequence: 2, timestamp: '2026-11-27T09:00:01Z', level: 'error', message: 'bye', stream: 'stderr', source: 's' },
    ] });
    await rpc('storeError', { worker: 'dz', instanceId: 'app', level: 60, message: 'fatal error', rawOutput: 'raw' });
    await rpc('upsertProcess', { worker: 'dz', instanceId: 'app', command: 'node', args: ['x'], status: 'crashed', exitCode: 1, restartCount: 3 });
    await rpc('recordEvent', { worker: 'dz', instanceId: 'app', type: 'process_crashed', payload: { exitCode: 1 } });
    db = new Database(path.join(stack.dir, 'wharf.db'), { readonly: true, fileMustExist: true });
  });
  after(async () => {
    if (db) db.close();
    if (stack) await stack.stop();
  });

  test('every table and column of the database is in the mirror, with its type and NOT NULL', () => {
    const sqlTables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations' ORDER BY name").all().map((r) => r.name);
    assert.deepEqual(Object.keys(mirror).sort(), sqlTables);
    for (const t of sqlTables) {
      const info = db.prepare(`SELECT name, type, "notnull" AS nn, pk FROM pragma_table_info(?)`).all(t);
      const cols = Object.values(mirror[t].cols);
      assert.deepEqual(cols.map((c) => c.column).sort(), info.map((c) => c.name).sort(), t);
      for (const c of info) {
        const d = cols.find((x) => x.column === c.name);
        assert.equal(d.type, c.type, `${t}.${c.name} type`);
        assert.equal(d.notNull, c.nn === 1 && !(d.pk && c.type === 'INTEGER'), `${t}.${c.name} NOT NULL`);
      }
    }
  });

  test('Kysely over better-sqlite3 reads back what wharfd stored, through the mirror\'s names', async () => {
    const k = new Kysely({ dialect: new SqliteDialect({ database: db }) });
    const col = (table, prop) => mirror[table].cols[prop].column;
    const logs = await k.selectFrom('container_logs')
      .select([col('container_logs', 'sequence'), col('container_logs', 'message'), col('container_logs', 'timestamp'),
        col('container_logs', 'metadata'), col('container_logs', 'workerName'), col('container_logs', 'containerName')])
      .where(col('container_logs', 'workerName'), '=', 'dz')
      .orderBy(col('container_logs', 'sequence'))
      .execute();
    assert.deepEqual(logs.map((r) => [r.sequence, r.message, r.timestamp]), [
      [1, 'hello', '2026-11-27T09:00:00.500Z'], [2, 'bye', '2026-11-27T09:00:01.000Z']]);
    assert.deepEqual(JSON.parse(logs[0].metadata), { a: [1] });
    assert.equal(logs[0].container_name, 'box');
    const err = await k.selectFrom('container_errors').selectAll().where('worker_name', '=', 'dz').executeTakeFirstOrThrow();
    assert.equal(err.level, 60);
    assert.equal(err.occurrence_count, 1);
    assert.match(err.error_hash, /^[0-9a-f]{64}$/);
    const proc = await k.selectFrom('container_processes').selectAll().where('instance_id', '=', 'app').executeTakeFirstOrThrow();
    assert.equal(proc.status, 'crashed');
    assert.equal(proc.restart_count, 3);
    assert.deepEqual(JSON.parse(proc.args), ['x']);
    const ev = await k.selectFrom('container_events').selectAll().where('worker_name', '=', 'dz').executeTakeFirstOrThrow();
    assert.deepEqual(JSON.parse(ev.payload), { exitCode: 1 });
    const w = await k.selectFrom('workers').selectAll().where('name', '=', 'dz').executeTakeFirstOrThrow();
    assert.equal(w.agent_version, '9');
  });
});
