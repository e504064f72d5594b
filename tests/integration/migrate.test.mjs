// scripts/migrate.py on the legacy-worker fixture (tests/fixtures/migrate):
// every test copies the fixture into its own temp folder, runs the real
// script with python3, and judges it by the files on disk (every file
// hashed, with its mode, and every folder), not by what the script says.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { FIXTURES, SCRIPT, assertOk, hashOf, migrate as runScript, sha256, snapshot } from '../lib/migrate.mjs';

const FIXTURE = FIXTURES;
const migrate = (...args) => runScript(args);

// A temp copy of the fixture: legacy/ sources, manifest.json, and (with
// existing) a destination out/worker/ that already holds template files.
function withWorkspace({ existing = false } = {}, fn) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wharf-migrate-test-'));
  try {
    fs.cpSync(path.join(FIXTURE, 'legacy'), path.join(tmp, 'legacy'), { recursive: true });
    fs.copyFileSync(path.join(FIXTURE, 'manifest.json'), path.join(tmp, 'manifest.json'));
    if (existing) fs.cpSync(path.join(FIXTURE, 'existing'), path.join(tmp, 'out/worker'), { recursive: true });
    const ws = {
      tmp,
      manifest: path.join(tmp, 'manifest.json'),
      dest: path.join(tmp, 'out/worker'),
      src: path.join(tmp, 'legacy'),
      reportBase: (name) => path.join(tmp, 'reports', name),
      readReport: (name) => JSON.parse(fs.readFileSync(path.join(tmp, 'reports', `${name}.json`), 'utf8')),
      editManifest(edit) {
        const m = JSON.parse(fs.readFileSync(ws.manifest, 'utf8'));
        edit(m);
        fs.writeFileSync(ws.manifest, JSON.stringify(m, null, 2));
      },
      editSource(rel, edit) {
        const p = path.join(tmp, 'legacy', rel);
        fs.writeFileSync(p, edit(fs.readFileSync(p, 'utf8')));
      },
    };
    return fn(ws);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function run(ws, name, ...extra) {
  return migrate(ws.manifest, '--report', ws.reportBase(name), ...extra);
}

// Line-based rewrites: source and destination have the same lines except
// exactly the reported ones, and each reported chain starts at the source
// line and ends at the destination line.
function assertRewritesMatch(srcText, destText, rewrites, file) {
  const a = srcText.split('\n');
  const b = destText.split('\n');
  assert.equal(b.length, a.length, `${file}: line count changed`);
  const byLine = new Map();
  for (const rw of rewrites) byLine.set(rw.line, [...(byLine.get(rw.line) ?? []), rw]);
  const changed = a.map((l, i) => (l !== b[i] ? i + 1 : 0)).filter(Boolean);
  assert.deepEqual([...byLine.keys()].sort((x, y) => x - y), changed, `${file}: changed lines vs reported lines`);
  for (const [line, steps] of byLine) {
    assert.equal(steps[0].old, a[line - 1], `${file}:${line}: reported old text`);
    for (let i = 1; i < steps.length; i++) assert.equal(steps[i].old, steps[i - 1].new, `${file}:${line}: chain`);
    assert.equal(steps.at(-1).new, b[line - 1], `${file}:${line}: reported new text`);
  }
}

// Every file that differs between two snapshots must be in the report,
// with the right action and hashes; every other file must be identical.
function assertReportMatchesDisk(report, before, after) {
  const entries = new Map(report.files.map((f) => [f.destination, f]));
  const paths = new Set([...Object.keys(before.files), ...Object.keys(after.files)]);
  for (const rel of paths) {
    const was = hashOf(before, rel);
    const now = hashOf(after, rel);
    const e = entries.get(rel);
    if (was === now && before.files[rel] === after.files[rel]) {
      if (e) assert.equal(e.action, 'unchanged', `${rel} unchanged on disk but reported ${e.action}`);
      continue;
    }
    assert.ok(e, `${rel} changed on disk but is not in the report`);
    assert.equal(e.sha256_after, now, `${rel}: sha256_after`);
    assert.equal(e.previous_sha256 ?? undefined, was, `${rel}: previous_sha256`);
    assert.equal(e.action, was === undefined ? 'create' : 'overwrite', `${rel}: action`);
  }
  for (const e of report.files) assert.equal(hashOf(after, e.destination), e.sha256_after, `${e.destination} on disk`);
}

// Runs the real script's main() with its move_file() wrapped so that the Nth
// move into place fails (ENOSPC, named as os.replace names it: the staged
// file first) or the process dies there, as a full disk or a kill -9 would:
// the only way to reach those paths on demand.
const FAULTY_MOVE = `
import errno, os, sys
sys.path.insert(0, os.path.dirname(sys.argv[1]))
import wharf_migrate.move as mv
from wharf_migrate.cli import main
real, calls = mv.move_file, [0]
def faulty(staged, target):
    calls[0] += 1
    if calls[0] == int(sys.argv[2]):
        if sys.argv[3] == "crash":
            os._exit(9)
        raise OSError(errno.ENOSPC, "No space left on device", staged, target)
    real(staged, target)
mv.move_file = faulty
sys.exit(main(sys.argv[4:]))
`;
function migrateWithFaultyMove(nth, how, ...args) {
  const r = spawnSync('python3', ['-c', FAULTY_MOVE, SCRIPT, String(nth), how, ...args], { encoding: 'utf8' });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('scripts/migrate.py', () => {
  test('--help documents the flags; bad usage exits 2', () => {
    const help = migrate('--help');
    assert.equal(help.status, 0);
    for (const flag of ['--dry-run', '--report', '--rollback', '--force']) assert.match(help.stdout, new RegExp(flag));
    const none = migrate();
    assert.equal(none.status, 2);
    assert.match(none.stderr, /MANIFEST|--rollback/);
    const missing = migrate('--rollback', path.join(os.tmpdir(), 'no-such-report.json'));
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /cannot read .*no-such-report\.json/);
  });

  test('fixture migration: the report matches what changed on disk, rewrites with line numbers', () => {
    withWorkspace({}, (ws) => {
      const r = run(ws, 'r1');
      assertOk(r, 'migration');
      assert.doesNotMatch(r.stderr, /\r/, 'no progress bar when stderr is not a terminal');
      const after = snapshot(ws.dest);
      const report = ws.readReport('r1');
      assert.equal(report.status, 'success');
      assertReportMatchesDisk(report, { files: {}, dirs: [] }, after);
      assert.deepEqual(report.files.map((f) => f.destination).sort(), Object.keys(after.files).sort());
      assert.equal(report.files.length, 33);

      for (const f of report.files) {
        const srcText = fs.readFileSync(path.join(ws.src, f.source), 'utf8');
        const destText = fs.readFileSync(path.join(ws.dest, f.destination), 'utf8');
        assert.equal(f.sha256_before, sha256(srcText), `${f.source}: sha256_before`);
        assertRewritesMatch(srcText, destText, f.rewrites, f.destination);
      }
      const main = report.files.find((f) => f.destination === 'src/main.c');
      assert.equal(main.source, 'core/main.c');
      assert.deepEqual(main.rewrites.slice(0, 2), [
        { line: 2, rule: 1, old: '#include "worker.h"', new: '#include "worker/worker.h"' },
        { line: 3, rule: 0, old: '#include "../util/log.h"', new: '#include "worker/log.h"' },
      ]);
      const index = report.files.find((f) => f.destination === 'web/index.ts');
      assert.deepEqual(index.rewrites, [{ line: 1, rule: 2, old: "import { connect } from '../lib/client.js';",
        new: "import { connect } from './lib/client.js';" }]);
      assert.match(after.files['start.sh'], / 755$/, 'modes are kept');

      assert.deepEqual(report.skipped, [
        { source: 'Makefile', reason: "matches skip pattern 'Makefile'" },
        { source: 'core/worker.c.orig', reason: "matches skip pattern '**/*.orig'" },
      ]);
      assert.equal(report.validation.passed, true);
      assert.equal(report.validation.c_syntax.files_checked, 22);
      assert.equal(report.validation.json.files_checked, 3);
      assert.ok(report.validation.references.includes_checked > 20);
      assert.equal(report.backup_dir, null, 'nothing overwritten, no backups');
      for (const d of report.created_directories) assert.ok(fs.statSync(d).isDirectory());

      const md = fs.readFileSync(`${ws.reportBase('r1')}.md`, 'utf8');
      for (const f of report.files) assert.ok(md.includes(`\`${f.destination}\``), `${f.destination} in Markdown`);
      assert.match(md, /line 3 \(rewrites\[0\]\): `#include "\.\.\/util\/log\.h"` → `#include "worker\/log\.h"`/);
    });
  });

  test('pre-existing destination: overwrites backed up, other files untouched, rollback is byte for byte', () => {
    withWorkspace({ existing: true }, (ws) => {
      const before = snapshot(ws.dest);
      assertOk(run(ws, 'r1'), 'migration');
      const after = snapshot(ws.dest);
      const report = ws.readReport('r1');
      assertReportMatchesDisk(report, before, after);
      const overwritten = report.files.filter((f) => f.action === 'overwrite').map((f) => f.destination).sort();
      assert.deepEqual(overwritten, ['README.md', 'config/limits.json']);
      for (const rel of ['Dockerfile', 'config/agent.json']) assert.equal(after.files[rel], before.files[rel], rel);
      for (const f of report.files.filter((e) => e.action === 'overwrite')) {
        assert.ok(f.backup.startsWith(report.backup_dir + path.sep), `${f.destination}: backup in backup_dir`);
        assert.equal(sha256(fs.readFileSync(f.backup)), hashOf(before, f.destination), `${f.destination}: backup`);
      }

      const rb = migrate('--rollback', `${ws.reportBase('r1')}.json`);
      assertOk(rb, 'rollback');
      assert.match(rb.stdout, /31 removed, 2 restored/);
      assert.deepEqual(snapshot(ws.dest), before);
    });
  });

  test('default report goes outside the destination, in no folder made for it; rollback is byte for byte', () => {
    withWorkspace({}, (ws) => {
      const before = snapshot(ws.tmp);
      const r = migrate(ws.manifest);
      assertOk(r, 'migration');
      // out/ does not exist before the run: the report goes to the nearest
      // folder above the destination that does (the workspace), not into a
      // folder created for it
      const reports = fs.readdirSync(ws.tmp).filter((n) => /^worker\.migrate-.*\.json$/.test(n));
      assert.equal(reports.length, 1, 'one JSON report beside out/');
      const reportPath = path.join(ws.tmp, reports[0]);
      assert.ok(fs.existsSync(reportPath.replace(/\.json$/, '.md')));
      assert.ok(r.stdout.includes(reportPath));
      assert.ok(!fs.readdirSync(path.join(ws.tmp, 'out')).some((n) => n.includes('.migrate-')), 'nothing in out/ but the destination');
      const validated = migrate('validate', ws.dest);
      assertOk(validated, 'validate finds the report above the destination');
      assert.ok(validated.stdout.includes(`report:  ${reportPath}`));
      assert.match(validated.stdout, /33 files recorded, 33 present; C syntax 22 files/);
      assertOk(migrate('--rollback', reportPath), 'rollback');
      const gone = migrate('validate', ws.tmp);
      assert.equal(gone.status, 2, 'a rolled back report is no longer the state of the tree');
      assert.match(gone.stderr, /no report of a successful run found/);
      assert.equal(fs.existsSync(path.join(ws.tmp, 'out')), false, 'the folders the run created are gone');
      const now = snapshot(ws.tmp);
      const isReport = (p) => p.startsWith('worker.migrate-');
      assert.deepEqual(Object.keys(now.files).filter((p) => !isReport(p)), Object.keys(before.files));
      assert.deepEqual(now.dirs, before.dirs, 'every folder as before');
    });
  });

  test('--dry-run lists copies, rewrites with lines, overwrites and skips, and changes nothing', () => {
    withWorkspace({ existing: true }, (ws) => {
      const before = snapshot(ws.tmp);
      const r = migrate(ws.manifest, '--dry-run');
      assertOk(r, 'dry run');
      assert.deepEqual(snapshot(ws.tmp), before, 'no file anywhere in the workspace changed (no report either)');
      assert.match(r.stdout, /create\s+core\/main\.c -> src\/main\.c/);
      assert.match(r.stdout, /overwrite\s+README\.md -> README\.md/);
      assert.match(r.stdout, /src\/main\.c:3: rewrites\[0\]\n\s+- #include "\.\.\/util\/log\.h"\n\s+\+ #include "worker\/log\.h"/);
      assert.match(r.stdout, /skip\s+Makefile/);
      assert.match(r.stdout, /Validation passed/);
      assert.match(r.stdout, /Nothing was changed/);
    });
  });

  test('rollback refuses over files changed since the run, then --force restores', () => {
    withWorkspace({ existing: true }, (ws) => {
      const before = snapshot(ws.dest);
      assertOk(run(ws, 'r1'), 'migration');
      fs.appendFileSync(path.join(ws.dest, 'src/main.c'), '/* local edit */\n');
      fs.writeFileSync(path.join(ws.dest, 'README.md'), '# edited after the migration\n');
      const edited = snapshot(ws.dest);

      const refused = migrate('--rollback', `${ws.reportBase('r1')}.json`);
      assert.equal(refused.status, 1);
      assert.match(refused.stderr, /src\/main\.c: modified since the migration/);
      assert.match(refused.stderr, /README\.md: modified since the migration/);
      assert.match(refused.stderr, /--force/);
      assert.deepEqual(snapshot(ws.dest), edited, 'a refused rollback changes nothing');

      const dry = migrate('--rollback', `${ws.reportBase('r1')}.json`, '--force', '--dry-run');
      assertOk(dry, 'rollback dry run');
      assert.deepEqual(snapshot(ws.dest), edited, 'a rollback dry run changes nothing');

      assertOk(migrate('--rollback', `${ws.reportBase('r1')}.json`, '--force'), 'forced rollback');
      assert.deepEqual(snapshot(ws.dest), before);
    });
  });

  test('running the same migration twice: the second run finds everything in place', () => {
    withWorkspace({ existing: true }, (ws) => {
      const s0 = snapshot(ws.dest);
      assertOk(run(ws, 'r1'), 'first run');
      const s1 = snapshot(ws.dest);
      assertOk(run(ws, 'r2'), 'second run');
      const report2 = ws.readReport('r2');
      assert.deepEqual(snapshot(ws.dest), s1);
      assert.ok(report2.files.every((f) => f.action === 'unchanged'), 'identical content is not rewritten');
      assert.equal(report2.backup_dir, null);
      assertOk(migrate('--rollback', `${ws.reportBase('r2')}.json`), 'rollback of the second run');
      assert.deepEqual(snapshot(ws.dest), s1, 'rolling back the second run keeps the first');
      assertOk(migrate('--rollback', `${ws.reportBase('r1')}.json`), 'rollback of the first run');
      assert.deepEqual(snapshot(ws.dest), s0);
    });
  });

  test('a second run over changed files overwrites them with backups; its rollback returns to the state after the first', () => {
    withWorkspace({ existing: true }, (ws) => {
      const s0 = snapshot(ws.dest);
      assertOk(run(ws, 'r1'), 'first run');
      ws.editSource('util/log.c', (t) => t.replace('"[%s] "', '"<%s> "'));
      fs.writeFileSync(path.join(ws.dest, 'README.md'), '# local notes written after the first run\n');
      const s1 = snapshot(ws.dest);

      assertOk(run(ws, 'r2'), 'second run');
      const s2 = snapshot(ws.dest);
      const report2 = ws.readReport('r2');
      assertReportMatchesDisk(report2, s1, s2);
      const overwritten = report2.files.filter((f) => f.action === 'overwrite');
      assert.deepEqual(overwritten.map((f) => f.destination).sort(), ['README.md', 'src/log.c']);
      for (const f of overwritten) assert.equal(sha256(fs.readFileSync(f.backup)), hashOf(s1, f.destination));
      assert.equal(report2.files.filter((f) => f.action === 'unchanged').length, 31);

      assertOk(migrate('--rollback', `${ws.reportBase('r2')}.json`), 'rollback of the second run');
      assert.deepEqual(snapshot(ws.dest), s1);

      const r1 = migrate('--rollback', `${ws.reportBase('r1')}.json`);
      assert.equal(r1.status, 1, 'README.md was edited after the first run');
      assert.match(r1.stderr, /README\.md: modified since the migration/);
      assert.deepEqual(snapshot(ws.dest), s1);
      assertOk(migrate('--rollback', `${ws.reportBase('r1')}.json`, '--force'), 'forced rollback of the first run');
      assert.deepEqual(snapshot(ws.dest), s0);
    });
  });

  const manifestErrors = [
    { name: 'not JSON', write: '{ "version": 1,, }', error: /not valid JSON at line 1 column 16/ },
    { name: 'missing mappings', edit: (m) => { delete m.mappings; }, error: /mappings: must list at least one mapping/ },
    { name: 'unknown field (typo)', edit: (m) => { m.rewrite = m.rewrites; }, error: /unknown field 'rewrite'/ },
    { name: 'unsupported version', edit: (m) => { m.version = 2; }, error: /version: .*got 2/ },
    { name: 'wrong type', edit: (m) => { m.skip = 'Makefile'; }, error: /skip: must be an array, got "Makefile"/ },
    { name: 'mapping without "to"', edit: (m) => { delete m.mappings[2].to; }, error: /mappings\[2\]\.to: required field is missing/ },
    { name: 'invalid regex', edit: (m) => { m.rewrites[1].pattern = '(unclosed'; },
      error: /rewrites\[1\]\.pattern: not a valid regular expression: missing \)/ },
    { name: 'replacement names a missing group', edit: (m) => { m.rewrites[0].replacement = '\\3'; },
      error: /rewrites\[0\]\.replacement: invalid group reference 3/ },
    { name: 'destination outside destination_root', edit: (m) => { m.mappings[0].to = '../elsewhere/'; },
      error: /mappings\[0\]\.to: must be a plain path inside destination_root/ },
    { name: 'source that does not exist', edit: (m) => { m.mappings[6].from = 'scripts/run.sh'; },
      error: /mappings\[6\]\.from: 'scripts\/run\.sh' does not exist in source_root/ },
    { name: 'missing source_root', edit: (m) => { m.source_root = 'no-such-folder'; },
      error: /source_root: .*no-such-folder is not an existing folder/ },
    { name: 'mapping collision', edit: (m) => { m.mappings.unshift({ from: 'net/http.c', to: 'src/conn.c' }); },
      error: /mapping collision: destination 'src\/conn\.c' would receive both 'net\/conn\.c' \(mappings\[1\]\) and 'net\/http\.c' \(mappings\[0\]\)/ },
    { name: 'unmapped source file', edit: (m) => { m.skip = ['**/*.orig']; },
      error: /unmapped: 1 source file\(s\) match no mapping and no skip pattern: Makefile/ },
  ];
  for (const c of manifestErrors) {
    test(`manifest error (${c.name}): exit 2, the field named, nothing written`, () => {
      withWorkspace({ existing: true }, (ws) => {
        if (c.write) fs.writeFileSync(ws.manifest, c.write);
        else ws.editManifest(c.edit);
        const before = snapshot(ws.tmp);
        const r = run(ws, 'r1');
        assert.equal(r.status, 2, r.stderr);
        assert.match(r.stderr, c.error);
        assert.ok(r.stderr.includes(ws.manifest), 'the message names the manifest');
        assert.deepEqual(snapshot(ws.tmp), before, 'no file changed anywhere, no report written');
      });
    });
  }

  // A run that fails validation leaves the destination as it was and writes a report
  // that says why.
  function assertValidationFails(ws, expected) {
    const before = snapshot(ws.dest);
    const r = run(ws, 'bad');
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /validation failed .*the destination was not changed/);
    assert.deepEqual(snapshot(ws.dest), before, 'destination untouched');
    const report = ws.readReport('bad');
    assert.equal(report.status, 'validation-failed');
    assert.equal(report.destination_touched, false);
    for (const e of expected) {
      assert.match(r.stderr, new RegExp(`${e.file.replace(/[./]/g, '\\$&')}:${e.line}: \\[${e.check}\\] ${e.message.source}`));
      assert.ok(report.validation.failures.some((f) => f.file === e.file && f.line === e.line && f.check === e.check
        && e.message.test(f.message)), `report lists ${e.file}:${e.line} ${e.check}`);
    }
    const rb = migrate('--rollback', `${ws.reportBase('bad')}.json`);
    assertOk(rb, 'rollback of a failed run');
    assert.match(rb.stdout, /Nothing to roll back/);
  }

  test('validation failure: a rewrite that breaks includes', () => {
    withWorkspace({ existing: true }, (ws) => {
      ws.editManifest((m) => { m.rewrites[0].replacement = '\\1"wharf/\\2"'; });
      assertValidationFails(ws, [
        { file: 'src/main.c', line: 3, check: 'references', message: /#include "wharf\/log\.h" matches no file/ },
        { file: 'include/worker/config.h', line: 3, check: 'c-syntax', message: /wharf\/str\.h: No such file/ },
        { file: 'include/worker/conn.h', line: 3, check: 'references', message: /#include "wharf\/buf\.h" matches no file/ },
      ]);
    });
  });

  test('validation failure: a C syntax error in a source', () => {
    withWorkspace({ existing: true }, (ws) => {
      ws.editSource('net/http.c', (t) => t.replace('return -1;', 'return -1'));
      assertValidationFails(ws, [
        { file: 'src/http.c', line: 12, check: 'c-syntax', message: /expected ';' before 'return'/ },
      ]);
    });
  });

  test('validation failure: broken JSON config and a dangling relative import', () => {
    withWorkspace({ existing: true }, (ws) => {
      ws.editSource('worker.json', (t) => t.replace('"port": 9000', '"port": 9000,'));
      ws.editSource('web/panel.ts', (t) => t.replace("from './types'", "from './missing-types'"));
      assertValidationFails(ws, [
        { file: 'config/worker.json', line: 6, check: 'json', message: /not valid JSON/ },
        { file: 'web/panel.ts', line: 2, check: 'references', message: /import '\.\/missing-types' matches no file/ },
      ]);
    });
  });

  test('a move that fails half way puts back what it moved: the destination ends as it was', () => {
    withWorkspace({ existing: true }, (ws) => {
      const before = snapshot(ws.dest);
      const r = migrateWithFaultyMove(10, 'fail', ws.manifest, '--report', ws.reportBase('r1'));
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /moving into place failed .*No space left on device.*the 9 file\(s\) already moved were put back/);
      // the message names the destination that refused, not the staged copy
      assert.match(r.stderr, new RegExp(`failed \\(${ws.dest.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}/[^:]+: No space left`));
      assert.doesNotMatch(r.stderr, /migrate-stage/);
      assert.deepEqual(snapshot(ws.dest), before);
      const report = ws.readReport('r1');
      assert.equal(report.status, 'failed');
      assert.equal(report.destination_touched, false);
    });
  });

  test('a run killed half way through the moves can be rolled back from its in-progress report', () => {
    withWorkspace({ existing: true }, (ws) => {
      const before = snapshot(ws.dest);
      const r = migrateWithFaultyMove(10, 'crash', ws.manifest, '--report', ws.reportBase('r1'));
      assert.equal(r.status, 9, 'the process died');
      const report = ws.readReport('r1');
      assert.equal(report.status, 'in-progress');
      assert.notDeepEqual(snapshot(ws.dest), before, 'nine files were moved before the crash');
      const rb = migrate('--rollback', `${ws.reportBase('r1')}.json`);
      assertOk(rb, 'rollback');
      assert.deepEqual(snapshot(ws.dest), before);
    });
  });

  test('an unreadable source (dangling link) fails with exit 1 and names it; destination untouched', () => {
    withWorkspace({ existing: true }, (ws) => {
      fs.symlinkSync('gone-forever.c', path.join(ws.src, 'util/gone.c'));
      const before = snapshot(ws.dest);
      const r = run(ws, 'r1');
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /cannot read source util\/gone\.c .*dangling symbolic link/);
      assert.match(r.stderr, /the destination was not changed/);
      assert.deepEqual(snapshot(ws.dest), before);
      assert.equal(ws.readReport('r1').status, 'failed');
    });
  });
});
