// Docker discovery (issue 15): wharfctl workers watch-docker follows a real
// dockerd's events and keeps a real gateway's live registry (PUT/DELETE
// /api/workers/NAME) in step with the running containers labelled
// wharf.worker=NAME, as Traefik's Docker provider does. The containers
// here are plain debian:bookworm ones (the labels are what counts; the
// worker image has its own test, and container_acceptance runs real
// workers). Every container runs on the host network.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { BIN, get, startStack, tempDir, waitFor } from '../lib/stack.mjs';
import {
  docker, dockerAsync, dockerDown, dockerUp, privateDaemon, runContainer, startWatcher, uniqueName,
} from '../lib/docker.mjs';

const up = await dockerUp();

// A container that only carries labels: tini (--init) as PID 1 so that
// docker stop ends it at once.
function labelled(tag, labels, { daemon } = {}) {
  const name = uniqueName(tag);
  const args = ['run', '-d', '--init', '--name', name, '--network', 'host', '--label', 'wharf.test=1'];
  for (const [k, v] of Object.entries(labels)) args.push('--label', `${k}=${v}`);
  args.push('debian:bookworm', 'sleep', '600');
  if (daemon) {
    daemon.docker(args);
    return name;
  }
  return runContainer(name, 'debian:bookworm', { labels, args: ['--init'], cmd: ['sleep', '600'] });
}

describe('Docker discovery: wharfctl workers watch-docker', { skip: up.ok ? false : up.reason }, () => {
  let stack;
  let watcher;
  let stateFile;
  const timings = {};

  const workers = async () => {
    const r = await get(`${stack.http}/api/workers`, { headers: stack.auth });
    assert.equal(r.status, 200, r.body);
    return r.json;
  };
  const entry = async (name) => (await workers()).find((w) => w.name === name);
  const log = (p = watcher) => fs.readFileSync(p.logPath, 'utf8');
  // what the state file says the watcher made (undefined while it has none)
  const owned = () => {
    try {
      return JSON.parse(fs.readFileSync(stateFile, 'utf8')).owned;
    } catch {
      return undefined;
    }
  };
  const watch = async (args = [], opts = {}) => {
    const p = startWatcher(stack, { args, ...opts });
    await waitFor(() => /Docker at .*: \d+ labelled containers/.test(log(p)), {
      timeout: 15000, what: () => `the watcher to list Docker's containers:\n${log(p)}`,
    });
    return p;
  };

  before(async () => {
    // "fixed" is a static worker (a workers.d file): its name is not the
    // watcher's to take.
    stack = await startStack({ tag: 'discovery', workers: [{ name: 'fixed', addr: '127.0.0.1:1' }] });
    stateFile = path.join(stack.dir, 'watch-docker.json');
    watcher = await watch(['--state', stateFile, '--resync', '1s']);
  });

  after(async () => {
    if (watcher) await watcher.stop();
    dockerDown(stack?.logDir);
    if (stack) await stack.stop();
    console.log(`# discovery timings (ms): ${JSON.stringify(timings)}`);
  });

  test('a labelled container is registered when it starts and removed when it stops', async () => {
    const t0 = Date.now();
    const name = labelled('disc-a', { 'wharf.worker': 'disc-a', 'wharf.agent': '127.0.0.1:19101', 'wharf.max-sessions': '5' });
    const e = await waitFor(() => entry('disc-a'), { timeout: 10000, what: () => `disc-a registered:\n${log()}` });
    timings.registered = Date.now() - t0;
    assert.equal(e.container, name);
    assert.deepEqual(e.upstream.servers, ['127.0.0.1:19101']);
    assert.equal(e.max_sessions, 5);
    assert.equal(e.source, 'live');
    // the state file follows the registration (written after the PUT)
    await waitFor(() => isDeepStrictEqual(owned(), { 'disc-a': name }),
      { timeout: 10000, what: () => `disc-a in the state file: ${JSON.stringify(owned())}` });

    const t1 = Date.now();
    const r = await dockerAsync(['stop', name]);
    assert.equal(r.status, 0, r.stderr);
    await waitFor(async () => !(await entry('disc-a')), { timeout: 10000, what: () => `disc-a removed:\n${log()}` });
    timings.removed = Date.now() - t1;
    await waitFor(() => isDeepStrictEqual(owned(), {}),
      { timeout: 10000, what: () => `disc-a out of the state file: ${JSON.stringify(owned())}` });
    assert.match(log(), new RegExp(`removed disc-a: container ${name} is gone`));
  });

  test('bad labels are refused by name, and nothing is registered', async () => {
    const before0 = (await workers()).map((w) => w.name).sort();
    const bad = labelled('bad-name', { 'wharf.worker': 'Bad_Name' });
    const badAddr = labelled('bad-addr', { 'wharf.worker': 'bad-addr', 'wharf.agent': 'nowhere' });
    const badMax = labelled('bad-max', { 'wharf.worker': 'bad-max', 'wharf.max-sessions': '1000001' });
    await waitFor(() => [bad, badAddr, badMax].every((n) => new RegExp(`container ${n} \\(\\w+\\): .*not registered`).test(log())), {
      timeout: 10000, what: () => `three refusals in the log:\n${log()}`,
    });
    assert.match(log(), /label wharf\.worker='Bad_Name' is not a worker name/);
    assert.match(log(), /label wharf\.agent='nowhere' is not HOST:PORT/);
    assert.match(log(), /label wharf\.max-sessions='1000001' is not a number from 0 to 1000000/);
    assert.deepEqual((await workers()).map((w) => w.name).sort(), before0);
  });

  test('a static worker keeps its name: the container is refused and its stop removes nothing', async () => {
    const name = labelled('fixed', { 'wharf.worker': 'fixed', 'wharf.agent': '127.0.0.1:19102' });
    await waitFor(() => /the gateway refuses fixed/.test(log()), { timeout: 10000, what: () => `the refusal:\n${log()}` });
    let e = await entry('fixed');
    assert.equal(e.source, 'static');
    assert.deepEqual(e.upstream.servers, ['127.0.0.1:1']);
    await dockerAsync(['stop', name]);
    // Events are handled in order: once a later container is registered,
    // the stop above has been handled too.
    const barrier = labelled('barrier', { 'wharf.worker': 'barrier', 'wharf.agent': '127.0.0.1:19113' });
    await waitFor(async () => (await entry('barrier'))?.container === barrier, { what: () => `barrier registered:\n${log()}` });
    e = await entry('fixed');
    assert.equal(e.source, 'static');
    assert.deepEqual(e.upstream.servers, ['127.0.0.1:1']);
    assert.doesNotMatch(log(), /removed fixed/);
    await dockerAsync(['stop', barrier]);
    await waitFor(async () => !(await entry('barrier')), { what: () => `barrier removed:\n${log()}` });
  });

  test('two containers with one name: the last started wins; when it stops the other takes over', async () => {
    const first = labelled('twin-1', { 'wharf.worker': 'twin', 'wharf.agent': '127.0.0.1:19103' });
    await waitFor(async () => (await entry('twin'))?.container === first, { what: () => `twin -> ${first}:\n${log()}` });
    const second = labelled('twin-2', { 'wharf.worker': 'twin', 'wharf.agent': '127.0.0.1:19104' });
    await waitFor(async () => (await entry('twin'))?.container === second, { what: () => `twin -> ${second}:\n${log()}` });
    assert.deepEqual((await entry('twin')).upstream.servers, ['127.0.0.1:19104']);
    await dockerAsync(['stop', second]);
    await waitFor(async () => (await entry('twin'))?.container === first, { what: () => `twin back to ${first}:\n${log()}` });
    assert.deepEqual((await entry('twin')).upstream.servers, ['127.0.0.1:19103']);
    await dockerAsync(['stop', first]);
    await waitFor(async () => !(await entry('twin')), { what: () => `twin removed:\n${log()}` });
  });

  test('an entry deleted by hand is put back at the next resync: Docker is the source of truth', async () => {
    const name = labelled('resync', { 'wharf.worker': 'resync', 'wharf.agent': '127.0.0.1:19105' });
    await waitFor(() => entry('resync'), { what: () => `resync registered:\n${log()}` });
    const d = await fetch(`${stack.http}/api/workers/resync`, { method: 'DELETE', headers: stack.auth });
    assert.equal(d.status, 200, await d.text());
    assert.equal(await entry('resync'), undefined);
    const e = await waitFor(() => entry('resync'), { timeout: 10000, what: () => `resync put back:\n${log()}` });
    assert.equal(e.container, name);
    assert.match(log(), /resync: resync is missing in the registry; putting it again/);
    await dockerAsync(['stop', name]);
    await waitFor(async () => !(await entry('resync')), { what: () => `resync removed:\n${log()}` });
  });

  test('restarted, it removes what it made (its state file) and keeps what it did not', async () => {
    const gone = labelled('gone', { 'wharf.worker': 'gone', 'wharf.agent': '127.0.0.1:19106' });
    await waitFor(() => entry('gone'), { what: () => `gone registered:\n${log()}` });
    await waitFor(() => owned()?.gone === gone, { what: () => `gone in the state file: ${JSON.stringify(owned())}` });
    // An entry an operator made: not the watcher's, whatever happens.
    const put = await fetch(`${stack.http}/api/workers/by-hand`, {
      method: 'PUT', headers: { ...stack.auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ upstream: '127.0.0.1:19107', container: 'by-hand-c' }),
    });
    assert.equal(put.status, 201, await put.text());

    // SIGTERM: exit 0, the registry left as it is.
    const exit = await watcher.stop();
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.match(log(), /stopping \(signal\); the registry is left as it is/);
    assert.ok(await entry('gone'), 'the entries stay while the watcher is away');

    // Meanwhile: "gone" is removed from Docker altogether (only the state
    // file remembers it), and another container starts.
    docker(['rm', '-f', gone]);
    const fresh = labelled('fresh', { 'wharf.worker': 'fresh', 'wharf.agent': '127.0.0.1:19108' });

    watcher = await watch(['--state', stateFile, '--resync', '1s']);
    await waitFor(async () => !(await entry('gone')) && (await entry('fresh'))?.container === fresh,
      { timeout: 10000, what: () => `gone removed and fresh registered:\n${log()}` });
    assert.equal((await entry('by-hand')).container, 'by-hand-c');
    await dockerAsync(['stop', fresh]);
    await waitFor(async () => !(await entry('fresh')), { what: () => `fresh removed:\n${log()}` });
    assert.ok(await entry('by-hand'));
  });

  test('without a state file, an entry of a labelled container Docker still knows but that stopped is removed', async () => {
    const c = labelled('known', { 'wharf.worker': 'known', 'wharf.agent': '127.0.0.1:19109' });
    await waitFor(() => entry('known'), { what: () => `known registered:\n${log()}` });
    await watcher.stop();
    await dockerAsync(['stop', c]); // stopped, not removed: Docker knows it
    const stateless = await watch([]);
    try {
      await waitFor(async () => !(await entry('known')), { timeout: 10000, what: () => `known removed:\n${log(stateless)}` });
      assert.ok(await entry('by-hand'), 'an entry whose container Docker does not know is kept');
    } finally {
      await stateless.stop();
    }
    watcher = await watch(['--state', stateFile, '--resync', '1s']);
  });

  test('--once brings the registry in step and exits 0', async () => {
    await watcher.stop();
    const c = labelled('once', { 'wharf.worker': 'once', 'wharf.agent': '127.0.0.1:19110' });
    const p = startWatcher(stack, { args: ['--state', stateFile, '--once'], name: 'watch-once' });
    assert.deepEqual(await p.exited, { code: 0, signal: null }, log(p));
    assert.equal((await entry('once')).container, c);
    await dockerAsync(['stop', c]);
    const p2 = startWatcher(stack, { args: ['--state', stateFile, '--once'], name: 'watch-once-2' });
    assert.deepEqual(await p2.exited, { code: 0, signal: null }, log(p2));
    assert.equal(await entry('once'), undefined);
    watcher = await watch(['--state', stateFile, '--resync', '1s']);
  });

  test('it follows a dockerd restart: reconnects with backoff, removes what died, registers what starts', async () => {
    const daemon = privateDaemon('restart');
    let own;
    try {
      daemon.up();
      own = await watch(['--state', path.join(stack.dir, 'watch-restart.json')], { socket: daemon.socket, name: 'watch-restart' });
      const a = labelled('rst-a', { 'wharf.worker': 'rst-a', 'wharf.agent': '127.0.0.1:19111' }, { daemon });
      await waitFor(async () => (await entry('rst-a'))?.container === a, { what: () => `rst-a registered:\n${log(own)}` });

      // dockerd stops (its containers with it) and comes back.
      daemon.down();
      await waitFor(() => /lost Docker's event stream|cannot follow Docker/.test(log(own)), {
        timeout: 15000, what: () => `the watcher to notice:\n${log(own)}`,
      });
      await new Promise((r) => setTimeout(r, 1000)); // a few failed reconnects
      const t0 = Date.now();
      daemon.up();
      await waitFor(async () => !(await entry('rst-a')), { timeout: 15000, what: () => `rst-a removed:\n${log(own)}` });
      timings.afterDockerdRestart = Date.now() - t0;
      const b = labelled('rst-b', { 'wharf.worker': 'rst-b', 'wharf.agent': '127.0.0.1:19112' }, { daemon });
      await waitFor(async () => (await entry('rst-b'))?.container === b, { timeout: 10000, what: () => `rst-b registered:\n${log(own)}` });
      assert.match(log(own), /cannot follow Docker: .*; trying again/);
      assert.equal((log(own).match(/cannot follow Docker/g) || []).length, 1, 'one message per outage, not one per attempt');
      daemon.docker(['rm', '-f', a, b]);
      await waitFor(async () => !(await entry('rst-b')), { what: () => `rst-b removed:\n${log(own)}` });
    } finally {
      if (own) await own.stop();
      daemon.down({ remove: true });
    }
  });
});

// No Docker needed: what the command refuses before it starts.
describe('watch-docker: bad usage', () => {
  const run = (args, env = {}) => {
    const r = spawnSync(BIN.wharfctl, ['workers', 'watch-docker', ...args], {
      encoding: 'utf8', timeout: 20000,
      env: { ...process.env, WHARF_TOKEN: '', WHARF_KEY: '', DOCKER_HOST: '', ...env },
    });
    return { status: r.status, err: r.stderr };
  };

  test('usage errors exit 2 and say what is wrong; --help exits 0', () => {
    let r = run([]);
    assert.equal(r.status, 2);
    assert.match(r.err, /no credentials: pass --key FILE \(or WHARF_KEY\)/);
    r = run(['--resync', 'soon'], { WHARF_TOKEN: 't' });
    assert.equal(r.status, 2);
    assert.match(r.err, /--resync soon: not a duration/);
    r = run(['--log-level', 'loud'], { WHARF_TOKEN: 't' });
    assert.equal(r.status, 2);
    assert.match(r.err, /--log-level loud/);
    r = run([], { WHARF_TOKEN: 't', DOCKER_HOST: 'tcp://127.0.0.1:2375' });
    assert.equal(r.status, 2);
    assert.match(r.err, /DOCKER_HOST=tcp:\/\/127\.0\.0\.1:2375: only unix:\/\/ sockets/);
    r = run(['--socket', `/${'s'.repeat(120)}`], { WHARF_TOKEN: 't' });
    assert.equal(r.status, 2);
    assert.match(r.err, /--socket: a path of 1 to 107 bytes/);
    r = run(['--nope'], { WHARF_TOKEN: 't' });
    assert.equal(r.status, 2);
    assert.match(r.err, /unknown flag '--nope'/);
    r = run(['--help']);
    assert.equal(r.status, 0);
  });

  test('an unreadable key or state file fails (exit 1) naming it', () => {
    let r = run(['--key', '/nonexistent/private.pem']);
    assert.equal(r.status, 1);
    assert.match(r.err, /cannot read the key \/nonexistent\/private\.pem: No such file/);
    const dir = tempDir('watch-usage');
    try {
      const bad = `${dir}/state.json`;
      fs.writeFileSync(bad, '["not", "a", "state"]');
      r = run(['--state', bad, '--once', '--socket', `${dir}/none.sock`], { WHARF_TOKEN: 't' });
      assert.equal(r.status, 1);
      assert.match(r.err, /the state file .*state\.json is not the watcher's/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
