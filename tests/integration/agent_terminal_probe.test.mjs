// The gateway's terminal health probe opens no shell (issue 12): the
// module's probe says "X-Wharf-Probe: 1" in its WebSocket handshake, and the
// agent answers the handshake (so the module still checks
// Sec-WebSocket-Accept) and closes normally without spawning a PTY. Real
// nginx with the module, a real agent whose terminal runs a real shell.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { childPids, get, startFakeEndpoint, startStack, waitFor } from '../lib/stack.mjs';
import { Terminal } from '../lib/terminal.mjs';
import { agentHealth } from '../lib/ship.mjs';

const PROBES = 5;
const SPAWNED = /terminal \d+: pid \d+ started/g;

describe('terminal health probes spawn no shell', () => {
  let stack, fake;
  before(async () => {
    fake = await startFakeEndpoint('ws');
    stack = await startStack({
      tag: 'terminal-probe',
      workers: [{ name: 'shell', terminalCmd: '/bin/sh' }, { name: 'fake', addr: fake.addr }],
    });
  });
  after(async () => {
    if (stack) await stack.stop();
    if (fake) await fake.close();
  });

  const spawnedInLog = () => (fs.readFileSync(stack.agents.shell.logPath, 'utf8').match(SPAWNED) || []).length;

  test(`${PROBES} probes: each healthy, no PTY session, no child process`, async () => {
    const agent = stack.agents.shell;
    for (let i = 0; i < PROBES; i++) {
      const r = await get(`${stack.http}/api/workers/shell/health/terminal`, { headers: stack.auth });
      assert.equal(r.status, 200, r.body);
      assert.equal(r.json.status, 'healthy', r.body);
      // no shell appears while the probe runs, nor after it
      assert.deepEqual(childPids(agent.pid), [], 'the agent has no child process');
    }
    const h = await agentHealth(agent);
    assert.equal(h.terminal_probes, PROBES);
    assert.equal(h.terminal_sessions, 0, 'no PTY session was started');
    assert.equal(spawnedInLog(), 0, 'the agent logged no terminal start');
  });

  test('the probe says X-Wharf-Probe: 1 in its handshake', async () => {
    const r = await get(`${stack.http}/api/workers/fake/health/terminal`, { headers: stack.auth });
    assert.equal(r.status, 200, r.body);
    const req = fake.requests.findLast((q) => q.url === '/terminal');
    assert.ok(req, 'the endpoint got the probe');
    assert.equal(req.headers['x-wharf-probe'], '1');
  });

  test('straight to the agent: a valid handshake (Sec-WebSocket-Accept checked by ws), then close 1000', async () => {
    const agent = stack.agents.shell;
    const before = (await agentHealth(agent)).terminal_probes;
    const token = stack.mint({ sub: 'shell', aud: 'shell', scope: 'terminal' });
    const ws = new WebSocket(`ws://${agent.addr}/terminal`, { headers: { Authorization: `Bearer ${token}`, 'X-Wharf-Probe': '1' } });
    let code = null;
    ws.on('close', (c) => { code = c; });
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    try {
      await waitFor(() => code !== null, { what: 'the agent to close the probe\'s connection' });
    } finally {
      ws.terminate();
    }
    assert.equal(code, 1000);
    assert.equal((await agentHealth(agent)).terminal_probes, before + 1);
    assert.equal((await agentHealth(agent)).terminal_sessions, 0);
  });

  test('a real terminal still opens a shell', async () => {
    const t = await Terminal.open(`${stack.ws}/api/workers/shell/terminal`, { headers: stack.auth });
    await waitFor(() => spawnedInLog() === 1, { what: 'the agent to start one terminal' });
    assert.equal((await agentHealth(stack.agents.shell)).terminal_sessions, 1);
    t.ws.close();
    await waitFor(() => childPids(stack.agents.shell.pid).length === 0, { what: 'the shell to end' });
  });
});
