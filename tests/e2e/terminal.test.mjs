// End to end: a person's WebSocket terminal reaching a shell inside a
// worker, through the orchestrator's nginx (module routing + stock proxy)
// to the worker's agent and its PTY.
//
// Output is matched after any CR or LF: bash switches bracketed-paste mode
// off (ESC[?2004l, then CR) between the echoed command and its output.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { childPids, procGone, startStack, waitFor } from '../lib/stack.mjs';
import { Terminal, TTY_PROTOCOL } from '../lib/terminal.mjs';

const BASH = 'bash --norc --noprofile';
const ONE_MB = 1048576;

describe('terminal through nginx', () => {
  let stack;
  before(async () => {
    stack = await startStack({
      tag: 'e2e-terminal',
      workers: [
        { name: 'demo', terminalCmd: BASH },
        // Prints exactly 1 MiB without newlines (no PTY translation) and exits.
        { name: 'burst', terminalCmd: `head -c ${ONE_MB} /dev/zero | tr '\\0' x` },
      ],
    });
  });
  after(async () => stack && stack.stop());

  // The token goes in the query string, as old browser clients send it
  // (new ones offer the subprotocol wharf.bearer.TOKEN: see
  // tests/integration/module_credentials.test.mjs).
  const url = (w = 'demo', q = '') =>
    `${stack.ws}/api/workers/${w}/terminal${q ? `${q}&` : '?'}access_token=${stack.token}`;

  test('raw mode runs a command and reads its output', async () => {
    const t = await Terminal.open(url());
    t.send('echo $((6*7))\r');
    await t.expect(/[\r\n]42\r\n/);
    t.close();
    await t.waitClosed();
  });

  test('raw mode accepts input as text frames too (xterm.js AttachAddon)', async () => {
    const t = await Terminal.open(url());
    t.sendText('echo $((7*6))X\r');
    await t.expect(/[\r\n]42X\r\n/);
    assert.equal(t.textFrames, 0, 'raw mode sends output only as binary frames');
    t.close();
    await t.waitClosed();
  });

  test('wharf.tty.v1 resize changes what stty size prints', async () => {
    const t = await Terminal.open(url(), { protocol: TTY_PROTOCOL });
    assert.equal(t.ws.protocol, TTY_PROTOCOL);
    t.send('stty size\r');
    await t.expect(/[\r\n]24 80\r\n/);
    t.resize(133, 41);
    t.send('stty size\r');
    await t.expect(/[\r\n]41 133\r\n/);
    t.close();
    await t.waitClosed();
  });

  test('initial size comes from the query string', async () => {
    const t = await Terminal.open(url('demo', '?cols=120&rows=30'));
    t.send('stty size\r');
    await t.expect(/[\r\n]30 120\r\n/);
    t.close();
  });

  test('closing the socket ends the shell process', async () => {
    const t = await Terminal.open(url());
    t.send('echo PID=$$\r');
    const m = await t.expect(/PID=(\d+)\r\n/);
    const pid = Number(m[1]);
    assert.ok(!procGone(pid), 'the shell runs while the terminal is open');
    assert.ok(childPids(stack.agents.demo.pid).includes(pid), 'the shell is a child of the agent');
    t.close();
    await waitFor(() => procGone(pid), { timeout: 5000, what: `shell ${pid} to be gone` });
  });

  test('the shell exiting closes the socket with 1000 and the exit status', async () => {
    const t = await Terminal.open(url(), { protocol: TTY_PROTOCOL });
    t.send('exit 7\r');
    const c = await t.waitClosed();
    assert.equal(c.code, 1000);
    assert.deepEqual(t.controls.at(-1), { type: 'exit', code: 7 });
  });

  test('20 terminals at once each get their own shell, all cleaned up', async () => {
    const terms = await Promise.all(Array.from({ length: 20 }, () => Terminal.open(url())));
    const pids = await Promise.all(terms.map(async (t, i) => {
      t.send(`echo T${i}=$$\r`);
      return Number((await t.expect(new RegExp(`T${i}=(\\d+)\\r\\n`)))[1]);
    }));
    assert.equal(new Set(pids).size, 20, `distinct pids: ${pids}`);
    for (const t of terms) t.close();
    await waitFor(() => pids.every(procGone), { timeout: 10000, what: 'all 20 shells to be gone' });
  });

  test('1 MiB printed at exit arrives whole before the close frame, 50 of 50', async () => {
    const failures = [];
    for (let i = 0; i < 50; i++) {
      const protocol = i % 2 ? TTY_PROTOCOL : undefined;
      const t = await Terminal.open(url('burst'), { protocol });
      const c = await t.waitClosed(20000);
      const n = t.bytes();
      if (n !== ONE_MB || c.code !== 1000) failures.push({ run: i, bytes: n, code: c.code });
      if (protocol) assert.deepEqual(t.controls.at(-1), { type: 'exit', code: 0 });
    }
    assert.deepEqual(failures, []);
  });

  test('200 clients leaving at the first prompt leave no shell behind', async () => {
    const agentPid = stack.agents.demo.pid;
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(Array.from({ length: 20 }, async () => {
        const t = await Terminal.open(url());
        await waitFor(() => t.bytes() > 0, { what: 'first prompt' });
        t.close();
      }));
    }
    await waitFor(() => childPids(agentPid).length === 0,
      { timeout: 10000, what: `no shell left under agent ${agentPid} (left: ${childPids(agentPid)})` });
  });
});
