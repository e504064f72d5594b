// The recent rows (fcgi_backend/recent.h): a worker's newest logs kept in
// memory by wharfd's writer, which answer "the latest N logs of worker W".
// Every answer they give is compared, byte for byte, with the database's
// answer to the same read (the same query with a filter that selects the
// same rows, `since` the epoch, which the recent rows never serve), and
// the metrics tell which of the two answered. Also: one wharfd per SQLite
// file, and the recent rows off on PostgreSQL.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { BIN, ENGINES, freePort, startStack, waitFor } from '../lib/stack.mjs';

const M = (name) => `ContainerMonitoringOps.${name}`;
const EPOCH = '1970-01-01T00:00:00.000Z';
const ROWS = 8; // --recent-rows of the stack: the ring's edge is reachable

// Messages with every kind of byte a row's JSON text escapes or keeps.
const ODD = [
  'plain', 'quote " and backslash \\', 'tab\tnewline\ncr\r', 'nul \u0000 bell \u0007 esc \u001b',
  'é ü 日本 🚀', '\u2028 line separator', '</script>', '',
];

function helpers(stackRef) {
  const rpc = async (method, params, token = stackRef().token) => {
    const res = await fetch(`${stackRef().http}/rpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: M(method), params }),
    });
    return res.json();
  };
  // storeLogs of logs [{sequence, ...}] for worker, with its own token.
  const store = async (worker, logs, extra = {}) => {
    const token = stackRef().mint({ sub: worker, scope: 'ingest' });
    const j = await rpc('storeLogs', { instanceId: 'i1', ...extra, logs }, token);
    assert.ok(!j.error, JSON.stringify(j.error));
    return j.result;
  };
  const seqLogs = (from, n, f = (s) => ({ message: `m${s}` })) => Array.from({ length: n }, (_, i) => ({ sequence: from + i, level: 'info', ...f(from + i) }));
  // The REST answer's text for ?worker=W&limit=N, and the database's for
  // the same rows.
  const latest = async (worker, limit, more = '') => {
    const res = await fetch(`${stackRef().http}/api/monitoring/logs?worker=${encodeURIComponent(worker)}&limit=${limit}${more}`, { headers: stackRef().auth });
    const text = await res.text();
    assert.equal(res.status, 200, text);
    return text;
  };
  const fromDb = (worker, limit) => latest(worker, limit, `&since=${EPOCH}`);
  const metrics = async () => {
    const res = await fetch(`${stackRef().http}/api/monitoring/metrics`, { headers: stackRef().auth });
    const text = await res.text();
    const get = (name) => {
      const m = new RegExp(`^${name}\\{[^}]*\\} (\\d+)$`, 'm').exec(text);
      return m ? Number(m[1]) : undefined;
    };
    return {
      hits: get('wharfd_recent_hits_total'), misses: get('wharfd_recent_misses_total'),
      fills: get('wharfd_recent_fills_total'), evictions: get('wharfd_recent_evictions_total'),
      workers: get('wharfd_recent_workers'), bytes: get('wharfd_recent_bytes'),
    };
  };
  // The recent rows' answer (asserted to be theirs by the hit counter)
  // equals the database's.
  const sameAsDb = async (worker, limit) => {
    const m0 = await metrics();
    const mem = await latest(worker, limit);
    const m1 = await metrics();
    const db = await fromDb(worker, limit);
    assert.equal(mem, db, `worker ${worker} limit ${limit}: the recent rows' answer differs from the database's`);
    return { text: mem, hit: m1.hits - m0.hits === 1, body: JSON.parse(mem) };
  };
  return { rpc, store, seqLogs, latest, fromDb, metrics, sameAsDb };
}

describe('wharfd recent rows (sqlite)', () => {
  let stack;
  const h = helpers(() => stack);
  before(async () => {
    stack = await startStack({
      tag: 'wharfd-recent',
      workers: [],
      wharfdArgs: ['--recent-rows', String(ROWS), '--recent-memory', '65536', '--recent-idle', '2',
        '--retention-interval', '1', '--retention-worker', 'kept3:max-logs=3'],
    });
  });
  after(async () => stack && stack.stop());

  test('the first read fills from the database, the next is answered from memory, byte for byte the same', async () => {
    await h.store('odd', ODD.map((message, i) => ({
      sequence: i + 1, level: ['info', 'warn', 'error', 'debug'][i % 4], message,
      ...(i % 2 ? { stream: 'stderr', source: 'pino', metadata: { k: i, s: 'x"y', n: null, u: 'ü' } } : {}),
    })), { processId: 'web' });
    await h.store('odd', [{ sequence: 1, level: 'info', message: 'a resend: not a new row' }], { instanceId: 'i2' });
    const m0 = await h.metrics();
    const first = await h.latest('odd', ROWS);
    const m1 = await h.metrics();
    assert.equal(m1.misses - m0.misses, 1, 'the first read is a miss');
    assert.equal(m1.fills - m0.fills, 1, 'and its rows are kept');
    assert.equal(first, await h.fromDb('odd', ROWS));
    const second = await h.sameAsDb('odd', ROWS);
    assert.ok(second.hit, 'the second read is answered from memory');
    assert.equal(second.text, first);
    assert.equal(second.body.data.length, ROWS);
    assert.equal(second.body.data[0].message, 'a resend: not a new row');
    // every limit up to --recent-rows, from memory
    for (let n = 1; n <= ROWS; n++) assert.ok((await h.sameAsDb('odd', n)).hit, `limit ${n}`);
    // the single getLogs call takes the same path: same rows as REST
    const j = await h.rpc('getLogs', { worker: 'odd', limit: 3 });
    assert.deepEqual(j.result.data, second.body.data.slice(0, 3));
  });

  test('rows written after the fill are in the very next answer; a resend adds nothing', async () => {
    await h.store('live', h.seqLogs(1, 3));
    await h.latest('live', ROWS); // fill
    for (let s = 4; s <= 20; s += 2) {
      await h.store('live', h.seqLogs(s, 2));
      const r = await h.sameAsDb('live', ROWS);
      assert.ok(r.hit, `after sequence ${s + 1}: from memory`);
      assert.equal(r.body.data[0].sequence, s + 1, 'read-your-writes: the newest row just stored');
    }
    const before = await h.latest('live', ROWS);
    await h.store('live', h.seqLogs(15, 6)); // all resends
    assert.equal(await h.latest('live', ROWS), before);
  });

  test('hasMore at the ring\'s edge; a limit above --recent-rows goes to the database', async () => {
    await h.store('edge', h.seqLogs(1, ROWS));
    await h.latest('edge', ROWS); // fill: exactly ROWS rows, none older
    let r = await h.sameAsDb('edge', ROWS);
    assert.ok(r.hit);
    assert.equal(r.body.pagination.hasMore, false);
    r = await h.sameAsDb('edge', ROWS - 1);
    assert.equal(r.body.pagination.hasMore, true);
    await h.store('edge', h.seqLogs(ROWS + 1, 1)); // the oldest leaves the ring
    r = await h.sameAsDb('edge', ROWS);
    assert.ok(r.hit);
    assert.equal(r.body.pagination.hasMore, true, 'an older row exists beyond the ring');
    assert.deepEqual(r.body.data.map((x) => x.sequence), [9, 8, 7, 6, 5, 4, 3, 2]);
    const m0 = await h.metrics();
    const big = await h.latest('edge', ROWS + 1);
    const m1 = await h.metrics();
    assert.equal(m1.hits, m0.hits, 'not served from memory');
    assert.equal(m1.misses, m0.misses, 'and not counted as a miss: it is not a read they serve');
    assert.equal(JSON.parse(big).data.length, ROWS + 1);
    // filtered reads are the database's too
    const lvl = await h.latest('edge', 2, '&levels=info');
    assert.equal((await h.metrics()).hits, m1.hits);
    assert.equal(JSON.parse(lvl).data.length, 2);
  });

  test('clearLogs empties them at once, and new rows show again', async () => {
    await h.store('clr', h.seqLogs(1, 5));
    await h.latest('clr', ROWS);
    assert.ok((await h.sameAsDb('clr', ROWS)).hit);
    const j = await h.rpc('clearLogs', { worker: 'clr', confirm: true });
    assert.equal(j.result.clearedCount, 5);
    let r = await h.latest('clr', ROWS);
    assert.deepEqual(JSON.parse(r).data, []);
    assert.equal(r, await h.fromDb('clr', ROWS));
    await h.store('clr', h.seqLogs(6, 2));
    await h.latest('clr', ROWS); // fill again
    r = await h.sameAsDb('clr', ROWS);
    assert.ok(r.hit);
    assert.deepEqual(r.body.data.map((x) => x.sequence), [7, 6]);
    // untilId: only the rows up to it go
    await h.rpc('clearLogs', { worker: 'clr', confirm: true, untilId: r.body.data[1].id });
    r = await h.sameAsDb('clr', ROWS);
    assert.deepEqual(r.body.data.map((x) => x.sequence), [7]);
  });

  test('retention deletes under them: the answers stay the database\'s', async () => {
    await h.store('kept3', h.seqLogs(1, 6));
    await h.latest('kept3', ROWS); // may fill before or after retention runs
    await waitFor(async () => JSON.parse(await h.fromDb('kept3', ROWS)).data.length === 3, { what: 'retention to keep 3 logs of kept3' });
    await waitFor(async () => (await h.latest('kept3', ROWS)) === (await h.fromDb('kept3', ROWS)), { what: 'the recent rows to agree after retention' });
    const r = await h.sameAsDb('kept3', ROWS);
    assert.deepEqual(r.body.data.map((x) => x.sequence), [6, 5, 4]);
    assert.equal(r.body.pagination.hasMore, false);
  });

  test('concurrent writers and readers: every answer is the newest rows, contiguous, never behind an acknowledged write', async () => {
    let acked = 0;
    let stop = false;
    const writer = (async () => {
      let s = 1;
      while (!stop) {
        const n = 1 + (s % 4);
        await h.store('busy', h.seqLogs(s, n));
        s += n;
        acked = s - 1;
      }
    })();
    let answers = 0;
    const reader = async () => {
      while (!stop) {
        const floor = acked;
        const body = JSON.parse(await h.latest('busy', ROWS));
        const seqs = body.data.map((x) => x.sequence);
        if (floor > 0) {
          assert.ok(seqs[0] >= floor, `an answer behind an acknowledged write: newest ${seqs[0]} < ${floor}`);
          assert.equal(seqs.length, Math.min(ROWS, seqs[0]));
        }
        for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1] - 1, `a gap: ${seqs.join(',')}`);
        answers++;
      }
    };
    const m0 = await h.metrics();
    const readers = Array.from({ length: 6 }, reader);
    try {
      await Promise.race([Promise.all(readers),
        waitFor(async () => answers >= 600, { timeout: 30000, what: '600 answers under concurrent writes' })]);
    } finally {
      stop = true;
      await Promise.allSettled([writer, ...readers]);
    }
    await Promise.all([writer, ...readers]);
    const m1 = await h.metrics();
    assert.ok(m1.hits - m0.hits > 300, `most answers from memory (${m1.hits - m0.hits} of ${answers})`);
    assert.ok((await h.sameAsDb('busy', ROWS)).hit);
  });

  test('fills racing writes: a fill that may have missed a row is not kept', async () => {
    // clearLogs with untilId 0 deletes nothing but drops the worker's
    // recent rows, so reads keep filling while a writer writes: a fill
    // kept after a write it did not see would answer behind the writer.
    let acked = 0;
    let stop = false;
    const writer = (async () => {
      for (let s = 1; !stop; s++) {
        await h.store('race', h.seqLogs(s, 1));
        acked = s;
      }
    })();
    const dropper = (async () => {
      while (!stop) assert.ok(!(await h.rpc('clearLogs', { worker: 'race', confirm: true, untilId: 0 })).error);
    })();
    let answers = 0;
    const reader = async () => {
      while (!stop) {
        const floor = acked;
        const seqs = JSON.parse(await h.latest('race', ROWS)).data.map((x) => x.sequence);
        if (floor > 0) assert.ok(seqs[0] >= floor, `behind an acknowledged write: newest ${seqs[0]} < ${floor}`);
        for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1] - 1, `a gap: ${seqs.join(',')}`);
        answers++;
      }
    };
    const m0 = await h.metrics();
    const readers = Array.from({ length: 4 }, reader);
    try {
      await Promise.race([Promise.all([dropper, ...readers]),
        waitFor(async () => answers >= 1500, { timeout: 30000, what: '1500 answers with fills racing writes' })]);
    } finally {
      stop = true;
      await Promise.allSettled([writer, dropper, ...readers]);
    }
    await Promise.all([writer, dropper, ...readers]);
    const m1 = await h.metrics();
    assert.ok(m1.fills - m0.fills > 20, `fills happened (${m1.fills - m0.fills})`);
    // whatever was kept last answers as the database does
    await h.latest('race', ROWS);
    assert.ok((await h.sameAsDb('race', ROWS)).hit);
  });

  test('--recent-memory: the least recently read go first, and the bound holds', async () => {
    // 40 workers of ROWS rows of ~1 KB each: ~8-10 KB each, past 64 KiB
    const pad = 'p'.repeat(900);
    for (let w = 0; w < 40; w++) await h.store(`mem${w}`, h.seqLogs(1, ROWS, (s) => ({ message: `${s}${pad}` })));
    const m0 = await h.metrics();
    for (let w = 0; w < 40; w++) await h.latest(`mem${w}`, ROWS);
    const m1 = await h.metrics();
    assert.ok(m1.evictions > m0.evictions, 'tails were evicted');
    assert.ok(m1.bytes <= 65536, `held ${m1.bytes} bytes, over --recent-memory 65536`);
    // the most recently read is still there, the first one is not
    let r = await h.sameAsDb('mem39', ROWS);
    assert.ok(r.hit);
    const m2 = await h.metrics();
    await h.latest('mem0', ROWS);
    assert.equal((await h.metrics()).hits, m2.hits, 'mem0, read first, was evicted');
    r = await h.sameAsDb('mem0', ROWS);
    assert.equal(r.body.data.length, ROWS);
  });

  test('--recent-idle: a worker not read for 2 s is dropped at its next write', async () => {
    await h.store('idle', h.seqLogs(1, 2));
    await h.latest('idle', ROWS);
    const w0 = (await h.metrics()).workers;
    const t0 = Date.now();
    let s = 3;
    await waitFor(async () => {
      await h.store('idle', h.seqLogs(s++, 1));
      return (await h.metrics()).workers === w0 - 1;
    }, { timeout: 10000, interval: 200, what: 'the idle worker\'s rows to be dropped' });
    assert.ok(Date.now() - t0 >= 1900, 'not before --recent-idle');
    // the next read fills them again, with every row
    await h.latest('idle', ROWS);
    const r = await h.sameAsDb('idle', ROWS);
    assert.ok(r.hit);
    assert.equal(r.body.data[0].sequence, s - 1);
  });

  test('one wharfd per SQLite file: a second is refused, saying why, and the first serves on', async () => {
    const db = stack.wharfdOpts.db || `${stack.dir}/wharf.db`;
    const p = spawn(BIN.wharfd, ['--listen', `127.0.0.1:${await freePort()}`, '--db', db, '--auth', 'off'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    p.stderr.on('data', (c) => { err += c; });
    const code = await new Promise((resolve) => p.on('exit', resolve));
    assert.equal(code, 1, err);
    assert.match(err, new RegExp(`database ${db.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is in use by another wharfd \\(pid ${stack.wharfd.pid};`));
    assert.match(err, /one wharfd per SQLite file/);
    assert.equal((await fetch(`${stack.http}/api/monitoring/health`)).status, 200);
  });
});

if (ENGINES.includes('postgresql')) {
  describe('wharfd recent rows (postgresql): off, other wharfd write too', () => {
    let stack;
    const h = helpers(() => stack);
    before(async () => { stack = await startStack({ tag: 'wharfd-recent-pg', workers: [], engine: 'postgresql' }); });
    after(async () => stack && stack.stop());

    test('latest-N reads go to the database every time', async () => {
      await h.store('pgw', h.seqLogs(1, 5));
      await h.latest('pgw', 5);
      await h.latest('pgw', 5);
      const m = await h.metrics();
      assert.equal(m.hits, 0);
      assert.equal(m.workers, 0);
      assert.deepEqual(JSON.parse(await h.latest('pgw', 5)).data.map((x) => x.sequence), [5, 4, 3, 2, 1]);
    });
  });
}
