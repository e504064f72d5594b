// The live registry across restarts and reloads (issue 15): the state
// file (wharf_registry_state), written before a change is answered and
// read when nginx starts; a reload keeps the zone's entries; a wharf_worker
// of the configuration takes its name from a live worker; a state file
// that cannot be read stops nginx -t, one that cannot be written undoes
// the change.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  childPids, getFresh as get, nginxTest, reloadNginx, startFakeEndpoint, startNginx, startStack, waitFor, writeWorkerConf,
} from '../lib/stack.mjs';

describe('live registry: the state file', () => {
  let stack, fake, stateFile;
  const put = (name, body) => get(`${stack.http}/api/workers/${name}`, {
    method: 'PUT', headers: { ...stack.auth, 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  const del = (name) => get(`${stack.http}/api/workers/${name}`, { method: 'DELETE', headers: stack.auth });
  const read = (p) => get(`${stack.http}${p}`, { headers: stack.auth });
  const names = async () => (await read('/api/workers')).json.map((w) => `${w.name}:${w.source}`).sort();
  const state = () => JSON.parse(fs.readFileSync(stateFile, 'utf8'));
  const routes = async (name) => (await read(`/api/workers/${name}/ping`)).status === 200;

  // a reload, done once the old worker processes are gone (their kept
  // client connections with them)
  async function reload() {
    await reloadNginx(stack.nginx);
    await waitFor(() => childPids(stack.nginx.pid).length === 2, { what: 'the old worker processes to exit' });
  }

  async function restart() {
    await stack.nginx.stop();
    stack.procs = stack.procs.filter((p) => p !== stack.nginx);
    stack.nginx = await startNginx({ prefix: stack.prefix, conf: stack.conf, logDir: stack.logDir });
    stack.procs.push(stack.nginx);
    await waitFor(async () => (await get(`${stack.http}/api/monitoring/health`).catch(() => ({}))).status === 200,
      { what: 'nginx to answer again' });
  }

  before(async () => {
    fake = await startFakeEndpoint('ws');
    stack = await startStack({ tag: 'registry-state', workers: [{ name: 'demo' }] });
    stateFile = path.join(stack.prefix, 'state/registry.json');
  });
  after(async () => {
    if (stack) await stack.stop();
    if (fake) await fake.close();
  });

  test('each change is in the state file when it is answered', async () => {
    assert.ok(!fs.existsSync(stateFile), 'no file before the first change');
    assert.equal((await put('keep-a', { upstream: fake.addr })).status, 201);
    assert.deepEqual(state(), {
      version: 1,
      workers: [{ name: 'keep-a', upstream: fake.addr, container: 'keep-a', max_sessions: 0,
        terminal_path: '/terminal', websocket_path: '/websocket' }],
    });
    const b = { upstream: fake.addr, container: 'box-b', max_sessions: 9, terminal_path: '/t"x', websocket_path: '/ws\\y' };
    assert.equal((await put('keep-b', b)).status, 201);
    assert.equal((await put('gone-c', { upstream: fake.addr })).status, 201);
    assert.equal((await del('gone-c')).status, 200);
    const s = state();
    assert.deepEqual(s.workers.map((w) => w.name).sort(), ['keep-a', 'keep-b']);
    assert.deepEqual(s.workers.find((w) => w.name === 'keep-b'), { name: 'keep-b', ...b });
    // written whole, then renamed: no temporary file is left
    assert.deepEqual(fs.readdirSync(path.dirname(stateFile)), ['registry.json']);
  });

  test('a reload keeps the live workers (same zone), without reading the file', async () => {
    const before = fs.readFileSync(stateFile, 'utf8');
    await reload();
    assert.deepEqual(await names(), ['demo:static', 'keep-a:live', 'keep-b:live']);
    assert.ok(await routes('keep-a'));
    const b = (await read('/api/workers/keep-b')).json;
    assert.equal(b.container, 'box-b');
    assert.equal(b.max_sessions, 9);
    assert.deepEqual(b.paths, { terminal: '/api/workers/keep-b/t"x', websocket: '/api/workers/keep-b/ws\\y' });
    assert.equal(fs.readFileSync(stateFile, 'utf8'), before);
  });

  test('a restart reads them back from the file', async () => {
    await restart();
    assert.deepEqual(await names(), ['demo:static', 'keep-a:live', 'keep-b:live']);
    assert.ok(await routes('keep-a'));
    assert.equal((await read('/api/workers/keep-b')).json.container, 'box-b');
  });

  test('a wharf_worker that a reload adds takes the name: the live one is dropped, for good', async () => {
    writeWorkerConf(stack.workersDir, 'keep-a', fake.addr, 'static-box');
    await reload();
    await waitFor(async () => (await read('/api/workers/keep-a')).json.source === 'static', { what: 'the static keep-a' });
    assert.equal((await read('/api/workers/keep-a')).json.container, 'static-box');
    assert.match(stack.nginx.errorLog(), /\[warn\].*live worker "keep-a" is dropped: a wharf_worker of the configuration has its name/);
    assert.deepEqual(state().workers.map((w) => w.name), ['keep-b']);
    assert.equal((await put('keep-a', { upstream: fake.addr })).status, 409);
    // the wharf_worker goes again: so does the name
    fs.unlinkSync(path.join(stack.workersDir, 'keep-a.conf'));
    await reload();
    await waitFor(async () => (await read('/api/workers/keep-a')).status === 404, { what: 'keep-a to be gone' });
    assert.deepEqual(await names(), ['demo:static', 'keep-b:live']);
  });

  test('a wharf_worker of the configuration wins at start too', async () => {
    assert.equal((await put('keep-c', { upstream: fake.addr })).status, 201);
    await stack.nginx.stop();
    writeWorkerConf(stack.workersDir, 'keep-c', fake.addr);
    await restart();
    assert.equal((await read('/api/workers/keep-c')).json.source, 'static');
    assert.deepEqual(state().workers.map((w) => w.name), ['keep-b']);
    fs.unlinkSync(path.join(stack.workersDir, 'keep-c.conf'));
    await reload();
  });

  test('nginx -t: a state file that cannot be used is refused, with file and line', () => {
    const good = fs.readFileSync(stateFile, 'utf8');
    const cases = [
      ['{"version":1,"workers":[\n{"name":"x",\n', /wharf_registry_state ".*registry\.json", line 3: /],
      ['{"version":2,"workers":[]}', /not a state file of this version/],
      ['{"version":1,"workers":[\n{"name":"x","upstream":"nowhere"}\n]}', /registry\.json", line 2 \(worker 1\): invalid "upstream"/],
      ['{"version":1,"workers":[\n{"upstream":"127.0.0.1:1"}\n]}', /line 2 \(worker 1\): a worker without "name"/],
      ['{"version":1,"workers":[\n{"name":"x","upstream":"127.0.0.1:1"},\n{"name":"x","upstream":"127.0.0.1:2"}\n]}',
        /line 3: worker "x" is there twice/],
    ];
    try {
      for (const [text, re] of cases) {
        fs.writeFileSync(stateFile, text);
        const r = nginxTest(stack.prefix, stack.conf);
        assert.notEqual(r.status, 0, text);
        assert.match(r.output, re, r.output);
      }
    } finally {
      fs.writeFileSync(stateFile, good);
    }
    assert.equal(nginxTest(stack.prefix, stack.conf).status, 0);
  });

  test('nginx -t: the folder must be the worker processes\' to write in', { skip: process.getuid() !== 0 && 'needs root (worker processes as nobody)' }, () => {
    const dir = path.dirname(stateFile);
    const { uid } = fs.statSync(dir);
    fs.chownSync(dir, 0, 0);
    try {
      const r = nginxTest(stack.prefix, stack.conf);
      assert.notEqual(r.status, 0);
      assert.match(r.output, /nginx's worker processes cannot write in ".*state", where the file is written/);
    } finally {
      fs.chownSync(dir, uid, fs.statSync(dir).gid);
    }
    assert.equal(nginxTest(stack.prefix, stack.conf).status, 0);
  });

  test('a change that cannot be saved is undone: 500 state_not_saved', async () => {
    const dir = path.dirname(stateFile);
    const before = fs.readFileSync(stateFile, 'utf8');
    fs.chmodSync(dir, 0o555);
    try {
      const r = await put('unsaved', { upstream: fake.addr });
      assert.equal(r.status, 500, r.body);
      assert.equal(r.json.error.code, 'state_not_saved');
      assert.match(r.json.error.message, /registry\.json\.\d+\.tmp" failed \(13: Permission denied\)/);
      assert.equal((await read('/api/workers/unsaved')).status, 404);
      const d = await del('keep-b');
      assert.equal(d.status, 500);
      assert.equal(d.json.error.code, 'state_not_saved');
      assert.equal((await read('/api/workers/keep-b')).status, 200, 'not removed either');
    } finally {
      fs.chmodSync(dir, 0o755);
    }
    assert.equal(fs.readFileSync(stateFile, 'utf8'), before);
    assert.equal((await put('unsaved', { upstream: fake.addr })).status, 201);
    assert.equal((await del('unsaved')).status, 200);
  });

  test('without wharf_registry_state: kept across a reload, gone after a restart', async () => {
    const conf = fs.readFileSync(stack.conf, 'utf8');
    fs.writeFileSync(stack.conf, conf.replace(/^\s*wharf_registry_state .*$/m, ''));
    try {
      await restart();
      assert.deepEqual(await names(), ['demo:static']);
      assert.equal((await put('mem', { upstream: fake.addr })).status, 201);
      await reload();
      await waitFor(async () => (await read('/api/workers/mem')).status === 200, { what: 'mem after the reload' });
      await restart();
      assert.equal((await read('/api/workers/mem')).status, 404);
    } finally {
      fs.writeFileSync(stack.conf, conf);
    }
    await restart();
    assert.deepEqual(await names(), ['demo:static', 'keep-b:live']);
  });

  test('no alert in the error log', () => {
    const bad = stack.nginx.errorLog().split('\n').filter((l) => /\[(alert|crit)\]/.test(l));
    assert.deepEqual(bad, []);
    assert.equal(childPids(stack.nginx.pid).length, 2);
  });
});
