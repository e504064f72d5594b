// The worker image, for real (issue 15): scripts/new-worker makes a
// worker's folder, the worker's own code goes into it, scripts/worker-image
// builds the image from that folder, and a real dockerd runs it on the
// host network with the folder's wharf.env, behind a real gateway and
// wharfd. Checked: the image holds the worker's code and not its token;
// wharf-agent is PID 1, runs as the non-root user and reaps an orphan the
// app left; the image's HEALTHCHECK says healthy; the gateway's terminal
// opens a shell inside the container; `docker stop` stops the app, ships
// its last lines and exits 0 within the grace.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freeStaticPort, procGone, startStack, waitFor } from '../lib/stack.mjs';
import { Terminal, TTY_PROTOCOL } from '../lib/terminal.mjs';
import { logRows, rpc } from '../lib/ship.mjs';
import {
  buildWorkerImage, containerProcs, docker, dockerAsync, dockerDown, dockerUp, editAgentJson,
  inspect, newWorkerFolder, runContainer, uniqueName,
} from '../lib/docker.mjs';

const up = await dockerUp();
const NONCE = crypto.randomBytes(6).toString('hex');
// docker stop's default grace: SIGTERM, then SIGKILL after 10 s.
const STOP_GRACE_MS = 10000;

// The worker's own app: not the template's sample, so that the image can
// only run it if the worker's folder is what was built.
const SERVER_JS = `'use strict';
const http = require('http');
const port = Number(process.env.PORT);
const say = (msg) => process.stdout.write(JSON.stringify({ level: 30, time: Date.now(), msg }) + '\\n');
http.createServer((req, res) => res.end('ok\\n')).listen(port, '127.0.0.1',
  () => say('img: own code ${NONCE} on port ' + port));
process.on('SIGTERM', () => { say('img: last words ${NONCE}'); process.exit(0); });
`;

describe('the worker image', { skip: up.ok ? false : up.reason }, () => {
  let stack;
  let dir;
  let image;
  let name;
  let agentPid;

  before(async () => {
    const agentPort = await freeStaticPort();
    const appPort = await freeStaticPort();
    // The gateway knows the worker from a static file: the registry is not
    // what this file tests (container_discovery does).
    stack = await startStack({ tag: 'image', workers: [{ name: 'img', addr: `127.0.0.1:${agentPort}` }] });
    dir = newWorkerFolder(stack, 'img', { workersRoot: path.join(stack.dir, 'workers'), addr: `127.0.0.1:${agentPort}` });
    fs.writeFileSync(path.join(dir, 'server.js'), SERVER_JS);
    editAgentJson(dir, (cfg) => {
      cfg.processes[0].expectedPort = appPort; // the host network: a port of its own
      // An app that forks and exits at once: its child is left to PID 1.
      cfg.processes.push({
        instanceId: 'forker', command: '/bin/sh', cwd: '/app', autoRestart: false, start: false,
        args: ['-c', 'sleep 2 </dev/null >/dev/null 2>&1 & echo "forked $!"; exit 0'],
      });
    });
    const built = await buildWorkerImage(dir, `wharf-test-img-${process.pid}`);
    image = built.tag;
    const size = inspect(image).Size;
    console.log(`# worker image ${image}: ${(size / 1e6).toFixed(1)} MB, built in ${built.ms} ms`);
    name = runContainer(uniqueName('img'), image, { envFile: path.join(dir, 'wharf.env') });
    agentPid = inspect(name).State.Pid;
    await waitFor(async () => (await fetch(`http://127.0.0.1:${agentPort}/health`)).ok,
      { timeout: 20000, what: () => `the agent in ${name} to answer:\n${docker(['logs', name], { allowFail: true }).stderr}` });
  });

  after(async () => {
    dockerDown();
    if (stack) await stack.stop();
  });

  test("the image holds the worker's own folder, without its token", () => {
    const server = docker(['exec', name, 'cat', '/app/server.js']).stdout;
    assert.ok(server.includes(NONCE), 'the image has the worker folder\'s server.js');
    assert.equal(docker(['exec', name, 'test', '-e', '/app/wharf.env'], { allowFail: true }).status, 1,
      'wharf.env (the ingest token) is not in the image');
    assert.equal(docker(['exec', name, 'cat', '/app/public.pem']).stdout, fs.readFileSync(stack.keys.publicPath, 'utf8'));
  });

  test('wharf-agent is PID 1 and runs as the non-root user app (uid 10001)', () => {
    assert.equal(docker(['exec', name, 'cat', '/proc/1/cmdline']).stdout, '/usr/local/bin/wharf-agent\0');
    const status = docker(['exec', name, 'cat', '/proc/1/status']).stdout;
    assert.match(status, /^Uid:\s+10001\s+10001\s+10001\s+10001$/m);
    assert.match(status, /^Gid:\s+10001\s+10001\s+10001\s+10001$/m);
    assert.equal(inspect(name).Config.User, 'app');
    // From the host: the container's first process is the agent, as uid 10001.
    assert.equal(fs.statSync(`/proc/${agentPid}`).uid, 10001);
    assert.equal(fs.readFileSync(`/proc/${agentPid}/comm`, 'utf8').trim(), 'wharf-agent');
  });

  test("the worker's own code runs and its lines reach wharfd", async () => {
    await waitFor(async () => (await logRows(stack, 'img', 'app')).some((r) => r.message.includes(`own code ${NONCE}`)),
      { timeout: 15000, what: 'the app\'s first line in wharfd' });
  });

  test('an orphan the app leaves is reaped by PID 1: no zombie', async () => {
    const r = await fetch(`${stack.http}/api/workers/img/processes/forker/start`, { method: 'POST', headers: stack.auth });
    assert.equal(r.status, 200, await r.text());
    // sh forked sleep and exited: sleep's parent is now the agent (PID 1).
    const orphan = await waitFor(() => containerProcs(name).find((p) => p.comm === 'sleep' && p.ppid === agentPid),
      { timeout: 10000, what: 'the orphaned sleep, re-parented to the agent' });
    // When sleep ends, the agent must wait() for it, or it stays a zombie.
    await waitFor(() => procGone(orphan.pid), {
      timeout: 10000,
      what: () => `pid ${orphan.pid} to be reaped (state ${containerProcs(name).find((p) => p.pid === orphan.pid)?.state})`,
    });
    const forker = await rpc(stack, 'getProcessStatus', { worker: 'img', instanceId: 'forker' }).catch(() => null);
    const zombies = containerProcs(name).filter((p) => p.state === 'Z');
    assert.deepEqual(zombies, [], `zombies in the container; forker: ${JSON.stringify(forker)}`);
  });

  test('a terminal through the gateway opens a shell inside the container', async () => {
    const t = await Terminal.open(`${stack.ws}/api/workers/img/terminal`, { protocol: TTY_PROTOCOL, headers: stack.auth });
    try {
      // /proc/1 is the agent only in the container's pid namespace; on the
      // host it is the host's init.
      t.send('echo "in=$(cat /proc/1/comm):$(id -un):$(id -u):$(test -f /.dockerenv && echo docker):$PWD"\n');
      await t.expect(/in=wharf-agent:app:10001:docker:\/app/);
    } finally {
      t.close();
    }
  });

  test("the image's HEALTHCHECK reports healthy", async () => {
    const h = await waitFor(() => {
      const s = inspect(name).State.Health;
      return s && s.Status === 'healthy' ? s : null;
    }, { timeout: 40000, interval: 250, what: () => `healthy (now ${JSON.stringify(inspect(name).State.Health)})` });
    assert.equal(h.Log.at(-1).ExitCode, 0);
    assert.equal(h.FailingStreak, 0);
  });

  test('docker stop: SIGTERM stops the app, its last lines are shipped, exit 0 within the grace', async () => {
    const t0 = Date.now();
    const r = await dockerAsync(['stop', name]);
    const ms = Date.now() - t0;
    assert.equal(r.status, 0, r.stderr);
    const state = inspect(name).State;
    console.log(`# docker stop: ${ms} ms, exit code ${state.ExitCode}`);
    assert.equal(state.Running, false);
    assert.equal(state.ExitCode, 0, 'the agent exited 0 (137 would be the SIGKILL at the end of the grace)');
    assert.ok(ms < STOP_GRACE_MS, `stopped in ${ms} ms, within docker's ${STOP_GRACE_MS} ms grace`);
    // The container is gone: whatever wharfd holds now was shipped before
    // the agent exited.
    const rows = await logRows(stack, 'img', 'app');
    assert.ok(rows.some((row) => row.message.includes(`img: last words ${NONCE}`)), `the app's last line is stored: ${JSON.stringify(rows.map((x) => x.message))}`);
    const proc = await rpc(stack, 'getProcessStatus', { worker: 'img', instanceId: 'app' });
    assert.equal((proc.process || proc).status, 'stopped', JSON.stringify(proc));
    const logs = docker(['logs', name]).stderr;
    assert.match(logs, /Terminated: shutting down/);
    assert.match(logs, /process app: pid \d+ ended \(code 0\)/);
  });
});
