// Configuration errors in wharf_worker fail `nginx -t` with file and line,
// checked with the Debian nginx binary and the module loaded.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { nginxTest, renderNginxConf, tempDir, writeWorkerConf } from '../lib/stack.mjs';

describe('nginx -t on wharf_worker', () => {
  let dir, prefix, workers, conf;
  before(() => {
    dir = tempDir('nginx-t');
    prefix = path.join(dir, 'nginx');
    workers = path.join(dir, 'workers.d');
    fs.mkdirSync(prefix);
    fs.mkdirSync(workers);
    conf = renderNginxConf({ prefix, listen: '127.0.0.1:1', wharfd: '127.0.0.1:2', wharfdWs: '127.0.0.1:3', workersDir: workers });
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const reset = () => { for (const f of fs.readdirSync(workers)) fs.unlinkSync(path.join(workers, f)); };
  const write = (name, text) => fs.writeFileSync(path.join(workers, name), text);

  test('a valid worker file passes', () => {
    reset();
    writeWorkerConf(workers, 'demo', '127.0.0.1:9');
    const r = nginxTest(prefix, conf);
    assert.equal(r.status, 0, r.output);
  });

  test('a wharf_worker without upstream= fails naming file and line', () => {
    reset();
    const f = path.join(workers, 'bad.conf');
    write('bad.conf', '# a worker\n\nwharf_worker bad container=x;\n');
    const r = nginxTest(prefix, conf);
    assert.notEqual(r.status, 0);
    assert.match(r.output, /\[emerg\].*upstream/);
    assert.ok(r.output.includes(`${f}:3`), r.output);
  });

  test('a wharf_worker naming an undefined upstream fails naming file and line', () => {
    reset();
    const f = path.join(workers, 'ghost.conf');
    write('ghost.conf', 'wharf_worker ghost upstream=nowhere;\n');
    const r = nginxTest(prefix, conf);
    assert.notEqual(r.status, 0);
    assert.match(r.output, /nowhere/);
    assert.ok(r.output.includes(`${f}:1`), r.output);
  });

  test('a duplicate worker fails naming the second file and line', () => {
    reset();
    writeWorkerConf(workers, 'demo', '127.0.0.1:9');
    const f = path.join(workers, 'zz-dup.conf');
    write('zz-dup.conf', '\nwharf_worker demo upstream=wharf_worker_demo;\n');
    const r = nginxTest(prefix, conf);
    assert.notEqual(r.status, 0);
    assert.match(r.output, /duplicate/);
    assert.ok(r.output.includes(`${f}:2`), r.output);
  });

  test('a malformed worker name fails naming file and line', () => {
    reset();
    writeWorkerConf(workers, 'demo', '127.0.0.1:9');
    const f = path.join(workers, 'upper.conf');
    write('upper.conf', 'wharf_worker Demo upstream=wharf_worker_demo;\n');
    const r = nginxTest(prefix, conf);
    assert.notEqual(r.status, 0);
    assert.match(r.output, /Demo/);
    assert.ok(r.output.includes(`${f}:1`), r.output);
  });

  test('an unknown parameter fails naming file and line', () => {
    reset();
    writeWorkerConf(workers, 'demo', '127.0.0.1:9');
    const f = path.join(workers, 'param.conf');
    write('param.conf', 'wharf_worker other upstream=wharf_worker_demo colour=blue;\n');
    const r = nginxTest(prefix, conf);
    assert.notEqual(r.status, 0);
    assert.match(r.output, /colour/);
    assert.ok(r.output.includes(`${f}:1`), r.output);
  });
});
