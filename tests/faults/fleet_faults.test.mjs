// Faults of the scale-out deployment (issue 16, docs/scale-out.md), with
// row accounting: two gateways and two wharfd on one PostgreSQL, agents
// that know both gateways' URLs shipping what their real apps print. In
// each case, during ingest: (a) one gateway SIGKILLed (master and workers,
// as its machine dies), (b) one wharfd SIGKILLed, (c) PostgreSQL
// restarted (fast shutdown: its clients cut off, as pg_ctl restart -m
// fast does). Every line printed must be stored exactly once, gapless
// and in sequence order, read from the database itself; nothing dropped.
// (SQLite has one wharfd and no server to restart: its gateway kill is in
// tests/integration/agent_failover.test.mjs, its wharfd kill in
// wharfd_kill.test.mjs.)

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '../lib/stack.mjs';
import { countRows, startFleet, storedRows } from '../lib/fleet.mjs';
import { PRINTER, agentHealth, assertExact } from './faults.mjs';

const AGENTS = 3;
const LINES = 5000; // per app, 1000 lines/s: 5 s of printing

describe('fault: gateways, wharfd and PostgreSQL of a fleet during ingest', () => {
  let fleet;
  before(async () => {
    fleet = await startFleet({ tag: 'fleet-faults', engine: 'postgresql', gateways: 2, wharfds: 2, ownPg: true });
  });
  after(async () => {
    if (fleet) await fleet.stop();
  });

  // Starts AGENTS agents named PREFIX-i printing LINES lines each, waits
  // until every one has rows stored, runs fault(), then waits for every
  // line and accounts for each.
  async function accountAround(t, prefix, fault) {
    const agents = [];
    for (let i = 0; i < AGENTS; i++) {
      agents.push(await fleet.startAgent({
        name: `${prefix}-${i}`, args: ['--failback-ms', '500'],
        app: ['node', PRINTER, `${prefix}-${i}`, String(LINES), '10', '10'],
      }));
    }
    const counts = () => Promise.all(agents.map((a) => countRows(fleet, a.worker)));
    await waitFor(async () => (await counts()).every((n) => n >= 500),
      { timeout: 20000, what: 'every agent shipping' });
    const atFault = await counts();
    const failed = (await Promise.all(agents.map((a) => agentHealth(a)))).map((h) => h.shipping.failures);
    await fault(agents);
    await waitFor(async () => (await counts()).every((n) => n >= LINES), {
      timeout: 60000, interval: 200,
      what: async () => `every line stored (${await counts()})`,
    });
    await waitFor(async () => (await Promise.all(agents.map((a) => agentHealth(a)))).every((h) => h.shipping.queued === 0),
      { timeout: 10000, what: 'agents\' queues drained' });
    let stored = 0;
    const after_ = [];
    for (const a of agents) {
      const acc = assertExact(await storedRows(fleet, a.worker), a.worker, LINES);
      stored += acc.stored;
      const h = await agentHealth(a);
      assert.equal(h.shipping.dropped, 0, `${a.worker} dropped lines`);
      after_.push(h.shipping);
    }
    const drops = await fleet.rows("SELECT count(*) AS n FROM container_events WHERE worker_name LIKE ? AND type = 'logs_dropped'",
      `${prefix}-%`);
    assert.equal(Number(drops[0].n), 0);
    t.diagnostic(`sent ${AGENTS * LINES}, stored ${stored}, lost 0, duplicates 0, gaps 0; rows at the fault ${atFault.join('/')}; `
      + `failed requests ${after_.map((s, i) => s.failures - failed[i]).join('/')}, `
      + `failovers ${after_.map((s) => s.failovers).join('/')}`);
    for (const a of agents) await a.stop();
    return after_;
  }

  test('(a) SIGKILL of one of two gateways: every line once', { timeout: 120000 }, async (t) => {
    const shipping = await accountAround(t, 'fa', async (agents) => {
      await fleet.killGateway(0);
      // the agents go on through the other gateway
      const at = await Promise.all(agents.map((a) => countRows(fleet, a.worker)));
      await waitFor(async () => (await Promise.all(agents.map((a) => countRows(fleet, a.worker)))).every((n, i) => n > at[i] || n >= LINES),
        { timeout: 15000, what: 'rows arriving through the other gateway' });
      await fleet.restartGateway(0);
    });
    assert.ok(shipping.every((s) => s.failovers >= 1), 'every agent failed over');
  });

  test('(b) SIGKILL of one of two wharfd: every line once', { timeout: 120000 }, async (t) => {
    const shipping = await accountAround(t, 'fb', async (agents) => {
      // frozen first, so that requests are certainly in its hands when it
      // dies: the agents' queues grow behind them
      process.kill(fleet.wharfds[0].pid, 'SIGSTOP');
      await waitFor(async () => (await Promise.all(agents.map((a) => agentHealth(a)))).some((h) => h.shipping.queued >= 1000),
        { timeout: 15000, what: 'requests hanging in the frozen wharfd' });
      await fleet.killWharfd(0);
      const at = await Promise.all(agents.map((a) => countRows(fleet, a.worker)));
      // the other wharfd takes every request: rows keep arriving
      await waitFor(async () => (await Promise.all(agents.map((a) => countRows(fleet, a.worker)))).every((n, i) => n > at[i] || n >= LINES),
        { timeout: 15000, what: 'rows arriving through the other wharfd' });
      await fleet.restartWharfd(0);
    });
    assert.ok(shipping.some((s) => s.failures >= 1), 'requests died with the wharfd and were resent');
  });

  test('(c) PostgreSQL restarted (fast) during ingest: every line once', { timeout: 120000 }, async (t) => {
    const shipping = await accountAround(t, 'fc', async () => {
      await fleet.pg.restart('fast');
    });
    assert.ok(shipping.some((s) => s.failures >= 1), 'the restart was seen');
  });
});

