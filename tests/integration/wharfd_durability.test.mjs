// wharfd under stress: SIGKILL while four clients ingest (answered batches
// survive, nothing half-written, retries end exact row by row), retention
// by count, and 1,000,000 logs streamed as NDJSON in bounded memory.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { ENGINES, SANITIZE, get, startStack, startWharfd, waitFor } from '../lib/stack.mjs';

const M = (name) => `ContainerMonitoringOps.${name}`;

function rssKiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

for (const engine of ENGINES) {
  describe(`wharfd durability (${engine})`, () => {
    let stack;
    before(async () => {
      stack = await startStack({ tag: 'wharfd-dur', engine, workers: [], wharfdArgs: ['--threads', '8'] });
    });
    after(async () => stack && stack.stop());

    const rpc = async (token, method, params, id = 1) => {
      const res = await fetch(`${stack.http}/rpc`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ jsonrpc: '2.0', id, method: M(method), params }),
      });
      const text = await res.text();
      return { status: res.status, json: res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : undefined };
    };
    const batch = (worker, from, n) => ({
      instanceId: 'k',
      logs: Array.from({ length: n }, (_, i) => ({
        sequence: from + i, level: 'info', message: `${worker} row ${from + i}`, stream: 'stdout',
      })),
    });
    // Every stored row of a worker's instance, by sequence, through NDJSON.
    const stored = async (worker) => {
      const r = await get(`${stack.http}/api/monitoring/logs/k?worker=${worker}&format=ndjson&order=asc`,
        { headers: { authorization: `Bearer ${stack.token}` } });
      assert.equal(r.status, 200, r.body);
      const lines = r.body.trim().split('\n').map((l) => JSON.parse(l));
      assert.equal(lines.at(-1).done, true);
      return lines.slice(0, -1);
    };

    test('SIGKILL during ingestion: answered batches kept, none half-stored, retries end exact', async () => {
      const B = 200;
      const clients = [0, 1, 2, 3].map((i) => ({
        worker: `kill-${i}`, token: stack.mint({ sub: `kill-${i}`, scope: 'ingest' }),
        next: 1, answered: [], pending: null,
      }));
      let killed = false;
      const run = async (c) => {
        while (!killed) {
          const from = c.next;
          c.pending = from;
          let r;
          try {
            r = await rpc(c.token, 'storeLogs', batch(c.worker, from, B));
          } catch {
            return;             // connection cut by the kill
          }
          if (r.status !== 200 || !r.json || r.json.error) return;     // 502 after the kill
          assert.equal(r.json.result.stored, B);
          c.answered.push(from);
          c.pending = null;
          c.next += B;
        }
      };
      const loops = clients.map(run);
      await waitFor(() => clients.every((c) => c.answered.length >= 5), { timeout: 20000, what: 'every client to have 5 answered batches' });
      const old = stack.wharfd;
      process.kill(old.pid, 'SIGKILL');
      killed = true;
      await old.exited;
      await Promise.all(loops);

      // Same address and database: nginx finds it again.
      const fresh = await startWharfd({ dir: stack.dir, logDir: stack.logDir, keys: stack.keys, addr: old.addr, db: stack.wharfdOpts.db, args: ['--threads', '8'] });
      stack.procs.push(fresh);
      stack.wharfd = fresh;
      await waitFor(async () => (await get(`${stack.http}/api/monitoring/health`)).status === 200, { what: 'wharfd back' });

      for (const c of clients) {
        const rows = await stored(c.worker);
        const seqs = new Set(rows.map((r) => r.sequence));
        // Every answered batch is there, whole.
        for (const from of c.answered) {
          for (let s = from; s < from + B; s++) assert.ok(seqs.has(s), `${c.worker}: answered row ${s} missing`);
        }
        // The unanswered batch is all there or not at all; nothing else is.
        const extra = rows.filter((r) => !c.answered.some((f) => r.sequence >= f && r.sequence < f + B));
        if (extra.length) {
          assert.equal(extra.length, B, `${c.worker}: a half-stored batch`);
          assert.equal(extra[0].sequence, c.pending);
        }
        assert.equal(rows.length, c.answered.length * B + extra.length);
        // The client retries what was not answered: idempotent.
        if (c.pending !== null) {
          const r = await rpc(c.token, 'storeLogs', batch(c.worker, c.pending, B));
          assert.ok(!r.json.error, JSON.stringify(r.json));
          assert.equal(r.json.result.stored + r.json.result.duplicates, B);
          c.next = c.pending + B;
        }
        const final = await stored(c.worker);
        assert.equal(final.length, c.next - 1);
        final.forEach((r, i) => {
          assert.equal(r.sequence, i + 1);
          assert.equal(r.message, `${c.worker} row ${i + 1}`);
          assert.equal(r.workerName, c.worker);
        });
      }
    });

    // Under ASan the RSS holds the allocator's quarantine and shadow memory.
    test('1,000,000 logs stream as NDJSON with wharfd under 64 MiB RSS', { skip: SANITIZE && 'RSS is not meaningful under ASan' }, async (t) => {
      const token = stack.mint({ sub: 'bulk', scope: 'ingest' });
      const N = 1_000_000;
      const B = 10_000;
      const msg = 'x'.repeat(60);
      // Four writers in parallel: the writer thread groups their commits.
      const starts = Array.from({ length: N / B }, (_, i) => 1 + i * B);
      const worker = async () => {
        while (starts.length) {
          const from = starts.shift();
          const logs = Array.from({ length: B }, (_, i) => ({ sequence: from + i, level: 'info', message: msg }));
          const r = await rpc(token, 'storeLogs', { instanceId: 'big', logs });
          assert.equal(r.json.result.stored, B);
        }
      };
      await Promise.all([worker(), worker(), worker(), worker()]);

      const pid = stack.wharfd.pid;
      let peak = rssKiB(pid);
      const res = await fetch(`${stack.http}/api/monitoring/logs/big?worker=bulk&format=ndjson&order=asc`,
        { headers: { authorization: `Bearer ${stack.token}` } });
      assert.equal(res.status, 200);
      const reader = res.body.getReader();
      const dec = new TextDecoder();
      let lines = 0;
      let tail = '';
      let last;
      let chunks = 0;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const text = tail + dec.decode(value, { stream: true });
        const parts = text.split('\n');
        tail = parts.pop();
        lines += parts.length;
        if (parts.length) last = parts.at(-1);
        if (++chunks % 50 === 0) peak = Math.max(peak, rssKiB(pid));
      }
      peak = Math.max(peak, rssKiB(pid));
      assert.equal(lines, N + 1);
      assert.deepEqual(JSON.parse(last), { done: true, count: N });
      t.diagnostic(`wharfd RSS peak while streaming ${N} rows: ${peak} KiB`);
      assert.ok(peak < 64 * 1024, `wharfd RSS peaked at ${peak} KiB`);
    });
  });
}

for (const engine of ENGINES) {
  describe(`wharfd retention (${engine})`, () => {
    let stack;
    before(async () => {
      stack = await startStack({
        tag: 'wharfd-ret', engine, workers: [],
        wharfdArgs: ['--max-logs', '10', '--retention-interval', '1', '--retention-worker', 'r3:max-logs=3'],
      });
    });
    after(async () => stack && stack.stop());

    test('--max-logs keeps the newest N per worker, in steps; --retention-worker its own', async () => {
      for (const w of ['r1', 'r2', 'r3']) {
        const logs = Array.from({ length: 2500 }, (_, i) => ({ sequence: i + 1, level: 'info', message: `m${i + 1}` }));
        const res = await fetch(`${stack.http}/rpc`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.token}` },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: M('storeLogs'), params: { worker: w, instanceId: 'i', logs } }),
        });
        assert.equal((await res.json()).result.stored, 2500);
      }
      const count = async (w) => {
        const r = await get(`${stack.http}/api/monitoring/logs?worker=${w}&limit=1000&total=1`,
          { headers: { authorization: `Bearer ${stack.token}` } });
        return r.json;
      };
      await waitFor(async () => (await count('r1')).pagination.total === 10 && (await count('r2')).pagination.total === 10
        && (await count('r3')).pagination.total === 3,
        { timeout: 15000, what: 'retention down to 10 logs per worker, 3 for r3' });
      const kept = await count('r1');
      assert.deepEqual(kept.data.map((l) => l.sequence), Array.from({ length: 10 }, (_, i) => 2500 - i));
      assert.deepEqual((await count('r3')).data.map((l) => l.sequence), [2500, 2499, 2498]);
    });

    test('errors not seen for --error-days (7) are deleted, recent ones kept', async () => {
      const res = await fetch(`${stack.http}/rpc`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.token}` },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: M('storeErrors'), params: { worker: 'r1', instanceId: 'e', errors: [
          { level: 50, message: 'old', timestamp: '2020-01-01T00:00:00.000Z' },
          { level: 50, message: 'recent' },
        ] } }),
      });
      assert.equal((await res.json()).result.stored, 2);
      const list = async () => (await get(`${stack.http}/api/monitoring/errors/e?worker=r1`,
        { headers: { authorization: `Bearer ${stack.token}` } })).json.data.map((e) => e.message);
      await waitFor(async () => (await list()).length === 1, { timeout: 15000, what: 'the old error to go' });
      assert.deepEqual(await list(), ['recent']);
    });
  });
}
