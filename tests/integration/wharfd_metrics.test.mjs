// wharfd's own /metrics (GET /api/monitoring/metrics through nginx), on
// both engines: Prometheus text that `promtool check metrics` passes
// (Debian's prometheus package), every sample labelled with the engine
// and the wharfd's name, and counters that follow what the test does:
// rows and batches ingested, the commit histogram, the feed's subscribers
// and lagged ones, retention's deletes. Who may read it: scope "read",
// sub "*".

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { ENGINES, openFeed, startStack, waitFor } from '../lib/stack.mjs';

const M = (name) => `ContainerMonitoringOps.${name}`;

// promtool's verdict on a metrics text: { ok, out }. Lint problems (names,
// HELP, units) are printed and make it exit 3; a parse error exits 1.
function promtool(text) {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (r.error) throw new Error(`promtool: ${r.error.message} (Debian's prometheus package: scripts/install-deps test)`);
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}`.trim() };
}

// 'name{labels}' -> value, labels as written.
function samples(text) {
  const out = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^(\S+?(?:\{.*\})?) (\S+)$/.exec(line);
    assert.ok(m, `not a sample line: ${JSON.stringify(line)}`);
    out.set(m[1], Number(m[2]));
  }
  return out;
}

for (const engine of ENGINES) {
  describe(`wharfd /metrics (${engine})`, () => {
    let stack;
    const NAME = 'wharfd-a "one"';
    const L = `engine="${engine}",wharfd="wharfd-a \\"one\\""`;
    before(async () => {
      stack = await startStack({
        tag: 'wharfd-metrics',
        engine,
        workers: [{ name: 'ghost', addr: '127.0.0.1:9' }],
        wharfdArgs: ['--name', NAME, '--feed-queue', '4', '--max-logs', '10', '--retention-interval', '1'],
      });
    });
    after(async () => stack && stack.stop());

    const metrics = async (token = stack.token) => {
      const res = await fetch(`${stack.http}/api/monitoring/metrics`, { headers: { authorization: `Bearer ${token}` } });
      return { status: res.status, type: res.headers.get('content-type'), text: await res.text(), res };
    };
    const store = async (worker, instanceId, from, n, pad = '') => {
      const token = stack.mint({ sub: worker, scope: 'ingest' });
      const res = await fetch(`${stack.http}/rpc`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({
          jsonrpc: '2.0', id: 1, method: M('storeLogs'),
          params: { instanceId, logs: Array.from({ length: n }, (_, i) => ({ sequence: from + i, level: 'info', message: `m${from + i}${pad}` })) },
        }),
      });
      const j = await res.json();
      assert.ok(!j.error, JSON.stringify(j.error));
      return j.result;
    };

    test('a fresh wharfd: Prometheus text that promtool passes, every sample labelled', async () => {
      const m = await metrics();
      assert.equal(m.status, 200, m.text);
      assert.equal(m.type, 'text/plain; version=0.0.4; charset=utf-8');
      const check = promtool(m.text);
      assert.ok(check.ok, `promtool check metrics:\n${check.out}\n---\n${m.text}`);
      const s = samples(m.text);
      for (const key of s.keys()) assert.ok(key.includes(`{${L}`), `unlabelled: ${key}`);
      assert.equal(s.get(`wharfd_build_info{${L},version="${/version="([^"]+)"/.exec(m.text)[1]}"}`), 1);
      for (const name of ['wharfd_ingested_rows_total', 'wharfd_ingested_batches_total']) {
        for (const kind of ['log', 'error', 'event', 'process']) assert.ok(s.has(`${name}{${L},kind="${kind}"}`), `${name} ${kind}`);
      }
      for (const name of ['wharfd_writer_queue_depth', 'wharfd_feed_subscribers', 'wharfd_feed_lagged_subscribers',
        'wharfd_commit_duration_seconds_count', 'wharfd_commit_duration_seconds_sum']) {
        assert.ok(s.has(`${name}{${L}}`), name);
      }
      assert.ok(s.has(`wharfd_commit_duration_seconds_bucket{${L},le="+Inf"}`));
      assert.ok(s.has(`wharfd_retention_deleted_rows_total{${L},kind="log"}`));
      assert.equal(s.get(`wharfd_feed_subscribers{${L}}`), 0);
    });

    test('rows and batches ingested and the commit histogram follow the writes', async () => {
      const before0 = samples((await metrics()).text);
      const commits0 = before0.get(`wharfd_commit_duration_seconds_count{${L}}`);
      const r1 = await store('met-a', 'i1', 1, 7);
      const r2 = await store('met-a', 'i1', 5, 6); // 3 resent, 3 new
      assert.equal(r1.stored + r2.stored, 10);
      const s = samples((await metrics()).text);
      const d = (k) => s.get(k) - (before0.get(k) ?? 0);
      assert.equal(d(`wharfd_ingested_rows_total{${L},kind="log"}`), 10);
      assert.equal(d(`wharfd_ingested_duplicates_total{${L},kind="log"}`), 3);
      assert.equal(d(`wharfd_ingested_batches_total{${L},kind="log"}`), 2);
      const count = s.get(`wharfd_commit_duration_seconds_count{${L}}`);
      assert.ok(count >= commits0 + 1 && count <= commits0 + 2, `commits ${commits0} -> ${count}`);
      // buckets are cumulative and end at the count
      const buckets = [...s.entries()].filter(([k]) => k.startsWith(`wharfd_commit_duration_seconds_bucket{${L}`));
      for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i][1] >= buckets[i - 1][1], buckets[i][0]);
      assert.equal(buckets.at(-1)[1], count);
      assert.ok(s.get(`wharfd_commit_duration_seconds_sum{${L}}`) > 0);
      assert.equal(s.get(`wharfd_writer_queue_depth{${L}}`), 0);
      assert.ok(promtool((await metrics()).text).ok);
    });

    test('feed subscribers, and a subscriber that stops reading counted lagged', async () => {
      // straight to wharfd's feed listener: nginx's buffers in between
      // would take longer to fill
      const ws = await openFeed(stack.wharfdOpts.wsAddr, stack.token);
      try {
        ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'subscribe', params: { worker: 'met-lag' } }));
        await waitFor(() => ws.msgs.find((m) => m.id === 1), { what: 'the subscription' });
        let s = samples((await metrics()).text);
        assert.equal(s.get(`wharfd_feed_subscribers{${L}}`), 1);
        assert.equal(s.get(`wharfd_feed_lagged_subscribers{${L}}`), 0);
        // Stalled: the socket's buffers fill (rows of 8 KiB: a few
        // hundred do it), then the queue of 4
        // (--feed-queue) overflows and the client is lagged until it next
        // gets a message.
        ws._socket.pause();
        let seq = 1;
        await waitFor(async () => {
          await store('met-lag', 'l', seq, 200, 'x'.repeat(8192));
          seq += 200;
          s = samples((await metrics()).text);
          return s.get(`wharfd_feed_lagged_subscribers{${L}}`) === 1;
        }, { timeout: 30000, interval: 10, what: 'the subscriber counted lagged' });
        assert.ok(s.get(`wharfd_feed_dropped_messages_total{${L}}`) > 0);
        ws._socket.resume();
        await waitFor(() => ws.msgs.find((m) => m.kind === 'lagged'), { timeout: 15000, what: 'the lagged message' });
        await waitFor(async () => samples((await metrics()).text).get(`wharfd_feed_lagged_subscribers{${L}}`) === 0,
          { what: 'lagged back to 0 once it reads again' });
      } finally {
        ws.close();
      }
      await waitFor(async () => samples((await metrics()).text).get(`wharfd_feed_subscribers{${L}}`) === 0,
        { what: 'no subscriber after close' });
    });

    test('retention deletes counted (--max-logs 10)', async () => {
      const k = `wharfd_retention_deleted_rows_total{${L},kind="log"}`;
      const before0 = samples((await metrics()).text).get(k);
      await store('met-ret', 'r', 1, 50);
      // the other workers' rows (over 10 each) are deleted by the same
      // runs: wait for met-ret's own, then its 40 are in the count
      const left = async () => Number((await stack.rows('SELECT COUNT(*) AS n FROM container_logs WHERE worker_name = ?', 'met-ret'))[0].n);
      await waitFor(async () => await left() === 10, { timeout: 15000, what: 'retention to keep 10 rows of met-ret' });
      await waitFor(async () => samples((await metrics()).text).get(k) >= before0 + 40, { what: 'met-ret\'s 40 deletes counted' });
      assert.equal(samples((await metrics()).text).get(`wharfd_retention_leader{${L}}`), 1);
    });

    test('who may read it: scope "read" for every worker; HEAD too', async () => {
      const none = await fetch(`${stack.http}/api/monitoring/metrics`);
      assert.equal(none.status, 401);
      assert.match(none.headers.get('www-authenticate'), /^Bearer/);
      const worker = await metrics(stack.mint({ sub: 'met-a', scope: 'read' }));
      assert.equal(worker.status, 403, worker.text);
      assert.equal(JSON.parse(worker.text).error.code, 'forbidden');
      const ingest = await metrics(stack.mint({ sub: '*', scope: 'ingest' }));
      assert.equal(ingest.status, 403);
      assert.match(ingest.res.headers.get('www-authenticate'), /insufficient_scope/);
      const reader = await metrics(stack.mint({ sub: '*', scope: 'read' }));
      assert.equal(reader.status, 200);
      const head = await fetch(`${stack.http}/api/monitoring/metrics`, { method: 'HEAD', headers: stack.auth });
      assert.equal(head.status, 200);
      const post = await fetch(`${stack.http}/api/monitoring/metrics`, { method: 'POST', headers: stack.auth });
      assert.equal(post.status, 405);
    });
  });
}
