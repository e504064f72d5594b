// An agent that knows two gateways (issue 16): it ships through the first,
// fails over to the second when the first dies with requests in flight,
// and comes back to the first --failback-ms after it answers again; every
// line printed is stored exactly once, in order, without a gap. On
// SQLite behind one wharfd, and on PostgreSQL behind two.
//
// The requests in flight are made certain, not left to timing: the first
// gateway is stopped (SIGSTOP: the kernel still accepts connections, so
// the agent's requests go out and hang) until the agent's queue grows,
// and only then killed (SIGKILL, master and workers, as a machine dies).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { ENGINES, childPids, freePort, startAgent, waitFor } from '../lib/stack.mjs';
import { countRows, startFleet, storedRows } from '../lib/fleet.mjs';
import { PRINTER, agentHealth, assertExact } from '../faults/faults.mjs';

const LINES = 6000; // 1000 lines/s: 6 s of printing

for (const engine of ENGINES) {
  describe(`agent failover between two gateways (${engine})`, () => {
    let fleet, agent;
    before(async () => {
      fleet = await startFleet({ tag: `failover-${engine}`, engine, wharfds: engine === 'sqlite' ? 1 : 2 });
      agent = await fleet.startAgent({
        name: 'fo',
        // a request hung on the stopped gateway waits for its death, not
        // for a timeout: the resend under test is the one after a crash
        args: ['--failback-ms', '300', '--ship-timeout-ms', '60000'],
        app: ['node', PRINTER, 'fo', String(LINES), '10', '10'],
      });
    });
    after(async () => {
      if (fleet) await fleet.stop();
    });

    test('fails over with requests in flight, fails back, stores every line once', { timeout: 90000 }, async (t) => {
      const [g0, g1] = fleet.gateways;
      await waitFor(async () => (await countRows(fleet, 'fo')) >= 1000, { timeout: 15000, what: 'rows arriving' });
      let h = await agentHealth(agent);
      assert.equal(h.shipping.orchestrator, `${g0.http}/rpc`, 'the first URL is preferred');
      assert.equal(h.shipping.failovers, 0);

      // the gateway freezes: the agent's requests go out and hang
      const pids = [g0.nginx.pid, ...childPids(g0.nginx.pid)];
      for (const pid of pids) process.kill(pid, 'SIGSTOP');
      // (the app prints 1000 lines/s, which a gateway that answers takes
      // in batches of 500 as they come: a queue of 1000 is a stuck one)
      await waitFor(async () => {
        const s = (await agentHealth(agent)).shipping;
        return s.queued >= 1000 ? s : null;
      }, { timeout: 15000, what: 'lines piling up behind requests in flight' }).catch(async (e) => {
        throw new Error(`${e.message}: ${JSON.stringify((await agentHealth(agent)).shipping)}`);
      });
      const stuckAt = await countRows(fleet, 'fo');
      await fleet.killGateway(0);

      // the requests in flight fail with the gateway: resent to the other
      h = await waitFor(async () => {
        const x = await agentHealth(agent);
        return x.shipping.orchestrator === `${g1.http}/rpc` ? x : null;
      }, { timeout: 10000, what: 'the agent to fail over to the second gateway' });
      assert.ok(h.shipping.failovers >= 1);
      await waitFor(async () => (await countRows(fleet, 'fo')) > stuckAt + 500,
        { timeout: 15000, what: 'rows arriving through the second gateway' });

      // the first comes back: the agent returns to it
      await fleet.restartGateway(0);
      const back = await waitFor(async () => {
        const x = await agentHealth(agent);
        return x.shipping.orchestrator === `${g0.http}/rpc` ? x : null;
      }, { timeout: 10000, what: 'the agent to fail back to the first gateway' });
      t.diagnostic(`failovers ${back.shipping.failovers}, failed requests ${back.shipping.failures}`);

      await waitFor(async () => (await countRows(fleet, 'fo')) >= LINES,
        { timeout: 30000, interval: 200, what: 'every line stored' });
      await waitFor(async () => (await agentHealth(agent)).shipping.queued === 0,
        { timeout: 10000, what: 'the agent\'s queue drained' });
      const acc = assertExact(await storedRows(fleet, 'fo'), 'fo', LINES);
      h = await agentHealth(agent);
      assert.equal(h.shipping.dropped, 0);
      assert.match(fs.readFileSync(agent.logPath, 'utf8'), /failing over to http:\/\/127\.0\.0\.1:\d+\/rpc/);
      assert.match(fs.readFileSync(agent.logPath, 'utf8'), /answers again: back to it/);
      t.diagnostic(`sent ${acc.sent}, stored ${acc.stored}, lost ${acc.lost}, duplicates ${acc.duplicates}, gaps ${acc.gaps}`);
    });
  });
}

// The preferred gateway is down from the start (nothing listens on its
// port): the agent ships through the second from its first request, and
// probes the first every --failback-ms without holding any line for it.
describe('agent whose first gateway never answers', () => {
  let fleet, agent, deadUrl;
  before(async () => {
    fleet = await startFleet({ tag: 'failover-dead-first', engine: 'sqlite', wharfds: 1, gateways: 1 });
    deadUrl = `http://127.0.0.1:${await freePort()}`;
    agent = await startAgent({
      name: 'df', keys: fleet.keys, logDir: fleet.logDir,
      orchestrator: [deadUrl, fleet.gateways[0].http],
      token: fleet.mint({ sub: 'df', scope: 'ingest' }),
      args: ['--failback-ms', '200'],
      app: ['node', PRINTER, 'df', '2000', '10', '10'],
    });
    fleet.procs.push(agent);
  });
  after(async () => {
    if (fleet) await fleet.stop();
  });

  test('ships through the second, every line once; the first stays probed', { timeout: 60000 }, async () => {
    await waitFor(async () => (await countRows(fleet, 'df')) >= 2000, { timeout: 20000, interval: 200, what: 'every line stored' });
    const h = await agentHealth(agent);
    assert.equal(h.shipping.orchestrator, `${fleet.gateways[0].http}/rpc`);
    assert.equal(h.shipping.failovers, 1, 'one failover: the first request');
    assert.equal(h.shipping.dropped, 0);
    assertExact(await storedRows(fleet, 'df'), 'df', 2000);
    // the probes of the dead first URL failed without moving anything
    assert.doesNotMatch(fs.readFileSync(agent.logPath, 'utf8'), /answers again: back to it/);
  });
});
