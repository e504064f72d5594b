// The orchestrator goes away for 30 s while the app keeps printing
// (issue 5, "lossless shipping"), with the default pipelined shipper
// (several requests in flight). Two agents live through the same outage:
//   - "keeper" with the default 16 MiB buffer: every line arrives exactly
//     once, in order, when wharfd is back;
//   - "dropper" with a 1 MiB buffer: the oldest queued lines are dropped,
//     and its logs_dropped events give the exact count (stored + dropped =
//     printed), for a contiguous range of sequences none of which is stored.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startAgent, startStack, startWharfd, tempDir, waitFor } from '../lib/stack.mjs';

const OUTAGE_MS = Number(process.env.WHARF_OUTAGE_MS || 30000);
const RATE = 1000;                       // lines per second
const SECONDS = Math.ceil(OUTAGE_MS / 1000) + 8;
const PRINTED = RATE * SECONDS;
// The acceptance case: a 1 MiB buffer through a 30 s outage (~3 MiB of
// lines). A shorter outage (WHARF_OUTAGE_MS, for quick runs) gets the
// smallest buffer, so that it still overflows.
const DROPPER_BUFFER = OUTAGE_MS >= 30000 ? 1 << 20 : 64 << 10;

// Prints RATE lines/s (10 every 10 ms) for SECONDS, then "done" and idles.
const APP = `
let n = 0;
const pad = 'x'.repeat(40);
const t = setInterval(() => {
  let s = '';
  for (let i = 0; i < 10 && n < ${PRINTED}; i++) s += 'tick ' + (++n) + ' ' + pad + '\\n';
  process.stdout.write(s);
  if (n >= ${PRINTED}) { clearInterval(t); setInterval(() => {}, 1e6); }
}, 10);
`;

async function rpc(stack, method, params) {
  const res = await fetch(`${stack.http}/rpc`, {
    method: 'POST',
    headers: { ...stack.auth, 'Content-Type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: `ContainerMonitoringOps.${method}`, params }),
  });
  const text = await res.text();
  if (params.stream) return text.trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.sequence !== undefined);
  const j = JSON.parse(text);
  if (j.error) throw new Error(`${method}: ${JSON.stringify(j.error)}`);
  return j.result;
}

describe('orchestrator outage', () => {
  let stack, dir;
  const agents = [];
  before(async () => {
    dir = tempDir('agent-outage-app');
    fs.writeFileSync(path.join(dir, 'app.js'), APP);
    stack = await startStack({ tag: 'agent-outage', workers: [] });
    for (const [name, extra] of [['keeper', []], ['dropper', ['--buffer-bytes', String(DROPPER_BUFFER)]]]) {
      agents.push(await startAgent({
        name, keys: stack.keys, logDir: stack.logDir, args: extra,
        orchestrator: stack.http, token: stack.mint({ sub: name, scope: 'ingest' }),
        app: ['node', path.join(dir, 'app.js')],
      }));
    }
  });
  after(async () => {
    for (const a of agents) await a.stop();
    if (stack) await stack.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test(`wharfd down for ${OUTAGE_MS / 1000} s: nothing lost, or exactly counted drops`, { timeout: OUTAGE_MS + 70000 }, async () => {
    const stats = async (w) => (await rpc(stack, 'getLogStats', { worker: w, instanceId: 'app' })).total;
    // what each agent says about its shipping, for failure messages
    const health = async () => JSON.stringify(await Promise.all(agents.map(async (a) => {
      try { return { [a.worker]: (await (await fetch(`http://${a.addr}/health`)).json()).shipping }; } catch (e) { return String(e); }
    })));
    await waitFor(async () => (await stats('keeper')) > 0 && (await stats('dropper')) > 0,
      { timeout: 10000, what: 'first lines stored' });

    const old = stack.wharfd;
    await old.stop();
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, OUTAGE_MS));   // the outage itself is the point
    const fresh = await startWharfd({ dir: stack.dir, logDir: stack.logDir, keys: stack.keys, addr: old.addr });
    stack.procs.push(fresh);
    stack.wharfd = fresh;
    assert.ok(Date.now() - t0 >= OUTAGE_MS);

    // keeper: every line exactly once, in order
    let keeperStored;
    await waitFor(async () => (keeperStored = await stats('keeper')) === PRINTED,
      { timeout: 30000, interval: 250, what: () => `keeper's ${PRINTED} lines (stored ${keeperStored})` });
    const rows = await rpc(stack, 'getLogs', { worker: 'keeper', instanceId: 'app', order: 'asc', stream: true });
    assert.equal(rows.length, PRINTED);
    rows.forEach((r, i) => {
      if (r.sequence !== i + 1 || !r.message.startsWith(`tick ${i + 1} `)) {
        assert.fail(`keeper row ${i}: ${r.sequence} ${r.message}`);
      }
    });
    const keeperDrops = await rpc(stack, 'getEvents', { worker: 'keeper', type: 'logs_dropped' });
    assert.equal(keeperDrops.data.length, 0);
    // the backlog went out pipelined (--ship-inflight, default 4)
    const keeperShip = (await (await fetch(`http://${agents[0].addr}/health`)).json()).shipping;
    assert.ok(keeperShip.inflight_peak > 1 && keeperShip.inflight_peak <= keeperShip.inflight_max,
      `requests in flight at once: ${keeperShip.inflight_peak}`);

    // dropper: stored + dropped = printed, the dropped ones the oldest queued
    let drops, stored, shipping;
    await waitFor(async () => {
      drops = (await rpc(stack, 'getEvents', { worker: 'dropper', type: 'logs_dropped', limit: 100 })).data
        .map((e) => (typeof e.payload === 'string' ? JSON.parse(e.payload) : e.payload));
      const dropped = drops.reduce((a, d) => a + d.count, 0);
      stored = await stats('dropper');
      shipping = await health();
      return drops.length > 0 && stored + dropped === PRINTED;
    }, { timeout: 30000, interval: 250, what: () => `dropper: stored + dropped = ${PRINTED} (stored ${stored}, drops ${JSON.stringify(drops)}, agents ${shipping})` });
    const kept = await rpc(stack, 'getLogs', { worker: 'dropper', instanceId: 'app', order: 'asc', stream: true });
    const seqs = new Set(kept.map((r) => r.sequence));
    assert.equal(seqs.size, kept.length, 'no sequence stored twice');
    let dropped = 0;
    for (const d of drops) {
      assert.equal(d.lastSequence - d.firstSequence + 1, d.count, 'a contiguous range of the oldest queued lines');
      for (let s = d.firstSequence; s <= d.lastSequence; s++) assert.ok(!seqs.has(s), `dropped ${s} is not stored`);
      dropped += d.count;
    }
    assert.ok(dropped > 0);
    assert.equal(kept.length + dropped, PRINTED);
    // the newest lines survived
    assert.ok(seqs.has(PRINTED));
  });
});
