// The live feed /ws/monitoring through nginx: subscriptions with filters,
// rows after commit, auth, a slow reader getting `lagged` without slowing
// ingestion, and process control over the socket.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { startStack, waitFor } from '../lib/stack.mjs';

const M = (name) => `ContainerMonitoringOps.${name}`;

describe('wharfd live feed', () => {
  let stack;
  before(async () => {
    stack = await startStack({
      tag: 'wharfd-feed',
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
