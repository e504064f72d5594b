// `make install` lays wharf out as a distribution package would (PREFIX,
// DESTDIR), and what it installs works from there: the binaries run, nginx
// loads the installed module, and the installed new-worker prints a start
// line whose agent is the installed one, found on PATH.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROOT, SANITIZE, generateKeys, nginxTest, renderNginxConf, tempDir } from '../lib/stack.mjs';

describe('make install', () => {
  let dir;
  let dest;
  const usr = () => path.join(dest, 'usr');

  before(() => {
    dir = tempDir('install');
    dest = path.join(dir, 'dest');
    const r = spawnSync('make', ['-s', '--no-print-directory', 'install', `DESTDIR=${dest}`, 'PREFIX=/usr', `SANITIZE=${SANITIZE ? 1 : 0}`],
      { cwd: ROOT, encoding: 'utf8', timeout: 300000 });
    assert.equal(r.status, 0, `make install: ${r.stdout}${r.stderr}`);
  });

  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the layout of a package: bin, sbin, the nginx modules folder, /etc/wharf, the unit, share', () => {
    const want = {
      'usr/bin/wharfctl': 0o755,
      'usr/bin/wharf-agent': 0o755,
      'usr/sbin/wharfd': 0o755,
      'usr/lib/nginx/modules/ngx_http_wharf_module.so': 0o644,
      'etc/wharf/nginx.conf': 0o644,
      'etc/wharf/wharf.conf': 0o644,
      'etc/wharf/wharf_fastcgi_params': 0o644,
      'etc/wharf/wharfd.conf': 0o644,
      'usr/lib/systemd/system/wharfd.service': 0o644,
      'usr/share/wharf/scripts/new-worker': 0o755,
      'usr/share/wharf/scripts/worker-conf': 0o755,
      'usr/share/wharf/templates/worker/Dockerfile': null,
      'usr/share/wharf/schema/sqlite/0001_init.sql': null,
      'usr/share/wharf/schema/postgresql/0001_init.sql': null,
      'usr/share/wharf/console/index.html': null,
      'usr/share/doc/wharf/README.md': null,
      'usr/share/doc/wharf/DESIGN.md': null,
    };
    for (const [f, mode] of Object.entries(want)) {
      const p = path.join(dest, f);
      assert.ok(fs.existsSync(p), `${f} is installed`);
      if (mode !== null) assert.equal(fs.statSync(p).mode & 0o777, mode, `${f} mode`);
    }
    assert.ok(fs.statSync(path.join(dest, 'etc/wharf/workers.d')).isDirectory());
    const unit = fs.readFileSync(path.join(dest, 'usr/lib/systemd/system/wharfd.service'), 'utf8');
    assert.match(unit, /^ExecStart=\/usr\/sbin\/wharfd --config \/etc\/wharf\/wharfd\.conf$/m);
    assert.doesNotMatch(unit, /@[A-Z]+@/, 'every placeholder filled in');
  });

  test('the installed wharf.conf serves the installed console at /console/', () => {
    const conf = fs.readFileSync(path.join(dest, 'etc/wharf/wharf.conf'), 'utf8');
    assert.match(conf, /^\s*alias \/usr\/share\/wharf\/console\/;$/m);
    assert.doesNotMatch(conf, /@CONSOLE_DIR@/);
    const index = fs.readFileSync(path.join(usr(), 'share/wharf/console/index.html'), 'utf8');
    for (const [, asset] of index.matchAll(/(?:src|href)="(assets\/[^"]+)"/g)) {
      assert.ok(fs.existsSync(path.join(usr(), 'share/wharf/console', asset)), `${asset} is installed`);
      assert.ok(fs.existsSync(path.join(usr(), 'share/wharf/console', `${asset}.gz`)), `${asset}.gz is installed`);
    }
  });

  test('the installed binaries run and say their version', () => {
    for (const b of ['bin/wharfctl', 'bin/wharf-agent', 'sbin/wharfd']) {
      const r = spawnSync(path.join(usr(), b), ['--version'], { encoding: 'utf8', env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=0' } });
      assert.equal(r.status, 0, `${b} --version: ${r.stderr}`);
      assert.match(r.stdout, /0\.\d+\.\d+/, b);
    }
  });

  test('nginx loads the installed module with the installed configuration', () => {
    const keys = generateKeys(dir);
    const prefix = path.join(dir, 'nginx');
    fs.mkdirSync(prefix, { recursive: true });
    const workers = path.join(dest, 'etc/wharf/workers.d');
    const conf = renderNginxConf({
      prefix, listen: '127.0.0.1:1', wharfd: '127.0.0.1:2', wharfdWs: '127.0.0.1:3', workersDir: workers, keys,
      module: path.join(usr(), 'lib/nginx/modules/ngx_http_wharf_module.so'),
    });
    assert.match(fs.readFileSync(conf, 'utf8'), new RegExp(`load_module ${usr()}/lib/nginx/modules/`));
    const t = nginxTest(prefix, conf);
    assert.equal(t.status, 0, t.output);
  });

  test('the installed new-worker prints a start line with the installed agent', () => {
    fs.mkdirSync(path.join(dir, 'keys2'));
    const keys = generateKeys(path.join(dir, 'keys2'));
    const conf = path.join(dir, 'conf');
    fs.mkdirSync(path.join(conf, 'workers.d'), { recursive: true });
    const r = spawnSync(path.join(usr(), 'share/wharf/scripts/new-worker'),
      ['api', '--addr', '127.0.0.1:9', '--no-reload', '--conf-dir', conf, '--key', keys.privatePath,
        '--workers-root', path.join(dir, 'workers'), '--nginx-conf', '/dev/null'],
      { encoding: 'utf8', env: { ...process.env, PATH: `${path.join(usr(), 'bin')}:${process.env.PATH}`, WHARF_NGINX: '/bin/true', WHARFCTL: '', B: '' } });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`exec '${path.join(usr(), 'bin/wharf-agent')}'`));
    assert.ok(fs.existsSync(path.join(dir, 'workers/api/public.pem')));
  });
});
