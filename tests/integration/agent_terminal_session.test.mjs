// A dropped terminal ends its whole session (issue 13): a background job
// (`sleep &`, a process group of its own under an interactive shell's job
// control), a nested one (`bash -c 'sleep & wait' &`) and one that ignores
// SIGHUP (nohup) survived the client's departure, because the agent
// signalled only the shell's process group (bash passes its SIGHUP on to
// its jobs, dash does not, and nohup'ed jobs ignore it). Now every process
// of the session the shell leads gets SIGHUP, then SIGKILL after the kill
// timeout; a process that made a session of its own (setsid) escapes, as
// documented in docs/agent.md. The connection is dropped without a close
// frame, as a network failure would, three times with each shell.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { pidAlive, startStack, waitFor } from '../lib/stack.mjs';
import { Terminal, TTY_PROTOCOL } from '../lib/terminal.mjs';

const KILL_TIMEOUT_MS = 1000;

// pids of the processes whose command line is exactly argv
function pidsOf(argv) {
  const want = `${argv.join('\0')}\0`;
  const out = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (fs.readFileSync(`/proc/${d}/cmdline`, 'latin1') === want) out.push(Number(d));
    } catch { /* ended meanwhile */ }
  }
  return out;
}

describe('a dropped terminal ends its session', () => {
  let stack;
  const escaped = [];

  before(async () => {
    stack = await startStack({
      tag: 'terminal-session',
      workers: [
        { name: 'bash', terminalCmd: 'bash --norc --noprofile -i', args: ['--kill-timeout-ms', String(KILL_TIMEOUT_MS)] },
        { name: 'dash', terminalCmd: '/bin/sh -i', args: ['--kill-timeout-ms', String(KILL_TIMEOUT_MS)] },
      ],
    });
  });
  after(async () => {
    for (const pid of escaped) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
    if (stack) await stack.stop();
  });

  for (let round = 1; round <= 6; round++) {
    const shell = round % 2 ? 'bash' : 'dash';
    test(`${shell}, round ${round}: background, nested and nohup jobs gone within the kill timeout; setsid escapes`, async () => {
      // numbers no other process on this machine sleeps for
      const tag = `${1000 + round}.${crypto.randomInt(1e6)}`;
      const bg = ['sleep', `${tag}1`];
      const nested = ['sleep', `${tag}2`];
      const own = ['sleep', `${tag}3`];
      const deaf = ['sleep', `${tag}4`];
      const t = await Terminal.open(`${stack.ws}/api/workers/${shell}/terminal`,
        { protocol: [TTY_PROTOCOL, `wharf.bearer.${stack.token}`] });
      t.send(`${bg.join(' ')} &\r`);
      t.send(`bash -c '${nested.join(' ')} & wait' &\r`);
      t.send(`setsid ${own.join(' ')} < /dev/null > /dev/null 2>&1 &\r`);
      t.send(`nohup ${deaf.join(' ')} < /dev/null > /dev/null 2>&1 &\r`);
      t.send('echo started-$((1+1))\r');
      await t.expect(/started-2/);
      const found = await waitFor(() => {
        const [a, b, c, d] = [pidsOf(bg), pidsOf(nested), pidsOf(own), pidsOf(deaf)];
        return a.length && b.length && c.length && d.length ? { bg: a[0], nested: b[0], own: c[0], deaf: d[0] } : null;
      }, { what: 'the four sleeps to start' });
      const sid = (pid) => Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[4]);
      assert.equal(sid(found.bg), sid(found.nested), 'both jobs are in the shell\'s session');
      assert.equal(sid(found.bg), sid(found.deaf), 'nohup stays in the session');
      assert.notEqual(sid(found.own), sid(found.bg), 'setsid made a session of its own');
      escaped.push(found.own);

      const t0 = Date.now();
      t.ws.terminate(); // no close frame: the network is gone
      await waitFor(() => !pidAlive(found.bg) && !pidAlive(found.nested) && !pidAlive(found.deaf),
        { timeout: KILL_TIMEOUT_MS + 5000, what: 'the background, nested and nohup jobs to end' });
      const took = Date.now() - t0;
      assert.ok(pidAlive(found.own), 'the setsid one is out of the session\'s reach');
      process.kill(found.own, 'SIGKILL');
      console.log(`# ${shell}, round ${round}: jobs gone ${took} ms after the drop (kill timeout ${KILL_TIMEOUT_MS} ms)`);
    });
  }
});
