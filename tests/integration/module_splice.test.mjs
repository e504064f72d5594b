// wharf_splice (issue 18): an upgraded worker session's bytes moved by
// splice(2) in the module instead of nginx's read-into-a-buffer-and-write
// tunnel. Every case runs through two locations of one nginx, one with
// wharf_splice on and one with it off (nginx's own tunnel), to a raw TCP
// worker that the test drives, and both must give the same bytes, the same
// ends and the same log lines:
//   - bytes: 16 MiB each way at once; 2,000 writes of 1 to 9 bytes, in
//     order; the client's bytes sent with its handshake (nginx has read
//     them with the request) and the worker's sent with its 101 (nginx has
//     read them with the response) first;
//   - WebSocket messages of 1 B to 1 MiB and a close frame with its code,
//     npm ws to a WebSocket echo;
//   - ends: a worker that sends a burst and closes (all of it delivered,
//     then the close), a client that goes, a client that resets while the
//     worker floods it; proxy_read_timeout on an idle session (and not
//     while the client alone sends, as nginx's tunnel counts it),
//     proxy_send_timeout with a worker that stops reading, send_timeout
//     with a client that stops reading, each with nginx's own log line;
//   - the access log's $status, $bytes_sent, $upstream_bytes_received and
//     $upstream_bytes_sent;
//   - reload (a spliced session keeps flowing in the old worker process,
//     which exits once the session ends) and quit (nginx serves its open
//     sessions, and exits when they end).
// And that "on" is splice(2): after a session with it on the nginx worker
// processes keep pipes (the module's, for reuse), none after sessions with
// it off; with nginx built --with-debug, the debug log says the "on"
// session's tunnel was taken over and the "off" one's was not, and that a
// live worker's session, whose frames the module counts as nginx sends
// them, is not taken over. Then `nginx -t` on the directive's values.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import {
  BIN, childPids, freeStaticPort, generateKeys, get, nginxTest, reloadNginx, renderNginxConf, startFakeEndpoint, startStack, tempDir,
  waitFor, writeWorkerConf,
} from '../lib/stack.mjs';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const MODES = ['on', 'off'];
const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');

// A worker endpoint on raw TCP: answers any request with a 101, then does
// what the path (the worker's, after the route) says:
//   /echo          sends back every byte
//   /greet?n=N     N bytes in the same write as its 101, then echoes
//   /burst?n=N     N bytes in the same write as its 101, then closes
//   /sink, /idle   reads and discards, never writes
//   /stall         stops reading
//   /flood         writes as fast as it can until the connection ends
function startRawWorker() {
  const w = { sockets: new Set(), closed: [] };
  const pattern = (n, seed) => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
    return b;
  };
  w.pattern = pattern;
  const server = net.createServer((s) => {
    w.sockets.add(s);
    s.on('error', () => {});
    let url = '';
    s.on('close', () => {
      w.sockets.delete(s);
      w.closed.push(url);
    });
    let head = Buffer.alloc(0);
    const onHead = (d) => {
      head = Buffer.concat([head, d]);
      const i = head.indexOf('\r\n\r\n');
      if (i < 0) return;
      s.off('data', onHead);
      const text = head.subarray(0, i).toString('latin1');
      const rest = head.subarray(i + 4);
      url = text.split(' ')[1];
      const key = /\r\nsec-websocket-key:\s*(\S+)/i.exec(text)?.[1] || '';
      const accept = crypto.createHash('sha1').update(`${key}${GUID}`).digest('base64');
      const ok = Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n'
        + `Connection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
      const u = new URL(url, 'http://x');
      const n = Number(u.searchParams.get('n') || 0);
      switch (u.pathname) {
        case '/echo':
        case '/greet':
          s.write(Buffer.concat([ok, pattern(n, 7)]));
          if (rest.length) s.write(rest);
          s.pipe(s);
          break;
        case '/burst':
          s.end(Buffer.concat([ok, pattern(n, 11)]));
          break;
        case '/sink':
        case '/idle':
          s.write(ok);
          s.resume();
          break;
        case '/stall':
          s.write(ok);
          s.pause();
          break;
        case '/flood': {
          s.write(ok);
          s.resume();
          const chunk = pattern(65536, 3);
          const more = () => {
            while (!s.destroyed && s.write(chunk)) { /* until the buffer is full */ }
          };
          s.on('drain', more);
          more();
          break;
        }
        default:
          s.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
      }
    };
    s.on('data', onHead);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    w.addr = `127.0.0.1:${server.address().port}`;
    w.close = () => new Promise((r) => {
      for (const s of w.sockets) s.destroy();
      server.close(() => r());
    });
    resolve(w);
  }));
}

// A client on raw TCP: the upgrade request (and `pipelined` bytes in the
// same write), the 101; then every byte received is kept in rx, and
// `ended` resolves when the connection closes, with the time it took from
// `since` (reset by the test).
function tunnel(port, target, { pipelined = Buffer.alloc(0) } = {}) {
  return new Promise((resolve, reject) => {
    const key = crypto.randomBytes(16).toString('base64');
    const sock = net.connect(port, '127.0.0.1');
    const t = { sock, rx: [], rxLen: 0, head: null, since: Date.now() };
    t.ended = new Promise((r) => sock.on('close', () => r(Date.now() - t.since)));
    t.data = () => Buffer.concat(t.rx);
    t.waitBytes = (n, timeout = 20000) => waitFor(() => t.rxLen >= n,
      { timeout, what: () => `${n} bytes through ${target} (got ${t.rxLen})` });
    let buf = Buffer.alloc(0);
    sock.on('error', (e) => { if (!t.head) reject(e); });
    sock.on('connect', () => {
      sock.write(Buffer.concat([Buffer.from(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n`
        + 'Upgrade: websocket\r\nConnection: Upgrade\r\n'
        + `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`), pipelined]));
    });
    const onData = (d) => {
      buf = Buffer.concat([buf, d]);
      const i = buf.indexOf('\r\n\r\n');
      if (i < 0) return;
      sock.off('data', onData);
      t.head = buf.subarray(0, i).toString('latin1');
      if (!/^HTTP\/1\.1 101 /.test(t.head)) {
        sock.destroy();
        reject(new Error(`${target}: ${t.head}`));
        return;
      }
      const rest = buf.subarray(i + 4);
      if (rest.length) {
        t.rx.push(rest);
        t.rxLen += rest.length;
      }
      sock.on('data', (x) => {
        t.rx.push(x);
        t.rxLen += x.length;
      });
      resolve(t);
    };
    sock.on('data', onData);
  });
}

const PROXY = `
        proxy_pass http://wharf_workers;
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $wharf_connection_upgrade;
        proxy_set_header Authorization "";
        proxy_buffering off;
        proxy_request_buffering off;`;

const HAS_DEBUG = /--with-debug/.test(spawnSync(BIN.nginx, ['-V']).stderr.toString());

describe('wharf_splice: the same tunnel as nginx\'s, by splice(2)', () => {
  let stack, raw, fakeWs, port, logDir;

  before(async () => {
    raw = await startRawWorker();
    fakeWs = await startFakeEndpoint('ws');
    port = await freeStaticPort();
    logDir = tempDir('module-splice-logs');
    fs.chmodSync(logDir, 0o777);
    // /on/ and /off/: long timeouts; /ont/ and /offt/: one second each;
    // /ond/ and /offd/: the debug log (nginx built --with-debug); /onl/:
    // on, a debug log of its own, for live workers
    const loc = (prefix, splice, extra = '') => `
    location /${prefix}/ {
        wharf_route prefix=/${prefix}/;
        wharf_auth off;
        wharf_splice ${splice};${PROXY}${extra}
    }`;
    const timeouts = `
        proxy_read_timeout 1s;
        proxy_send_timeout 1s;
        send_timeout 1s;`;
    const debug = (m) => (HAS_DEBUG ? `
        error_log ${logDir}/debug-${m}.log debug;` : '');
    const extraHttp = `
log_format splice '$request_uri $status $bytes_sent $upstream_bytes_received $upstream_bytes_sent';
server {
    listen 127.0.0.1:${port};
    access_log ${logDir}/access.log splice;
    error_log ${logDir}/error.log info;
    ${MODES.map((m) => loc(m, m) + loc(`${m}t`, m, timeouts) + loc(`${m}d`, m, debug(m))).join('')}${loc('onl', 'on', debug('live'))}
}`;
    stack = await startStack({
      tag: 'module-splice',
      workers: [{ name: 'raw', addr: raw.addr }, { name: 'ws', addr: fakeWs.addr }],
      extraHttp,
    });
  });

  after(async () => {
    if (stack) await stack.stop();
    if (raw) await raw.close();
    if (fakeWs) await fakeWs.close();
    if (logDir) fs.rmSync(logDir, { recursive: true, force: true });
  });

  const errorLog = () => fs.readFileSync(path.join(logDir, 'error.log'), 'utf8');
  const accessLines = () => fs.readFileSync(path.join(logDir, 'access.log'), 'utf8').trim().split('\n');
  // pipes of which an nginx worker process holds both ends, as the module
  // does (a pipe it inherits, the test runner's, it holds one end of)
  const pipes = () => childPids(stack.nginx.pid).reduce((n, pid) => {
    const seen = new Map();
    let fds = [];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch { /* gone */ }
    for (const fd of fds) {
      try {
        const l = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
        if (l.startsWith('pipe:')) seen.set(l, (seen.get(l) || 0) + 1);
      } catch { /* closed meanwhile */ }
    }
    return n + [...seen.values()].filter((k) => k === 2).length;
  }, 0);

  test('off keeps nginx\'s tunnel (no pipe); on moves the bytes through pipes', async () => {
    for (const m of ['off', 'on']) {
      const t = await tunnel(port, `/${m}d/raw/echo`);
      const sent = crypto.randomBytes(300000);
      t.sock.write(sent);
      await t.waitBytes(sent.length);
      assert.equal(sha(t.data()), sha(sent), m);
      if (m === 'off') assert.equal(pipes(), 0, 'no pipe in the nginx workers after sessions with wharf_splice off');
      else assert.ok(pipes() >= 1, `the module's pipes in the nginx workers: ${pipes()}`);
      t.sock.end();
      await t.ended;
    }
    if (HAS_DEBUG) {
      await waitFor(() => fs.readFileSync(path.join(logDir, 'debug-on.log'), 'utf8').includes('wharf splice: tunnel handed back'),
        { what: 'the on session to end' });
      const on = fs.readFileSync(path.join(logDir, 'debug-on.log'), 'utf8');
      const off = fs.readFileSync(path.join(logDir, 'debug-off.log'), 'utf8');
      assert.match(on, /wharf splice: tunnel taken over/);
      assert.match(on, /splice from fd \d+: \d+/);
      assert.doesNotMatch(off, /wharf splice/);
      assert.match(off, /http upstream process upgraded/);
    }
  });

  // A live worker's session counts the frames nginx sends the client (for
  // the close frame that ends it when the worker is removed), which bytes
  // moved by splice(2) would bypass: it keeps nginx's tunnel. A static
  // worker's session through the same location is taken over.
  test('a live worker\'s session keeps nginx\'s tunnel; a static one in the same location is spliced', async () => {
    const put = await get(`${stack.http}/api/workers/liveraw`, {
      method: 'PUT', headers: { ...stack.auth, 'content-type': 'application/json' }, body: JSON.stringify({ upstream: raw.addr }),
    });
    assert.equal(put.status, 201, put.body);
    const log = () => (HAS_DEBUG ? fs.readFileSync(path.join(logDir, 'debug-live.log'), 'utf8') : '');
    const count = (re) => (log().match(re) || []).length;
    for (const [name, spliced] of [['liveraw', 0], ['raw', 1]]) {
      const ends = count(/finalize http upstream request/g);
      const t = await tunnel(port, `/onl/${name}/echo`);
      const sent = crypto.randomBytes(300000);
      t.sock.write(sent);
      await t.waitBytes(sent.length);
      assert.equal(sha(t.data()), sha(sent), name);
      t.sock.end();
      await t.ended;
      if (HAS_DEBUG) {
        await waitFor(() => count(/finalize http upstream request/g) > ends, { what: `the ${name} session's end in the debug log` });
        assert.equal(count(/wharf splice: tunnel taken over/g), spliced, `${name}: ${spliced ? 'spliced' : 'not spliced'}`);
      }
    }
    const del = await get(`${stack.http}/api/workers/liveraw`, { method: 'DELETE', headers: stack.auth });
    assert.equal(del.status, 200, del.body);
  });

  for (const m of MODES) {
    test(`${m}: 16 MiB each way at once, byte for byte`, { timeout: 60000 }, async () => {
      const t = await tunnel(port, `/${m}/raw/echo`);
      const sent = crypto.randomBytes(16 * 1024 * 1024);
      // in pieces of every size, so that reads and pipes fill unevenly
      let off = 0;
      while (off < sent.length) {
        const n = Math.min(sent.length - off, 1 + crypto.randomInt(200000));
        t.sock.write(sent.subarray(off, off + n));
        off += n;
      }
      await t.waitBytes(sent.length, 50000);
      assert.equal(t.rxLen, sent.length);
      assert.equal(sha(t.data()), sha(sent));
      t.sock.end();
      await t.ended;
    });

    test(`${m}: 2,000 writes of 1 to 9 bytes arrive in order`, async () => {
      const t = await tunnel(port, `/${m}/raw/echo`);
      const parts = [];
      for (let i = 0; i < 2000; i++) {
        const p = crypto.randomBytes(1 + (i % 9));
        parts.push(p);
        t.sock.write(p);
        if (i % 100 === 0) await new Promise((r) => setImmediate(r));
      }
      const sent = Buffer.concat(parts);
      await t.waitBytes(sent.length);
      assert.equal(sha(t.data()), sha(sent));
      t.sock.end();
      await t.ended;
    });

    test(`${m}: bytes sent with the handshake and with the 101 come first`, async () => {
      const pipelined = crypto.randomBytes(1500);
      const t = await tunnel(port, `/${m}/raw/greet?n=3000`, { pipelined });
      await t.waitBytes(3000 + 1500);
      const got = t.data();
      assert.equal(sha(got.subarray(0, 3000)), sha(raw.pattern(3000, 7)), 'the worker\'s bytes after its 101');
      assert.equal(sha(got.subarray(3000)), sha(pipelined), 'the client\'s bytes after its request, echoed');
      const more = crypto.randomBytes(70000);
      t.sock.write(more);
      await t.waitBytes(4500 + more.length);
      assert.equal(sha(t.data().subarray(4500)), sha(more));
      t.sock.end();
      await t.ended;
    });

    test(`${m}: WebSocket messages of 1 B to 1 MiB, and a close frame with its code`, async () => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/${m}/ws/chat`);
      await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
      for (const n of [1, 125, 126, 4096, 65535, 65536, 1024 * 1024]) {
        const msg = crypto.randomBytes(n);
        const echo = new Promise((r) => ws.once('message', r));
        ws.send(msg);
        const got = await echo;
        assert.equal(sha(got), sha(msg), `${n} bytes`);
      }
      const closed = new Promise((r) => ws.once('close', (code, reason) => r({ code, reason: reason.toString() })));
      ws.close(4001, `bye-${m}`);
      assert.deepEqual(await closed, { code: 4001, reason: `bye-${m}` });
      await waitFor(() => fakeWs.closes.some((c) => c.url === '/chat' && c.code === 4001), { what: 'the worker to see close 4001' });
    });

    test(`${m}: a worker that sends a burst and closes: all of it, then the close`, async () => {
      const n = 4 * 1024 * 1024;
      const t = await tunnel(port, `/${m}/raw/burst?n=${n}`);
      // a slow client: nginx holds what it cannot write yet
      t.sock.pause();
      await new Promise((r) => setTimeout(r, 300));
      t.sock.resume();
      await t.ended;
      assert.equal(t.rxLen, n);
      assert.equal(sha(t.data()), sha(raw.pattern(n, 11)));
    });

    test(`${m}: a client that goes ends the worker's connection`, async () => {
      const before = raw.closed.length;
      const t = await tunnel(port, `/${m}/raw/echo?who=leaver-${m}`);
      t.sock.write('x');
      await t.waitBytes(1);
      t.sock.end();
      await t.ended;
      await waitFor(() => raw.closed.slice(before).includes(`/echo?who=leaver-${m}`), { what: 'the worker connection to close' });
    });

    test(`${m}: a client that resets while the worker floods it ends the worker's connection`, async () => {
      const before = raw.closed.length;
      const t = await tunnel(port, `/${m}/raw/flood?who=reset-${m}`);
      await t.waitBytes(1024 * 1024);
      t.sock.resetAndDestroy();
      await waitFor(() => raw.closed.slice(before).includes(`/flood?who=reset-${m}`), { what: 'the worker connection to close' });
    });
  }

  // Timeouts: each case on both, the same end and the same log line.
  const timedOut = async (name, what, run) => {
    const elapsed = {};
    for (const m of MODES) {
      elapsed[m] = await run(m);
      await waitFor(() => errorLog().includes(`request: "GET /${m}t/raw/${name} HTTP/1.1"`),
        { what: `the error log line of ${m}` });
      const line = errorLog().split('\n').find((l) => l.includes(`request: "GET /${m}t/raw/${name} HTTP/1.1"`));
      assert.match(line, new RegExp(`\\[info\\] .*${what} \\(110: Connection timed out\\) while proxying upgraded connection`), line);
    }
    return elapsed;
  };

  test('proxy_read_timeout: an idle session ends after it, as without splice', async () => {
    const elapsed = await timedOut('idle', 'upstream timed out', async (m) => {
      const t = await tunnel(port, `/${m}t/raw/idle`);
      t.since = Date.now();
      return t.ended;
    });
    for (const m of MODES) assert.ok(elapsed[m] >= 900 && elapsed[m] < 5000, `${m}: ${elapsed[m]} ms`);
  });

  test('proxy_read_timeout: the client\'s traffic alone keeps a session, as nginx\'s tunnel counts it', async () => {
    const elapsed = await timedOut('sink', 'upstream timed out', async (m) => {
      const t = await tunnel(port, `/${m}t/raw/sink`);
      let alive = true;
      t.ended.then(() => { alive = false; });
      for (let i = 0; i < 10; i++) {
        if (i) await new Promise((r) => setTimeout(r, 250));
        t.sock.write('k');
      }
      t.since = Date.now();
      await new Promise((r) => setTimeout(r, 250));
      assert.ok(alive, `${m}: the session lived 2.5 s of 1 s read timeouts while the client typed`);
      return t.ended;
    });
    // nginx moves a timer only when it moves by more than 300 ms
    // (NGX_TIMER_LAZY_DELAY): an end 0.7 to 1 s after the last byte
    for (const m of MODES) assert.ok(elapsed[m] >= 650 && elapsed[m] < 5000, `${m}: ${elapsed[m]} ms`);
  });

  test('proxy_send_timeout: a worker that stops reading, as without splice', async () => {
    const elapsed = await timedOut('stall', 'upstream timed out', async (m) => {
      const t = await tunnel(port, `/${m}t/raw/stall`);
      t.since = Date.now();
      t.sock.write(Buffer.alloc(64 * 1024 * 1024, 1));
      return t.ended;
    });
    for (const m of MODES) assert.ok(elapsed[m] >= 900 && elapsed[m] < 8000, `${m}: ${elapsed[m]} ms`);
  });

  test('send_timeout: a client that stops reading, as without splice', async () => {
    const elapsed = await timedOut('flood', 'client timed out', async (m) => {
      const t = await tunnel(port, `/${m}t/raw/flood`);
      t.sock.pause();
      t.since = Date.now();
      // a paused socket sees no close: the end is nginx's log line
      await waitFor(() => errorLog().includes(`request: "GET /${m}t/raw/flood HTTP/1.1"`),
        { timeout: 10000, interval: 10, what: `${m}: nginx to end the session` });
      const ms = Date.now() - t.since;
      t.sock.resume();
      await t.ended;
      return ms;
    });
    for (const m of MODES) assert.ok(elapsed[m] >= 900 && elapsed[m] < 8000, `${m}: ${elapsed[m]} ms`);
  });

  test('the access log counts the same bytes', async () => {
    const sent = crypto.randomBytes(100000);
    for (const m of MODES) {
      const t = await tunnel(port, `/${m}/raw/echo?acct`);
      t.sock.write(sent);
      await t.waitBytes(sent.length);
      t.sock.end();
      await t.ended;
    }
    const line = (m) => waitFor(() => accessLines().find((l) => l.startsWith(`/${m}/raw/echo?acct `)), { what: `the access log line of ${m}` });
    const on = (await line('on')).split(' ').slice(1);
    const off = (await line('off')).split(' ').slice(1);
    assert.deepEqual(on, off);
    assert.equal(on[0], '101');
    assert.ok(Number(on[1]) > sent.length && Number(on[2]) > sent.length && Number(on[3]) > sent.length, on.join(' '));
  });

  test('reload: a spliced session flows on in the old worker process, which exits when it ends', async () => {
    const t = await tunnel(port, '/on/raw/echo?reload');
    t.sock.write('before');
    await t.waitBytes(6);
    const old = childPids(stack.nginx.pid);
    await reloadNginx(stack.nginx);
    t.sock.write('after');
    await t.waitBytes(11);
    assert.equal(t.data().toString(), 'beforeafter');
    const big = crypto.randomBytes(2 * 1024 * 1024);
    t.sock.write(big);
    await t.waitBytes(11 + big.length);
    assert.equal(sha(t.data().subarray(11)), sha(big));
    assert.ok(old.some((p) => childPids(stack.nginx.pid).includes(p)), 'an old worker process still serves the session');
    const fresh = await tunnel(port, '/on/raw/echo?fresh');
    fresh.sock.write('new');
    await fresh.waitBytes(3);
    fresh.sock.end();
    t.sock.end();
    await t.ended;
    await waitFor(() => !old.some((p) => childPids(stack.nginx.pid).includes(p)), { what: 'the old worker processes to exit' });
  });

  test('quit: nginx serves its open sessions, on and off, and exits when they end', async () => {
    const open = {};
    for (const m of MODES) {
      open[m] = await tunnel(port, `/${m}/raw/echo?quit`);
      open[m].sock.write('a');
      await open[m].waitBytes(1);
    }
    process.kill(stack.nginx.pid, 'SIGQUIT');
    // no longer accepting
    await waitFor(() => new Promise((r) => {
      const s = net.connect(port, '127.0.0.1');
      s.on('error', () => r(true));
      s.on('connect', () => { s.destroy(); r(false); });
    }), { what: 'nginx to stop accepting' });
    for (const m of MODES) {
      const big = crypto.randomBytes(1024 * 1024);
      open[m].sock.write(big);
      await open[m].waitBytes(1 + big.length);
      assert.equal(sha(open[m].data().subarray(1)), sha(big), m);
    }
    assert.equal(stack.nginx.exit, null, 'nginx waits for the open sessions');
    for (const m of MODES) {
      open[m].sock.end();
      await open[m].ended;
    }
    const exit = await stack.nginx.exited;
    assert.equal(exit.code, 0);
  });
});

// nginx -t: on and off in http, server and location; anything else refused
// with its file and line. In a server{} of its own (the rendered http{}
// already has "wharf_splice on" under WHARF_SPLICE=on).
describe('wharf_splice under nginx -t', () => {
  let dir, prefix, workers, keys;

  before(() => {
    dir = tempDir('module-splice-conf');
    prefix = path.join(dir, 'nginx');
    workers = path.join(dir, 'workers.d');
    fs.mkdirSync(prefix);
    fs.mkdirSync(workers);
    keys = generateKeys(dir);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  // nginx -t with `lines` in a location of a server of their own; the line
  // of the file where they begin
  const check = (lines) => {
    for (const f of fs.readdirSync(workers)) fs.unlinkSync(path.join(workers, f));
    writeWorkerConf(workers, 'demo', '127.0.0.1:9');
    const file = path.join(workers, '00-splice.conf');
    const head = ['', 'server {', '    listen 127.0.0.1:4;', '    wharf_splice off;', '    location /w/ {',
      '        wharf_route prefix=/w/;', '        proxy_pass http://wharf_workers;'];
    fs.writeFileSync(file, `${[...head, ...lines.map((l) => `        ${l}`), '    }', '}', ''].join('\n')}`);
    const conf = renderNginxConf({ prefix, listen: '127.0.0.1:1', wharfd: '127.0.0.1:2', wharfdWs: '127.0.0.1:3', workersDir: workers, keys });
    return { ...nginxTest(prefix, conf), where: `${file}:${head.length + 1}` };
  };

  test('on and off pass, in server and location', () => {
    for (const v of ['on', 'off', 'ON']) {
      const r = check([`wharf_splice ${v};`]);
      assert.equal(r.status, 0, r.output);
    }
  });

  for (const [lines, re] of [
    [['wharf_splice yes;'], /invalid value "yes" in "wharf_splice" directive, it must be "on" or "off"/],
    [['wharf_splice 1;'], /invalid value "1" in "wharf_splice" directive/],
    [['wharf_splice;'], /invalid number of arguments in "wharf_splice" directive/],
    [['wharf_splice on off;'], /invalid number of arguments in "wharf_splice" directive/],
    [['wharf_splice on;', 'wharf_splice off;'], /"wharf_splice" directive is duplicate/],
  ]) {
    test(`${lines.join(' ')} is refused with its file and line`, () => {
      const r = check(lines);
      assert.notEqual(r.status, 0, r.output);
      assert.match(r.output, /\[emerg\]/);
      assert.match(r.output, re);
      const where = lines.length > 1 ? r.where.replace(/:(\d+)$/, (_, n) => `:${Number(n) + 1}`) : r.where;
      assert.ok(r.output.includes(where), `${where} not in: ${r.output}`);
    });
  }
});
