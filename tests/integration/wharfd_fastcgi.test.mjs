// The FastCGI path between nginx and wharfd (issue 18): the connections
// nginx keeps to wharfd (conf/nginx.conf upstream keepalive, conf/wharf.conf
// fastcgi_keep_conn) are reused request after request and survive nginx
// closing them; a whole answer larger than one FastCGI record (wharfd
// writes records of up to 65528 bytes in one writev, fcgi_records.h) and
// larger than nginx's fastcgi_buffer_size arrives whole; a single JSON-RPC
// list call (its result written as text, rpc_route.c) answers exactly what
// the same call answers inside a batch (the jansson tree).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { ENGINES, get, getFresh, reloadNginx, startStack, waitFor } from '../lib/stack.mjs';

const M = (name) => `ContainerMonitoringOps.${name}`;

// TCP connections of this machine to port (IPv4, loopback):
// { established: Set of the connecting side's addresses, timeWait: the
// sockets in TIME_WAIT on either side, left by a closed connection }.
function connectionsTo(port) {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const out = { established: new Set(), timeWait: 0 };
  for (const line of fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4) continue;
    if (f[3] === '01' && f[2].endsWith(hex)) out.established.add(f[1]);
    if (f[3] === '06' && (f[1].endsWith(hex) || f[2].endsWith(hex))) out.timeWait++;
  }
  return out;
}

for (const engine of ENGINES) {
  describe(`wharfd's FastCGI path (${engine})`, () => {
    let stack;
    let wharfdPort;

    before(async () => {
      stack = await startStack({ tag: 'wharfd-fastcgi', engine, workers: [] });
      wharfdPort = Number(stack.wharfd.addr.split(':')[1]);
      // 1,200 rows of worker w1: a latest-1000 answer is ~290 KB, five
      // FastCGI records and more than nginx's 64k buffer.
      for (let from = 1; from <= 1200; from += 400) {
        const logs = Array.from({ length: 400 }, (_, i) => ({
          sequence: from + i, level: i % 7 ? 'info' : 'error', stream: 'stdout',
          message: `request ${from + i} served in ${i % 97} ms "quoted" \\ tab\t${'é'.repeat(i % 5)}`,
        }));
        const r = await get(`${stack.http}/rpc`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...stack.auth },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: M('storeLogs'), params: { worker: 'w1', instanceId: 'app', logs } }),
        });
        assert.equal(r.status, 200);
        assert.equal(r.json.error, undefined, JSON.stringify(r.json.error));
      }
    });
    after(async () => stack && stack.stop());

    test('many requests reuse the connections kept to wharfd', async () => {
      const CONC = 24;
      const agent = new http.Agent({ keepAlive: true, maxSockets: CONC });
      const one = () => new Promise((resolve, reject) => {
        http.get(`${stack.http}/api/monitoring/logs?worker=w1&limit=5`, { agent, headers: stack.auth }, (res) => {
          let body = '';
          res.on('data', (c) => { body += c; });
          res.on('end', () => resolve({ status: res.statusCode, body }));
        }).on('error', reject);
      });
      const seen = new Set();
      const tw0 = connectionsTo(wharfdPort).timeWait;
      let next = 0;
      await Promise.all(Array.from({ length: CONC }, async () => {
        while (next++ < 600) {
          const r = await one();
          assert.equal(r.status, 200);
          assert.equal(JSON.parse(r.body).data.length, 5);
          for (const p of connectionsTo(wharfdPort).established) seen.add(p);
        }
      }));
      agent.destroy();
      // 600 requests, 24 at a time, over nginx's 2 worker processes: a
      // worker keeps up to 32 idle connections (keepalive 32), so each
      // connection it opened serves request after request and none is
      // closed in between (a closed connection leaves a TIME_WAIT behind
      // on one side); with "keepalive 8" a worker with more than 8 in
      // flight closes the rest after each request.
      assert.ok(seen.size >= 1 && seen.size <= 2 * CONC, `connections to wharfd: ${seen.size}`);
      const closed = connectionsTo(wharfdPort).timeWait - tw0;
      assert.ok(closed <= 2, `${closed} connections to wharfd were closed and reopened`);
    });

    test('wharfd serves on after nginx closes its kept connections (reload)', async () => {
      const before = connectionsTo(wharfdPort).established;
      assert.ok(before.size >= 1, 'no kept connection to begin with');
      await reloadNginx(stack.nginx);
      // The old workers close their idle connections as they leave; wharfd
      // sees each end in its poller and closes its side.
      await waitFor(() => [...before].every((p) => !connectionsTo(wharfdPort).established.has(p)),
        { what: 'the old kept connections to close' });
      // getFresh: a connection of its own each time, as fetch's kept one
      // may be to an old worker process that is closing it
      for (let i = 0; i < 20; i++) {
        const r = await getFresh(`${stack.http}/api/monitoring/logs?worker=w1&limit=3`, { headers: stack.auth });
        assert.equal(r.status, 200);
        assert.equal(r.json.data.length, 3);
      }
      assert.equal(stack.wharfd.exit, null, 'wharfd exited');
    });

    test('an answer of several FastCGI records arrives whole, as the NDJSON stream reads', async () => {
      const r = await get(`${stack.http}/api/monitoring/logs?worker=w1&limit=1000`, { headers: stack.auth });
      assert.equal(r.status, 200);
      assert.ok(r.body.length > 4 * 65528, `answer of ${r.body.length} bytes`);
      assert.equal(Number(r.headers.get('content-length')), Buffer.byteLength(r.body));
      assert.equal(r.json.data.length, 1000);
      assert.deepEqual(r.json.pagination, { limit: 1000, offset: 0, total: null, hasMore: true });
      const s = await get(`${stack.http}/api/monitoring/logs?worker=w1&limit=1000&format=ndjson`, { headers: stack.auth });
      assert.equal(s.status, 200);
      const lines = s.body.trim().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual(lines.slice(0, -1), r.json.data);
      assert.deepEqual(r.json.data.map((x) => x.sequence), Array.from({ length: 1000 }, (_, i) => 1200 - i));
    });

    test('a single getLogs answers what the same call answers in a batch, byte for byte', async () => {
      const rpc = (body) => get(`${stack.http}/rpc`, {
        method: 'POST', headers: { 'content-type': 'application/json', ...stack.auth }, body: JSON.stringify(body),
      });
      for (const params of [{ worker: 'w1', limit: 100 }, { worker: 'w1', limit: 7, offset: 3, total: true },
        { worker: 'w1', instanceId: 'app', limit: 1000 }, { worker: 'nobody', limit: 5 }]) {
        const req = { jsonrpc: '2.0', id: 'x"1', method: M('getLogs'), params };
        const single = await rpc(req);
        const batch = await rpc([req, { ...req, id: 2 }]);
        assert.equal(single.status, 200);
        assert.equal(batch.status, 200);
        assert.ok(single.json.result, JSON.stringify(single.json.error));
        assert.deepEqual(single.json, batch.json[0]);
        // the same text as jansson writes it in the batch
        assert.ok(batch.body.startsWith(`[${single.body},`), 'single and batch answers differ in text');
      }
    });
  });
}
