// The agent's token on the request to the worker, both ways the module
// puts it there behind "proxy_pass http://wharf_workers;":
//   - the location drops the client's header ("proxy_set_header
//     Authorization "";", as conf/wharf.conf does): the balancer adds the
//     module's token to the request the proxy module built, in a copy
//     outside the request's pool (ngx_http_wharf_balancer_add_token);
//   - it does not: the client's header carries the module's token instead.
// Either way the worker gets exactly one Authorization line, the module's
// token for that worker, never the client's, and the rest of the request
// (request line, other headers, body) as the client sent it.
//
// The first way rewrites a buffer the proxy module built (one buffer, an
// HTTP/1 request line and its header lines): one of the nginx internals
// the module relies on, run on every nginx version by `make test-nginx`
// (docs/DESIGN-module.md, "What to re-check on an nginx upgrade").

import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { freeStaticPort, get, startStack } from '../lib/stack.mjs';

// A worker that answers each request with what it received, byte for byte:
// {head, body} (keep-alive, Content-Length bodies).
function startRawSpy() {
  const spy = { requests: [], sockets: new Set() };
  const server = net.createServer((s) => {
    spy.sockets.add(s);
    s.on('close', () => spy.sockets.delete(s));
    s.on('error', () => {});
    let buf = Buffer.alloc(0);
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        const len = m ? Number(m[1]) : 0;
        if (buf.length < end + 4 + len) return;
        const body = buf.subarray(end + 4, end + 4 + len).toString('latin1');
        buf = buf.subarray(end + 4 + len);
        spy.requests.push({ head, body });
        const answer = JSON.stringify({ head, body });
        s.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(answer)}\r\n\r\n${answer}`);
      }
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    spy.addr = `127.0.0.1:${server.address().port}`;
    spy.close = () => new Promise((r) => {
      for (const s of spy.sockets) s.destroy();
      server.close(() => r());
    });
    resolve(spy);
  }));
}

const authLines = (head) => head.split('\r\n').filter((l) => /^authorization:/i.test(l));
const claimsOf = (bearer) => JSON.parse(Buffer.from(bearer.replace(/^Bearer /, '').split('.')[1], 'base64url').toString());

describe('the agent\'s token on the request to the worker', () => {
  let stack, spy, port, token;

  before(async () => {
    spy = await startRawSpy();
    port = await freeStaticPort();
    stack = await startStack({
      tag: 'module-agent-token',
      workers: [{ name: 'tok', addr: spy.addr }],
      extraHttp: `
server {
    listen 127.0.0.1:${port};
    location /drop/ {
        wharf_route prefix=/drop/;
        proxy_pass http://wharf_workers;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Authorization "";
    }
    location /swap/ {
        wharf_route prefix=/swap/;
        proxy_pass http://wharf_workers;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
    }
}`,
    });
    token = stack.mint({ sub: 'tok', scope: 'terminal' });
  });

  after(async () => {
    if (stack) await stack.stop();
    if (spy) await spy.close();
  });

  for (const loc of ['drop', 'swap']) {
    const url = (rest) => `http://127.0.0.1:${port}/${loc}/tok${rest}`;

    const check = (r, { method, target, body = '' }) => {
      assert.equal(r.status, 200, r.body);
      const { head, body: got } = r.json;
      const lines = head.split('\r\n');
      assert.equal(lines[0], `${method} ${target} HTTP/1.1`);
      const auth = authLines(head);
      assert.equal(auth.length, 1, `one Authorization line (if none: did an nginx upgrade change the request buffer the proxy module builds? docs/DESIGN-module.md): ${head}`);
      const value = auth[0].replace(/^authorization:\s*/i, '');
      assert.ok(!value.includes(token), 'the client\'s token reached the worker');
      assert.equal(claimsOf(value).aud, 'tok');
      assert.equal(claimsOf(value).sub, 'tok');
      assert.ok(lines.some((l) => l.toLowerCase() === 'x-keep: kept'), 'the client\'s other headers are passed on');
      assert.equal(got, body);
      return value;
    };

    test(`${loc}: a GET with the client's token in its header`, async () => {
      const r = await get(url('/some/path?a=1'), { headers: { authorization: `Bearer ${token}`, 'x-keep': 'kept' } });
      check(r, { method: 'GET', target: '/some/path?a=1' });
    });

    test(`${loc}: a POST with a body, the token in the query`, async () => {
      const body = JSON.stringify({ hello: 'body', n: [1, 2, 3] }) + '\r\n\r\nnot a header\r\n';
      const r = await get(url(`/processes/app/start?access_token=${token}&b=2`), {
        method: 'POST', headers: { 'content-type': 'application/json', 'x-keep': 'kept' }, body,
      });
      check(r, { method: 'POST', target: '/processes/app/start?b=2', body });
    });

    test(`${loc}: many requests on one keep-alive connection, each with one token`, async () => {
      let first;
      for (let i = 0; i < 20; i++) {
        const r = await get(url(`/n/${i}`), { headers: { authorization: `Bearer ${token}`, 'x-keep': 'kept' } });
        const v = check(r, { method: 'GET', target: `/n/${i}` });
        first ??= v;
      }
      assert.ok(first);
    });
  }
});
