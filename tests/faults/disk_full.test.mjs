// Fault: the disk under wharfd's database fills up, then space comes back
// (issue 7). wharfd's database sits on a small tmpfs this test mounts (with
// a filler file on it); two node clients and two real agents ingest until
// SQLite reports the disk full. Checked: a batch wharfd could not store is
// answered with a JSON-RPC error that says so (never a success, and none of
// its rows is stored), reads keep being served, and once the filler file is
// deleted ingestion resumes by itself: rows acknowledged = rows stored, row
// by row, and the agents' retried batches arrive exactly once.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { get, startAgent, startStack, tempDir, waitFor } from '../lib/stack.mjs';
import { PRINTER, agentHealth, assertExact, countLogs, sqlAll, storedLogs } from './faults.mjs';

const ROOT = process.getuid && process.getuid() === 0;
const SIZE_MIB = 24;              // the tmpfs
const FILLER_MIB = 12;            // deleted to free space: room for what follows
const BATCH = 200;                // rows per client batch
const MSG = 'm'.repeat(1000);     // ~1 KiB a row: the disk fills in seconds
const AGENT_LINES = 6000;         // per agent, 1000 lines/s

describe('fault: the database\'s disk full, then freed', { skip: !ROOT && 'needs root: mounts a tmpfs (mount -t tmpfs) for the database' }, () => {
  let stack, dir, mnt;
  const agents = [];
  before(async () => {
    dir = tempDir('fault-full');
    mnt = path.join(dir, 'tmpfs');
    fs.mkdirSync(mnt);
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${SIZE_MIB}m,mode=0755`, 'tmpfs', mnt]);
    if (m.status !== 0) throw new Error(`mount tmpfs: ${m.stderr}`);
    fs.writeFileSync(path.join(mnt, 'filler'), Buffer.alloc(FILLER_MIB << 20, 1));
    stack = await startStack({ tag: 'fault-full', workers: [], wharfdArgs: ['--db', path.join(mnt, 'wharf.db')] });
    for (const name of ['full-a', 'full-b']) {
      agents.push(await startAgent({
        name, keys: stack.keys, logDir: stack.logDir,
        orchestrator: stack.http, token: stack.mint({ sub: name, scope: 'ingest' }),
        app: ['node', PRINTER, name, String(AGENT_LINES), '10', '10', '32'],
      }));
    }
  });
  after(async () => {
    for (const a of agents) await a.stop();
    if (stack) await stack.stop();
    if (mnt) spawnSync('umount', [mnt]);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('SQLITE_FULL answered as an error, reads served, ingestion resumes when freed, nothing lost or doubled', { timeout: 90000 }, async (t) => {
    const db = path.join(mnt, 'wharf.db');
    const free = () => {
      const f = fs.statfsSync(mnt);
      const sizes = fs.readdirSync(mnt).map((n) => `${n} ${fs.statSync(path.join(mnt, n)).size >> 10} KiB`);
      return `${(f.bavail * f.bsize) >> 10} KiB free: ${sizes.join(', ')}`;
    };
    const rpc = async (token, method, params) => {
      const res = await fetch(`${stack.http}/rpc`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: `ContainerMonitoringOps.${method}`, params }),
      });
      return { status: res.status, json: JSON.parse(await res.text()) };
    };
    let phase = 'fill';               // fill -> full -> freed -> done
    const errors = [];
    const storedDespiteError = [];
    const clients = ['full-c1', 'full-c2'].map((worker) => ({
      worker, token: stack.mint({ sub: worker, scope: 'ingest' }), next: 1, acked: 0, failed: 0, afterFree: 0,
    }));
    const run = async (c) => {
      while (phase !== 'done') {
        const from = c.next;
        const logs = Array.from({ length: BATCH }, (_, i) => ({
          sequence: from + i, level: 'info', message: `${c.worker}-${from + i} ${MSG}`,
        }));
        const r = await rpc(c.token, 'storeLogs', { instanceId: 'app', logs });
        if (r.json.result) {
          // A retried batch may have been stored by an earlier attempt
          // whose answer was an error: then it counts as duplicates.
          assert.equal(r.json.result.stored + r.json.result.duplicates, BATCH);
          c.acked += BATCH;
          c.next += BATCH;
          if (phase === 'freed') c.afterFree++;
          if (phase === 'freed' && c.afterFree >= 3) return;
          continue;
        }
        errors.push({ status: r.status, error: r.json.error });
        c.failed++;
        const n = sqlAll(db, `SELECT count(*) AS n FROM container_logs WHERE worker_name = ?
          AND instance_id = 'app' AND sequence >= ? AND sequence < ?`, c.worker, from, from + BATCH)[0].n;
        if (n !== 0) storedDespiteError.push({ worker: c.worker, from, n });
        // The client's retry pace while the disk is full (as an agent's
        // backoff does): not a wait for a condition.
        await new Promise((res) => setTimeout(res, 100));
      }
    };
    const loops = clients.map(run);
    // However the test ends, the clients stop before the stack does.
    t.after(async () => {
      phase = 'done';
      await Promise.allSettled(loops);
    });

    await waitFor(() => clients.every((c) => c.failed > 0), { timeout: 30000, what: 'the disk to be full for both clients' });
    phase = 'full';
    const fullAt = clients.map((c) => c.acked);

    // The answer is a JSON-RPC error naming the cause, never a success.
    const e = errors[0];
    assert.equal(e.status, 200);
    assert.equal(e.error.code, -32603);
    assert.match(e.error.message, /full/i, `a clear message: ${JSON.stringify(e.error)}`);

    // Reads are served while the disk is full.
    const agentFails = await Promise.all(agents.map(async (a) => (await agentHealth(a)).shipping.failures));
    for (const c of clients) {
      const r = await get(`${stack.http}/api/monitoring/logs/app?worker=${c.worker}&limit=5`, { headers: stack.auth });
      assert.equal(r.status, 200, r.body);
      assert.equal(r.json.data.length, 5);
      const s = await rpc(stack.token, 'getLogStats', { worker: c.worker, instanceId: 'app' });
      assert.equal(s.json.result.total, c.acked);
    }
    // The agents see it too: failed requests they retry.
    await waitFor(async () => (await Promise.all(agents.map(async (a) => (await agentHealth(a)).shipping.failures)))
      .every((f, i) => f > agentFails[i]), { timeout: 15000, what: 'the agents to see failures' });
    // Still full: no client got an answer since.
    assert.deepEqual(clients.map((c) => c.acked), fullAt);

    // Free the space: ingestion resumes by itself.
    fs.unlinkSync(path.join(mnt, 'filler'));
    const t0 = Date.now();
    phase = 'freed';
    await waitFor(() => clients.every((c) => c.afterFree > 0), { timeout: 15000, what: 'a batch stored after freeing' });
    const recoverMs = Date.now() - t0;
    await Promise.all(loops);
    phase = 'done';

    // Clients: acknowledged = stored, row by row.
    let sent = 0, stored = 0;
    for (const c of clients) {
      const rows = storedLogs(db, c.worker);
      assert.equal(rows.length, c.acked, `${c.worker}: acknowledged rows = stored rows`);
      rows.forEach((r, i) => {
        if (r.sequence !== i + 1 || !r.message.startsWith(`${c.worker}-${i + 1} `)) assert.fail(`${c.worker} row ${i}: ${r.sequence}`);
      });
      sent += c.acked;
      stored += rows.length;
    }
    assert.deepEqual(storedDespiteError, [], 'a batch answered with an error has no stored row');

    // Agents: every printed line exactly once.
    await waitFor(() => agents.every((a) => countLogs(db, a.worker) >= AGENT_LINES),
      { timeout: 30000, interval: 200, what: () => `agents' lines (${agents.map((a) => countLogs(db, a.worker))}; ${free()})` });
    await waitFor(async () => (await Promise.all(agents.map((a) => agentHealth(a)))).every((h) => h.shipping.queued === 0),
      { timeout: 10000, what: 'agents\' queues drained' });
    for (const a of agents) {
      assertExact(storedLogs(db, a.worker), a.worker, AGENT_LINES);
      assert.equal((await agentHealth(a)).shipping.dropped, 0);
      sent += AGENT_LINES;
      stored += AGENT_LINES;
    }
    const agentFailures = await Promise.all(agents.map(async (a) => (await agentHealth(a)).shipping.failures));
    t.diagnostic(`sent ${sent}, stored ${stored}, lost 0, duplicates 0; ${errors.length} client batches answered `
      + `${JSON.stringify(e.error.message)} (${e.error.code}); agents' failed requests ${agentFailures.join('/')}; `
      + `first batch stored ${recoverMs} ms after freeing`);
  });
});
