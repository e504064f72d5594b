// A terminal's output when its client stops reading (agent/terminal.h, flow
// control; issue 18): the program blocks instead of the agent buffering,
// and nothing is lost or reordered when the client reads again. The
// program prints one short line per write(), so the agent reads the master
// in small pieces and hands them to libwebsockets without asking the socket
// first (terminal.c, sendable()): that path is the one under test. Straight
// to the agent (no nginx buffers in between); a real agent, a real shell.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { childPids, startStack, waitFor } from '../lib/stack.mjs';

// one number per line, counting up, one write() each (dash's echo builtin)
const COUNTER = "sh -c 'i=0; while :; do i=$((i+1)); echo $i; done'";

const rssKiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
const cpuTicks = (pid) => {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]);
};

describe('terminal output against a client that stops reading', () => {
  let stack;
  before(async () => {
    stack = await startStack({ tag: 'terminal-flow', workers: [{ name: 'count', terminalCmd: COUNTER }] });
  });
  after(async () => {
    if (stack) await stack.stop();
  });

  test('the program blocks, the agent holds a bounded amount, and every line arrives once, in order', async () => {
    const agent = stack.agents.count;
    const token = stack.mint({ sub: 'count', aud: 'count', scope: 'terminal' });
    const ws = new WebSocket(`ws://${agent.addr}/terminal`, { headers: { Authorization: `Bearer ${token}` } });
    let text = '';
    ws.on('message', (d) => { text += d.toString('latin1'); });
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    try {
      await waitFor(() => text.length > 100000, { what: 'output to stream' });
      const rssBefore = rssKiB(agent.pid);
      const [shell] = childPids(agent.pid);
      assert.ok(shell, 'the terminal\'s shell runs');

      // stop reading: the socket buffers fill, then the agent must stop
      // reading the master, and the shell blocks in write()
      ws._socket.pause();
      let last = cpuTicks(shell);
      let still = 0;
      await waitFor(() => {
        const now = cpuTicks(shell);
        still = now === last ? still + 1 : 0;
        last = now;
        return still >= 4; // no CPU for 4 checks in a row, 250 ms apart
      }, { what: 'the shell to block while its client does not read', timeout: 30000, interval: 250 });
      const held = rssKiB(agent.pid) - rssBefore;
      assert.ok(held < 1024, `the agent grew by ${held} KiB while its client did not read`);

      // read again: the stream goes on from where it stopped
      const mark = text.length;
      ws._socket.resume();
      await waitFor(() => text.length > mark + 100000, { what: 'output to stream again' });
    } finally {
      ws.terminate();
    }
    const lines = text.split('\r\n');
    lines.pop(); // the last may be cut
    const first = Number(lines[0]);
    assert.ok(lines.length > 10000, `${lines.length} lines`);
    for (let i = 0; i < lines.length; i++) {
      if (lines[i] !== String(first + i)) {
        assert.fail(`line ${i}: ${JSON.stringify(lines[i])}, expected ${first + i} (lost or reordered output)`);
      }
    }
  });
});
