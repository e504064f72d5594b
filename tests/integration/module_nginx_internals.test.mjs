// What the module leans on inside nginx, beyond its documented module API,
// checked on whichever nginx runs the tests (`make test-nginx` runs this
// file on every version it builds). A failure here means an nginx upgrade
// changed one of them: docs/DESIGN-module.md, "What to re-check on an nginx
// upgrade", says where each one is and what to do. The others of that list
// have their tests in module_balancer (the balancer's peer.init and the
// default keepalive of 1.29.7), module_agent_token (the request buffer the
// proxy module builds) and module_request_uri (the request target).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  freeStaticPort, get, nginxAtLeast, nginxTest, nginxVersion, renderNginxConf, startFakeEndpoint, startStack,
  tempDir, writeWorkerConf,
} from '../lib/stack.mjs';

const UPGRADE = 'an nginx upgrade changed what the module relies on: see docs/DESIGN-module.md, '
  + '"What to re-check on an nginx upgrade"';

describe(`nginx internals the module relies on (nginx ${nginxVersion().join('.')})`, () => {
  let stack, echo, deadPort;

  before(async () => {
    echo = await startFakeEndpoint('ws');
    deadPort = await freeStaticPort();
    stack = await startStack({
      tag: 'module-nginx-internals',
      workers: [
        { name: 'echo', addr: echo.addr },
        { name: 'dead', addr: `127.0.0.1:${deadPort}` },
      ],
    });
  });

  after(async () => {
    if (stack) await stack.stop();
    if (echo) await echo.close();
  });

  // ngx_http_wharf_balancer_location() reads the proxy module's location
  // configuration as beginning with its ngx_http_upstream_conf_t (its type
  // is private before nginx 1.29.4), and checks that its "module" field
  // says "proxy". Had the layout changed, nginx -t would fail with the
  // module's message, or the worker would get the client's path.
  test('the proxy module\'s location configuration begins with its ngx_http_upstream_conf_t', async () => {
    const t = nginxTest(stack.prefix, stack.conf);
    assert.equal(t.status, 0, `${UPGRADE}\n${t.output}`);
    assert.doesNotMatch(t.output, /does not begin with its ngx_http_upstream_conf_t/, UPGRADE);
    const r = await get(`${stack.http}/api/workers/echo/some/path?q=1`, { headers: stack.auth });
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json.url, '/some/path?q=1',
      `${UPGRADE}: the worker got the client's path, so the module did not see "proxy_pass http://wharf_workers"`);
  });

  // proxy_http_version 2 (nginx 1.29.4 and later) builds HTTP/2 frames:
  // neither the worker's path nor the agent's token could be put in. The
  // module refuses it with the balancer; older nginx has no such value.
  test('proxy_http_version 2 to the balancer fails nginx -t, on every version', () => {
    const dir = tempDir('nginx-internals-h2');
    try {
      const prefix = path.join(dir, 'nginx');
      const workers = path.join(dir, 'workers.d');
      fs.mkdirSync(prefix);
      fs.mkdirSync(workers);
      writeWorkerConf(workers, 'demo', '127.0.0.1:9');
      const extra = path.join(workers, '00-extra.conf');
      fs.writeFileSync(extra, 'server {\n    listen 127.0.0.1:1;\n    location /h2/ {\n        wharf_route prefix=/h2/;\n'
        + '        proxy_http_version 2;\n        proxy_pass http://wharf_workers;\n    }\n}\n');
      const conf = renderNginxConf({ prefix, listen: '127.0.0.1:2', wharfd: '127.0.0.1:3', wharfdWs: '127.0.0.1:4', workersDir: workers });
      const r = nginxTest(prefix, conf);
      assert.notEqual(r.status, 0, r.output);
      if (nginxAtLeast(1, 29, 4)) {
        assert.match(r.output, /\[emerg\] wharf_route \(.*00-extra\.conf:4\): "proxy_http_version 2" to upstream "wharf_workers" \(wharf_balancer\)/);
      } else {
        assert.match(r.output, /\[emerg\] invalid value "2" in .*00-extra\.conf:5/);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  // A probe connects to the address of the worker's first server as nginx
  // read it from the configuration. "server NAME resolve" (nginx 1.27.3
  // and later) has none until the resolver answers (addrs[0] holds only
  // the port): its probe says so rather than connect to 0.0.0.0:PORT.
  // Older nginx refuses the parameter.
  test('a worker whose server is resolved at run time: the probe says it cannot', async () => {
    const dnsPort = await freeStaticPort(); // nothing answers there
    const extraHttp = `resolver 127.0.0.1:${dnsPort} valid=1s;\nresolver_timeout 1s;\n`
      + `upstream wharf_worker_dyn {\n    zone wharf_dyn 64k;\n    server localhost:${deadPort} resolve;\n}\n`
      + 'wharf_worker dyn upstream=wharf_worker_dyn;\n';
    if (!nginxAtLeast(1, 27, 3)) {
      const dir = tempDir('nginx-internals-resolve');
      try {
        const prefix = path.join(dir, 'nginx');
        const workers = path.join(dir, 'workers.d');
        fs.mkdirSync(prefix);
        fs.mkdirSync(workers);
        fs.writeFileSync(path.join(workers, 'dyn.conf'), extraHttp);
        const conf = renderNginxConf({ prefix, listen: '127.0.0.1:2', wharfd: '127.0.0.1:3', wharfdWs: '127.0.0.1:4', workersDir: workers });
        const r = nginxTest(prefix, conf);
        assert.notEqual(r.status, 0, r.output);
        assert.match(r.output, /\[emerg\] invalid parameter "resolve"/);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
      return;
    }
    const dyn = await startStack({ tag: 'module-nginx-internals-resolve', workers: [], extraHttp });
    try {
      const r = await get(`${dyn.http}/api/workers/dyn/health/terminal`, { headers: dyn.auth });
      assert.equal(r.status, 503, r.body);
      assert.equal(r.json.error, `upstream "wharf_worker_dyn": server "localhost:${deadPort}" is resolved at run time `
        + '("resolve"), the probe needs an address known at start');
    } finally {
      await dyn.stop();
    }
  });

  // A probe's error is the message nginx logs for its connection, less the
  // "2026/01/31 12:00:00 [error] 123#0: " prefix that ngx_log_error_core()
  // writes before it (ngx_http_wharf_probe_log_writer cuts it off). The
  // whole error is compared: a prefix of another shape would show in it.
  test('a connect error\'s log line, less nginx\'s time, level and pid prefix, is the probe\'s error', async () => {
    const r = await get(`${stack.http}/api/workers/dead/health/terminal`, { headers: stack.auth });
    assert.equal(r.status, 503, r.body);
    assert.equal(r.json.error, `connect() to 127.0.0.1:${deadPort} failed (111: Connection refused)`, UPGRADE);
  });
});
