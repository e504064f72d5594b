// $request_uri in the access log is the client's request target, whatever
// became of the request: refused by the module (401, 403, 404), failed
// while nginx read its body, before the request to the worker was built
// (400), or passed on (200). Behind "proxy_pass http://wharf_workers;" the
// module puts the worker's path in the request target for the proxy module
// to send, and must put the client's back on every way out.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freeStaticPort, startFakeEndpoint, startStack, waitFor } from '../lib/stack.mjs';

// One request as raw bytes; resolves with the status code of the answer,
// or 0 if the connection ended without one. closeAfter: the client ends
// the connection right after writing (gone while its body was read).
function raw(port, bytes, { closeAfter = false } = {}) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    const s = net.connect(port, '127.0.0.1', () => {
      s.write(Buffer.from(bytes, 'latin1'));
      if (closeAfter) s.end();
    });
    s.on('data', (d) => chunks.push(d));
    s.on('error', reject);
    s.on('close', () => {
      const all = Buffer.concat(chunks).toString('latin1');
      resolve({ status: Number(all.split(' ')[1]) || 0, text: all });
    });
  });
}

describe('$request_uri in the access log', () => {
  let stack, echo, port, log, token;

  before(async () => {
    echo = await startFakeEndpoint('ws');
    port = await freeStaticPort();
    stack = await startStack({
      tag: 'module-request-uri',
      workers: [{ name: 'demo', addr: echo.addr }, { name: 'other', addr: echo.addr }],
      // relative to nginx's prefix: logs/ there
      extraHttp: `
log_format wharf_request_uri '$status $request_uri';
server {
    listen 127.0.0.1:${port};
    access_log logs/request_uri.log wharf_request_uri;
    location /api/workers/ {
        wharf_route;
        proxy_pass http://wharf_workers;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
    }
    # the same, with $request_uri also evaluated while the request to the
    # worker is built (nginx caches a variable's value per request)
    location /v2/w/ {
        wharf_route prefix=/v2/w/;
        proxy_pass http://wharf_workers;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header X-Request-Uri $request_uri;
    }
}`,
    });
    log = path.join(stack.prefix, 'logs', 'request_uri.log');
    token = stack.mint({ sub: 'demo', scope: 'terminal' });
  });

  after(async () => {
    if (stack) await stack.stop();
    if (echo) await echo.close();
  });

  // the access log line of the request whose target is unique to it
  const logged = (target) => waitFor(() => {
    const lines = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n') : [];
    return lines.find((l) => l.endsWith(` ${target}`)) || lines.find((l) => l.includes(target.split('?')[1]));
  }, { timeout: 10000, what: `the access log line of ${target}` });

  const get = (target, auth = true, extra = '') => `GET ${target} HTTP/1.1\r\nHost: x\r\n`
    + `${auth ? `Authorization: Bearer ${token}\r\n` : ''}${extra}Connection: close\r\n\r\n`;

  test('routed and answered by the worker: 200, the client\'s target', async () => {
    const target = '/api/workers/demo/ok/x?n=1';
    const r = await raw(port, get(target));
    assert.equal(r.status, 200, r.text);
    assert.equal(JSON.parse(r.text.slice(r.text.indexOf('\r\n\r\n') + 4)).url, '/ok/x?n=1', 'the worker got its path');
    assert.equal(await logged(target), `200 ${target}`);
  });

  test('with $request_uri in a proxy_set_header too', async () => {
    const target = '/v2/w/demo/hdr/x?n=7';
    const r = await raw(port, get(target));
    assert.equal(r.status, 200, r.text);
    const got = JSON.parse(r.text.slice(r.text.indexOf('\r\n\r\n') + 4));
    assert.equal(got.url, '/hdr/x?n=7', 'the worker got its path');
    assert.equal(got.headers['x-request-uri'], target, 'the header has the client\'s target');
    assert.equal(await logged(target), `200 ${target}`);
  });

  test('refused by the module: 401, 403, 404', async () => {
    const cases = [
      [401, '/api/workers/demo/no-token?n=2', false],
      [403, '/api/workers/other/wrong-sub?n=3', true],
      [404, '/api/workers/nope/unknown?n=4', true],
    ];
    for (const [status, target, auth] of cases) {
      const r = await raw(port, get(target, auth));
      assert.equal(r.status, status, `${target}: ${r.text}`);
      assert.equal(await logged(target), `${status} ${target}`);
    }
  });

  test('failed while reading the body, before the request to the worker: 400', async () => {
    // an invalid chunked body: nginx refuses it while reading the body,
    // after the module's precontent phase, before the upstream request
    const target = '/api/workers/demo/bad-chunk?n=5';
    const r = await raw(port, `POST ${target} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n`
      + 'Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nxx\r\n');
    assert.equal(r.status, 400, r.text);
    assert.equal(await logged(target), `400 ${target}`);

    // the client gone with half its body sent: nothing is answered
    const gone = '/api/workers/demo/client-gone?n=6';
    await raw(port, `POST ${gone} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n`
      + 'Content-Length: 100\r\n\r\nhalf', { closeAfter: true });
    assert.match(await logged(gone), new RegExp(`^4\\d\\d ${gone.replace(/[?]/g, '\\?')}$`));
  });
});
