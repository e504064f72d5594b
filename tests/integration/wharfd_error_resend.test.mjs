// storeErrors / storeError resent after a lost answer: each occurrence
// carries the sequence of the log line it was seen in, and one already
// counted changes nothing (docs/wharfd.md, storeErrors). Through the real
// nginx, on a real SQLite file, both ingest paths (the fast path takes a
// plain storeErrors request; a JSON-RPC batch with another method goes
// through jansson). Then a database written by the version-1 wharfd
// (tests/fixtures/wharfd/v1.db) is upgraded in place and used.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { ENGINES, ROOT, get, startStack, startWharfd, tempDir, waitFor } from '../lib/stack.mjs';

const M = (name) => `ContainerMonitoringOps.${name}`;
const TS = (s) => `2026-11-27T09:00:${String(s).padStart(2, '0')}.000Z`;

// An error element: message key k (A, B, ...), log-line sequence seq
// (undefined: none), at second s.
const el = (k, seq, s = seq ?? 0, extra = {}) => ({
  level: 50, message: `TypeError: ${k} is undefined at App.tsx:4:2`, timestamp: TS(s % 60),
  ...(seq === undefined ? {} : { sequence: seq }), ...extra,
});

function client(stack, worker) {
  const token = stack.mint({ sub: worker, scope: 'ingest' });
  const post = async (body, tok = token) => {
    const r = await get(`${stack.http}/rpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tok}` },
      body: JSON.stringify(body),
    });
    assert.equal(r.status, 200, r.body);
    return r.json;
  };
  const call = async (method, params, id = 1) => {
    const j = await post({ jsonrpc: '2.0', id, method: M(method), params });
    assert.ok(!j.error, JSON.stringify(j.error));
    return j.result;
  };
  // storeErrors inside a JSON-RPC batch with a heartbeat: the jansson path.
  const batched = async (params) => {
    const j = await post([
      { jsonrpc: '2.0', id: 1, method: M('heartbeat'), params: {} },
      { jsonrpc: '2.0', id: 2, method: M('storeErrors'), params },
    ]);
    const r = j.find((x) => x.id === 2);
    assert.ok(r && !r.error, JSON.stringify(j));
    return r.result;
  };
  const rows = async (instance) => {
    const r = await get(`${stack.http}/api/monitoring/errors/${instance}?worker=${worker}&limit=1000`,
      { headers: { authorization: `Bearer ${stack.token}` } });
    assert.equal(r.status, 200, r.body);
    return Object.fromEntries(r.json.data.map((e) => [e.message.split(' ')[1], e]));
  };
  return { token, post, call, batched, rows };
}

const counts = (res) => res.errors.map((e) => e.occurrenceCount);
const dups = (res) => res.errors.map((e) => (e.duplicate === true ? 1 : 0)).join('');

for (const engine of ENGINES) {
  describe(`storeErrors resent through nginx (${engine})`, () => {
    let stack;
    let c;
    before(async () => {
      stack = await startStack({ tag: 'wharfd-eres', engine, workers: [] });
      c = client(stack, 'res-1');
    });
    after(async () => stack && stack.stop());

    test('the same batch sent twice counts once, and the rows do not change', async () => {
      const params = { instanceId: 'twice', errors: [el('A', 1), el('B', 2), el('A', 3), el('C', 4), el('A', 5)] };
      const first = await c.call('storeErrors', params);
      assert.deepEqual([first.stored, first.repeated, first.duplicates], [3, 2, 0]);
      assert.deepEqual(counts(first), [1, 1, 2, 1, 3]);
      assert.equal(dups(first), '00000');
      assert.deepEqual(Object.keys(first.errors[0]).sort(), ['errorHash', 'occurrenceCount']);
      const before1 = await c.rows('twice');

      // resent as it was (fast path), then inside a batch (jansson path)
      for (const send of [(p) => c.call('storeErrors', p), (p) => c.batched(p)]) {
        const again = await send(params);
        assert.deepEqual([again.stored, again.repeated, again.duplicates], [0, 0, 5]);
        assert.deepEqual(counts(again), [3, 1, 3, 1, 3]);
        assert.equal(dups(again), '11111');
        assert.deepEqual(again.errors.map((e) => e.errorHash), first.errors.map((e) => e.errorHash));
      }
      const after1 = await c.rows('twice');
      assert.deepEqual(after1, before1, 'a resend changes no column of any row');
      assert.deepEqual([after1.A.occurrenceCount, after1.B.occurrenceCount, after1.C.occurrenceCount], [3, 1, 1]);
      const sum = await get(`${stack.http}/api/monitoring/errors/twice/summary?worker=res-1`,
        { headers: { authorization: `Bearer ${stack.token}` } });
      assert.equal(sum.json.totalErrors, 5);
    });

    test('a batch overlapping an earlier one counts only its new occurrences', async () => {
      const first = await c.batched({ instanceId: 'overlap', errors: [el('A', 10), el('B', 11), el('A', 12), el('B', 13)] });
      assert.deepEqual(counts(first), [1, 1, 2, 2]);
      // half old (12, 13), half new (14, 15, 16); A@14 twice in the batch
      const second = await c.call('storeErrors', { instanceId: 'overlap', errors: [
        el('A', 12, 12, { rawOutput: 'resent' }), el('B', 13), el('A', 14, 14, { rawOutput: 'a14' }),
        el('B', 15, 15, { rawOutput: 'b15' }), el('D', 16), el('A', 14, 14, { rawOutput: 'a14 again' }),
      ] });
      assert.deepEqual([second.stored, second.repeated, second.duplicates], [1, 2, 3]);
      assert.deepEqual(counts(second), [2, 2, 3, 3, 1, 3]);
      assert.equal(dups(second), '110001');
      const r = await c.rows('overlap');
      assert.equal(r.A.occurrenceCount, 3);
      assert.equal(r.A.rawOutput, 'a14', 'the counted occurrence\'s raw output, not a resent one\'s');
      assert.equal(r.A.lastSeen, TS(14));
      assert.equal(r.B.occurrenceCount, 3);
      assert.equal(r.B.rawOutput, 'b15');
      assert.equal(r.D.occurrenceCount, 1);
      // and the whole second batch again: nothing
      const third = await c.call('storeErrors', { instanceId: 'overlap', errors: [el('A', 14), el('B', 15), el('D', 16)] });
      assert.equal(third.duplicates, 3);
      assert.deepEqual(counts(third), [3, 3, 1]);
    });

    test('without a sequence every send counts, as before', async () => {
      const params = { instanceId: 'plain', errors: [el('A'), el('A'), el('B')] };
      const first = await c.call('storeErrors', params);
      assert.deepEqual(counts(first), [1, 2, 1]);
      const again = await c.batched(params);
      assert.deepEqual(counts(again), [3, 4, 2]);
      assert.deepEqual([again.stored, again.repeated, again.duplicates], [0, 3, 0]);
      assert.equal(dups(again), '000');
      const one = await c.call('storeError', { instanceId: 'plain', ...el('A') });
      assert.deepEqual(one, { errorHash: first.errors[0].errorHash, occurrenceCount: 5, stored: 0 });
      // a sequence on a row counted without one: counted, and from then on once
      const seq = await c.call('storeError', { instanceId: 'plain', ...el('A', 1) });
      assert.equal(seq.occurrenceCount, 6);
      const seqAgain = await c.call('storeError', { instanceId: 'plain', ...el('A', 1) });
      assert.deepEqual(seqAgain, { errorHash: first.errors[0].errorHash, occurrenceCount: 6, stored: 0, duplicate: true });
      assert.equal((await c.rows('plain')).A.occurrenceCount, 6);
    });

    test('getLastSequence is above every sequence a counted error carries', async () => {
      // logs 1..3 stored; an error seen in line 9, whose line was dropped
      await c.call('storeLogs', { instanceId: 'gap', logs: [1, 2, 3].map((n) => ({
        sequence: n, timestamp: TS(n), level: 'info', stream: 'stdout', message: `line ${n}` })) });
      assert.deepEqual(await c.call('getLastSequence', { instanceId: 'gap' }), { instanceId: 'gap', lastSequence: 3 });
      await c.call('storeErrors', { instanceId: 'gap', errors: [el('G', 9)] });
      assert.deepEqual(await c.call('getLastSequence', { instanceId: 'gap' }), { instanceId: 'gap', lastSequence: 9 });
      // an agent restarted here numbers from 10: the same error again counts
      const next = await c.call('storeErrors', { instanceId: 'gap', errors: [el('G', 10)] });
      assert.deepEqual([next.duplicates, counts(next)], [0, [2]]);
      // errors without a sequence and other instances do not move it
      await c.call('storeErrors', { instanceId: 'gap', errors: [el('H')] });
      await c.call('storeErrors', { instanceId: 'gap-other', errors: [el('G', 500)] });
      assert.equal((await c.call('getLastSequence', { instanceId: 'gap' })).lastSequence, 10);
    });

    test('a bad sequence is -32602 naming the field, and stores nothing', async () => {
      for (const bad of [0, -1, 1.5, '3', true, false, {}, [], 1e300]) {
        const j = await c.post({ jsonrpc: '2.0', id: 9, method: M('storeErrors'), params: {
          instanceId: 'bad', errors: [el('A', 1), { ...el('B'), sequence: bad }],
        } });
        assert.equal(j.error?.code, -32602, `${JSON.stringify(bad)}: ${JSON.stringify(j)}`);
        assert.equal(j.error.data.field, 'errors[1].sequence');
        const one = await c.post({ jsonrpc: '2.0', id: 9, method: M('storeError'), params: {
          instanceId: 'bad', ...el('B'), sequence: bad,
        } });
        assert.equal(one.error?.code, -32602, JSON.stringify(one));
        assert.equal(one.error.data.field, 'sequence');
      }
      // null is "no sequence", as for every optional member
      const ok = await c.call('storeErrors', { instanceId: 'bad', errors: [{ ...el('C'), sequence: null }] });
      assert.deepEqual(counts(ok), [1]);
      assert.deepEqual(Object.keys(await c.rows('bad')), ['C'], 'nothing of the refused calls was stored');
    });
  });
}

// Prints a line, waits for the file `go` to appear (the test creates it
// once that line is stored, so the agent knows its sequence base), then
// prints two errors, one of them twice, and a last plain line.
const APP = (go) => `
const fs = require('fs');
console.log('ready');
const t = setInterval(() => {
  if (!fs.existsSync(${JSON.stringify(go)})) return;
  clearInterval(t);
  for (const m of ['db timeout at 127.0.0.1:5432', 'disk gone', 'db timeout at 127.0.0.1:6543']) {
    console.log(JSON.stringify({ level: 50, msg: m }));
  }
  console.log('done');
}, 20);
`;

for (const engine of ENGINES) {
  describe(`errors shipped by a real agent (${engine})`, () => {
    let stack;
    let dir;
    before(async () => {
      dir = tempDir('wharfd-eagent-app');
      stack = await startStack({
        tag: 'wharfd-eagent',
        engine,
        workers: [{
          name: 'eship', ship: true,
          config: { processes: [
            { instanceId: 'app', command: 'node', args: ['-e', APP(path.join(dir, 'go'))], maxRestarts: 0 },
            // an error as the very first line: seen before getLastSequence is
            // answered, it gets its line's sequence when it leaves
            { instanceId: 'early', command: 'node', maxRestarts: 0, args: ['-e',
              "console.log(JSON.stringify({ level: 50, msg: 'early boom' })); console.log('after'); setInterval(() => {}, 1000);"] },
          ] },
        }],
      });
    });
    after(async () => {
      if (stack) await stack.stop();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    test('carry the sequence of the line they were seen in', async () => {
      const h = { headers: { authorization: `Bearer ${stack.token}` } };
      const logs = async () => (await get(`${stack.http}/api/monitoring/logs/app?worker=eship&order=asc&limit=100`, h)).json.data;
      await waitFor(async () => (await logs()).some((l) => l.message === 'ready'), { timeout: 15000, what: 'the first line stored' });
      fs.writeFileSync(path.join(dir, 'go'), '');
      await waitFor(async () => (await logs()).some((l) => l.message === 'done'), { timeout: 15000, what: 'the last line stored' });
      const seqOf = Object.fromEntries((await logs()).map((l) => [l.message, l.sequence]));
      const line = (m) => seqOf[JSON.stringify({ level: 50, msg: m })];
      await waitFor(async () => {
        const e = await get(`${stack.http}/api/monitoring/errors/app?worker=eship`, h);
        return e.json.data.reduce((n, x) => n + x.occurrenceCount, 0) === 3;
      }, { timeout: 15000, what: 'three error occurrences stored' });
      const rows = await stack.rows("SELECT message, occurrence_count AS n, last_sequence AS s FROM container_errors WHERE worker_name = 'eship' AND instance_id = 'app' ORDER BY id");
      // the :PORT rule makes both db timeouts one error
      assert.deepEqual(rows, [
        { message: 'db timeout at 127.0.0.1:5432', n: 2, s: line('db timeout at 127.0.0.1:6543') },
        { message: 'disk gone', n: 1, s: line('disk gone') },
      ]);
      assert.ok(line('disk gone') > seqOf.ready, 'the sequences are the lines\' own');
    });

    test('an error seen before getLastSequence answered leaves with its line\'s sequence', async () => {
      const h = { headers: { authorization: `Bearer ${stack.token}` } };
      const logs = async () => (await get(`${stack.http}/api/monitoring/logs/early?worker=eship&order=asc&limit=10`, h)).json.data;
      await waitFor(async () => (await logs()).some((l) => l.message === 'after'), { timeout: 15000, what: 'the early lines stored' });
      const seq = (await logs()).find((l) => l.message === JSON.stringify({ level: 50, msg: 'early boom' })).sequence;
      await waitFor(async () => (await get(`${stack.http}/api/monitoring/errors/early?worker=eship`, h)).json.data.length === 1,
        { timeout: 15000, what: 'the early error stored' });
      const rows = await stack.rows("SELECT occurrence_count AS n, last_sequence AS s FROM container_errors WHERE worker_name = 'eship' AND instance_id = 'early'");
      assert.deepEqual(rows, [{ n: 1, s: seq }]);
    });
  });
}

describe('a database written by the version-1 wharfd', () => {
  let stack;
  let c;
  let fresh;
  before(async () => {
    stack = await startStack({ tag: 'wharfd-v1', workers: [] });
    c = client(stack, 'old-1');
    // wharfd stopped, its database replaced by the version-1 file, started
    // again on the same address: an upgrade in place.
    const old = stack.wharfd;
    await old.stop();
    const db = path.join(stack.dir, 'wharf.db');
    for (const f of [db, `${db}-wal`, `${db}-shm`]) fs.rmSync(f, { force: true });
    fs.copyFileSync(path.join(ROOT, 'tests/fixtures/wharfd/v1.db'), db);
    // retention off: the fixture's rows are older than the 7 days kept
    fresh = await startWharfd({ dir: stack.dir, logDir: stack.logDir, keys: stack.keys, addr: old.addr,
      args: ['--retention-interval', '0'] });
    stack.procs.push(fresh);
    stack.wharfd = fresh;
    await waitFor(async () => (await get(`${stack.http}/api/monitoring/health`)).status === 200, { what: 'wharfd back' });
  });
  after(async () => stack && stack.stop());

  test('it applies 0002 once and reads every version-1 row back', async () => {
    // the log file is shared with the first wharfd: this one's lines only
    const log = fs.readFileSync(fresh.logPath, 'utf8').split('\n')
      .filter((l) => l.includes(`wharfd[${fresh.pid}]`)).join('\n');
    assert.match(log, /applying schema migration 0002_error_sequence/);
    assert.doesNotMatch(log, /applying schema migration 0001_init/);
    const h = { headers: { authorization: `Bearer ${stack.token}` } };
    const logs = await get(`${stack.http}/api/monitoring/logs/app?worker=old-1&order=asc`, h);
    assert.deepEqual(logs.json.data.map((l) => [l.sequence, l.level, l.message]), [
      [1, 'info', 'started'], [2, 'error', 'TypeError: x is undefined at App.tsx:42:15']]);
    assert.deepEqual(logs.json.data[1].metadata, { split: false });
    const errs = await get(`${stack.http}/api/monitoring/errors/app?worker=old-1`, h);
    const byLevel = Object.fromEntries(errs.json.data.map((e) => [e.level, e]));
    assert.equal(byLevel[50].occurrenceCount, 3);
    assert.equal(byLevel[50].rawOutput, 'third');
    assert.equal(byLevel[50].firstSeen, '2026-11-20T10:00:01.000Z');
    assert.equal(byLevel[60].occurrenceCount, 1);
    const proc = await get(`${stack.http}/api/monitoring/process/app/status?worker=old-1`, h);
    assert.equal(proc.json.status, 'running');
    assert.deepEqual(proc.json.args, ['server.js']);
    const ev = await get(`${stack.http}/api/monitoring/events?worker=old-1`, h);
    assert.deepEqual(ev.json.data.map((e) => [e.type, e.payload]), [['process_started', { pid: 42 }]]);
    const w = await get(`${stack.http}/api/monitoring/workers`, h);
    assert.equal(w.json.workers.find((x) => x.name === 'old-1').agentVersion, '0.9');
  });

  test('ingestion goes on: an old row counts on, then idempotently', async () => {
    const msg = 'TypeError: x is undefined at App.tsx:99:9';   // the old row's fingerprint
    const r = await c.call('storeErrors', { instanceId: 'app', errors: [{ level: 50, message: msg, sequence: 3 }] });
    assert.deepEqual(counts(r), [4]);
    const again = await c.call('storeErrors', { instanceId: 'app', errors: [{ level: 50, message: msg, sequence: 3 }] });
    assert.deepEqual([counts(again), dups(again)], [[4], '1']);
    const logs = await c.call('storeLogs', { instanceId: 'app', logs: [{ sequence: 2, level: 'info', message: 'x' }, { sequence: 3, level: 'info', message: 'y' }] });
    assert.deepEqual(logs, { stored: 1, duplicates: 1, lastSequence: 3 });
    await stack.wharfd.stop();
    const d = new Database(path.join(stack.dir, 'wharf.db'), { readonly: true });
    try {
      assert.deepEqual(d.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all(),
        [{ version: 1, name: '0001_init' }, { version: 2, name: '0002_error_sequence' }]);
      assert.deepEqual(d.prepare('SELECT level, occurrence_count AS n, last_sequence AS s FROM container_errors ORDER BY level').all(),
        [{ level: 50, n: 4, s: 3 }, { level: 60, n: 1, s: null }]);
    } finally {
      d.close();
    }
  });
});
