// Routing edge cases, through the real nginx with the module: which bytes
// pick the worker, what path the worker gets, what is refused and how.
// Requests are written byte for byte on a socket, so no client normalises
// them first. Ported from the module's first scratch harness.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { freeStaticPort, startFakeEndpoint, startStack } from '../lib/stack.mjs';

// A command's stdout; asynchronous, so the fake endpoints in this process
// keep answering while it runs.
function run(cmd, args) {
  return new Promise((resolve) => {
    execFile(cmd, args, (err, stdout, stderr) => resolve({ stdout, stderr }));
  });
}

// One request as raw bytes, Connection: close; { status, head, body, json }.
function raw(port, target, { method = 'GET', headers = {}, body = '' } = {}) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    const s = net.connect(port, '127.0.0.1', () => {
      const lines = [`${method} `, target, ' HTTP/1.1\r\nHost: x\r\nConnection: close\r\n'];
      for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}\r\n`);
      if (body) lines.push(`Content-Length: ${Buffer.byteLength(body)}\r\n`);
      lines.push('\r\n', body);
      s.write(Buffer.concat(lines.map((l) => (Buffer.isBuffer(l) ? l : Buffer.from(l, 'latin1')))));
    });
    s.on('data', (d) => chunks.push(d));
    s.on('error', reject);
    s.on('end', () => {
      const all = Buffer.concat(chunks).toString('latin1');
      const i = all.indexOf('\r\n\r\n');
      const head = all.slice(0, i);
      const b = all.slice(i + 4);
      let json;
      try { json = JSON.parse(b); } catch { /* not JSON */ }
      resolve({ status: Number(head.split(' ')[1]), head, body: b, json });
    });
  });
}

describe('routing edge cases', () => {
  let stack, echo, extra, h2;
  let auth;

  before(async () => {
    echo = await startFakeEndpoint('ws');
    extra = await freeStaticPort();
    h2 = await freeStaticPort();
    const pass = 'proxy_http_version 1.1; proxy_set_header Connection ""; '
      + 'proxy_set_header X-Wharf-Worker $wharf_worker; proxy_set_header X-Wharf-Path $wharf_path; '
      + 'proxy_set_header X-Wharf-Container $wharf_container; proxy_set_header X-Wharf-Upstream $wharf_upstream; '
      + 'proxy_pass http://$wharf_upstream$wharf_path$is_args$args;';
    stack = await startStack({
      tag: 'module-routing',
      workers: [{ name: 'demo', addr: echo.addr, container: 'demo-c' }],
      // a second server, without auth, for what wharf.conf has no place for
      extraHttp: `
server {
    listen 127.0.0.1:${extra};
    wharf_auth off;
    location /w/ { wharf_route prefix=/w/; ${pass} }
    location /api/workers/ { wharf_route; ${pass} }
    location /alias/ { rewrite ^/alias/(.*)$ /api/workers/$1 last; }
    location /vars { return 200 "w=[$wharf_worker] u=[$wharf_upstream] c=[$wharf_container] p=[$wharf_path]\\n"; }
    location / { return 200 "fallback uri=$uri\\n"; }
}
server {
    listen 127.0.0.1:${h2} http2;
    wharf_auth off;
    location /api/workers/ { wharf_route; ${pass} }
}`,
    });
    auth = stack.auth;
  });

  after(async () => {
    if (stack) await stack.stop();
    if (echo) await echo.close();
  });

  const expectError = (r, status, code, label) => {
    assert.equal(r.status, status, `${label}: ${r.head}\n${r.body}`);
    assert.match(r.head, /content-type: application\/json/i, label);
    assert.equal(r.json?.error?.code, code, `${label}: ${r.body}`);
  };

  test('what the worker gets for each path', async () => {
    const cases = [
      ['/api/workers/demo/health/x?a=1&b=2', '/health/x?a=1&b=2'],
      ['/api/workers/demo/', '/'],
      ['/api/workers/demo/?q=1', '/?q=1'],
      ['/api/workers/demo//x', '//x'],
      ['/api/workers/demo/a%2Fb', '/a%2Fb'],
      ['/api/workers/demo/a%20b', '/a%20b'],
      ['/api/workers/demo/...', '/...'],
      ['/api/workers/demo/.x/..y', '/.x/..y'],
      ['/api/workers/demo/a"b<c>{d}|\xc3\xa9[x]\\^`', '/a%22b%3Cc%3E%7Bd%7D%7C%C3%A9%5Bx%5D%5C%5E%60'],
      ['http://example.com/api/workers/demo/abs?z=1', '/abs?z=1'],
    ];
    for (const [target, want] of cases) {
      const r = await raw(stack.port, target, { headers: auth });
      assert.equal(r.status, 200, `${target}: ${r.body}`);
      assert.equal(r.json.url, want, target);
      assert.equal(r.json.headers['x-wharf-worker'], undefined, 'no wharf headers leak to the worker');
    }
  });

  test('$wharf_ variables: set when routed, empty elsewhere', async () => {
    const r = await raw(extra, '/api/workers/demo/p/q?z=1');
    assert.equal(r.json.headers['x-wharf-path'], '/p/q');
    assert.equal(r.json.headers['x-wharf-worker'], 'demo');
    assert.equal(r.json.headers['x-wharf-container'], 'demo-c');
    assert.match(r.json.headers['x-wharf-upstream'], /demo/);
    const v = await raw(extra, '/vars');
    assert.equal(v.body, 'w=[] u=[] c=[] p=[]\n');
  });

  test('an invalid escape is refused by nginx itself', async () => {
    assert.equal((await raw(stack.port, '/api/workers/demo/%zz', { headers: auth })).status, 400);
  });

  test('errors: 404 unknown, 400 malformed names, with the name shown safely', async () => {
    expectError(await raw(stack.port, '/api/workers/nope/health'), 404, 'worker_not_found', 'unknown');
    expectError(await raw(stack.port, `/api/workers/${'a'.repeat(63)}/x`), 404, 'worker_not_found', '63');
    expectError(await raw(stack.port, `/api/workers/${'a'.repeat(64)}/x`), 400, 'invalid_worker_name', '64');
    const long = await raw(stack.port, `/api/workers/${'b'.repeat(200)}/x`);
    expectError(long, 400, 'invalid_worker_name', '200');
    assert.ok(long.json.error.message.includes(`${'b'.repeat(64)}..."`) && !long.json.error.message.includes('b'.repeat(65)));
    for (const p of ['..%2Fetc/health', '%2e%2e/etc', '%2E%2E%2Fetc', 'Demo/health', 'de%6Do/health', '-demo/x',
      '../etc', './demo', 'demo;x/y', '..', '%2e%2e']) {
      expectError(await raw(stack.port, `/api/workers/${p}`), 400, 'invalid_worker_name', p);
    }
    const q = await raw(stack.port, '/api/workers/a"b\\c<x>/y');
    expectError(q, 400, 'invalid_worker_name', 'quote');
    assert.ok(q.json.error.message.includes('"a%22b%5Cc%3Cx%3E"'), q.json.error.message);
  });

  test('errors: 400 bad_route for no name and dot segments, even encoded', async () => {
    for (const p of ['/api/workers/', '/api/workers//demo', '/api/workers/?x=1',
      '/api/workers/demo/../../etc/passwd', '/api/workers/demo/..', '/api/workers/demo/.',
      '/api/workers/demo/a/../b', '/api/workers/demo/%2e%2e/x', '/api/workers/demo/.%2E/x',
      '/api/workers/demo/a%2F..%2Fb', '/api/workers/demo/./x', '/api/workers/demo/../nope/x',
      '/x/../api/workers/demo/', '/api/%77orkers/demo/']) {
      expectError(await raw(stack.port, p, { headers: auth }), 400, 'bad_route', p);
    }
  });

  test('a rewrite into a wharf_route location is refused, not guessed at', async () => {
    expectError(await raw(extra, '/alias/demo/x'), 400, 'bad_route', 'alias');
  });

  test('prefix=/w/ routes the same way', async () => {
    const r = await raw(extra, '/w/demo/p?x=1');
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json.url, '/p?x=1');
    expectError(await raw(extra, '/w/nope/p'), 404, 'worker_not_found', '/w/nope');
  });

  test('unrelated paths are not the module\'s business', async () => {
    assert.match((await raw(extra, '/other/..%2Fx')).body, /^fallback/);
    assert.match((await raw(extra, '/api/workersX/demo')).body, /^fallback/);
  });

  test('HEAD of an error: status and JSON type, no body', async () => {
    const r = await raw(stack.port, '/api/workers/nope/x', { method: 'HEAD' });
    assert.equal(r.status, 404);
    assert.match(r.head, /content-type: application\/json/i);
    assert.equal(r.body, '');
  });

  test('a refused request\'s body is discarded and the connection reused', async () => {
    const r = await run('curl', ['-sS', '--path-as-is', '-o', '/dev/null', '-w', '%{http_code} %{num_connects}\\n',
      '-d', 'x'.repeat(2000), `${stack.http}/api/workers/nope/x`,
      '-o', '/dev/null', '-H', `Authorization: ${auth.Authorization}`, `${stack.http}/api/workers/demo/y`]);
    assert.deepEqual(r.stdout.trim().split('\n'), ['404 1', '200 0'], r.stderr);
  });

  test('upstream keepalive connections are reused with a variable proxy_pass', async () => {
    const conns = [];
    for (let i = 0; i < 6; i++) conns.push((await raw(extra, `/api/workers/demo/k${i}`)).json.conn);
    // two nginx worker processes: at most two connections, each used again
    assert.ok(new Set(conns).size < conns.length, `upstream ports ${conns}`);
  });

  test('HTTP/2: :path is the raw target, routed and refused alike', async () => {
    const h2get = async (p) => {
      const r = await run('curl', ['-sS', '--http2-prior-knowledge', '--path-as-is', '-w', '\n%{http_code}', `http://127.0.0.1:${h2}${p}`]);
      const out = r.stdout;
      const i = out.lastIndexOf('\n');
      return { status: Number(out.slice(i + 1)), body: out.slice(0, i) };
    };
    const ok = await h2get('/api/workers/demo/h2/x?y=1');
    assert.equal(ok.status, 200, ok.body);
    assert.equal(JSON.parse(ok.body).url, '/h2/x?y=1');
    assert.equal((await h2get('/api/workers/..%2Fetc/health')).status, 400);
    assert.equal((await h2get('/api/workers/nope/')).status, 404);
    assert.equal((await h2get('/api/workers/demo/a/../b')).status, 400);
  });

  test('WebSocket through the route echoes; to a bad name it is refused', async () => {
    const ws = new WebSocket(`${stack.ws}/api/workers/demo/echo?t=1`, { headers: auth });
    const got = await new Promise((resolve, reject) => {
      ws.on('open', () => ws.send('ping'));
      ws.on('message', (m) => resolve(m.toString()));
      ws.on('error', reject);
    });
    assert.equal(got, 'ping');
    ws.close();
    const status = await new Promise((resolve) => {
      const bad = new WebSocket(`${stack.ws}/api/workers/Bad/echo`, { headers: auth });
      bad.on('error', () => {});
      bad.on('unexpected-response', (req, res) => resolve(res.statusCode));
    });
    assert.equal(status, 400);
  });

  test('the error log has no alert, crit or emerg', () => {
    const bad = stack.nginx.errorLog().split('\n').filter((l) => /\[(alert|crit|emerg)\]/.test(l));
    assert.deepEqual(bad, []);
  });
});
