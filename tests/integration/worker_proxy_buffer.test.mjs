// conf/wharf.conf's proxy_buffer_size 16k in the worker routes (issue 18):
// the buffer nginx moves an upgraded connection's bytes through, each way,
// and the one that holds a worker's response header. A header that fits
// in 16 KiB reaches the client (with nginx's default of 4 KiB it was a
// 502); a larger one is nginx's "too big header", answered with the
// worker_unreachable JSON; and WebSocket messages several times the
// buffer cross the tunnel whole, both ways.

import assert from 'node:assert/strict';
import http from 'node:http';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';
import { startStack, waitFor } from '../lib/stack.mjs';

const WebSocket = createRequire(import.meta.url)('ws');
const { WebSocketServer } = WebSocket;

describe('worker routes: proxy_buffer_size 16k', () => {
  let stack, server, wss;

  before(async () => {
    // GET /header?bytes=N answers with an X-Big header of N bytes; any
    // upgrade is a WebSocket echo
    server = http.createServer((req, res) => {
      const n = Number(new URL(req.url, 'http://x').searchParams.get('bytes'));
      res.writeHead(200, { 'content-type': 'text/plain', 'x-big': 'b'.repeat(n) });
      res.end('ok\n');
    });
    wss = new WebSocketServer({ server });
    wss.on('connection', (ws) => ws.on('message', (d, binary) => ws.send(d, { binary })));
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    stack = await startStack({
      tag: 'proxy-buffer',
      workers: [{ name: 'big', addr: `127.0.0.1:${server.address().port}` }],
    });
  });

  after(async () => {
    await stack?.stop();
    for (const c of wss?.clients ?? []) c.terminate();
    server?.closeAllConnections();
    await new Promise((r) => (server ? server.close(r) : r()));
  });

  const fetchHeader = (bytes) => fetch(`${stack.http}/api/workers/big/header?bytes=${bytes}`, { headers: stack.auth });

  test('a 15,000-byte response header reaches the client (over the 4 KiB default)', async () => {
    const res = await fetchHeader(15000);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-big').length, 15000);
    assert.equal(await res.text(), 'ok\n');
  });

  test('a 17,000-byte response header is a 502 worker_unreachable', async () => {
    const res = await fetchHeader(17000);
    assert.equal(res.status, 502);
    assert.equal((await res.json()).error.code, 'worker_unreachable');
    await waitFor(() => /upstream sent too big header/.test(stack.nginx.errorLog()),
      { what: 'nginx to log the too big header' });
  });

  test('WebSocket messages of 1 B to 200 KiB cross the 16 KiB tunnel whole, in order', async () => {
    const ws = new WebSocket(`${stack.ws}/api/workers/big/echo`, { headers: stack.auth });
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    const sizes = [1, 4095, 4096, 16383, 16384, 16385, 65536, 200000];
    const sent = sizes.map((n, i) => Buffer.alloc(n, 97 + i));
    const got = [];
    ws.on('message', (d) => got.push(d));
    for (const b of sent) ws.send(b);
    await waitFor(() => got.length === sent.length, { what: 'every echo' });
    ws.close();
    got.forEach((d, i) => assert.ok(d.equals(sent[i]), `message ${i} (${sizes[i]} B) came back whole`));
  });
});
