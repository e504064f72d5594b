// Fault: an agent's container network cut for 30 s, then restored
// (issue 7). The agent and its app run in a network namespace this test
// creates, joined to the host by a veth pair with a private /30; nginx
// listens on the host end's address, so the agent ships through the veth.
// The host end is set down for 30 s and up again. Checked: every printed
// line is stored exactly once, in order, gapless; the outage shows as
// failed requests the agent retried, not as dropped lines (the default
// 16 MiB buffer holds it); nothing arrives during the cut.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  freePort, generateKeys, mintToken, renderNginxConf, startAgent, startNginx, startWharfd, tempDir, waitFor,
} from '../lib/stack.mjs';
import { PRINTER, agentHealth, assertExact, countLogs, sqlAll, storedLogs } from './faults.mjs';

const ROOT = process.getuid && process.getuid() === 0;
const HAS_IP = spawnSync('ip', ['-V']).status === 0;
const CUT_MS = Number(process.env.WHARF_CUT_MS || 30000);
const RATE = 500;                                     // lines/s
const LINES = RATE * (Math.ceil(CUT_MS / 1000) + 5);  // printing outlasts the cut

// Names short enough for IFNAMSIZ, unique per run; a /30 in 10.0.0.0/8
// picked at random (host .1, namespace .2) in a /24 that no address or
// route of this machine uses.
const tag = `${process.pid % 100000}`;
const NS = `wharf-cut-${tag}`;
const HOST_IF = `wfh${tag}`;
const NS_IF = `wfc${tag}`;
const inUse = `${spawnSync('ip', ['-4', 'route']).stdout}${spawnSync('ip', ['-4', 'addr']).stdout}`;
let net24;
do {
  net24 = `10.${200 + Math.floor(Math.random() * 50)}.${Math.floor(Math.random() * 256)}`;
} while (inUse.includes(`${net24}.`));
const D = 4 * Math.floor(Math.random() * 63);
const HOST_IP = `${net24}.${D + 1}`;
const NS_IP = `${net24}.${D + 2}`;

function ip(...args) {
  const r = spawnSync('ip', args);
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
}

const why = !ROOT ? 'needs root: creates a network namespace and a veth pair (ip netns, ip link)'
  : !HAS_IP ? 'needs the ip command (iproute2, scripts/install-deps)' : false;

describe('fault: an agent\'s network cut for 30 s', { skip: why }, () => {
  let dir, wharfd, nginx, agent;
  let port;
  before(async () => {
    dir = tempDir('fault-netcut');
    const logDir = path.join(dir, 'logs');
    fs.mkdirSync(logDir);
    ip('netns', 'add', NS);
    ip('link', 'add', HOST_IF, 'type', 'veth', 'peer', 'name', NS_IF);
    ip('link', 'set', NS_IF, 'netns', NS);
    ip('addr', 'add', `${HOST_IP}/30`, 'dev', HOST_IF);
    ip('link', 'set', HOST_IF, 'up');
    ip('netns', 'exec', NS, 'ip', 'addr', 'add', `${NS_IP}/30`, 'dev', NS_IF);
    ip('netns', 'exec', NS, 'ip', 'link', 'set', NS_IF, 'up');
    ip('netns', 'exec', NS, 'ip', 'link', 'set', 'lo', 'up');

    // wharfd on loopback; nginx, the agent's orchestrator, on the veth.
    const keys = generateKeys(dir);
    port = await freePort();
    const wsPort = await freePort();
    wharfd = await startWharfd({
      dir, logDir, keys, wsAddr: `127.0.0.1:${wsPort}`, gateway: `http://${HOST_IP}:${port}`,
    });
    const workersDir = path.join(dir, 'workers.d');
    fs.mkdirSync(workersDir);
    const prefix = path.join(dir, 'nginx');
    fs.mkdirSync(prefix, { mode: 0o755 });
    const conf = renderNginxConf({
      prefix, listen: `${HOST_IP}:${port}`, wharfd: wharfd.addr, wharfdWs: `127.0.0.1:${wsPort}`, workersDir, keys,
    });
    nginx = await startNginx({ prefix, conf, logDir });
    await waitFor(async () => (await fetch(`http://${HOST_IP}:${port}/api/monitoring/health`)).status === 200,
      { what: 'nginx on the veth address' });

    // `ip netns exec` execs the agent: its pid is the agent's.
    agent = await startAgent({
      name: 'netcut', keys, logDir, wrap: ['ip', 'netns', 'exec', NS], listen: `${NS_IP}:0`,
      orchestrator: `http://${HOST_IP}:${port}`, token: mintToken(keys.privateKey, { sub: 'netcut', scope: 'ingest' }),
      app: ['node', PRINTER, 'netcut', String(LINES), String(RATE / 100), '10'],
    });
  });
  after(async () => {
    if (agent) await agent.stop();
    if (nginx) await nginx.stop();
    if (wharfd) await wharfd.stop();
    spawnSync('ip', ['link', 'del', HOST_IF]);
    spawnSync('ip', ['netns', 'del', NS]);
    if (dir && process.env.WHARF_KEEP_TMP !== '1') fs.rmSync(dir, { recursive: true, force: true });
  });

  test(`link down ${CUT_MS / 1000} s: ${LINES} lines exactly once, the outage as retries`, { timeout: CUT_MS + 60000 }, async (t) => {
    const db = path.join(dir, 'wharf.db');
    const count = () => countLogs(db, 'netcut');
    await waitFor(() => count() >= RATE, { timeout: 10000, what: 'a second of lines stored' });
    const before = await agentHealth(agent);
    assert.equal(before.shipping.failures, 0);

    ip('link', 'set', HOST_IF, 'down');
    const t0 = Date.now();
    // Rows of a request that was already across at the cut may still be
    // committed: take the count once it has stood still for 500 ms; from
    // then on nothing may arrive until the restore.
    let last = count(), since = Date.now();
    await waitFor(() => {
      const c = count();
      if (c !== last) { last = c; since = Date.now(); }
      return Date.now() - since >= 500;
    }, { timeout: 5000, what: 'rows in flight at the cut to settle' });
    const atCut = count();
    // The outage's length is the point of the test: a fixed wait.
    await new Promise((r) => setTimeout(r, Math.max(0, CUT_MS - (Date.now() - t0))));
    const beforeRestore = count();
    ip('link', 'set', HOST_IF, 'up');
    const t1 = Date.now();
    assert.equal(beforeRestore, atCut, 'nothing stored while the link was down');

    // The agent held the backlog: its /health is reachable again over the veth.
    const backlog = await waitFor(async () => {
      try {
        return await agentHealth(agent);
      } catch {
        return null;
      }
    }, { timeout: 15000, what: 'the agent reachable again' });
    await waitFor(() => count() > beforeRestore, { timeout: 15000, what: 'rows flowing again after the restore' });
    const firstRowMs = Date.now() - t1;
    await waitFor(async () => (await agentHealth(agent)).shipping.queued === 0 && count() > beforeRestore,
      { timeout: 20000, what: 'the backlog shipped' });
    const drainMs = Date.now() - t1;

    await waitFor(() => count() >= LINES, { timeout: 30000, interval: 250, what: () => `${LINES} lines (${count()})` });
    await waitFor(async () => (await agentHealth(agent)).shipping.queued === 0, { timeout: 10000, what: 'queue drained' });
    const acc = assertExact(storedLogs(db, 'netcut'), 'netcut', LINES);
    const h = await agentHealth(agent);
    assert.equal(h.shipping.dropped, 0, 'no line dropped');
    // A cut shorter than the agent's request timeout (10 s) may be bridged
    // by TCP's own retransmissions; 30 s never is.
    if (CUT_MS > 10000) assert.ok(h.shipping.failures > 0, 'the outage shows as failed requests');
    assert.equal(sqlAll(db, "SELECT count(*) AS n FROM container_events WHERE type = 'logs_dropped'")[0].n, 0);
    t.diagnostic(`cut ${CUT_MS} ms: sent ${acc.sent}, stored ${acc.stored}, lost 0, duplicates 0; stored during the cut 0; `
      + `queued at restore ${backlog.shipping.queued} lines; failed requests ${h.shipping.failures}; `
      + `first row ${firstRowMs} ms and backlog shipped ${drainMs} ms after the restore`);
  });
});
