// The client's credentials at the gateway (issue 13): a browser's token as
// the subprotocol "wharf.bearer.JWT", taken out before the worker; one
// credential per request (400 invalid_request for two); the client's
// Cookie, Proxy-Authorization and Authorization never reach a worker
// (wharf_pass_request_headers lets the first two through); no token in the
// access log or the error log, on any route, whatever the error; and a
// module route's 405 followed by nothing ("header already sent").
//
// Workers: a real agent (its terminal selects wharf.tty.v1) and a fake
// endpoint that records every header it gets.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort, freeStaticPort, startFakeEndpoint, startStack, waitFor, TOKEN_LEEWAY } from '../lib/stack.mjs';
import { Terminal, TTY_PROTOCOL } from '../lib/terminal.mjs';
import { rawWs } from '../lib/wsraw.mjs';

const JWT = /eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\./;

// One request as raw bytes; resolves with { status, head, body } once the
// answer is complete (Content-Length) or the connection closed.
function raw(port, bytes) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    const s = net.connect(port, '127.0.0.1', () => s.write(Buffer.from(bytes, 'latin1')));
    const answer = () => {
      const all = Buffer.concat(chunks).toString('latin1');
      const i = all.indexOf('\r\n\r\n');
      const len = /\r\ncontent-length: *(\d+)/i.exec(all.slice(0, i));
      return { status: Number(all.split(' ')[1]) || 0, head: all.slice(0, i), body: all.slice(i + 4), complete: i >= 0 && len && all.length >= i + 4 + Number(len[1]) };
    };
    s.on('data', (d) => {
      chunks.push(d);
      if (answer().complete) {
        s.destroy();
        resolve(answer());
      }
    });
    s.on('error', reject);
    s.on('close', () => resolve(answer()));
  });
}

describe('the client\'s credentials at the gateway', () => {
  let stack, spy, passPort, token, downPort;

  before(async () => {
    spy = await startFakeEndpoint('ws');
    passPort = await freeStaticPort();
    downPort = await freePort(); // nothing listens there
    stack = await startStack({
      tag: 'module-credentials',
      workers: [
        { name: 'tty', terminalCmd: '/bin/sh' },
        { name: 'spy', addr: spy.addr },
        { name: 'down', addr: `127.0.0.1:${downPort}` },
      ],
      // the same routes, where the app behind keeps its sessions in cookies
      extraHttp: `
server {
    listen 127.0.0.1:${passPort};
    location /api/workers/ {
        wharf_route;
        wharf_pass_request_headers Cookie;
        proxy_pass http://wharf_workers;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
    }
    # a stock proxy, without the module, to a port where nothing listens
    location /plain/ {
        proxy_pass http://127.0.0.1:${downPort};
    }
}`,
    });
    token = stack.mint({ sub: '*', scope: 'terminal read' });
  });
  after(async () => {
    if (stack) await stack.stop();
    if (spy) await spy.close();
  });

  const last = () => spy.requests[spy.requests.length - 1];

  test('a browser\'s token as a subprotocol: the terminal opens with wharf.tty.v1, nothing echoed', async () => {
    const t = await Terminal.open(`${stack.ws}/api/workers/tty/terminal`, { protocol: [TTY_PROTOCOL, `wharf.bearer.${token}`] });
    assert.equal(t.ws.protocol, TTY_PROTOCOL, 'the agent selected the real subprotocol');
    t.send('echo sub-$((6*7))\r');
    await t.expect(/sub-42/);
    t.close();
    await t.waitClosed();
    // the 101 itself, on a raw socket: no token anywhere in it
    const c = await rawWs(`${stack.ws}/api/workers/tty/terminal`, { protocol: `wharf.bearer.${token}, ${TTY_PROTOCOL}` });
    assert.equal(c.status, 101);
    assert.match(c.head, /\r\nsec-websocket-protocol: wharf\.tty\.v1(\r\n|$)/i);
    assert.doesNotMatch(c.head, JWT);
    await c.end();
  });

  test('the worker gets the other subprotocols, and none of the client\'s credentials', async () => {
    const c = await rawWs(`${stack.ws}/api/workers/spy/echo?n=1`, {
      protocol: `chat.v2, wharf.bearer.${token}, other`,
      headers: { Cookie: 'session=s3cret', 'Proxy-Authorization': 'Basic dXNlcjpwYXNz' },
    });
    assert.equal(c.status, 101);
    await c.end();
    const got = last().headers;
    assert.equal(got['sec-websocket-protocol'], 'chat.v2, other');
    assert.equal(got.cookie, undefined);
    assert.equal(got['proxy-authorization'], undefined);
    assert.match(got.authorization, /^Bearer /, 'the module\'s own token');
    const claims = JSON.parse(Buffer.from(got.authorization.split('.')[1], 'base64url'));
    assert.deepEqual([claims.sub, claims.aud], ['spy', 'spy']);
    assert.doesNotMatch(JSON.stringify(got).replace(got.authorization, ''), JWT);

    // the bearer entry alone: the header goes, the worker sees none
    const d = await rawWs(`${stack.ws}/api/workers/spy/echo?n=2`, { protocol: `wharf.bearer.${token}` });
    assert.equal(d.status, 101);
    await d.end();
    assert.equal(last().headers['sec-websocket-protocol'], undefined);
  });

  test('plain HTTP with many headers: the credentials go wherever they are in nginx\'s header list', async () => {
    // nginx keeps headers in parts of 20: these span three, with cookies
    // in the first part, at the end of the second, and in the last one
    const lines = [];
    for (let i = 0; i < 45; i++) {
      if (i === 3 || i === 39) lines.push(`Cookie: c${i}=1`);
      else if (i === 19) lines.push('Proxy-Authorization: Basic eA==');
      else if (i === 44) lines.push('Cookie: tail=1');
      else lines.push(`X-Pad-${i}: ${i}`);
    }
    const r = await raw(stack.port, `GET /api/workers/spy/many HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n`
      + `${lines.join('\r\n')}\r\nConnection: close\r\n\r\n`);
    assert.equal(r.status, 200, r.body);
    const got = JSON.parse(r.body).headers;
    assert.equal(got.cookie, undefined);
    assert.equal(got['proxy-authorization'], undefined);
    for (let i = 0; i < 45; i++) {
      if (![3, 19, 39, 44].includes(i)) assert.equal(got[`x-pad-${i}`], String(i), `x-pad-${i} kept`);
    }
  });

  test('wharf_pass_request_headers Cookie: the cookie passes, Proxy-Authorization does not', async () => {
    const r = await raw(passPort, `GET /api/workers/spy/pass HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n`
      + 'Cookie: app=1\r\nProxy-Authorization: Basic eA==\r\nConnection: close\r\n\r\n');
    assert.equal(r.status, 200, r.body);
    const got = JSON.parse(r.body).headers;
    assert.equal(got.cookie, 'app=1');
    assert.equal(got['proxy-authorization'], undefined);
    assert.doesNotMatch(got.authorization, new RegExp(token.slice(-20)), 'the module\'s token, not the client\'s');
  });

  test('the live feed (wharf_bearer_subprotocol): the subprotocol\'s token goes on as Authorization', async () => {
    const c = await rawWs(`${stack.ws}/ws/monitoring`, { protocol: `wharf.bearer.${token}` });
    assert.equal(c.status, 101, c.head);
    assert.doesNotMatch(c.head, JWT);
    await c.end();
    const expired = stack.mint({ sub: '*', scope: 'read', ttl: -TOKEN_LEEWAY - 10 });
    const e = await rawWs(`${stack.ws}/ws/monitoring`, { protocol: `wharf.bearer.${expired}` });
    assert.equal(e.status, 401, 'wharfd checked it');
    for (const [what, opts] of [
      ['query + subprotocol', { url: `/ws/monitoring?access_token=${token}`, protocol: `wharf.bearer.${token}` }],
      ['header + subprotocol', { url: '/ws/monitoring', protocol: `wharf.bearer.${token}`, headers: { Authorization: `Bearer ${token}` } }],
    ]) {
      const r = await rawWs(`${stack.ws}${opts.url}`, opts);
      assert.equal(r.status, 400, what);
      assert.equal(JSON.parse(r.body).error.code, 'invalid_request', what);
    }
  });

  test('two credentials: 400 invalid_request, whether both are good or one is bad', async () => {
    const bad = stack.mint({ sub: '*', scope: 'terminal read', ttl: -TOKEN_LEEWAY - 10 });
    const cases = [
      ['header + query', { auth: token, query: token }],
      ['header + query (one expired)', { auth: bad, query: token }],
      ['header + subprotocol', { auth: token, proto: token }],
      ['query + subprotocol', { query: token, proto: bad }],
      ['two query tokens', { query: token, query2: token }],
      ['two subprotocol tokens', { proto: token, proto2: token }],
    ];
    for (const path of ['/api/workers/spy/x', '/api/workers/tty/terminal', '/api/workers', '/api/workers/spy', '/metrics']) {
      for (const [what, c] of cases) {
        let target = path;
        if (c.query) target += `?access_token=${c.query}`;
        if (c.query2) target += `&ACCESS_TOKEN=${c.query2}`;
        const protos = [c.proto, c.proto2].filter(Boolean).map((t) => `wharf.bearer.${t}`);
        const head = [`GET ${target} HTTP/1.1`, 'Host: x',
          ...(c.auth ? [`Authorization: Bearer ${c.auth}`] : []),
          ...(protos.length ? [`Sec-WebSocket-Protocol: ${protos.join(', ')}`] : []),
          ...(path.endsWith('/terminal') ? ['Upgrade: websocket', 'Connection: Upgrade',
            'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='] : ['Connection: close'])];
        const r = await raw(stack.port, `${head.join('\r\n')}\r\n\r\n`);
        assert.equal(r.status, 400, `${path} ${what}: ${r.head}`);
        assert.equal(JSON.parse(r.body).error.code, 'invalid_request', `${path} ${what}`);
        assert.match(r.head, /\r\nWWW-Authenticate: Bearer realm="wharf", error="invalid_request"/i, `${path} ${what}`);
      }
    }
  });

  test('WebSocket handshakes the worker could not answer: 400 or 426 JSON before proxying', async () => {
    const n = spy.requests.length;
    const up = (extra) => raw(stack.port, `GET /api/workers/spy/echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n`
      + `Upgrade: websocket\r\nConnection: Upgrade\r\n${extra}\r\n`);
    const KEY = 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';
    for (const [extra, status, code] of [
      ['Sec-WebSocket-Version: 13\r\n', 400, 'bad_handshake'], // no key
      [`Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: not base64!!\r\n`, 400, 'bad_handshake'],
      [`Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${Buffer.alloc(15).toString('base64')}\r\n`, 400, 'bad_handshake'],
      [`Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${Buffer.alloc(17).toString('base64')}\r\n`, 400, 'bad_handshake'],
      [`Sec-WebSocket-Version: 13\r\n${KEY}${KEY}`, 400, 'bad_handshake'],
      [`Sec-WebSocket-Version: 8\r\n${KEY}`, 426, 'unsupported_websocket_version'],
      [`Sec-WebSocket-Version: 99\r\n${KEY}`, 426, 'unsupported_websocket_version'],
      [KEY, 426, 'unsupported_websocket_version'],
    ]) {
      const r = await up(extra);
      assert.equal(r.status, status, `${extra}: ${r.head}`);
      assert.equal(JSON.parse(r.body).error.code, code);
      if (status === 426) {
        assert.match(r.head, /^HTTP\/1\.1 426 Upgrade Required\r\n/);
        assert.match(r.head, /\r\nSec-WebSocket-Version: 13(\r\n|$)/);
      }
    }
    assert.equal(spy.requests.length, n, 'none reached the worker');
  });

  test('nginx\'s own refusals on a worker route are JSON: 413, 502', async () => {
    const big = await fetch(`${stack.http}/api/workers/spy/upload`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
      body: Buffer.alloc(1048577),
    });
    assert.equal(big.status, 413);
    assert.match(big.headers.get('content-type'), /^application\/json/);
    assert.equal((await big.json()).error.code, 'body_too_large');
    const down = await fetch(`${stack.http}/api/workers/down/x?access_token=${token}`);
    assert.equal(down.status, 502);
    assert.match(down.headers.get('content-type'), /^application\/json/);
    assert.equal((await down.json()).error.code, 'worker_unreachable');
    // a WebSocket too
    const ws = await rawWs(`${stack.ws}/api/workers/down/terminal`, { protocol: `wharf.bearer.${token}` });
    assert.equal(ws.status, 502);
    assert.equal(JSON.parse(ws.body).error.code, 'worker_unreachable');
  });

  test('no token in the logs: the request line redacted, on every route and error', async () => {
    // wharfd's routes, which the module does not serve (the token stays in
    // $args there for wharfd), the feed, a worker that is down (an error
    // line with the request and the upstream), and a refused request
    const targets = [
      `/rpc?access_token=${token}`,
      `/api/monitoring/logs?worker=spy&access_token=${token}&limit=1`,
      `/api/workers/down/x?access_token=${token}`,
      `/api/workers/nope/x?access_token=${token}`,
      `/nowhere?x=1&access_token=${token}`,
    ];
    for (const t of targets) await fetch(`${stack.http}${t}`, { headers: { referer: `http://x/page?access_token=${token}` } });
    await fetch(`http://127.0.0.1:${passPort}/plain/x?access_token=${token}`, { headers: { referer: `http://x/page?access_token=${token}` } });
    const feed = await rawWs(`${stack.ws}/ws/monitoring?access_token=${token}`);
    if (feed.end) await feed.end();
    // a bad header after the request line: answered 400 before any phase
    await raw(stack.port, `GET /rpc?access_token=${token} HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n`);
    const logs = path.join(stack.prefix, 'logs');
    const access = () => fs.readFileSync(path.join(logs, 'access.log'), 'utf8');
    await waitFor(() => access().includes('/nowhere?x=1&access_token=[redacted]'), { what: 'the access log line' });
    // nginx logs a request after it has sent the answer: wait for the line
    await waitFor(() => /"GET \/rpc\?access_token=\[redacted\] HTTP\/1\.1" 400/.test(access()),
      { what: () => `the 400 before any phase in the access log:\n${access().slice(-1500)}` });
    await waitFor(() => /connect\(\) failed .*upstream: "http:\/\/127\.0\.0\.1:\d+\/plain\/x\?access_token=\[redacted\]", host: "[^"]*", referrer: "http:\/\/x\/page\?access_token=\[redacted\]"/.test(stack.nginx.errorLog()),
      { what: () => `the error line of the stock proxy to nothing, its upstream and referrer redacted:\n${stack.nginx.errorLog().slice(-1500)}` });
    for (const f of fs.readdirSync(logs)) {
      const text = fs.readFileSync(path.join(logs, f), 'utf8');
      assert.doesNotMatch(text, JWT, `a token in nginx's ${f}`);
    }
    assert.match(stack.nginx.errorLog(), /request: "GET \/api\/workers\/down\/x\?access_token=\[redacted\] HTTP\/1\.1"/);
  });

  test('a non-GET on a module route: 405 JSON, and nothing sent after it', async () => {
    for (const p of ['/api/workers', '/api/workers/spy', '/api/terminals', '/metrics', '/health', '/health/terminal',
      '/api/workers/spy/health/terminal']) {
      // one worker's registry route takes PUT and DELETE too: the live
      // registry's (registry_live_api.test.mjs)
      const one = p === '/api/workers/spy';
      for (const method of one ? ['POST', 'PATCH'] : ['POST', 'PUT', 'DELETE']) {
        const r = await fetch(`${stack.http}${p}`, { method, headers: { authorization: `Bearer ${token}` }, body: method === 'DELETE' ? undefined : 'x' });
        assert.equal(r.status, 405, `${method} ${p}`);
        assert.equal(r.headers.get('allow'), one ? 'GET, HEAD, PUT, DELETE' : 'GET, HEAD');
        assert.equal((await r.json()).error.code, 'method_not_allowed');
      }
    }
    // the module's lines are written before the request ends: one more
    // request through the same process shows they are all in
    await fetch(`${stack.http}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    assert.doesNotMatch(stack.nginx.errorLog(), /\[alert\]|header already sent/);
  });
});
