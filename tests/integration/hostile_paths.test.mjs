// Hostile input (issue 7): header and path tricks on /api/workers/, sent
// byte for byte on raw sockets through the real nginx with the module to a
// real agent. Each case gets its documented answer (docs/SECURITY.md,
// "Hostile input"), and after each one a good request still gets through
// to the agent.

import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startStack } from '../lib/stack.mjs';

// One request as raw bytes, Connection: close. target and each header are
// strings (latin1) or Buffers. { status, head, body, json }.
function raw(port, target, { method = 'GET', headers = [] } = {}) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    const s = net.connect(port, '127.0.0.1', () => {
      const parts = [Buffer.from(`${method} `), Buffer.isBuffer(target) ? target : Buffer.from(target, 'latin1'),
        Buffer.from(' HTTP/1.1\r\nHost: x\r\nConnection: close\r\n')];
      for (const h of headers) parts.push(Buffer.isBuffer(h) ? h : Buffer.from(`${h}\r\n`, 'latin1'));
      parts.push(Buffer.from('\r\n'));
      s.write(Buffer.concat(parts));
    });
    s.setTimeout(15000, () => s.destroy(new Error(`no answer to ${String(target).slice(0, 80)}`)));
    // done at the end of the body (Content-Length), or when nginx closes
    const done = () => {
      const all = Buffer.concat(chunks).toString('latin1');
      const i = all.indexOf('\r\n\r\n');
      const body = all.slice(i + 4);
      let json;
      try { json = JSON.parse(body); } catch { /* not JSON */ }
      resolve({ status: Number(all.split(' ')[1]), head: all.slice(0, i), body, json });
    };
    s.on('data', (d) => {
      chunks.push(d);
      const all = Buffer.concat(chunks).toString('latin1');
      const i = all.indexOf('\r\n\r\n');
      const m = i >= 0 && /\r\ncontent-length:\s*(\d+)/i.exec(all.slice(0, i));
      if (m && all.length >= i + 4 + Number(m[1])) {
        s.destroy();
        done();
      }
    });
    s.on('error', reject);
    s.on('end', done);
  });
}

describe('hostile paths and headers on /api/workers/', () => {
  let stack, auth;
  before(async () => {
    stack = await startStack({ tag: 'hostile-paths', workers: [{ name: 'demo', container: 'demo-box' }] });
    auth = `Authorization: Bearer ${stack.token}`;
  });
  after(async () => stack && stack.stop());

  // The agent answers through the gateway: the server still serves.
  const stillServes = async (label) => {
    const r = await raw(stack.port, '/api/workers/demo/health', { headers: [auth] });
    assert.equal(r.status, 200, `after ${label}: ${r.body}`);
    assert.equal(r.json.worker, 'demo', `after ${label}`);
  };

  // [target, status, JSON error code (null: nginx's own page; 'agent:CODE':
  // the agent's JSON answer; 'health': the agent's /health)]
  const PATHS = [
    ['/api/workers/demo/%2e%2e/x', 400, 'bad_route'],
    ['/api/workers/demo/%2E%2E%2Fhealth', 400, 'bad_route'],
    ['/api/workers/demo/..%2F..%2Fetc%2Fpasswd', 400, 'bad_route'],
    ['/api/workers/demo/.%2e/.%2e/etc/passwd', 400, 'bad_route'],
    ['/api/workers/%2e%2e/x', 400, 'invalid_worker_name'],
    ['/api/workers/%2e%2e%2fdemo/health', 400, 'invalid_worker_name'],
    ['/api/workers//demo/health', 400, 'bad_route'],
    ['/api/workers/demo%2Fhealth', 400, 'invalid_worker_name'],
    ['/api/workers/demo%2fhealth', 400, 'invalid_worker_name'],
    // after the name the path is the agent's business, passed as sent
    ['/api/workers/demo//health', 200, 'health'],
    ['/api/workers/demo/%2Fhealth', 200, 'health'],
    ['/api/workers/demo/a%2Fb', 404, 'agent:not_found'],
    // NUL, encoded or raw, never gets past nginx's parser
    ['/api/workers/demo/health%00', 400, null],
    ['/api/workers/demo%00/health', 400, null],
    ['/api/workers/demo/health%00.json', 400, null],
    [Buffer.from('/api/workers/demo/he\0alth'), 400, null],
    [Buffer.from('/api/workers/de\0mo/health'), 400, null],
    // a worker name in another case is not the worker
    ['/api/workers/DEMO/health', 400, 'invalid_worker_name'],
    ['/api/workers/Demo/health', 400, 'invalid_worker_name'],
    ['/api/workers/dEmO/terminal', 400, 'invalid_worker_name'],
    ['/api/workers/%64emo/health', 400, 'invalid_worker_name'],
    // long paths: within the agent's header space the agent answers;
    // beyond nginx's large_client_header_buffers (8k) nginx answers 414
    [`/api/workers/demo/${'a'.repeat(3000)}`, 404, 'agent:not_found'],
    [`/api/workers/demo/${'a'.repeat(9000)}`, 414, null],
    [`/api/workers/demo/health?${'q'.repeat(9000)}`, 414, null],
    [`/api/workers/${'a'.repeat(9000)}/health`, 414, null],
  ];

  test('path tricks: each gets its documented answer, and the agent still serves', async () => {
    const failures = [];
    for (const [target, status, code] of PATHS) {
      const label = String(target).replace(/\0/g, '\\0').slice(0, 70);
      const r = await raw(stack.port, target, { headers: [auth] });
      if (r.status !== status) failures.push(`${label}: ${r.status}, want ${status}: ${r.body.slice(0, 120)}`);
      else if (code === 'health') {
        if (r.json?.worker !== 'demo') failures.push(`${label}: not the agent's /health: ${r.body.slice(0, 120)}`);
      } else if (code?.startsWith('agent:')) {
        if (r.json?.error?.code !== code.slice(6)) failures.push(`${label}: ${r.body.slice(0, 120)}`);
      } else if (code) {
        if (r.json?.error?.code !== code || !/content-type: application\/json/i.test(r.head)) {
          failures.push(`${label}: code ${r.json?.error?.code}, want ${code}`);
        }
      } else if (!/nginx/.test(r.body)) {
        failures.push(`${label}: not nginx's own page: ${r.body.slice(0, 120)}`);
      }
      await stillServes(label);
    }
    assert.deepEqual(failures, []);
  });

  test('a path that fits nginx but not the agent\'s header space: 502, and the agent goes on', async () => {
    // libwebsockets keeps a request's headers in 4 KiB (LWS_DEF_HEADER_LEN)
    // and drops a connection whose headers do not fit, without an answer;
    // nginx says 502. Documented in docs/SECURITY.md; the agent keeps
    // serving every other connection.
    const r = await raw(stack.port, `/api/workers/demo/${'a'.repeat(6000)}`, { headers: [auth] });
    assert.equal(r.status, 502);
    await stillServes('a 6000-byte path');
  });

  test('header tricks: duplicate or bad Authorization, NUL, huge, duplicate Host, smuggling', async () => {
    const cases = [
      // [label, headers, status, JSON code or null for nginx's own page]
      ['two Authorization headers', [auth, 'Authorization: Bearer garbage'], 400, null],
      ['two Authorization headers, bad first', ['Authorization: Bearer garbage', auth], 400, null],
      ['a control byte in the token', [`${auth}\x01`], 401, 'unauthorized'],
      ['NUL in a header value', [auth, Buffer.from('X-Nul: a\0b\r\n')], 400, null],
      ['NUL in the token', [Buffer.from(`${auth.slice(0, 40)}\0${auth.slice(40)}\r\n`)], 400, null],
      ['a 9000-byte header', [auth, `X-Big: ${'b'.repeat(9000)}`], 400, null],
      ['a second Host', [auth, 'Host: evil.example'], 400, null],
      ['Transfer-Encoding and Content-Length', [auth, 'Transfer-Encoding: chunked', 'Content-Length: 5'], 400, null],
      ['a token in a lower-case bearer', [auth.replace('Bearer', 'bearer')], 200, 'health'],
      ['a 3000-byte header reaches the agent', [auth, `X-Big: ${'b'.repeat(3000)}`], 200, 'health'],
    ];
    const failures = [];
    for (const [label, headers, status, code] of cases) {
      const r = await raw(stack.port, '/api/workers/demo/health', { headers });
      if (r.status !== status) failures.push(`${label}: ${r.status}, want ${status}: ${r.body.slice(0, 100)}`);
      else if (code === 'health') {
        if (r.json?.worker !== 'demo') failures.push(`${label}: ${r.body.slice(0, 100)}`);
      } else if (code && r.json?.error?.code !== code) failures.push(`${label}: code ${r.json?.error?.code}`);
      else if (!code && !/nginx/.test(r.body)) failures.push(`${label}: ${r.body.slice(0, 100)}`);
      await stillServes(label);
    }
    assert.deepEqual(failures, []);
  });

  test('nginx logged no alert, crit or emerg, and the agent is the same process', async () => {
    const bad = stack.nginx.errorLog().split('\n').filter((l) => /\[(alert|crit|emerg)\]/.test(l));
    assert.deepEqual(bad, []);
    assert.equal(stack.agents.demo.exit, null, 'the agent did not exit');
    assert.equal(stack.wharfd.exit, null);
  });
});
