// wharf_balancer: the static upstream that wharf.conf's worker routes
// proxy_pass to. Each request goes to its worker's own upstream block, with
// that block's servers, retries and keepalive; the path the worker gets is
// the route's; $request_uri stays the client's; a session ends however the
// request does, an error_page redirect included; `nginx -t` refuses the
// combinations that cannot work, with file and line.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  freePort, freeStaticPort, get, nginxAtLeast, nginxTest, renderNginxConf, startFakeEndpoint, startStack, tempDir,
  waitFor, writeWorkerConf,
} from '../lib/stack.mjs';

describe('wharf_balancer', () => {
  let stack, echo, extra, dead, logPath;

  before(async () => {
    echo = await startFakeEndpoint('ws');
    extra = await freeStaticPort();
    dead = await freePort(); // nothing listens there
    const dir = tempDir('balancer-log');
    logPath = path.join(dir, 'routed.log');
    const pass = 'proxy_http_version 1.1; proxy_set_header Connection ""; proxy_pass http://wharf_workers;';
    stack = await startStack({
      tag: 'module-balancer',
      workers: [{ name: 'demo', addr: echo.addr }],
      extraHttp: `
# max_fails=0: the dead server is never set aside, so round robin keeps
# alternating between the two
upstream wharf_worker_two {
    server 127.0.0.1:${dead} max_fails=0;
    server ${echo.addr} max_fails=0;
    keepalive 4;
}
wharf_worker two upstream=wharf_worker_two;

upstream wharf_worker_once {
    server ${echo.addr};
    keepalive 4;
    keepalive_requests 1;
}
wharf_worker once upstream=wharf_worker_once;

upstream wharf_worker_gone { server 127.0.0.1:${dead}; }
wharf_worker gone upstream=wharf_worker_gone;

log_format wharf_balancer_test '$request_uri|$uri|$upstream_addr|$status';

server {
    listen 127.0.0.1:${extra};
    wharf_auth off;
    location /api/workers/ {
        wharf_route;
        access_log ${logPath} wharf_balancer_test;
        ${pass}
    }
    location /noretry/ {
        wharf_route prefix=/noretry/;
        proxy_next_upstream off;
        ${pass}
    }
    location /redirected/ {
        wharf_route prefix=/redirected/;
        error_page 502 = @gone;
        ${pass}
    }
    location @gone { return 503 "gone\\n"; }
    location /unrouted/ { ${pass} }
    location /withuri/ {
        wharf_route prefix=/withuri/;
        proxy_pass http://wharf_workers/;
    }
}`,
    });
  });

  after(async () => {
    if (stack) await stack.stop();
    if (echo) await echo.close();
  });

  const at = (p) => `http://127.0.0.1:${extra}${p}`;

  test('the worker gets the route\'s path and query string; $request_uri stays the client\'s', async () => {
    const r = await get(at('/api/workers/demo/p/q%20r?z=1&y=2'));
    assert.equal(r.status, 200, r.body);
    assert.equal(JSON.parse(r.body).url, '/p/q%20r?z=1&y=2');
    const bare = await get(at('/api/workers/demo?k=v'));
    assert.equal(JSON.parse(bare.body).url, '/?k=v');
    await waitFor(() => fs.existsSync(logPath) && fs.readFileSync(logPath, 'utf8').split('\n').length > 2,
      { what: 'the access log lines' });
    const lines = fs.readFileSync(logPath, 'utf8').trim().split('\n');
    assert.equal(lines[0], `/api/workers/demo/p/q%20r?z=1&y=2|/api/workers/demo/p/q r|${echo.addr}|200`);
    assert.equal(lines[1], `/api/workers/demo?k=v|/api/workers/demo|${echo.addr}|200`);
  });

  test('each worker\'s own servers, with proxy_next_upstream\'s retries', async () => {
    // round robin over [dead, echo]: every request passes, some after a retry
    for (let i = 0; i < 4; i++) {
      const r = await get(at(`/api/workers/two/r${i}`));
      assert.equal(r.status, 200, r.body);
      assert.equal(JSON.parse(r.body).url, `/r${i}`);
    }
    const log = fs.readFileSync(logPath, 'utf8');
    assert.match(log, new RegExp(`127\\.0\\.0\\.1:${dead}, ${echo.addr.replace(/\./g, '\\.')}\\|200`),
      'a request tried the dead server, then the live one');
    // without retries, the requests that go to the dead server fail
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await get(at(`/noretry/two/n${i}`))).status);
    assert.deepEqual([...new Set(statuses)].sort(), [200, 502], `statuses ${statuses}`);
  });

  test('the worker\'s keepalive connections are reused', async () => {
    const conns = [];
    for (let i = 0; i < 6; i++) conns.push(JSON.parse((await get(at(`/api/workers/demo/k${i}`))).body).conn);
    assert.ok(new Set(conns).size < conns.length, `upstream ports ${conns}`);
  });

  // Since nginx 1.29.7 every upstream block keeps connections by default;
  // around the balancer that would cache the workers' connections in the
  // balancer's block, under its settings. wharf_balancer turns it off for
  // its block, so the worker's own keepalive_requests 1 counts: no reuse.
  test('the worker\'s own keepalive settings count, not a default of the balancer\'s block', async () => {
    const conns = [];
    for (let i = 0; i < 4; i++) {
      const r = await get(at(`/api/workers/once/k${i}`));
      assert.equal(r.status, 200, r.body);
      conns.push(JSON.parse(r.body).conn);
    }
    assert.equal(new Set(conns).size, conns.length, `upstream ports ${conns}: a connection was reused`);
  });

  test('a session redirected by error_page still ends: counters back to 0', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await get(at(`/redirected/gone/x${i}`));
      assert.equal(r.status, 503);
      assert.equal(r.body, 'gone\n');
    }
    await waitFor(async () => {
      const w = JSON.parse((await get(`${stack.http}/api/workers/gone`, { headers: stack.auth })).body);
      return Object.values(w.sessions).every((n) => n === 0);
    }, { timeout: 5000, what: 'the sessions of "gone" to return to 0' });
  });

  test('a request that no wharf_route routed is refused with 500 and logged', async () => {
    const r = await get(at('/unrouted/x'));
    assert.equal(r.status, 500);
    await waitFor(() => /reached upstream "wharf_workers" \(wharf_balancer\) without a worker/.test(stack.nginx.errorLog()),
      { what: 'the error log line' });
  });

  test('proxy_pass with a URI to the balancer is refused with 500, not sent a wrong path', async () => {
    const n = echo.requests.length;
    const r = await get(at('/withuri/demo/x'));
    assert.equal(r.status, 500);
    assert.equal(echo.requests.length, n, 'the worker got no request');
    await waitFor(() => /"proxy_pass" to upstream "wharf_workers" \(wharf_balancer\) must have no URI/.test(stack.nginx.errorLog()),
      { what: 'the error log line' });
  });

  test('the error log has no alert, crit or emerg', () => {
    const bad = stack.nginx.errorLog().split('\n').filter((l) => /\[(alert|crit|emerg)\]/.test(l));
    assert.deepEqual(bad, []);
  });
});

describe('nginx -t on wharf_balancer', () => {
  let dir, prefix, workers, conf;
  before(() => {
    dir = tempDir('nginx-t-balancer');
    prefix = path.join(dir, 'nginx');
    workers = path.join(dir, 'workers.d');
    fs.mkdirSync(prefix);
    fs.mkdirSync(workers);
    conf = renderNginxConf({ prefix, listen: '127.0.0.1:1', wharfd: '127.0.0.1:2', wharfdWs: '127.0.0.1:3', workersDir: workers });
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const check = (name, text, pattern, line) => {
    for (const f of fs.readdirSync(workers)) fs.unlinkSync(path.join(workers, f));
    writeWorkerConf(workers, 'demo', '127.0.0.1:9');
    fs.writeFileSync(path.join(workers, name), text);
    const r = nginxTest(prefix, conf);
    if (pattern === null) {
      assert.equal(r.status, 0, r.output);
      return;
    }
    assert.notEqual(r.status, 0, r.output);
    assert.match(r.output, pattern);
    assert.ok(r.output.includes(`${path.join(workers, name)}:${line}`), r.output);
  };

  test('a second balancer upstream passes', () => {
    check('b.conf', 'upstream wharf_more {\n    wharf_balancer;\n}\n', null);
  });

  test('"server" in the block, before or after wharf_balancer, fails', () => {
    check('b.conf', 'upstream wb {\n    server 127.0.0.1:9;\n    wharf_balancer;\n}\n', /\[emerg\].*"server"/, 3);
    check('b.conf', 'upstream wb {\n    wharf_balancer;\n    server 127.0.0.1:9;\n}\n', /\[emerg\].*"server"/, 2);
  });

  // On every nginx version (make test-nginx): the check compares the
  // block's peer.init with the balancer's own once every module has
  // initialised its upstreams, which since nginx 1.29.7 includes the
  // keepalive module wrapping every block by default (docs/DESIGN-module.md).
  test('another balancer in the block fails, after wharf_balancer or before it', () => {
    const methods = ['hash $remote_addr', 'hash $request_uri consistent', 'least_conn', 'ip_hash', 'random'];
    // nginx 1.29.6 added these two to its open source modules
    if (nginxAtLeast(1, 29, 6)) methods.push('least_time header', 'sticky cookie srv_id');
    for (const method of methods) {
      check('b.conf', `upstream wb {\n    wharf_balancer;\n    ${method};\n}\n`,
        /\[emerg\] .*upstream "wb" with wharf_balancer .* also has "keepalive", "hash", "least_conn" or another balancer/, 2);
      check('b.conf', `upstream wb {\n    ${method};\n    wharf_balancer;\n}\n`,
        /\[emerg\] wharf_balancer: upstream "wb" already has a load balancing method/, 3);
    }
  });

  test('keepalive in the block fails, after wharf_balancer or before it', () => {
    check('b.conf', 'upstream wb {\n    wharf_balancer;\n    keepalive 4;\n}\n', /\[emerg\] .*"wb".*"keepalive"/, 2);
    check('b.conf', 'upstream wb {\n    keepalive 4;\n    wharf_balancer;\n}\n', /\[emerg\] .*"wb".*"keepalive"/, 3);
  });

  test('a wharf_worker whose upstream is the balancer fails', () => {
    check('b.conf', '\nwharf_worker loop upstream=wharf_workers;\n', /\[emerg\].*wharf_balancer/, 2);
  });
});
