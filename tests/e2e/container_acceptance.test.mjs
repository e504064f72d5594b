// Issue 15's acceptance, end to end with real dockerd: three workers made
// by scripts/new-worker from the template, each image built from its own
// folder, started as labelled containers on the host network; the Docker
// watcher registers them through the live registry. Within 5 s all three
// are listed, healthy, and their terminals through the gateway open a
// shell inside their containers; one stops and is gone within 5 s; nginx's
// master and worker processes are the same ones before and after (no
// reload).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TIMEOUT_SCALE, childPids, freeStaticPort, get, startStack, waitFor } from '../lib/stack.mjs';
import { Terminal, TTY_PROTOCOL } from '../lib/terminal.mjs';
import {
  buildWorkerImage, dockerAsync, dockerDown, dockerUp, editAgentJson, inspect, newWorkerFolder,
  runContainerAsync, startWatcher, uniqueName,
} from '../lib/docker.mjs';

const up = await dockerUp();
const NAMES = ['acc-a', 'acc-b', 'acc-c'];
// The acceptance's deadlines.
const LISTED_MS = 5000;
const GONE_MS = 5000;

describe('issue 15 acceptance: containers come and go, nginx is never reloaded', { skip: up.ok ? false : up.reason }, () => {
  let stack;
  let watcher;
  const w = {}; // name -> { dir, image, container, agentPort, appPort }
  const timings = {};

  const workers = async () => (await get(`${stack.http}/api/workers`, { headers: stack.auth })).json;
  const nginxPids = () => ({ master: stack.nginx.pid, workers: childPids(stack.nginx.pid).sort((a, b) => a - b) });

  before(async () => {
    // Background probes every second: "healthy" is the gateway's own
    // verdict on each worker's terminal and websocket.
    stack = await startStack({ tag: 'acceptance', workers: [], healthInterval: '1s' });
    const root = path.join(stack.dir, 'workers');
    for (const name of NAMES) {
      const agentPort = await freeStaticPort();
      const appPort = await freeStaticPort();
      const dir = newWorkerFolder(stack, name, { workersRoot: root, addr: `127.0.0.1:${agentPort}` });
      // The host network: each app on a port of its own.
      editAgentJson(dir, (cfg) => { cfg.processes[0].expectedPort = appPort; });
      const built = await buildWorkerImage(dir, `wharf-test-${name}-${process.pid}`);
      w[name] = { dir, image: built.tag, agentPort, appPort, buildMs: built.ms };
    }
    timings.builds = Object.fromEntries(NAMES.map((n) => [n, w[n].buildMs]));
    watcher = startWatcher(stack, { args: ['--state', path.join(stack.dir, 'watch.json')] });
    await waitFor(() => /Docker at .*labelled containers/.test(fs.readFileSync(watcher.logPath, 'utf8')),
      { what: 'the watcher to list the containers' });
  });

  after(async () => {
    if (watcher) await watcher.stop();
    dockerDown(stack?.logDir);
    if (stack) await stack.stop();
    console.log(`# acceptance timings (ms): ${JSON.stringify(timings)}`);
  });

  test('three labelled containers: listed, healthy, terminals inside them within 5 s; one stops, gone within 5 s; same nginx pids', async () => {
    const pidsBefore = nginxPids();
    assert.ok(pidsBefore.workers.length >= 1);

    const t0 = Date.now();
    await Promise.all(NAMES.map((name) => {
      w[name].container = uniqueName(name);
      return runContainerAsync(w[name].container, w[name].image, {
        envFile: path.join(w[name].dir, 'wharf.env'),
        labels: { 'wharf.worker': name, 'wharf.agent': `127.0.0.1:${w[name].agentPort}` },
      });
    }));
    timings.dockerRun = Date.now() - t0;

    // Listed and healthy (both checks, by the gateway's background probes).
    const listed = await waitFor(async () => {
      const all = await workers();
      const ours = NAMES.map((n) => all.find((e) => e.name === n));
      return ours.every((e) => e && e.health.terminal.status === 'healthy' && e.health.websocket.status === 'healthy') ? ours : null;
    }, { timeout: LISTED_MS - (Date.now() - t0), interval: 50, what: async () => `all three listed and healthy: ${JSON.stringify(await workers())}` });
    timings.listedHealthy = Date.now() - t0;
    for (const e of listed) {
      assert.equal(e.container, w[e.name].container);
      assert.deepEqual(e.upstream.servers, [`127.0.0.1:${w[e.name].agentPort}`]);
    }

    // Each terminal, through the gateway, is a shell inside its container:
    // PID 1 there is the agent, as uid 10001, with that worker's agent.json.
    await Promise.all(NAMES.map(async (name) => {
      const t = await Terminal.open(`${stack.ws}/api/workers/${name}/terminal`, { protocol: TTY_PROTOCOL, headers: stack.auth });
      try {
        t.send('echo "in=$(cat /proc/1/comm):$(id -u):$(grep -o \'"expectedPort": [0-9]*\' /app/agent.json | grep -o \'[0-9]*$\')"\n');
        await t.expect(new RegExp(`in=wharf-agent:10001:${w[name].appPort}`), Math.max(1, LISTED_MS - (Date.now() - t0)));
      } finally {
        t.close();
      }
    }));
    timings.terminalsInside = Date.now() - t0;
    assert.ok(timings.terminalsInside <= LISTED_MS * TIMEOUT_SCALE, `all within ${LISTED_MS} ms (${timings.terminalsInside})`);
    const terminals = (await get(`${stack.http}/api/terminals`, { headers: stack.auth })).json;
    for (const name of NAMES) assert.ok(terminals.find((x) => x.worker === name), `${name} in /api/terminals`);

    // One stops: gone from the registry and the terminal view.
    const t1 = Date.now();
    const stop = await dockerAsync(['stop', w['acc-b'].container]);
    assert.equal(stop.status, 0, stop.stderr);
    assert.equal(inspect(w['acc-b'].container).State.ExitCode, 0);
    await waitFor(async () => !(await workers()).some((e) => e.name === 'acc-b'),
      { timeout: GONE_MS - (Date.now() - t1), interval: 50, what: 'acc-b gone from /api/workers' });
    timings.stoppedGone = Date.now() - t1;
    const after = (await get(`${stack.http}/api/terminals`, { headers: stack.auth })).json;
    assert.ok(!after.some((x) => x.worker === 'acc-b'));
    assert.deepEqual((await workers()).map((e) => e.name).filter((n) => NAMES.includes(n)).sort(), ['acc-a', 'acc-c']);

    // No reload, no restart: the same master and worker processes.
    assert.deepEqual(nginxPids(), pidsBefore);
    assert.equal(stack.nginx.exit, null);
  });
});

