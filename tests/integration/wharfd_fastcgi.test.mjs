// The FastCGI path between nginx and wharfd (issue 18): the connections
// nginx keeps to wharfd (conf/nginx.conf upstream keepalive, conf/wharf.conf
// fastcgi_keep_conn) are reused request after request and survive nginx
// closing them; a whole answer larger than one FastCGI record (wharfd
// writes records of up to 65528 bytes in one writev, fcgi_records.h) and
// larger than nginx's fastcgi_buffer_size arrives whole; a single JSON-RPC
// list call (its result written as text, rpc_route.c) answers exactly what
// the same call answers inside a batch (the jansson tree). wharfd's
// request threads wait on connections with a request, never on an idle
// one (server.h): with 2 threads, nginx's many kept connections are all
// served; its bound on open connections and its pause when out of
// descriptors hold at their edge.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BIN, ENGINES, Proc, freePort, get, getFresh, reloadNginx, startStack, startWharfd, tempDir, waitFor } from '../lib/stack.mjs';

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

// The accept queue of the socket listening on port (IPv4): connections
// the kernel completed that wharfd has not accepted yet.
function acceptQueue(port) {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[3] === '0A' && f[1].endsWith(hex)) return parseInt(f[4].split(':')[1], 16);
  }
  throw new Error(`nothing listens on ${port}`);
}

// Opens n TCP connections to port; resolves to their sockets.
function connectMany(port, n) {
  return Promise.all(Array.from({ length: n }, () => new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.on('error', reject);
  })));
}

// One FastCGI request (GET path, no body) on a connection of its own,
// as nginx sends it; resolves to the Status line of the answer.
function fcgiGet(port, uri) {
  const record = (type, body) => {
    const pad = (8 - (body.length % 8)) % 8;
    const h = Buffer.from([1, type, 0, 1, body.length >> 8, body.length & 0xff, pad, 0]);
    return Buffer.concat([h, body, Buffer.alloc(pad)]);
  };
  const pair = (k, v) => Buffer.concat([Buffer.from([k.length, v.length]), Buffer.from(k + v)]);
  const params = Buffer.concat([pair('REQUEST_METHOD', 'GET'), pair('REQUEST_URI', uri)]);
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.write(Buffer.concat([record(1, Buffer.from([0, 1, 0, 0, 0, 0, 0, 0])), record(4, params),
        record(4, Buffer.alloc(0)), record(5, Buffer.alloc(0))]));
    });
    let got = Buffer.alloc(0);
    s.on('data', (d) => { got = Buffer.concat([got, d]); });
    s.on('error', reject);
    s.on('close', () => {
      const m = /Status: (\d+)/.exec(got.toString('latin1'));
      if (m) resolve(Number(m[1])); else reject(new Error(`no FastCGI answer: ${got.length} bytes`));
    });
  });
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
      // sees each end (a thread is woken for it) and closes its side.
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

describe('wharfd\'s request threads and connections', () => {
  test('2 request threads serve every request while nginx keeps many more connections idle', async () => {
    const stack = await startStack({ tag: 'wharfd-2threads', workers: [], wharfdArgs: ['--threads', '2'] });
    try {
      const wharfdPort = Number(stack.wharfd.addr.split(':')[1]);
      const CONC = 24;
      const agent = new http.Agent({ keepAlive: true, maxSockets: CONC });
      const one = () => new Promise((resolve, reject) => {
        http.get(`${stack.http}/api/monitoring/logs?worker=w1&limit=5`, { agent, headers: stack.auth }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode));
        }).on('error', reject);
      });
      const seen = new Set();
      // Two rounds: the second runs on connections that waited idle,
      // kept by nginx, between the rounds. A thread that stayed on an
      // idle connection (libfcgi's own model) would leave requests on
      // the others waiting until nginx gave up (504).
      for (let round = 0; round < 2; round++) {
        let next = 0;
        await Promise.all(Array.from({ length: CONC }, async () => {
          while (next++ < 240) {
            assert.equal(await one(), 200);
            for (const p of connectionsTo(wharfdPort).established) seen.add(p);
          }
        }));
        assert.ok(connectionsTo(wharfdPort).established.size > 2, 'nginx keeps more connections than wharfd has threads');
      }
      agent.destroy();
      assert.ok(seen.size > 2, `connections to wharfd: ${seen.size}`);
    } finally {
      await stack.stop();
    }
  });

  test('at 1024 open connections wharfd accepts no more until one closes', async () => {
    const dir = tempDir('wharfd-conns');
    const logDir = path.join(dir, 'logs');
    fs.mkdirSync(logDir);
    const wharfd = await startWharfd({ dir, logDir, args: ['--threads', '2'] });
    let socks = [];
    try {
      const port = Number(wharfd.addr.split(':')[1]);
      // WHARFD_MAX_CONNS, 64 at a time: more at once would overflow the
      // listen backlog (128), and the kernel would complete the overflow
      // only later, on its retransmits
      while (socks.length < 1024) {
        socks.push(...await connectMany(port, 64));
        await waitFor(() => acceptQueue(port) === 0, { what: `${socks.length} connections accepted` });
      }
      socks.push(...await connectMany(port, 3));
      await waitFor(() => acceptQueue(port) === 3, { what: '1024 accepted, 3 waiting' });
      socks.splice(0, 2).forEach((s) => s.destroy());
      await waitFor(() => acceptQueue(port) === 1, { what: 'two more accepted after two closed' });
      socks.shift().destroy();
      await waitFor(() => acceptQueue(port) === 0, { what: 'the last accepted' });
      // at the bound, a new connection waits its turn, then is served
      const status = fcgiGet(port, '/api/monitoring/health');
      await waitFor(() => acceptQueue(port) === 1, { what: 'the request to wait in the queue' });
      socks.shift().destroy();
      assert.equal(await status, 200);
    } finally {
      socks.forEach((s) => s.destroy());
      assert.deepEqual(await wharfd.stop(), { code: 0, signal: null });
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('out of descriptors, wharfd pauses accepting, then accepts and serves again', async () => {
    const dir = tempDir('wharfd-emfile');
    const logDir = path.join(dir, 'logs');
    fs.mkdirSync(logDir);
    const port = await freePort();
    // 64 descriptors at most (prlimit execs wharfd: the pid stays its own)
    const wharfd = new Proc('wharfd', 'prlimit', ['--nofile=64:64', '--', BIN.wharfd, '--listen', `127.0.0.1:${port}`,
      '--db', path.join(dir, 'wharf.db'), '--threads', '2'], { logDir });
    let socks = [];
    try {
      await wharfd.waitLine(/^wharfd listening on /);
      const fds = () => fs.readdirSync(`/proc/${wharfd.pid}/fd`).length;
      const base = fds();
      const refused = () => fs.readFileSync(wharfd.logPath, 'utf8').split('\n')
        .filter((l) => /accept on .*Too many open files/.test(l)).length;
      socks = await connectMany(port, 100);
      await waitFor(() => refused() >= 2 && acceptQueue(port) > 0, { what: 'wharfd out of descriptors, accepting paused' });
      socks.forEach((s) => s.destroy());
      await waitFor(() => acceptQueue(port) === 0 && fds() === base, { what: 'every connection accepted and closed' });
      assert.equal(await fcgiGet(port, '/api/monitoring/health'), 200);
      // one try per pause (100 ms): a listen socket watched while out of
      // descriptors would be tried, and logged, thousands of times a second
      assert.ok(refused() < 100, `${refused()} failed accepts logged`);
    } finally {
      socks.forEach((s) => s.destroy());
      assert.deepEqual(await wharfd.stop(), { code: 0, signal: null });
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
