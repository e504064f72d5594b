// Fault: wharfd SIGKILLed and restarted, twice, while three real agents
// ship what their real apps print (issue 7, "faults with accounting").
// The node-client version of this fault is in
// tests/integration/wharfd_durability.test.mjs; here the retries are the
// agents' own. Every printed line must be stored exactly once, in order,
// with a gapless sequence, and the agents must have seen the outage as
// failed requests they retried, not as dropped lines.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startAgent, startStack, startWharfd, waitFor } from '../lib/stack.mjs';
import { PRINTER, agentHealth, assertExact, countLogs, sqlAll, storedLogs } from './faults.mjs';

const AGENTS = 3;
const LINES = 8000;          // per app, 1000 lines/s: 8 s of printing
const KILLS = 2;

describe('fault: wharfd SIGKILL during ingest from real agents', () => {
  let stack;
  const agents = [];
  before(async () => {
    stack = await startStack({ tag: 'fault-kill', workers: [] });
    for (let i = 0; i < AGENTS; i++) {
      const name = `kill-${i}`;
      agents.push(await startAgent({
        name, keys: stack.keys, logDir: stack.logDir,
        orchestrator: stack.http, token: stack.mint({ sub: name, scope: 'ingest' }),
        app: ['node', PRINTER, name, String(LINES), '10', '10'],
      }));
    }
  });
  after(async () => {
    for (const a of agents) await a.stop();
    if (stack) await stack.stop();
  });

  test(`${KILLS} SIGKILLs of wharfd: ${AGENTS} x ${LINES} lines exactly once`, { timeout: 60000 }, async (t) => {
    const db = path.join(stack.dir, 'wharf.db');
    const failures = async () => Promise.all(agents.map(async (a) => (await agentHealth(a)).shipping.failures));
    const recover = [];
    for (let k = 0; k < KILLS; k++) {
      // Kill while every agent is mid-stream: rows are arriving.
      const floor = agents.map((a) => countLogs(db, a.worker) + 500);
      await waitFor(() => agents.every((a, i) => countLogs(db, a.worker) >= floor[i]),
        { timeout: 15000, what: 'every agent shipping' });
      const failed = await failures();
      const old = stack.wharfd;
      process.kill(old.pid, 'SIGKILL');
      await old.exited;
      // The outage is seen by every agent as failed requests (retried).
      await waitFor(async () => (await failures()).every((f, i) => f > failed[i]),
        { timeout: 10000, what: 'every agent to see a failed request' });
      const fresh = await startWharfd({ dir: stack.dir, logDir: stack.logDir, keys: stack.keys, addr: old.addr });
      stack.procs.push(fresh);
      stack.wharfd = fresh;
      const t0 = Date.now();
      // Recovered: every agent has shipped past the point of the kill.
      const atKill = agents.map((a) => countLogs(db, a.worker));
      await waitFor(async () => {
        for (const [i, a] of agents.entries()) {
          if (countLogs(db, a.worker) <= atKill[i]) return false;
        }
        return true;
      }, { timeout: 15000, what: 'rows to arrive again after the restart' });
      recover.push(Date.now() - t0);
    }

    await waitFor(() => agents.every((a) => countLogs(db, a.worker) >= LINES),
      { timeout: 30000, interval: 200, what: () => `all lines stored (${agents.map((a) => countLogs(db, a.worker))})` });
    // A moment of quiet is not needed: a duplicate would be a second row
    // with the same text, and the app prints nothing more; the queues are
    // empty once every agent reports nothing queued.
    await waitFor(async () => (await Promise.all(agents.map((a) => agentHealth(a)))).every((h) => h.shipping.queued === 0),
      { timeout: 10000, what: 'agents\' queues drained' });
    let sent = 0, stored = 0;
    for (const a of agents) {
      const acc = assertExact(storedLogs(db, a.worker), a.worker, LINES);
      sent += acc.sent;
      stored += acc.stored;
      const h = await agentHealth(a);
      assert.equal(h.shipping.dropped, 0, `${a.worker} dropped lines`);
      assert.ok(h.shipping.failures >= KILLS, `${a.worker}: the outages are retries`);
      const drops = sqlAll(db, "SELECT count(*) AS n FROM container_events WHERE worker_name = ? AND type = 'logs_dropped'", a.worker);
      assert.equal(drops[0].n, 0);
    }
    const fails = await failures();
    t.diagnostic(`sent ${sent}, stored ${stored}, lost 0, duplicates 0; agents' failed requests ${fails.join('/')}; `
      + `rows flowing again ${recover.map((ms) => `${ms} ms`).join(', ')} after each restart`);
  });
});
