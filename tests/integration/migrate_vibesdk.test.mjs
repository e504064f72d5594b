// scripts/migrate.py's built-in Vibe SDK recipe (`migrate.py vibesdk
// CHECKOUT`) on a synthetic checkout shaped like the Vibe SDK's
// (tests/fixtures/migrate/vibesdk: the same file names, import patterns,
// package.json and Dockerfile references, written for the test). Each test
// copies it into a temp folder, makes it a git repository (so "rollback
// leaves git status clean" is checked by git itself), runs the real script,
// and judges it by the files on disk. TypeScript is checked with the tsc of
// tests/package.json.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { FIXTURES, TSC, assertOk, migrate, snapshot } from '../lib/migrate.mjs';

const CHECKOUT = path.join(FIXTURES, 'vibesdk');
const PKG = '@shared/container';

function git(cwd, ...args) {
  const r = spawnSync('git', ['-c', 'user.email=test@wharf', '-c', 'user.name=test', ...args],
    { cwd, encoding: 'utf8' });
  assert.equal(r.status, 0, `git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

// tmp/vibesdk is the checkout (a git repository with one commit); reports go
// beside it, in tmp.
function withCheckout(fn) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wharf-migrate-vibesdk-'));
  try {
    const dir = path.join(tmp, 'vibesdk');
    fs.cpSync(CHECKOUT, dir, { recursive: true });
    git(dir, 'init', '-q');
    git(dir, 'add', '-A');
    git(dir, 'commit', '-qm', 'fixture');
    const ws = {
      tmp, dir,
      read: (rel) => fs.readFileSync(path.join(dir, rel), 'utf8'),
      write: (rel, text) => fs.writeFileSync(path.join(dir, rel), text),
      append: (rel, text) => fs.appendFileSync(path.join(dir, rel), text),
      state: () => snapshot(dir, { skip: ['.git'] }),
      gitStatus: () => git(dir, 'status', '--porcelain', '--untracked-files=all'),
      reports: () => fs.readdirSync(tmp).filter((n) => /^vibesdk\.migrate-.*\.json$/.test(n)).sort()
        .map((n) => path.join(tmp, n)),
      report: (p) => JSON.parse(fs.readFileSync(p, 'utf8')),
    };
    return fn(ws);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

const run = (ws, ...extra) => migrate(['vibesdk', ws.dir, ...extra]);

// The 1-based number of the line of text holding `needle` (asserted unique).
function lineOf(text, needle) {
  const lines = text.split('\n').map((l, i) => (l.includes(needle) ? i + 1 : 0)).filter(Boolean);
  assert.equal(lines.length, 1, `exactly one line holds ${JSON.stringify(needle)}`);
  return lines[0];
}

const LAYOUT = {
  'process-monitor.ts': [`${PKG}/src/process-monitor.ts`, 'process monitor'],
  'storage.ts': [`${PKG}/src/storage.ts`, 'storage'],
  'cli-tools.ts': [`${PKG}/src/cli-tools.ts`, 'cli'],
  'types.ts': [`${PKG}/types/types.ts`, 'types'],
  'bun-sqlite.d.ts': [`${PKG}/types/bun-sqlite.d.ts`, 'types'],
  'monitor-cli.test.ts': [`${PKG}/test/monitor-cli.test.ts`, 'tests'],
  'example-usage.sh': [`${PKG}/scripts/example-usage.sh`, 'scripts'],
  'package.json': [`${PKG}/package.json`, 'package files'],
  'packages-cache/package.json': [`${PKG}/packages-cache/package.json`, 'package cache'],
  'packages-cache/bun.lock': [`${PKG}/packages-cache/bun.lock`, 'package cache'],
};
const CONSUMERS = ['.husky/pre-commit', 'AGENTS.md', 'SandboxDockerfile', 'docs/llm.md', 'knip.json',
  'package.json', 'vitest.config.ts', 'worker/sandbox.ts'];

describe('scripts/migrate.py vibesdk (the built-in Vibe SDK recipe)', () => {
  test('usage: a recipe needs its checkout; a folder that is not one is refused (exit 2)', () => {
    const alone = migrate(['vibesdk']);
    assert.equal(alone.status, 2);
    assert.match(alone.stderr, /vibesdk is a recipe: give the checkout too/);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wharf-migrate-vibesdk-'));
    try {
      const empty = migrate(['vibesdk', tmp]);
      assert.equal(empty.status, 2);
      assert.match(empty.stderr, /recipe vibesdk: source_root: .*container is not an existing folder.*a checkout this recipe is for/);
      assert.deepEqual(fs.readdirSync(tmp), [], 'nothing written');
      const missing = migrate(['vibesdk', path.join(tmp, 'nope')]);
      assert.equal(missing.status, 2);
      assert.match(missing.stderr, /checkout .*nope is not a folder/);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  test('discovery and layout: every file found by its role, the @shared layout proposed; a dry run changes nothing', () => {
    withCheckout((ws) => {
      const before = snapshot(ws.tmp);
      const r = run(ws, '--dry-run');
      assertOk(r, 'dry run');
      assert.deepEqual(snapshot(ws.tmp), before, 'nothing written anywhere (no report either)');
      for (const [source, [dest, role]] of Object.entries(LAYOUT)) {
        assert.match(r.stdout, new RegExp(`\\n  ${role.replace(' ', '\\s')}\\s+${source.replace(/[.]/g, '\\.')}  \\(`),
          `${source} found as ${role}`);
        assert.ok(r.stdout.includes(`create    ${source} -> ${dest}\n`), `${source} -> ${dest}`);
      }
      assert.match(r.stdout, /skip\s+monitor-cli\.test\.ts\.bak\s+\(role backup copy/);
      for (const c of CONSUMERS) assert.ok(r.stdout.includes(`overwrite ${c} (in place)`), `${c} edited in place`);
      assert.match(r.stdout, /Validation passed/);
      assert.match(r.stdout, /TypeScript: tsc 5\.9\.3 on 6 files: .* 0 new, 0 syntax errors/);
      assert.match(r.stdout, /Nothing was changed \(would succeed\)/);
    });
  });

  test('migration: every kind of reference followed, work left with file and line, the orchestrator map; report outside the checkout', () => {
    withCheckout((ws) => {
      const r = run(ws);
      assertOk(r, 'migration');
      const [reportPath] = ws.reports();
      assert.ok(reportPath, 'the report is beside the checkout');
      assert.ok(fs.existsSync(reportPath.replace(/\.json$/, '.md')));
      const report = ws.report(reportPath);
      assert.equal(report.status, 'success');
      assert.equal(report.destination_touched, true);
      assert.deepEqual(report.recipe, { name: 'vibesdk', checkout: fs.realpathSync(ws.dir) });

      // the layout, and nothing else inside @shared/ (no report, no backup)
      const state = ws.state();
      const shared = Object.keys(state.files).filter((f) => f.startsWith('@shared/')).sort();
      assert.deepEqual(shared, Object.values(LAYOUT).map(([d]) => d).sort());
      for (const [source, [dest, role]] of Object.entries(LAYOUT)) {
        const e = report.files.find((f) => f.source === source);
        assert.equal(e.destination, dest);
        assert.equal(e.role, role);
      }
      assert.equal(fs.statSync(path.join(ws.dir, `${PKG}/scripts/example-usage.sh`)).mode & 0o777, 0o755);

      // TypeScript imports, in the form they were written
      const test = ws.read(`${PKG}/test/monitor-cli.test.ts`);
      assert.match(test, /^import \{ ProcessMonitor \} from '\.\.\/src\/process-monitor\.js';$/m);
      assert.match(test, /^import \{ getDataDirectory \} from '\.\.\/types\/types\.js';$/m);
      assert.match(ws.read(`${PKG}/src/storage.ts`), /^import type \{ Result, SimpleError, StoredError, StoredLog \} from '\.\.\/types\/types\.js';$/m);
      assert.match(ws.read(`${PKG}/src/cli-tools.ts`), /^import \{ StorageManager \} from '\.\/storage\.js';$/m, 'siblings stay siblings');
      assert.match(ws.read('worker/sandbox.ts'), /^import type \{ StoredError \} from '\.\.\/@shared\/container\/types\/types';$/m, 'a consumer\'s import');
      // spawned script paths: relative to the package root (cwd), and in the image
      assert.match(test, /spawn\('bun', \['run', 'src\/cli-tools\.ts', 'logs', 'test-app'\]/);
      assert.match(test, /^ {8}'src\/cli-tools\.ts',$/m);
      assert.match(ws.read(`${PKG}/src/cli-tools.ts`), /endsWith\('cli-tools\.ts'\)/, 'a name test is a name, not a path');
      assert.match(ws.read('worker/sandbox.ts'), /MONITOR_SCRIPT = '\/workspace\/container\/src\/cli-tools\.ts'/);
      assert.match(ws.read('worker/sandbox.ts'), /`bun \/workspace\/container\/src\/cli-tools\.ts process start/);
      // package.json main, bin and scripts
      const pkg = JSON.parse(ws.read(`${PKG}/package.json`));
      assert.equal(pkg.main, 'src/cli-tools.ts');
      assert.deepEqual(pkg.bin, { 'monitor-cli': './src/cli-tools.ts' });
      assert.equal(pkg.scripts.build, 'bun build src/cli-tools.ts --outdir ./dist --target bun');
      assert.equal(pkg.scripts.start, 'bun run src/cli-tools.ts process start');
      assert.equal(pkg.scripts.clean, 'rm -f ./data/*.db', 'runtime paths below the package root stay');
      const rootPkg = JSON.parse(ws.read('package.json'));
      assert.deepEqual(rootPkg.scripts, { monitor: `bun run ${PKG}/src/cli-tools.ts`, 'test:container': `cd ${PKG} && bun test` });
      // the Dockerfile: COPY source, image paths, paths relative to WORKDIR
      const docker = ws.read('SandboxDockerfile');
      assert.match(docker, /^COPY @shared\/container\/ \/workspace\/container\/$/m);
      assert.match(docker, /^RUN chmod \+x \/workspace\/container\/src\/cli-tools\.ts$/m);
      assert.match(docker, /^RUN bun run src\/cli-tools\.ts --help > \/dev\/null$/m);
      assert.match(docker, /^RUN ln -sf \/workspace\/container\/src\/cli-tools\.ts \/usr\/local\/bin\/monitor-cli$/m);
      assert.match(docker, /^RUN mkdir -p \/workspace\/container \/workspace\/data$/m, 'the image folder itself stays');
      // scripts: run from the package root, or from their own folder
      const script = ws.read(`${PKG}/scripts/example-usage.sh`);
      assert.match(script, /^bun run src\/cli-tools\.ts process start /m);
      assert.match(script, /^bun "\$\(dirname "\$0"\)\/\.\.\/src\/cli-tools\.ts" logs get/m);
      // globs and paths in configuration and docs
      assert.match(ws.read('vitest.config.ts'), /'\*\*\/@shared\/container\/test\/monitor-cli\.test\.ts'/);
      assert.deepEqual(JSON.parse(ws.read('knip.json')).ignore, [`${PKG}/**/*.ts`]);
      assert.match(ws.read('.husky/pre-commit'), /--exclude "@shared\/container\/\*\*"/);
      assert.match(ws.read('AGENTS.md'), /excludes `@shared\/container\/test\/monitor-cli\.test\.ts`/);
      assert.match(ws.read('docs/llm.md'), /^## @shared\/container\/$/m);
      assert.match(ws.read('docs/llm.md'), /\*\*Location:\*\* `\/@shared\/container\/`/);

      // every rewritten line is in the report, with its line, old and new text
      for (const f of report.files) {
        const now = ws.read(f.destination).split('\n');
        for (const rw of f.rewrites) assert.equal(rw.new, now[rw.line - 1], `${f.destination}:${rw.line}`);
      }
      const dockerEntry = report.files.find((f) => f.destination === 'SandboxDockerfile');
      assert.equal(dockerEntry.kind, 'edit');
      assert.equal(dockerEntry.source, null);
      assert.deepEqual(dockerEntry.rewrites.map((rw) => rw.line),
        ['COPY container/', 'chmod +x', 'bun run cli-tools.ts', 'ln -sf'].map((n) => lineOf(fs.readFileSync(path.join(CHECKOUT, 'SandboxDockerfile'), 'utf8'), n)));

      // what it cannot rewrite: work left, with file and line
      const fixtureDocker = fs.readFileSync(path.join(CHECKOUT, 'SandboxDockerfile'), 'utf8');
      const fixtureDocs = fs.readFileSync(path.join(CHECKOUT, 'docs/llm.md'), 'utf8');
      const left = report.work_left.map((w) => `${w.file}:${w.line}`);
      assert.ok(left.includes(`SandboxDockerfile:${lineOf(fixtureDocker, '/app/container/packages-cache')}`), 'an image path no COPY explains');
      assert.ok(left.includes(`docs/llm.md:${lineOf(fixtureDocs, '**cli-tools.ts**')}`), 'a bare file name in prose');
      assert.ok(left.includes(`docs/llm.md:${lineOf(fixtureDocs, '**storage.ts**')}`));
      assert.ok(!left.includes(`docs/llm.md:${lineOf(fixtureDocs, '**types.ts**')}`), 'types.ts is also worker/types.ts: not flagged');
      assert.ok(left.includes('container/:null'), 'the old folder is still there');
      assert.match(r.stdout, /Work left \(\d+\), to do by hand:\n {2}SandboxDockerfile:\d+: mentions '\/app\/container\/packages-cache'/);

      // the orchestrator side: each local database write and read, and the wharfd RPC method replacing it
      const storage = fs.readFileSync(path.join(CHECKOUT, 'container/storage.ts'), 'utf8');
      const rpcAt = (needle) => report.orchestrator.find((o) => o.file === `${PKG}/src/storage.ts`
        && o.line === lineOf(storage, needle));
      assert.deepEqual(rpcAt('INSERT INTO simple_errors').rpc, ['ContainerMonitoringOps.storeErrors']);
      assert.equal(rpcAt('INSERT INTO simple_errors').access, 'write');
      assert.deepEqual(rpcAt('UPDATE simple_errors').rpc, ['ContainerMonitoringOps.storeErrors']);
      assert.deepEqual(rpcAt('DELETE FROM simple_errors').rpc, ['ContainerMonitoringOps.clearErrors']);
      assert.deepEqual(rpcAt('SELECT * FROM simple_errors').rpc, ['ContainerMonitoringOps.getErrors', 'ContainerMonitoringOps.getErrorSummary']);
      assert.deepEqual(rpcAt('INSERT INTO process_logs').rpc, ['ContainerMonitoringOps.storeLogs']);
      assert.deepEqual(rpcAt('SELECT * FROM process_logs').rpc, ['ContainerMonitoringOps.getLogs']);
      assert.equal(rpcAt('CREATE TABLE IF NOT EXISTS simple_errors').access, 'schema');
      assert.equal(rpcAt('PRAGMA journal_mode').access, 'schema');
      assert.deepEqual(rpcAt('public storeError(').rpc, ['ContainerMonitoringOps.storeErrors', 'ContainerMonitoringOps.storeError']);
      const monitor = fs.readFileSync(path.join(CHECKOUT, 'container/process-monitor.ts'), 'utf8');
      assert.deepEqual(report.orchestrator.find((o) => o.line === lineOf(monitor, 'this.storage.storeError(')
        && o.file.endsWith('process-monitor.ts')).rpc, ['ContainerMonitoringOps.storeErrors']);
      assert.deepEqual(report.orchestrator.find((o) => o.line === lineOf(monitor, "'state_changed'")
        && o.file.endsWith('process-monitor.ts')).rpc, ['ContainerMonitoringOps.upsertProcess', 'ContainerMonitoringOps.recordEvent']);
      assert.ok(!report.orchestrator.some((o) => o.access === 'unknown'), 'every SQL statement is explained');
      assert.match(fs.readFileSync(reportPath.replace(/\.json$/, '.md'), 'utf8'), /\| `@shared\/container\/src\/storage\.ts:\d+` \| `INSERT INTO simple_errors .*\| write \| ContainerMonitoringOps\.storeErrors \|/);

      // validation: TypeScript the same before and after (its missing modules included)
      const tsr = report.validation.typescript;
      assert.equal(tsr.checked, true);
      assert.equal(tsr.version, '5.9.3');
      assert.ok(tsr.before.cannot_find_module > 0, 'the fixture has no node_modules: zod, bun:test... are not found');
      assert.deepEqual(tsr.after, tsr.before);
      assert.deepEqual(tsr.new, []);
      assert.equal(report.validation.shell.files_checked, 1);
      assert.equal(report.validation.passed, true);

      // git sees the moves and edits, nothing else
      const status = ws.gitStatus().split('\n').filter(Boolean).sort();
      assert.deepEqual(status, [...CONSUMERS.map((c) => ` M ${c}`),
        ...Object.values(LAYOUT).map(([d]) => `?? ${d}`)].sort());
    });
  });

  test('rollback leaves the checkout byte for byte as it was: git status clean, no folder left', () => {
    withCheckout((ws) => {
      const before = ws.state();
      assertOk(run(ws), 'migration');
      const [reportPath] = ws.reports();
      const rb = migrate(['--rollback', reportPath]);
      assertOk(rb, 'rollback');
      assert.match(rb.stdout, /10 removed, 8 restored/);
      assert.deepEqual(ws.state(), before);
      assert.equal(ws.gitStatus(), '', 'git status is clean');
      assert.ok(ws.report(reportPath).rolled_back_at, 'the report says it was rolled back');
    });
  });

  test('a second run changes nothing and records destination_touched: false', () => {
    withCheckout((ws) => {
      assertOk(run(ws), 'first run');
      const after1 = ws.state();
      const r2 = run(ws);
      assertOk(r2, 'second run');
      assert.match(r2.stderr, /nothing to move: every file is already in place/);
      assert.deepEqual(ws.state(), after1);
      const [first, second] = ws.reports();
      const report2 = ws.report(second);
      assert.ok(report2.files.length >= 18);
      assert.ok(report2.files.every((f) => f.action === 'unchanged'), 'every file already in place');
      assert.equal(report2.destination_touched, false);
      assert.deepEqual(report2.created_directories, []);
      assert.equal(report2.backup_dir, null);
      const rb2 = migrate(['--rollback', second]);
      assertOk(rb2, 'rollback of the second run');
      assert.match(rb2.stdout, /Nothing to roll back/);
      assert.deepEqual(ws.state(), after1);
      assertOk(migrate(['--rollback', first]), 'rollback of the first run');
      assert.equal(ws.gitStatus(), '');
    });
  });

  test('broken TypeScript and shell are caught before anything moves', () => {
    withCheckout((ws) => {
      ws.append('container/storage.ts', 'const = = ;;; {{{\n');
      ws.append('container/example-usage.sh', 'if then fi\n');
      git(ws.dir, 'commit', '-qam', 'broken');
      const before = ws.state();
      const r = run(ws);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /validation failed .*the destination was not changed/);
      const brokenLine = ws.read('container/storage.ts').split('\n').length - 1;
      assert.match(r.stderr, new RegExp(`@shared/container/src/storage\\.ts:${brokenLine}: \\[typescript\\] TS1\\d{3}: .*\\(does not parse\\)`));
      assert.match(r.stderr, /@shared\/container\/scripts\/example-usage\.sh:\d+: \[shell\] bash -n: syntax error/);
      assert.deepEqual(ws.state(), before, 'nothing moved');
      assert.equal(ws.gitStatus(), '');
      const report = ws.report(ws.reports()[0]);
      assert.equal(report.status, 'validation-failed');
      assert.ok(report.validation.failures.some((f) => f.check === 'typescript' && f.line === brokenLine));
    });
  });

  test('validate DEST re-checks a migrated tree against its report: hashes, JSON, TypeScript', () => {
    withCheckout((ws) => {
      assertOk(run(ws), 'migration');
      const dest = path.join(ws.dir, PKG);
      const ok = migrate(['validate', dest]);
      assertOk(ok, 'validate');
      assert.match(ok.stdout, /10 files recorded, 10 present/);
      assert.match(ok.stdout, /TypeScript: tsc 5\.9\.3 on 6 files: .* 0 new, 0 syntax errors/);
      assert.match(ok.stdout, /^Validation passed\.$/m);

      ws.write(`${PKG}/package.json`, '{ "name": "process-monitoring-system",\n');
      ws.append(`${PKG}/src/cli-tools.ts`, 'const = = ;;; {{{\n');
      const bad = migrate(['validate', dest]);
      assert.equal(bad.status, 1);
      assert.doesNotMatch(bad.stdout, /Validation passed/);
      assert.match(bad.stdout, /Validation FAILED: \d+ problem/);
      assert.match(bad.stderr, /@shared\/container\/package\.json: \[hash\] changed since the migration/);
      assert.match(bad.stderr, /@shared\/container\/package\.json:2: \[json\] not valid JSON/);
      assert.match(bad.stderr, /@shared\/container\/src\/cli-tools\.ts: \[hash\] changed since the migration/);
      assert.match(bad.stderr, /@shared\/container\/src\/cli-tools\.ts:\d+: \[typescript\] TS1\d{3}: .*does not parse/);
      // a dry run of the recipe would put the files back: it says so, naming the run that wrote them
      const dry = run(ws, '--dry-run');
      assert.match(dry.stdout, /overwrite\s+package\.json -> @shared\/container\/package\.json/);
      assert.match(dry.stdout, /Warning: @shared\/container\/package\.json changed since run \S+ wrote it/);

      fs.rmSync(path.join(dest, 'types/types.ts'));
      const gone = migrate(['validate', dest]);
      assert.match(gone.stderr, /@shared\/container\/types\/types\.ts: \[hash\] missing: the migration wrote it/);
      assert.match(gone.stderr, /@shared\/container\/src\/storage\.ts:\d+: \[references\] import '\.\.\/types\/types\.js' matches no file/);
    });
  });

  test('without a TypeScript compiler a clear line says so; an explicit --report is used', () => {
    withCheckout((ws) => {
      assertOk(run(ws, '--report', path.join(ws.tmp, 'r1')), 'migration');
      const dest = path.join(ws.dir, PKG);
      const none = migrate(['validate', dest, '--report', path.join(ws.tmp, 'r1.json')],
        { env: { WHARF_TSC: path.join(ws.tmp, 'no-such-tsc') } });
      assertOk(none, 'validate without tsc');
      assert.match(none.stdout, /TypeScript: not checked \(WHARF_TSC=.*no-such-tsc is not an executable file\)/);
      const off = migrate(['vibesdk', ws.dir, '--dry-run'], { env: { WHARF_TSC: 'off' } });
      assertOk(off, 'dry run without tsc');
      assert.match(off.stdout, /^TypeScript: not checked \(WHARF_TSC=off\)$/m);
      assert.ok(fs.existsSync(TSC), 'the tests run with the pinned tsc of tests/package.json');
    });
  });

  test('--print-manifest writes the discovery out as a manifest that runs like the recipe', () => {
    withCheckout((ws) => {
      const printed = run(ws, '--print-manifest');
      assertOk(printed, 'print manifest');
      const manifest = JSON.parse(printed.stdout);
      assert.equal(manifest.mappings.length, 10);
      assert.deepEqual(manifest.edit_in_place.sort(), [...CONSUMERS].sort());
      assert.equal(manifest.roles, undefined, 'discovery is written out');
      const file = path.join(ws.tmp, 'vibesdk-manifest.json');
      fs.writeFileSync(file, printed.stdout);
      assertOk(migrate([file, '--report', path.join(ws.tmp, 'm1')]), 'the printed manifest');
      const byManifest = ws.state();
      assertOk(migrate(['--rollback', path.join(ws.tmp, 'm1.json')]), 'rollback');
      assertOk(run(ws), 'the recipe');
      assert.deepEqual(ws.state(), byManifest, 'the same tree');
    });
  });
});
