// wharfd behind the real nginx: health, and the JSON-RPC 2.0 envelope on a
// real SQLite file.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { get, startStack } from '../lib/stack.mjs';

describe('wharfd through nginx', () => {
  let stack;
  before(async () => { stack = await startStack({ tag: 'wharfd', workers: [] }); });
  after(async () => stack && stack.stop());

  const rpc = (body, raw = false) => get(`${stack.http}/rpc`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: raw ? body : JSON.stringify(body),
  });

  test('health reports the database and schema', async () => {
    const r = await get(`${stack.http}/api/monitoring/health`);
    assert.equal(r.status, 200);
    assert.equal(r.json.status, 'ok');
    assert.equal(r.json.database, 'ok');
    assert.ok(r.json.schema_version >= 1);
  });

  test('heartbeat stores the worker, getWorkers returns it', async () => {
    const hb = await rpc({ jsonrpc: '2.0', id: 'a1', method: 'ContainerMonitoringOps.heartbeat', params: { worker: 'web-1', container: 'c1', agentVersion: '0.1.0' } });
    assert.equal(hb.status, 200);
    assert.equal(hb.json.id, 'a1');
    assert.equal(hb.json.result.ok, true);
    const w = await rpc({ jsonrpc: '2.0', id: 2, method: 'ContainerMonitoringOps.getWorkers' });
    const row = w.json.result.workers.find((x) => x.name === 'web-1');
    assert.ok(row, JSON.stringify(w.json));
    assert.equal(row.containerName, 'c1');
  });

  test('parse error -32700 with id null', async () => {
    const r = await rpc('{"jsonrpc":', true);
    assert.equal(r.json.error.code, -32700);
    assert.equal(r.json.id, null);
  });

  test('unknown method -32601, id echoed', async () => {
    const r = await rpc({ jsonrpc: '2.0', id: 7, method: 'ContainerMonitoringOps.nope' });
    assert.equal(r.json.error.code, -32601);
    assert.equal(r.json.id, 7);
  });

  test('invalid params -32602 names the field', async () => {
    const r = await rpc({ jsonrpc: '2.0', id: 8, method: 'ContainerMonitoringOps.heartbeat', params: { worker: 'Bad Name' } });
    assert.equal(r.json.error.code, -32602);
    assert.match(JSON.stringify(r.json.error), /worker/);
  });

  test('batch: answers in order, notifications get none', async () => {
    const r = await rpc([
      { jsonrpc: '2.0', id: 1, method: 'ContainerMonitoringOps.getWorkers' },
      { jsonrpc: '2.0', method: 'ContainerMonitoringOps.heartbeat', params: { worker: 'n1' } },
      { jsonrpc: '2.0', id: 'x', method: 'nope' },
      42,
    ]);
    assert.ok(Array.isArray(r.json));
    assert.deepEqual(r.json.map((e) => e.id), [1, 'x', null]);
    assert.equal(r.json[2].error.code, -32600);
  });

  test('empty batch is one -32600', async () => {
    const r = await rpc([]);
    assert.equal(r.json.error.code, -32600);
  });

  test('unknown route: 404 JSON', async () => {
    const r = await get(`${stack.http}/api/monitoring/nowhere`);
    assert.equal(r.status, 404);
    assert.equal(r.json.error.code, 'not_found');
  });
});
