// Log ids on PostgreSQL with writers that run at once (store_pg.h, "The
// watermark"): ids are taken freely by every wharfd, a transaction holds
// a marker below its first id, and readers read no row above the lowest
// marker. So a reader that pages on from the highest id it saw misses no
// row that commits later with a lower id; a storeLogs answer means the
// rows are readable; exactly-once holds per instance with two wharfd
// writing the same instance at once; the feed of one wharfd carries each
// row of both once.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { rpc as shipRpc } from '../lib/ship.mjs';
import { addWharfdUpstream, freeStaticPort, openFeed, startStack, startWharfd, waitFor } from '../lib/stack.mjs';

describe('log ids on PostgreSQL with writers at once', () => {
  let stack;
  before(async () => {
    stack = await startStack({ tag: 'wharfd-pg-ids', engine: 'postgresql', workers: [{ name: 'ghost', addr: '127.0.0.1:9' }],
      wharfdArgs: ['--name', 'a'] });
  });
  after(async () => stack && stack.stop());

  const rpc = (method, params) => shipRpc(stack, method, params);
  const logs = (from, n, tag = 'l') => Array.from({ length: n }, (_, i) => ({ sequence: from + i, level: 'info', message: `${tag} ${from + i}` }));

  test('a transaction in flight holds readers below its ids; a storeLogs answer waits until its rows are readable', async () => {
    assert.equal((await rpc('storeLogs', { worker: 'base', instanceId: 'i', logs: logs(1, 2) })).stored, 2);
    const before = await rpc('getLogs', { limit: 100 });
    const cursor = Math.max(...before.data.map((l) => l.id));
    // A writer of another wharfd, slow: it takes the writers' shared lock
    // and its marker as wharfd's writer does (LOG_LOCK, LOG_MARK in
    // store_pg.c) and a row's id, and has not committed yet.
    const slow = new pg.Client({ connectionString: stack.store.url });
    await slow.connect();
    let answered = false;
    let pending;
    try {
      await slow.query('BEGIN');
      await slow.query('SELECT pg_advisory_xact_lock_shared(2003329394, 2)');
      await slow.query(`SELECT pg_advisory_xact_lock_shared(s.x) FROM (SELECT (SELECT CASE WHEN is_called
        THEN last_value ELSE last_value - 1 END FROM container_logs_id_seq) + 1 AS x OFFSET 0) s`);
      const slowId = Number((await slow.query(`INSERT INTO container_logs (worker_name, instance_id, sequence, timestamp,
        level, message, created_at) VALUES ('slow', 'i', 1, '2026-12-06T10:00:00.000Z', 'info', 'slow 1',
        to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')) RETURNING id`)).rows[0].id);
      assert.ok(slowId > cursor);

      // wharfd stores rows above it and commits them, but does not answer
      pending = rpc('storeLogs', { worker: 'fast', instanceId: 'i', logs: logs(1, 3, 'fast') }).then((r) => { answered = true; return r; });
      await waitFor(async () => Number((await stack.rows("SELECT count(*) AS n FROM container_logs WHERE worker_name = 'fast'"))[0].n) === 3,
        { what: "wharfd's commit of the three rows" });
      const fastIds = (await stack.rows("SELECT id FROM container_logs WHERE worker_name = 'fast' ORDER BY id")).map((r) => Number(r.id));
      assert.ok(fastIds[0] > slowId, `ids ${fastIds} above the slow row's ${slowId}`);
      assert.equal(answered, false, 'storeLogs answered while a lower id was in flight');

      // readers see nothing above the marker: not the committed rows
      assert.equal((await rpc('getLogs', { worker: 'fast', limit: 100 })).data.length, 0);
      const paged = await rpc('getLogs', { afterId: cursor, order: 'asc', limit: 100 });
      assert.deepEqual(paged.data, []);
      const rest = await (await fetch(`${stack.http}/api/monitoring/logs?worker=fast`, { headers: stack.auth })).json();
      assert.deepEqual(rest.data, []);

      await slow.query('COMMIT');
      const r = await pending;
      assert.equal(r.stored, 3);
      // paging on from the cursor misses nothing: the slow row first
      const next = await rpc('getLogs', { afterId: cursor, order: 'asc', limit: 100 });
      assert.deepEqual(next.data.map((l) => [l.workerName, l.sequence]),
        [['slow', 1], ['fast', 1], ['fast', 2], ['fast', 3]]);
      assert.deepEqual(next.data.map((l) => l.id), [slowId, ...fastIds]);
    } finally {
      await slow.end().catch(() => {});
      if (pending) await pending.catch(() => {});
    }
  });

  test('two wharfd write the same instances at once: every row once, every answer exact, one feed carries all', { timeout: 120000 }, async () => {
    // B on the same database, with a feed of its own, and in nginx's
    // upstream next to A: nginx gives each request to either.
    const bFeed = `127.0.0.1:${await freeStaticPort()}`;
    const b = await startWharfd({ ...stack.wharfdOpts, wsAddr: bFeed, args: ['--name', 'b'] });
    stack.procs.push(b);
    await addWharfdUpstream(stack, b);
    const ws = await openFeed(bFeed, stack.token);
    try {
      ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'subscribe', params: { kinds: ['log'] } }));
      await waitFor(() => ws.msgs.find((m) => m.id === 1), { what: 'the subscription on B' });

      // 24 instances x 4 rounds of 50 lines; each batch sent three times
      // at once, the third with the previous round's last 10 lines too
      const W = 24, ROUNDS = 4, N = 50;
      await Promise.all(Array.from({ length: W }, async (_, w) => {
        for (let r = 0; r < ROUNDS; r++) {
          const batch = logs(1 + r * N, N, `w${w}`);
          const third = r ? [...logs(1 + r * N - 10, 10, `w${w}`), ...batch] : batch;
          const got = await Promise.all([batch, batch, third].map((l) => rpc('storeLogs', { worker: `w${w}`, instanceId: 'i', logs: l })));
          got.forEach((g, k) => assert.equal(g.stored + g.duplicates, k === 2 ? third.length : N, JSON.stringify(g)));
          assert.equal(got.reduce((s, g) => s + g.stored, 0), N, `w${w} round ${r}: ${JSON.stringify(got)}`);
          for (const g of got) assert.equal(g.lastSequence, (r + 1) * N);
        }
      }));

      const rows = await stack.rows(`SELECT count(*) AS n, count(DISTINCT (worker_name, instance_id, sequence)) AS d
        FROM container_logs WHERE worker_name LIKE 'w%'`);
      assert.equal(Number(rows[0].n), W * ROUNDS * N);
      assert.equal(Number(rows[0].d), W * ROUNDS * N);

      // both wharfd wrote
      const mine = async (addrName) => {
        for (let i = 0; i < 50; i++) {
          const text = await (await fetch(`${stack.http}/api/monitoring/metrics`, { headers: stack.auth })).text();
          const m = new RegExp(`^wharfd_ingested_rows_total\\{engine="postgresql",wharfd="${addrName}",kind="log"\\} (\\S+)$`, 'm').exec(text);
          if (m) return Number(m[1]);
        }
        return undefined;
      };
      const [na, nb] = [await mine('a'), await mine('b')];
      assert.ok(na > 0 && nb > 0, `rows written by a: ${na}, by b: ${nb}`);

      // B's feed: its own rows and A's (read back by transaction), each once
      const key = (m) => `${m.row.workerName}/${m.row.sequence}`;
      const logsOf = () => ws.msgs.filter((m) => m.kind === 'log' && /^w\d+\//.test(key(m)));
      await waitFor(() => logsOf().length >= W * ROUNDS * N, { timeout: 30000, what: () => `${W * ROUNDS * N} rows on B's feed (have ${logsOf().length})` });
      const keys = logsOf().map(key);
      assert.equal(new Set(keys).size, keys.length, 'a row twice on the feed');
      assert.equal(keys.length, W * ROUNDS * N);

      // id paging through nginx (either wharfd) walks every row once, in
      // id order
      let cursor = 0;
      const paged = [];
      for (;;) {
        const page = await rpc('getLogs', { afterId: cursor, order: 'asc', limit: 500 });
        if (!page.data.length) break;
        for (const l of page.data) {
          assert.ok(l.id > cursor);
          cursor = l.id;
          paged.push(l);
        }
      }
      const pagedW = paged.filter((l) => /^w\d+$/.test(l.workerName));
      assert.equal(pagedW.length, W * ROUNDS * N);
    } finally {
      ws.close();
    }
  });
});
