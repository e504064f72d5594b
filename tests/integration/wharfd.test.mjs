// wharfd behind the real nginx, on a real SQLite file: the JSON-RPC 2.0
// envelope, every ContainerMonitoringOps method, auth (-32001/-32003 and
// worker stamping), the REST routes, NDJSON streaming, and bad input.
// The contract is docs/wharfd.md.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { ENGINES, get, startStack, waitFor, TOKEN_LEEWAY } from '../lib/stack.mjs';

const M = (name) => `ContainerMonitoringOps.${name}`;

// The error fingerprint as docs/wharfd.md states it, with JavaScript's
// own regular expressions (the peer's rules, :LINE:COL before :PORT).
function errhash(message, level) {
  const cleaned = message
    .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/g, 'TIMESTAMP')
    .replace(/\b\d{13}\b/g, 'UNIX_TIME')
    .replace(/(:\d+):(\d+)/g, ':LINE:COL')
    .replace(/:\d{4,5}\b/g, ':PORT')
    .replace(/\?v=[a-f0-9]+/g, '?v=HASH')
    .replace(/\s+/g, ' ').trim().substring(0, 500);
  return crypto.createHash('sha256').update(cleaned + String(level)).digest('hex');
}

for (const engine of ENGINES) {
  describe(`wharfd through nginx (${engine})`, () => {
    let stack;
    let op; // operator token: sub *, every scope
    let ingestA; // worker-a's agent token
    let ingestB;
    let readA; // a reader confined to worker-a
    let readOnly; // sub *, read only

    before(async () => {
      stack = await startStack({
        tag: 'wharfd',
        engine,
        // An upstream where nothing listens: process control must fail fast.
        workers: [{ name: 'ghost', addr: '127.0.0.1:9' }],
      });
      op = stack.token;
      ingestA = stack.mint({ sub: 'worker-a', scope: 'ingest' });
      ingestB = stack.mint({ sub: 'worker-b', scope: 'ingest' });
      readA = stack.mint({ sub: 'worker-a', scope: 'read' });
      readOnly = stack.mint({ sub: '*', scope: 'read' });
    });
    after(async () => stack && stack.stop());

    const post = (body, token = op, { raw = false, headers = {} } = {}) => get(`${stack.http}/rpc`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...headers,
      },
      body: raw ? body : JSON.stringify(body),
    });
    let nextId = 1;
    const call = async (method, params, token = op) => {
      const id = nextId++;
      const r = await post({ jsonrpc: '2.0', id, method: M(method), params }, token);
      // a call the token does not allow is 403 (RFC 6750), the JSON-RPC
      // error its body; anything else 200
      assert.equal(r.status, r.json?.error?.code === -32003 ? 403 : 200, r.body);
      assert.equal(r.json.id, id);
      return r.json;
    };
    const ok = async (method, params, token) => {
      const r = await call(method, params, token);
      assert.ok(!r.error, `${method}: ${JSON.stringify(r.error)}`);
      return r.result;
    };
    const rest = (p, token = op, opts = {}) => get(`${stack.http}${p}`, {
      ...opts,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(opts.headers || {}) },
    });
    const logs = (from, n, extra = {}) => Array.from({ length: n }, (_, i) => ({
      sequence: from + i,
      timestamp: new Date(Date.UTC(2026, 10, 27, 9, 0, 0) + (from + i) * 1000).toISOString(),
      level: ['info', 'warn', 'error', 'debug', 'output'][(from + i) % 5],
      message: `line ${from + i}`,
      stream: (from + i) % 2 ? 'stderr' : 'stdout',
      ...extra,
    }));

    test('health answers without a token', async () => {
      const r = await get(`${stack.http}/api/monitoring/health`);
      assert.equal(r.status, 200);
      assert.equal(r.json.status, 'ok');
      assert.equal(r.json.database, 'ok');
      assert.ok(r.json.schema_version >= 1);
    });

    describe('auth', () => {
      test('no token: 401 with -32001 on RPC, 401 on REST, each with its challenge', async () => {
        const r = await post({ jsonrpc: '2.0', id: 1, method: M('getWorkers') }, null);
        assert.equal(r.status, 401);
        assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="wharf"');
        assert.equal(r.json.error.code, -32001);
        // credentials come first: a wrong Content-Type without a token is 401
        const t = await post('x', null, { raw: true, headers: { 'content-type': 'text/plain' } });
        assert.equal(t.status, 401);
        assert.equal(t.json.error.code, -32001);
        const g = await rest('/api/monitoring/logs', null);
        assert.equal(g.status, 401);
        assert.equal(g.json.error.code, 'unauthorized');
      });

      test('forged tokens are refused: HS256, none, wrong key, expired', async () => {
        const other = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
        const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
        const now = Math.floor(Date.now() / 1000);
        const claims = { sub: '*', scope: 'read ingest admin', exp: now + 600 };
        const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
        const hsInput = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
        const hs = `${hsInput}.${crypto.createHmac('sha256', 'secret').update(hsInput).digest('base64url')}`;
        const wrongKey = (await import('../lib/stack.mjs')).mintToken(other.privateKey, claims);
        const expired = stack.mint({ sub: '*', scope: 'read', exp: now - TOKEN_LEEWAY - 10 });
        for (const t of [none, hs, wrongKey, expired, 'garbage']) {
          const r = await post({ jsonrpc: '2.0', id: 1, method: M('getWorkers') }, t);
          assert.equal(r.status, 401, t);
          assert.match(r.headers.get('www-authenticate'), /^Bearer realm="wharf", error="invalid_token"/);
          assert.equal(r.json.error.code, -32001, t);
        }
      });

      test('missing scope: -32003 (RPC) and 403 (REST)', async () => {
        const r = await call('storeLogs', { worker: 'worker-a', instanceId: 'i1', logs: logs(1, 1) }, readOnly);
        assert.equal(r.error.code, -32003);
        const c = await call('clearLogs', { worker: 'worker-a', confirm: true }, readOnly);
        assert.equal(c.error.code, -32003);
        const g = await rest('/api/monitoring/logs', ingestA);
        assert.equal(g.status, 403);
      });

      test('a container token writes as its own worker only, and reads nothing else', async () => {
        // Stamped from the token: no worker in params.
        const s = await ok('storeLogs', { instanceId: 'own', logs: logs(1, 2) }, ingestA);
        assert.equal(s.stored, 2);
        const asOther = await call('storeLogs', { worker: 'worker-b', instanceId: 'own', logs: logs(3, 1) }, ingestA);
        assert.equal(asOther.error.code, -32003);
        assert.equal(asOther.error.data.field, 'worker');
        const errOther = await call('storeErrors', { worker: 'worker-b', instanceId: 'own', errors: [{ level: 50, message: 'x' }] }, ingestA);
        assert.equal(errOther.error.code, -32003);
        // An ingest token cannot read, a worker reader cannot read another worker.
        assert.equal((await call('getLogs', { worker: 'worker-a' }, ingestA)).error.code, -32003);
        assert.equal((await call('getLogs', { worker: 'worker-b' }, readA)).error.code, -32003);
        const g = await rest('/api/monitoring/logs?worker=worker-b', readA);
        assert.equal(g.status, 403);
        // Without a filter, a worker reader sees its own rows only.
        await ok('storeLogs', { instanceId: 'own', logs: logs(1, 1) }, ingestB);
        const mine = await ok('getLogs', {}, readA);
        assert.ok(mine.data.length >= 2);
        assert.ok(mine.data.every((l) => l.workerName === 'worker-a'));
        // The row really is stamped with the token's worker.
        const all = await ok('getLogs', { instanceId: 'own' }, op);
        assert.deepEqual([...new Set(all.data.map((l) => l.workerName))].sort(), ['worker-a', 'worker-b']);
      });
    });

    describe('JSON-RPC envelope', () => {
      test('parse error -32700, id null', async () => {
        const r = await post('{"jsonrpc":', op, { raw: true });
        assert.equal(r.json.error.code, -32700);
        assert.equal(r.json.id, null);
      });

      test('invalid request -32600, unknown method -32601, ids of every type echoed', async () => {
        for (const id of ['s', 7, 1.5, null]) {
          const r = await post({ jsonrpc: '2.0', id, method: M('nope') });
          assert.equal(r.json.error.code, -32601);
          assert.deepEqual(r.json.id, id);
        }
        const bad = await post({ jsonrpc: '1.0', id: 3, method: M('getWorkers') });
        assert.equal(bad.json.error.code, -32600);
        assert.equal(bad.json.id, 3);
      });

      test('batch: answers in order, notifications get none; all-notification batch is 204', async () => {
        const r = await post([
          { jsonrpc: '2.0', id: 1, method: M('getWorkers') },
          { jsonrpc: '2.0', method: M('heartbeat'), params: { worker: 'n1' } },
          { jsonrpc: '2.0', id: 'x', method: 'nope' },
          42,
        ]);
        assert.deepEqual(r.json.map((e) => e.id), [1, 'x', null]);
        assert.equal(r.json[2].error.code, -32600);
        const n = await post([{ jsonrpc: '2.0', method: M('heartbeat'), params: { worker: 'n2' } }]);
        assert.equal(n.status, 204);
        const w = await ok('getWorkers', {});
        assert.ok(w.workers.find((x) => x.name === 'n1'));
        assert.ok(w.workers.find((x) => x.name === 'n2'));
      });

      test('empty batch is one -32600; wrong Content-Type 415', async () => {
        const r = await post([]);
        assert.equal(r.json.error.code, -32600);
        const t = await post('{}', op, { raw: true, headers: { 'content-type': 'text/plain' } });
        assert.equal(t.status, 415);
        assert.equal(t.json.error.code, -32600);
      });

      test('-32602 names the bad field, in arrays with its index', async () => {
        const r = await call('storeLogs', { instanceId: 'i', logs: [...logs(1, 2), { sequence: 'x', level: 'info', message: 'm' }] }, ingestA);
        assert.equal(r.error.code, -32602);
        assert.equal(r.error.data.field, 'logs[2].sequence');
        const lv = await call('storeLogs', { instanceId: 'i', logs: [{ sequence: 1, level: 'loud', message: 'm' }] }, ingestA);
        assert.equal(lv.error.data.field, 'logs[0].level');
        const inst = await call('getLogs', { instanceId: '../x' });
        assert.equal(inst.error.data.field, 'instanceId');
        const hb = await call('heartbeat', { worker: 'Bad Name' });
        assert.equal(hb.error.data.field, 'worker');
      });
    });

    describe('logs', () => {
      test('storeLogs is idempotent: the same batch twice stores once', async () => {
        const batch = { instanceId: 'idem', processId: 'p1', logs: logs(1, 50, { metadata: { k: 1 } }) };
        const a = await ok('storeLogs', batch, ingestA);
        assert.deepEqual(a, { stored: 50, duplicates: 0, lastSequence: 50 });
        const b = await ok('storeLogs', batch, ingestA);
        assert.deepEqual(b, { stored: 0, duplicates: 50, lastSequence: 50 });
        const c = await ok('storeLogs', { instanceId: 'idem', logs: logs(45, 10) }, ingestA);
        assert.deepEqual(c, { stored: 4, duplicates: 6, lastSequence: 54 });
        const last = await ok('getLastSequence', { instanceId: 'idem' }, ingestA);
        assert.deepEqual(last, { instanceId: 'idem', lastSequence: 54 });
        const none = await ok('getLastSequence', { instanceId: 'never' }, ingestA);
        assert.equal(none.lastSequence, 0);
        const page = await ok('getLogs', { worker: 'worker-a', instanceId: 'idem', limit: 1000, total: true });
        assert.equal(page.data.length, 54);
        assert.equal(page.pagination.total, 54);
        assert.deepEqual(page.data.map((l) => l.sequence), Array.from({ length: 54 }, (_, i) => 54 - i));
        const first = page.data.at(-1);
        assert.equal(first.processId, 'p1');
        assert.deepEqual(first.metadata, { k: 1 });
        assert.equal(first.timestamp, '2026-11-27T09:00:01.000Z');
      });

      test('storeLog stores one line; timestamp defaults to receipt', async () => {
        const r = await ok('storeLog', { instanceId: 'one', sequence: 1, level: 'info', message: 'hello' }, ingestA);
        assert.equal(r.stored, 1);
        const g = await ok('getLogs', { worker: 'worker-a', instanceId: 'one' });
        assert.equal(g.data[0].message, 'hello');
        assert.match(g.data[0].timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      });

      test('every getLogs filter, order and pagination edge', async () => {
        await ok('storeLogs', { worker: 'flt', container: 'c-flt', instanceId: 'f1', logs: logs(1, 20) });
        await ok('storeLogs', { worker: 'flt', container: 'c-other', instanceId: 'f2', logs: logs(1, 5) });
        const q = (p) => ok('getLogs', { worker: 'flt', limit: 1000, ...p });
        assert.equal((await q({})).data.length, 25);
        assert.equal((await q({ container: 'c-other' })).data.length, 5);
        assert.equal((await q({ instanceId: 'f1' })).data.length, 20);
        const lv = await q({ instanceId: 'f1', levels: ['error', 'warn'] });
        assert.ok(lv.data.length === 8 && lv.data.every((l) => ['error', 'warn'].includes(l.level)));
        const st = await q({ instanceId: 'f1', streams: ['stderr'] });
        assert.ok(st.data.length === 10 && st.data.every((l) => l.stream === 'stderr'));
        const since = await q({ instanceId: 'f1', since: '2026-11-27T09:00:15Z' });
        assert.deepEqual(since.data.map((l) => l.sequence), [20, 19, 18, 17, 16, 15]);
        const until = await q({ instanceId: 'f1', until: '2026-11-27T09:00:03.000Z' });
        assert.deepEqual(until.data.map((l) => l.sequence), [3, 2, 1]);
        const after = await q({ instanceId: 'f1', afterSequence: 17, order: 'asc' });
        assert.deepEqual(after.data.map((l) => l.sequence), [18, 19, 20]);
        // Pagination: exact edges of hasMore.
        const p1 = await ok('getLogs', { worker: 'flt', instanceId: 'f1', limit: 10, offset: 0 });
        assert.equal(p1.data.length, 10);
        assert.deepEqual(p1.pagination, { limit: 10, offset: 0, total: null, hasMore: true });
        const p2 = await ok('getLogs', { worker: 'flt', instanceId: 'f1', limit: 10, offset: 10, total: true });
        assert.deepEqual(p2.pagination, { limit: 10, offset: 10, total: 20, hasMore: false });
        const p3 = await ok('getLogs', { worker: 'flt', instanceId: 'f1', limit: 10, offset: 20 });
        assert.equal(p3.data.length, 0);
        assert.equal(p3.pagination.hasMore, false);
        for (const [p, field] of [[{ limit: 0 }, 'limit'], [{ limit: 1001 }, 'limit'], [{ offset: -1 }, 'offset'],
          [{ order: 'up' }, 'order'], [{ levels: ['x'] }, 'levels'], [{ since: 'yesterday' }, 'since']]) {
          const r = await call('getLogs', { worker: 'flt', ...p });
          assert.equal(r.error.code, -32602, JSON.stringify(p));
          assert.equal(r.error.data.field, field);
        }
        const stats = await ok('getLogStats', { worker: 'flt', instanceId: 'f1' });
        assert.equal(stats.total, 20);
        assert.equal(stats.byLevel.info, 4);
        assert.equal(stats.byStream.stdout, 10);
        assert.equal(stats.oldest, '2026-11-27T09:00:01.000Z');
        assert.equal(stats.newest, '2026-11-27T09:00:20.000Z');
      });

      test('clearLogs needs admin and confirm: true', async () => {
        await ok('storeLogs', { worker: 'clr', instanceId: 'c1', logs: logs(1, 3) });
        await ok('storeLogs', { worker: 'clr', instanceId: 'c2', logs: logs(1, 2) });
        const noConfirm = await call('clearLogs', { worker: 'clr', instanceId: 'c1' });
        assert.equal(noConfirm.error.code, -32602);
        assert.equal(noConfirm.error.data.field, 'confirm');
        const noAdmin = await call('clearLogs', { worker: 'clr', instanceId: 'c1', confirm: true }, stack.mint({ sub: '*', scope: 'read control' }));
        assert.equal(noAdmin.error.code, -32003);
        assert.deepEqual(await ok('clearLogs', { worker: 'clr', instanceId: 'c1', confirm: true }), { clearedCount: 3 });
        assert.equal((await ok('getLogs', { worker: 'clr' })).data.length, 2);
      });
    });

    describe('errors', () => {
      test('dedup per (worker, instance, hash): counts, first/last seen, computed hash', async () => {
        const msg = 'boom at App.tsx:1234:5 on 2026-11-27T09:00:00.000Z';
        const r = await ok('storeErrors', {
          instanceId: 'e1',
          errors: [
            { level: 50, message: msg, timestamp: '2026-11-27T09:00:05.000Z', rawOutput: 'raw1' },
            { level: 50, message: 'boom at App.tsx:42:15 on 2026-11-28T10:00:00.000Z', timestamp: '2026-11-27T09:00:01.000Z' },
            { level: 60, message: msg, timestamp: '2026-11-27T09:00:02.000Z' },
          ],
        }, ingestA);
        assert.equal(r.stored, 2);
        assert.equal(r.repeated, 1);
        assert.equal(r.errors[0].errorHash, errhash(msg, 50));
        assert.equal(r.errors[1].errorHash, r.errors[0].errorHash);
        assert.equal(r.errors[1].occurrenceCount, 2);
        const one = await ok('storeError', { instanceId: 'e1', level: 50, message: msg, timestamp: '2026-11-27T09:00:09.000Z', rawOutput: 'raw3' }, ingestA);
        assert.equal(one.occurrenceCount, 3);
        assert.equal(one.stored, 0);
        // Another instance: its own row.
        await ok('storeError', { instanceId: 'e2', level: 50, message: msg }, ingestA);
        const list = await ok('getErrors', { worker: 'worker-a', instanceId: 'e1', total: true });
        assert.equal(list.pagination.total, 2);
        const row = list.data.find((e) => e.level === 50);
        assert.equal(row.occurrenceCount, 3);
        assert.equal(row.firstSeen, '2026-11-27T09:00:01.000Z');
        assert.equal(row.lastSeen, '2026-11-27T09:00:09.000Z');
        assert.equal(row.message, msg);
        assert.equal(row.rawOutput, 'raw3');
        const summary = await ok('getErrorSummary', { worker: 'worker-a', instanceId: 'e1' });
        assert.equal(summary.totalErrors, 4);
        assert.equal(summary.uniqueErrors, 2);
        assert.equal(summary.repeatedErrors, 2);
        assert.deepEqual(summary.errorsByLevel, { 50: 3, 60: 1 });
        const since = await ok('getErrors', { worker: 'worker-a', instanceId: 'e1', since: '2026-11-27T09:00:08Z' });
        assert.deepEqual(since.data.map((e) => e.level), [50]);
        const until = await ok('getErrors', { worker: 'worker-a', instanceId: 'e1', until: '2026-11-27T09:00:03Z' });
        assert.deepEqual(until.data.map((e) => e.level), [60]);
        const maxLv = await ok('getErrors', { worker: 'worker-a', instanceId: 'e1', maxLevel: 55 });
        assert.deepEqual(maxLv.data.map((e) => e.level), [50]);
        const hi = await ok('getErrors', { worker: 'worker-a', minLevel: 55 });
        assert.ok(hi.data.every((e) => e.level >= 55) && hi.data.length === 1);
        // A given hash is used as is.
        const h = 'a'.repeat(64);
        const given = await ok('storeError', { instanceId: 'e3', level: 50, message: 'x', errorHash: h }, ingestA);
        assert.equal(given.errorHash, h);
        const bad = await call('storeError', { instanceId: 'e3', level: 50, message: 'x', errorHash: 'XYZ' }, ingestA);
        assert.equal(bad.error.data.field, 'errorHash');
        // Clearing: admin + confirm; the count is of rows.
        assert.deepEqual(await ok('clearErrors', { worker: 'worker-a', instanceId: 'e1', confirm: true }), { clearedCount: 2 });
        assert.equal((await ok('getErrors', { worker: 'worker-a', instanceId: 'e1' })).data.length, 0);
      });
    });

    describe('processes and events', () => {
      test('upsertProcess keys on (worker, instance); getProcess, getProcesses, REST status', async () => {
        const base = { instanceId: 'web', processId: 'p1', command: 'node', args: ['server.js'], cwd: '/app', status: 'starting', env: { PORT: '3000' } };
        await ok('upsertProcess', base, ingestA);
        await ok('upsertProcess', { ...base, status: 'running', pid: 1234, restartCount: 2, startTime: '2026-11-27T09:00:00Z' }, ingestA);
        const p = await ok('getProcess', { worker: 'worker-a', instanceId: 'web' });
        assert.equal(p.status, 'running');
        assert.equal(p.pid, 1234);
        assert.equal(p.restartCount, 2);
        assert.deepEqual(p.args, ['server.js']);
        assert.deepEqual(p.env, { PORT: '3000' });
        assert.equal(p.startTime, '2026-11-27T09:00:00.000Z');
        assert.equal(await ok('getProcess', { worker: 'worker-a', instanceId: 'nope' }), null);
        const list = await ok('getProcesses', { worker: 'worker-a', status: 'running', total: true });
        assert.equal(list.pagination.total, 1);
        const bad = await call('upsertProcess', { ...base, status: 'dancing' }, ingestA);
        assert.equal(bad.error.data.field, 'status');
        const s = await rest('/api/monitoring/process/web/status?worker=worker-a');
        assert.equal(s.status, 200);
        assert.equal(s.json.status, 'running');
        const missing = await rest('/api/monitoring/process/nope/status?worker=worker-a');
        assert.equal(missing.status, 404);
      });

      test('recordEvent and getEvents with type and time filters', async () => {
        await ok('recordEvent', { instanceId: 'web', type: 'process_started', payload: { pid: 1 }, timestamp: '2026-11-27T09:00:00.000Z' }, ingestA);
        await ok('recordEvent', { instanceId: 'web', type: 'process_crashed', payload: { exitCode: 1 }, timestamp: '2026-11-27T09:00:05.000Z' }, ingestA);
        const all = await ok('getEvents', { worker: 'worker-a', total: true });
        assert.equal(all.pagination.total, 2);
        assert.equal(all.data[0].type, 'process_crashed');
        assert.deepEqual(all.data[0].payload, { exitCode: 1 });
        const t = await ok('getEvents', { worker: 'worker-a', type: 'process_started' });
        assert.equal(t.data.length, 1);
        const since = await ok('getEvents', { worker: 'worker-a', since: '2026-11-27T09:00:01Z' });
        assert.equal(since.data.length, 1);
      });

      test('process control: an unreachable agent is a clear error, fast', async () => {
        const t0 = Date.now();
        const r = await call('startProcess', { worker: 'ghost', instanceId: 'web' });
        assert.equal(r.error.code, -32603);
        assert.match(r.error.message, /agent unreachable/);
        assert.ok(Date.now() - t0 < 8000);
        const g = await rest('/api/monitoring/process/web/restart?worker=ghost', op, { method: 'POST' });
        assert.equal(g.status, 502);
        assert.equal(g.json.error.code, 'agent_unreachable');
        const noCtl = await call('stopProcess', { worker: 'ghost', instanceId: 'web' }, readOnly);
        assert.equal(noCtl.error.code, -32003);
      });

      test('process control for a worker the gateway does not route: 404 worker_not_found, RPC -32005', async () => {
        // "nobody" is a valid name but not in the gateway's registry: the
        // caller's mistake, not an internal error (it was 500 / -32603).
        const g = await rest('/api/monitoring/process/demo-app/restart?worker=nobody', op, { method: 'POST' });
        assert.equal(g.status, 404, g.body);
        assert.equal(g.json.error.code, 'worker_not_found');
        assert.equal(g.json.error.field, 'worker');
        assert.match(g.json.error.message, /'nobody' is not registered/);
        for (const m of ['startProcess', 'stopProcess', 'restartProcess']) {
          const r = await call(m, { worker: 'nobody', instanceId: 'demo-app' });
          assert.equal(r.error.code, -32005, JSON.stringify(r.error));
          assert.equal(r.error.message, "Worker not found: worker 'nobody' is not registered at the gateway");
          assert.equal(r.error.data.field, 'worker');
        }
      });
    });

    describe('REST', () => {
      test('a body over the limit: JSON from nginx, in each route\'s shape (413)', async () => {
        const big = 'x'.repeat(8 * 1024 * 1024 + 1);
        const r = await get(`${stack.http}/api/monitoring/process/app/start?worker=w`, {
          method: 'POST', headers: { authorization: `Bearer ${op}`, 'content-type': 'application/json' }, body: big,
        });
        assert.equal(r.status, 413);
        assert.match(r.headers.get('content-type'), /application\/json/);
        assert.equal(r.json.error.code, 'body_too_large');
        const p = await post(big, op, { raw: true });
        assert.equal(p.status, 413);
        assert.equal(p.json.error.code, -32600);
      });

      test('lists with the pagination envelope and filters', async () => {
        const r = await rest('/api/monitoring/logs/f1?worker=flt&limit=5&levels=info,error&total=1');
        assert.equal(r.status, 200, r.body);
        assert.ok(r.json.data.every((l) => ['info', 'error'].includes(l.level)));
        assert.deepEqual(r.json.pagination, { limit: 5, offset: 0, total: 8, hasMore: true });
        const e = await rest('/api/monitoring/errors?worker=worker-a');
        assert.equal(e.status, 200);
        assert.ok(Array.isArray(e.json.data));
        const bad = await rest('/api/monitoring/logs?limit=abc');
        assert.equal(bad.status, 400);
        assert.equal(bad.json.error.field, 'limit');
        const m = await rest('/api/monitoring/logs', op, { method: 'DELETE' });
        assert.equal(m.status, 405);
        const nf = await rest('/api/monitoring/nowhere');
        assert.equal(nf.status, 404);
        assert.equal(nf.json.error.code, 'not_found');
      });

      test('NDJSON: REST format=ndjson and RPC stream:true, row by row', async () => {
        const r = await rest('/api/monitoring/logs/f1?worker=flt&format=ndjson&order=asc');
        assert.equal(r.status, 200);
        assert.match(r.headers.get('content-type'), /application\/x-ndjson/);
        const lines = r.body.trim().split('\n').map((l) => JSON.parse(l));
        assert.equal(lines.length, 21);
        assert.deepEqual(lines.slice(0, 20).map((l) => l.sequence), Array.from({ length: 20 }, (_, i) => i + 1));
        assert.deepEqual(lines[20], { done: true, count: 20 });
        const s = await post({ jsonrpc: '2.0', id: 'st', method: M('getLogs'), params: { worker: 'flt', instanceId: 'f2', stream: true } });
        const sl = s.body.trim().split('\n').map((l) => JSON.parse(l));
        assert.equal(sl.length, 6);
        assert.deepEqual(sl[5], { jsonrpc: '2.0', result: { done: true, count: 5 }, id: 'st' });
        const inBatch = await post([{ jsonrpc: '2.0', id: 1, method: M('getLogs'), params: { stream: true } }]);
        assert.equal(inBatch.json[0].error.data.field, 'stream');
      });
    });

    describe('params a method does not take are refused by name, never ignored', () => {
      test('REST: unknown keys, a key twice, format=xml, afterSequence without an instance, the path\'s instanceId again', async () => {
        const cases = [
          // a mistyped filter used to answer unfiltered data
          ['/api/monitoring/logs?worker=flt&foo=bar', 'foo'],
          ['/api/monitoring/logs?worker=flt&levle=error', 'levle'],
          ['/api/monitoring/errors?worker=flt&instanceID=x', 'instanceID'],
          ['/api/monitoring/processes?bogus=1', 'bogus'],
          ['/api/monitoring/workers?foo=bar', 'foo'],
          ['/api/monitoring/logs/f1/stats?worker=flt&limit=1', 'limit'],
          // one of the two was silently used
          ['/api/monitoring/logs?limit=1&limit=2', 'limit'],
          ['/api/monitoring/logs?format=xml', 'format'],
          ['/api/monitoring/errors?format=json', 'format'],
          // sequences are per instance: the docs' 400
          ['/api/monitoring/logs?afterSequence=3', 'afterSequence'],
          ['/api/monitoring/logs/f1?worker=flt&instanceId=f2', 'instanceId'],
        ];
        for (const [url, field] of cases) {
          const r = await rest(url);
          assert.equal(r.status, 400, `${url}: ${r.body.slice(0, 300)}`);
          assert.equal(r.json.error.code, 'invalid_params', url);
          assert.equal(r.json.error.field, field, `${url}: ${r.body}`);
          assert.ok(r.json.error.message.includes(field), `${url}: ${r.json.error.message}`);
        }
        const post400 = await rest('/api/monitoring/process/web/restart?worker=ghost&forse=1', op, { method: 'POST' });
        assert.equal(post400.status, 400);
        assert.equal(post400.json.error.field, 'forse');
        // the documented ones still work
        const okr = await rest('/api/monitoring/logs?worker=flt&instanceId=f1&afterSequence=18&order=asc&format=json');
        assert.equal(okr.status, 200, okr.body);
        assert.deepEqual(okr.json.data.map((l) => l.sequence), [19, 20]);
      });

      test('JSON-RPC: an unknown member, of params or of an element, is -32602 naming it; nothing is stored', async () => {
        const before = await ok('getLogStats', { worker: 'worker-a' });
        const cases = [
          ['getLogs', { worker: 'flt', bogus: 1 }, 'bogus', op],
          ['getLogs', { worker: 'flt', instanceid: 'f1' }, 'instanceid', op],
          ['getErrors', { worker: 'flt', levels: ['error'] }, 'levels', op],
          ['clearLogs', { worker: 'flt', confirm: true, untilID: 3 }, 'untilID', op],
          ['storeLogs', { instanceId: 'strict', logs: logs(1, 2), bogus: 1 }, 'bogus', ingestA],
          ['storeLogs', { instanceId: 'strict', logs: [...logs(1, 2), { ...logs(3, 1)[0], strem: 'stderr' }] }, 'logs[2].strem', ingestA],
          ['storeErrors', { instanceId: 'strict', errors: [{ level: 50, message: 'm', raw: 'x' }] }, 'errors[0].raw', ingestA],
          ['storeLog', { instanceId: 'strict', ...logs(1, 1)[0], bogus: 1 }, 'bogus', ingestA],
          ['heartbeat', { agentVersion: '1', version: '1' }, 'version', ingestA],
          ['upsertProcess', { instanceId: 'strict', command: 'c', status: 'running', signal: 'SIGTERM' }, 'signal', ingestA],
          ['recordEvent', { type: 't', data: {} }, 'data', ingestA],
        ];
        for (const [m, params, field, token] of cases) {
          const r = await call(m, params, token);
          assert.equal(r.error?.code, -32602, `${m} ${JSON.stringify(params)}: ${JSON.stringify(r).slice(0, 300)}`);
          assert.equal(r.error.data.field, field, m);
          assert.ok(r.error.message.includes(`'${field.replace(/^.*\./, '')}'`), r.error.message);
        }
        // a token without the scope learns nothing of the params
        const noScope = await call('clearLogs', { worker: 'flt', confirm: true, bogus: 1 }, readOnly);
        assert.equal(noScope.error.code, -32003);
        assert.deepEqual(await ok('getLogStats', { worker: 'worker-a' }), before);
        assert.equal((await ok('getLogs', { worker: 'worker-a', instanceId: 'strict' })).data.length, 0);
      });
    });

    describe('id bounds: read up to a mark, clear up to it, keep what came after', () => {
      test('getLogs afterId / untilId / untilSequence and clearLogs untilId', async () => {
        await ok('storeLogs', { instanceId: 'mark', logs: logs(1, 5) }, ingestA);
        const all = (await ok('getLogs', { worker: 'worker-a', instanceId: 'mark', order: 'asc' })).data;
        assert.deepEqual(all.map((l) => l.sequence), [1, 2, 3, 4, 5]);
        const mark = all[2].id;
        const upTo = await ok('getLogs', { worker: 'worker-a', instanceId: 'mark', untilId: mark, order: 'asc' });
        assert.deepEqual(upTo.data.map((l) => l.sequence), [1, 2, 3]);
        const after = await ok('getLogs', { worker: 'worker-a', afterId: mark, order: 'asc' });
        assert.deepEqual(after.data.map((l) => l.sequence), [4, 5]);
        const seq = await ok('getLogs', { worker: 'worker-a', instanceId: 'mark', untilSequence: 2 });
        assert.deepEqual(seq.data.map((l) => l.sequence), [2, 1]);
        const noInst = await call('getLogs', { worker: 'worker-a', untilSequence: 2 });
        assert.equal(noInst.error.data.field, 'untilSequence');
        // rows stored after the mark are kept by a clear up to it
        await ok('storeLogs', { instanceId: 'mark', logs: logs(6, 2) }, ingestA);
        const cleared = await ok('clearLogs', { worker: 'worker-a', instanceId: 'mark', confirm: true, untilId: mark });
        assert.equal(cleared.clearedCount, 3);
        const left = await ok('getLogs', { worker: 'worker-a', instanceId: 'mark', order: 'asc' });
        assert.deepEqual(left.data.map((l) => l.sequence), [4, 5, 6, 7]);
        const rest1 = await rest(`/api/monitoring/logs/mark?worker=worker-a&afterId=${mark}&untilId=${left.data[1].id}&order=asc`);
        assert.equal(rest1.status, 200, rest1.body);
        assert.deepEqual(rest1.json.data.map((l) => l.sequence), [4, 5]);
        assert.equal((await call('clearLogs', { worker: 'worker-a', confirm: true, untilId: -1 })).error.data.field, 'untilId');
      });
    });

    describe('bad input changes nothing and wharfd keeps serving', () => {
      test('malformed, huge, deep, long lines, invalid UTF-8, wrong types', async () => {
        const before = await ok('getLogStats', {});
        const big = await post(`{"jsonrpc":"2.0","id":1,"method":"x","params":{"s":"${'a'.repeat(20 * 1024 * 1024)}"}}`, op, { raw: true });
        assert.equal(big.status, 413);
        assert.equal(big.json.error.code, -32600);
        const deep = await post('['.repeat(10000) + ']'.repeat(10000), op, { raw: true });
        assert.equal(deep.json.error.code, -32700);
        const longLine = await call('storeLogs', { instanceId: 'bad', logs: [{ sequence: 1, level: 'info', message: 'x'.repeat(1024 * 1024) }] }, ingestA);
        assert.equal(longLine.error.code, -32602);
        assert.equal(longLine.error.data.field, 'logs[0].message');
        const utf8 = Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":1,"method":"ContainerMonitoringOps.storeLog","params":{"instanceId":"bad","sequence":1,"level":"info","message":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}}')]);
        const u = await post(utf8, ingestA, { raw: true });
        assert.equal(u.json.error.code, -32700);
        const types = await call('storeLogs', { instanceId: 'bad', logs: 'nope' }, ingestA);
        assert.equal(types.error.code, -32602);
        const mixed = await call('storeLogs', { instanceId: 'bad', logs: [...logs(1, 3), { sequence: 4, level: 'info', message: 5 }] }, ingestA);
        assert.equal(mixed.error.data.field, 'logs[3].message');
        const unknown = await call('dropTables', {});
        assert.equal(unknown.error.code, -32601);
        const afterStats = await ok('getLogStats', {});
        assert.deepEqual(afterStats, before);
        assert.equal((await ok('getLogs', { worker: 'worker-a', instanceId: 'bad' })).data.length, 0);
        await waitFor(async () => (await get(`${stack.http}/api/monitoring/health`)).status === 200, { what: 'wharfd still serving' });
      });
    });
  });
}
