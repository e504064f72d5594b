// Migrations: applied once, recorded, and a database newer than the binary
// is refused with a clear message (exit 1) and left untouched. (A database
// written by the version-1 wharfd upgraded in place and used:
// wharfd_error_resend.test.mjs.)

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { BIN, freePort, tempDir } from '../lib/stack.mjs';

describe('wharfd migrations', () => {
  const dir = tempDir('wharfd-migrate');
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  // Runs wharfd until its port accepts (or it exits), then SIGTERMs it
  // and returns its exit status and stderr.
  const run = async (db) => {
    const port = await freePort();
    const r = spawnSync('bash', ['-c', `"$0" --listen 127.0.0.1:${port} --db "$1" --auth off --retention-interval 0 & p=$!; `
      + 'for i in $(seq 100); do kill -0 $p 2>/dev/null || break; sleep 0.05; '
      + `(echo > /dev/tcp/127.0.0.1/${port}) 2>/dev/null && break; done; kill -TERM $p 2>/dev/null; wait $p`, BIN.wharfd, db], { encoding: 'utf8', timeout: 20000 });
    return r;
  };

  test('each migration once, recorded; a second start applies nothing', async () => {
    const db = path.join(dir, 'a.db');
    const first = await run(db);
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stderr, /applying schema migration 0001_init/);
    assert.match(first.stderr, /applying schema migration 0002_error_sequence/);
    const second = await run(db);
    assert.equal(second.status, 0, second.stderr);
    assert.doesNotMatch(second.stderr, /applying schema migration/);
    const d = new Database(db, { readonly: true });
    assert.deepEqual(d.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all(),
      [{ version: 1, name: '0001_init' }, { version: 2, name: '0002_error_sequence' }]);
    d.close();
  });

  test('a database newer than the binary is refused and left as it was', async () => {
    const db = path.join(dir, 'b.db');
    const d = new Database(db);
    d.exec("CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL); INSERT INTO schema_migrations VALUES (99, '0099_future', 'x')");
    d.close();
    const r = await run(db);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /schema version 99, newer than the 2 this wharfd knows/);
    const d2 = new Database(db, { readonly: true });
    assert.deepEqual(d2.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all().map((x) => x.name), ['schema_migrations']);
    d2.close();
  });
});
