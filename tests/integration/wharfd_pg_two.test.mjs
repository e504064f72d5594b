// Two wharfd on one PostgreSQL database: rows stored through one reach
// the live feed of the other (LISTEN/NOTIFY, then a read-back by id:
// store_pg_listen.c), each exactly once and in order, resends not at
// all; each wharfd's metrics tell its own rows from the other's.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { rpc as shipRpc } from '../lib/ship.mjs';
import { freeStaticPort, openFeed, startStack, startWharfd, waitFor } from '../lib/stack.mjs';

describe('two wharfd on one PostgreSQL database', () => {
  let stack;
  let b;
  let bFeed;
  before(async () => {
    // A: the stack's wharfd, behind nginx; B: a second one on the same
    // database, with a feed listener of its own.
    stack = await startStack({ tag: 'wharfd-pg-two', engine: 'postgresql', workers: [{ name: 'ghost', addr: '127.0.0.1:9' }],
      wharfdArgs: ['--name', 'a'] });
    bFeed = `127.0.0.1:${await freeStaticPort()}`;
    b = await startWharfd({ ...stack.wharfdOpts, wsAddr: bFeed, args: ['--name', 'b'] });
    stack.procs.push(b);
  });
  after(async () => stack && stack.stop());

  const rpc = (method, params) => shipRpc(stack, method, params);
  const logs = (from, n) => Array.from({ length: n }, (_, i) => ({ sequence: from + i, level: 'info', message: `two ${from + i}` }));

  test('rows stored through A reach a subscriber of B once each, in order; a resend does not', async () => {
    const ws = await openFeed(bFeed, stack.token);
    try {
      ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'subscribe', params: { worker: 'two', kinds: ['log'] } }));
      await waitFor(() => ws.msgs.find((m) => m.id === 1), { what: 'the subscription on B' });
      // three calls, one with lines before and after a gap, then a resend
      // of the first whole and one overlapping the last
      assert.equal((await rpc('storeLogs', { worker: 'two', instanceId: 'i', logs: logs(1, 200) })).stored, 200);
      assert.equal((await rpc('storeLogs', { worker: 'two', instanceId: 'i', logs: logs(301, 100) })).stored, 100);
      assert.equal((await rpc('storeLogs', { worker: 'two', instanceId: 'i', logs: logs(201, 100) })).stored, 100);
      assert.equal((await rpc('storeLogs', { worker: 'two', instanceId: 'i', logs: logs(1, 200) })).stored, 0);
      const overlap = await rpc('storeLogs', { worker: 'two', instanceId: 'i', logs: logs(391, 20) });
      assert.equal(overlap.stored, 10);
      assert.equal(overlap.duplicates, 10);
      const rows = () => ws.msgs.filter((m) => m.kind === 'log');
      await waitFor(() => rows().length >= 410, { timeout: 15000, what: () => `410 rows on B's feed (have ${rows().length})` });
      // nothing more comes (the resends are not news)
      await new Promise((r) => setTimeout(r, 300));
      const seqs = rows().map((m) => m.row.sequence);
      const want = [...Array.from({ length: 200 }, (_, i) => 1 + i), ...Array.from({ length: 100 }, (_, i) => 301 + i),
        ...Array.from({ length: 100 }, (_, i) => 201 + i), ...Array.from({ length: 10 }, (_, i) => 401 + i)];
      assert.deepEqual(seqs, want);
      assert.ok(rows().every((m) => m.row.message === `two ${m.row.sequence}`));
      // the rows in the database: 410, ids in the order they were stored
      const stored = await stack.rows("SELECT sequence FROM container_logs WHERE worker_name = 'two' ORDER BY id");
      assert.deepEqual(stored.map((r) => Number(r.sequence)), want);
    } finally {
      ws.close();
    }
  });

  test("A's metrics: its own rows, none read back; named by --name", async () => {
    const text = await (await fetch(`${stack.http}/api/monitoring/metrics`, { headers: stack.auth })).text();
    const L = 'engine="postgresql",wharfd="a"';
    const v = (name) => Number(new RegExp(`^${name.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1]);
    assert.equal(v(`wharfd_ingested_rows_total{${L},kind="log"}`), 410);
    assert.equal(v(`wharfd_ingested_duplicates_total{${L},kind="log"}`), 210);
    assert.equal(v(`wharfd_feed_remote_rows_total{${L}}`), 0);
  });
});
