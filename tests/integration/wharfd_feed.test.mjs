// The live feed /ws/monitoring through nginx: subscriptions with filters,
// rows after commit, auth, a slow reader getting `lagged` without slowing
// ingestion, and process control over the socket.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { ENGINES, ROOT, startStack, waitFor } from '../lib/stack.mjs';

// The feed's door (fcgi_backend/feed_door.h): the longest request head it
// reads, and how long it waits for one.
const doorH = fs.readFileSync(path.join(ROOT, 'fcgi_backend/feed_door.h'), 'utf8');
const HEAD_MAX = 1024 * Number(/#define WHARFD_FEED_HEAD_MAX \((\d+) \* 1024\)/.exec(doorH)[1]);
const HEAD_TIMEOUT = Number(/#define WHARFD_FEED_HEAD_TIMEOUT (\d+)/.exec(doorH)[1]);

// Raw bytes to wharfd's own feed listener (not through nginx, which has
// limits of its own); resolves with what came back and when the socket
// closed.
function raw(addr, bytes, { hold = false } = {}) {
  const [host, port] = addr.split(':');
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const s = net.connect(Number(port), host, () => { if (bytes) s.write(bytes); if (!hold) s.end(); });
    let got = '';
    s.on('data', (d) => { got += d; });
    s.on('error', reject);
    s.on('close', () => resolve({ text: got, ms: Date.now() - t0, status: Number(/^HTTP\/1\.1 (\d+)/.exec(got)?.[1]) }));
  });
}

const M = (name) => `ContainerMonitoringOps.${name}`;

for (const engine of ENGINES) {
  describe(`wharfd live feed (${engine})`, () => {
    let stack;
    before(async () => {
      stack = await startStack({
        tag: 'wharfd-feed',
        engine,
        workers: [{ name: 'ghost', addr: '127.0.0.1:9' }],
        wharfdArgs: ['--feed-queue', '64', '--threads', '4'],
      });
    });
    after(async () => stack && stack.stop());

    const rpc = async (method, params, token = stack.token) => {
      const res = await fetch(`${stack.http}/rpc`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: M(method), params }),
      });
      const j = await res.json();
      assert.ok(!j.error, JSON.stringify(j.error));
      return j.result;
    };
    const logs = (from, n, msg = 'm') => Array.from({ length: n }, (_, i) => ({ sequence: from + i, level: 'info', message: `${msg}${from + i}` }));

    // A connected client collecting every message.
    const open = (token = stack.token, { query = '' } = {}) => new Promise((resolve, reject) => {
      const headers = token ? { authorization: `Bearer ${token}` } : {};
      const ws = new WebSocket(`${stack.ws}/ws/monitoring${query}`, { headers });
      ws.msgs = [];
      ws.on('message', (d) => ws.msgs.push(JSON.parse(d.toString())));
      ws.on('open', () => resolve(ws));
      ws.on('error', reject);
      ws.on('unexpected-response', (req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    let reqId = 100;
    const ask = async (ws, method, params) => {
      const id = reqId++;
      ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
      return waitFor(() => ws.msgs.find((m) => m.id === id), { what: `answer to ${method}` });
    };

    test('no token, or a bad one: the upgrade is refused', async () => {
      await assert.rejects(open(null));
      await assert.rejects(open('not.a.token'));
      // ?access_token= works for browsers.
      const ws = await open(null, { query: `?access_token=${stack.token}` });
      ws.close();
    });

    test(`the door reads heads up to ${HEAD_MAX} bytes (WHARFD_FEED_HEAD_MAX): one byte more is 431 JSON`, async () => {
      const wsAddr = stack.wharfdOpts.wsAddr;
      // a head of exactly n bytes: a filler header makes up the length
      const head = (n) => {
        const start = 'GET /ws/monitoring HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
          + `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\nX-Fill: `;
        return `${start}${'f'.repeat(n - start.length - 4)}\r\n\r\n`;
      };
      assert.equal(head(HEAD_MAX).length, HEAD_MAX);
      // at the limit: read, and refused for what it is (no token: 401 JSON)
      const at = await raw(wsAddr, head(HEAD_MAX));
      assert.equal(at.status, 401, at.text.slice(0, 200));
      assert.match(at.text, /"code":"unauthorized"/);
      const over = await raw(wsAddr, head(HEAD_MAX + 1));
      assert.equal(over.status, 431, over.text.slice(0, 200));
      assert.match(over.text, /\r\nContent-Type: application\/json\r\n[\s\S]*"code":"header_too_large"/);
      // the same head with a good token is let in, straight to wharfd too
      const tokenHead = head(HEAD_MAX).replace('X-Fill: ', `Authorization: Bearer ${stack.token}\r\nX-Fill: `)
        .replace(/f{400}/, '');
      const up = await raw(wsAddr, tokenHead);
      assert.equal(up.status, 101, up.text.slice(0, 200));
      // not an upgrade: 426 JSON; not the feed's path: 404 JSON; garbage: 400
      assert.equal((await raw(wsAddr, 'GET /ws/monitoring HTTP/1.1\r\nHost: x\r\n\r\n')).status, 426);
      assert.equal((await raw(wsAddr, 'GET /elsewhere HTTP/1.1\r\nHost: x\r\n\r\n')).status, 404);
      assert.equal((await raw(wsAddr, 'GET /ws/monitoring\r\n\r\n')).status, 400);
    });

    test(`a head that does not come within ${HEAD_TIMEOUT} s is dropped; the feed serves meanwhile`, async () => {
      const slow = raw(stack.wharfdOpts.wsAddr, 'GET /ws/monitoring HTTP/1.1\r\nHost: x\r\n', { hold: true });
      const ws = await open();
      ws.close();
      const r = await slow;
      assert.equal(r.text, '', 'dropped without an answer');
      assert.ok(r.ms >= (HEAD_TIMEOUT - 1) * 1000 && r.ms < (HEAD_TIMEOUT + 10) * 1000, `dropped after ${r.ms} ms`);
    });

    test('a subscription gets the committed rows that match its filter, in order', async () => {
      const ws = await open();
      const sub = await ask(ws, 'subscribe', { worker: 'feed-a', kinds: ['log', 'error'] });
      assert.deepEqual(sub.result, { subscribed: true });
      await rpc('storeLogs', { worker: 'feed-b', instanceId: 'i', logs: logs(1, 5) });
      await rpc('storeLogs', { worker: 'feed-a', instanceId: 'i', logs: logs(1, 10) });
      await rpc('storeError', { worker: 'feed-a', instanceId: 'i', level: 50, message: 'boom' });
      await rpc('recordEvent', { worker: 'feed-a', instanceId: 'i', type: 'not_subscribed' });
      await waitFor(() => ws.msgs.filter((m) => m.kind).length >= 11, { what: '11 feed messages' });
      const rows = ws.msgs.filter((m) => m.kind);
      assert.deepEqual(rows.slice(0, 10).map((m) => m.row.sequence), Array.from({ length: 10 }, (_, i) => i + 1));
      assert.ok(rows.every((m) => m.row.workerName === 'feed-a'));
      assert.equal(rows[10].kind, 'error');
      assert.equal(rows[10].row.occurrenceCount, 1);
      // A resent batch is not news.
      await rpc('storeLogs', { worker: 'feed-a', instanceId: 'i', logs: logs(1, 10) });
      await rpc('upsertProcess', { worker: 'feed-a', instanceId: 'i', command: 'x', status: 'running' });
      // Refilter: processes and events only.
      await ask(ws, 'subscribe', { worker: 'feed-a', kinds: ['process', 'event'] });
      await rpc('recordEvent', { worker: 'feed-a', instanceId: 'i', type: 'process_started', payload: { pid: 7 } });
      await waitFor(() => ws.msgs.find((m) => m.kind === 'event'), { what: 'the event' });
      const ev = ws.msgs.find((m) => m.kind === 'event');
      assert.deepEqual(ev.row.payload, { pid: 7 });
      assert.equal(ws.msgs.filter((m) => m.kind === 'log').length, 10);
      ws.close();
    });

    test('a worker token subscribes to its own worker only', async () => {
      const ws = await open(stack.mint({ sub: 'feed-a', scope: 'read' }));
      const bad = await ask(ws, 'subscribe', { worker: 'feed-b' });
      assert.equal(bad.error.code, -32003);
      const okSub = await ask(ws, 'subscribe', {});
      assert.ok(okSub.result.subscribed);
      await rpc('storeLogs', { worker: 'feed-b', instanceId: 'j', logs: logs(1, 3) });
      await rpc('storeLogs', { worker: 'feed-a', instanceId: 'j', logs: logs(1, 2) });
      await waitFor(() => ws.msgs.filter((m) => m.kind === 'log').length === 2, { what: 'own logs' });
      assert.ok(ws.msgs.filter((m) => m.kind === 'log').every((m) => m.row.workerName === 'feed-a'));
      const unknown = await ask(ws, 'nope', {});
      assert.equal(unknown.error.code, -32601);
      // a mistyped filter is refused by name, not taken for "everything"
      const typo = await ask(ws, 'subscribe', { instanceID: 'j' });
      assert.equal(typo.error.code, -32602);
      assert.equal(typo.error.data.field, 'instanceID');
      ws.close();
    });

    test('a slow reader gets lagged and never slows ingestion', async () => {
      const token = stack.mint({ sub: 'slow', scope: 'ingest' });
      const ingest = async (instanceId, batches) => {
        const t0 = process.hrtime.bigint();
        for (let b = 0; b < batches; b++) {
          const res = await fetch(`${stack.http}/rpc`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
            body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: M('storeLogs'), params: { instanceId, logs: logs(1 + b * 500, 500, 'x'.repeat(200)) } }),
          });
          assert.equal((await res.json()).result.stored, 500);
        }
        return Number(process.hrtime.bigint() - t0) / 1e6;
      };
      const baseline = await ingest('base', 40);

      const ws = await open();
      await ask(ws, 'subscribe', { worker: 'slow' });
      ws._socket.pause(); // stop reading: TCP and nginx buffers fill up
      const withSlow = await ingest('lag', 40);
      ws._socket.resume();
      await waitFor(() => ws.msgs.find((m) => m.kind === 'lagged'), { timeout: 15000, what: 'a lagged message' });
      const lag = ws.msgs.find((m) => m.kind === 'lagged');
      assert.ok(lag.missed > 0);
      const got = ws.msgs.filter((m) => m.kind === 'log').length;
      assert.ok(got + lag.missed <= 20000);
      // 20,000 rows with a stalled subscriber take no more than twice as long
      // as without one (the feed only drops, it never waits).
      assert.ok(withSlow < baseline * 2 + 200, `baseline ${baseline} ms, with a slow reader ${withSlow} ms`);
      ws.close();
    });

    test('process control over the socket: an unreachable agent is a clear error', async () => {
      const ws = await open();
      const r = await ask(ws, 'startProcess', { worker: 'ghost', instanceId: 'web' });
      assert.equal(r.error.code, -32603);
      assert.match(r.error.message, /agent unreachable/);
      const ro = await open(stack.mint({ sub: '*', scope: 'read' }));
      const denied = await ask(ro, 'stopProcess', { worker: 'ghost', instanceId: 'web' });
      assert.equal(denied.error.code, -32003);
      ws.close();
      ro.close();
    });
  });
}
