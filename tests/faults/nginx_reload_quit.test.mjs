// Fault: nginx reloaded (SIGHUP, `nginx -s reload`) and then stopped
// gracefully (SIGQUIT, `nginx -s quit`) with 500 terminals open through
// the module to real shells under four real agents, while those agents
// ship their apps' output through the same nginx (issue 7).
//
// Checked:
//   - after the reload every one of the 500 terminals still echoes (the old
//     worker processes keep their sessions) and a new one opens;
//   - on quit nginx stops accepting at once and keeps serving the open
//     terminals (a graceful quit waits for them: conf/nginx.conf sets no
//     worker_shutdown_timeout), exits once the last one closed, and the
//     agents end every shell;
//   - a new nginx on the same config serves again (terminals, ingest), and
//     the agents deliver what nginx's absence kept queued: every line each
//     app printed is stored exactly once, in order, gapless.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { childPids, get, reloadNginx, startNginx, startStack, tempDir, waitFor } from '../lib/stack.mjs';
import { Terminal } from '../lib/terminal.mjs';
import { PRINTER, agentHealth, assertExact, sqlAll, storedLogs } from './faults.mjs';

const AGENTS = 4;
const TERMINALS = Number(process.env.WHARF_FAULT_TERMINALS || 500);
const WAVE = 50;                  // terminals opened at once

const comm = (pid) => {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
};

describe(`fault: nginx reload and quit under ${TERMINALS} terminals and ingest`, () => {
  let stack, stopFile;
  let terms = [];
  before(async () => {
    const names = Array.from({ length: AGENTS }, (_, i) => `tty-${i}`);
    stopFile = path.join(tempDir('fault-nginx-stop'), 'stop');
    stack = await startStack({
      tag: 'fault-nginx',
      workers: names.map((name) => ({
        name, terminalCmd: '/bin/sh', ship: true,
        // 200 lines/s each until the test says stop
        app: ['node', PRINTER, name, '1000000', '2', '10', '32', stopFile],
      })),
    });
  });
  after(async () => {
    for (const t of terms) t.ws.terminate();
    // The agents first, together, while nginx is up: each flushes what it
    // holds at exit (up to its flush timeout when nginx is gone).
    if (stack) await Promise.all(Object.values(stack.agents).map((a) => a.stop()));
    if (stack) await stack.stop();
    if (stopFile) fs.rmSync(path.dirname(stopFile), { recursive: true, force: true });
  });

  const workerOf = (i) => `tty-${i % AGENTS}`;
  const open = (i) => Terminal.open(`${stack.ws}/api/workers/${workerOf(i)}/terminal`, { headers: stack.auth });
  // Each terminal runs `echo X"Y"Z-i-TAG`: the shell's output XYZ-i-TAG is
  // not in the echoed input (which has the quotes).
  const echoAll = async (tag, timeout = 60000) => {
    const t0 = Date.now();
    for (const [i, t] of terms.entries()) t.send(`echo X"Y"Z-${i}-${tag}\r`);
    const re = (i) => new RegExp(`XYZ-${i}-${tag}\\b`);
    await waitFor(() => terms.every((t, i) => re(i).test(t.text().slice(-400))), {
      timeout, interval: 100,
      what: () => `every terminal to echo ${tag} (${terms.filter((t, i) => !re(i).test(t.text())).length} missing)`,
    });
    return Date.now() - t0;
  };
  const healths = () => Promise.all(Object.values(stack.agents).map((a) => agentHealth(a)));

  test('reload keeps every session, quit waits for them, a new nginx serves, ingest loses nothing', { timeout: 240000 }, async (t) => {
    const db = path.join(stack.dir, 'wharf.db');
    const notes = [];
    let t0 = Date.now();
    for (let i = 0; i < TERMINALS; i += WAVE) {
      const wave = await Promise.all(Array.from({ length: Math.min(WAVE, TERMINALS - i) }, (_, k) => open(i + k)));
      terms.push(...wave);
    }
    notes.push(`${TERMINALS} terminals open in ${Date.now() - t0} ms`);
    notes.push(`first echo round ${await echoAll('before')} ms`);
    const shells = (await healths()).reduce((s, h) => s + h.terminals, 0);
    assert.equal(shells, TERMINALS, 'the agents hold one shell per terminal');

    // --- reload ---------------------------------------------------------
    const oldWorkers = childPids(stack.nginx.pid);
    await reloadNginx(stack.nginx);
    notes.push(`echo round after reload ${await echoAll('reload')} ms`);
    const fresh = await open(TERMINALS);
    fresh.send('echo X"Y"Z-fresh\r');
    await fresh.expect(/XYZ-fresh/);
    fresh.close();
    assert.ok(oldWorkers.some((p) => childPids(stack.nginx.pid).includes(p)), 'old workers keep the sessions');
    assert.equal((await get(`${stack.http}/api/monitoring/health`)).status, 200);

    // --- graceful quit ----------------------------------------------------
    const failsBefore = (await healths()).map((h) => h.shipping.failures);
    const old = stack.nginx;
    process.kill(old.pid, 'SIGQUIT');
    t0 = Date.now();
    // It stops accepting at once...
    await waitFor(async () => {
      try {
        await fetch(`${stack.http}/api/monitoring/health`, { signal: AbortSignal.timeout(1000) });
        return false;
      } catch {
        return true;
      }
    }, { timeout: 10000, what: 'nginx to stop accepting' });
    // ...and still serves every open terminal.
    notes.push(`echo round during quit ${await echoAll('quit')} ms`);
    assert.equal(old.exit, null, 'nginx waits for the open sessions');
    // The agents cannot ship meanwhile: they queue and retry.
    await waitFor(async () => (await healths()).every((h, i) => h.shipping.failures > failsBefore[i]),
      { timeout: 15000, what: 'every agent to see nginx gone' });
    // The clients end their sessions: nginx exits, the agents end the shells.
    const tClose = Date.now();
    for (const term of terms) term.close();
    await old.exited;
    notes.push(`nginx exited ${Date.now() - tClose} ms after the last sessions closed (quit took ${Date.now() - t0} ms)`);
    assert.equal(old.exit.code, 0);
    await waitFor(async () => (await healths()).every((h) => h.terminals === 0),
      { timeout: 20000, what: 'the agents to end every shell' });
    for (const a of Object.values(stack.agents)) {
      await waitFor(() => childPids(a.pid).every((p) => comm(p) === 'node'),
        { timeout: 10000, what: `${a.worker}: every shell reaped` });
    }
    terms = [];

    // --- a new nginx on the same config ------------------------------------
    const queued = (await healths()).map((h) => h.shipping.queued);
    const tStart = Date.now();
    stack.nginx = await startNginx({ prefix: stack.prefix, conf: stack.conf, logDir: stack.logDir });
    stack.procs.push(stack.nginx);
    await waitFor(async () => (await get(`${stack.http}/api/monitoring/health`)).status === 200, { what: 'nginx back' });
    const again = await open(1);
    again.send('echo X"Y"Z-again\r');
    await again.expect(/XYZ-again/);
    again.close();
    await waitFor(async () => (await healths()).every((h) => h.shipping.queued < 50),
      { timeout: 20000, what: 'the agents to deliver their backlog' });
    notes.push(`backlog at restart ${queued.join('/')} lines, delivered in ${Date.now() - tStart} ms`);

    // --- accounting ----------------------------------------------------------
    fs.writeFileSync(stopFile, '');
    let sent = 0;
    for (const a of Object.values(stack.agents)) {
      const end = await waitFor(() => sqlAll(db, `SELECT message FROM container_logs WHERE worker_name = ?
        AND message LIKE ?`, a.worker, `${a.worker}-end %`)[0], { timeout: 20000, what: `${a.worker}'s last line` });
      const n = Number(end.message.split(' ')[1]);
      const rows = storedLogs(db, a.worker);
      assert.equal(rows.at(-1).message, end.message, 'the end line is the last');
      assertExact(rows.slice(0, -1), a.worker, n);
      assert.equal(rows.at(-1).sequence, n + 1);
      sent += n;
    }
    const hs = await healths();
    assert.ok(hs.every((h) => h.shipping.dropped === 0), 'no line dropped');
    notes.push(`ingest: sent ${sent}, stored ${sent}, lost 0, duplicates 0; agents' failed requests `
      + `${hs.map((h) => h.shipping.failures).join('/')}`);
    t.diagnostic(notes.join('; '));
  });
});
