// The module's routing, through the real nginx with the module loaded, to a
// real agent, spoken to with curl (which, with --path-as-is, sends the path
// bytes exactly as written: no client-side normalisation).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { startStack } from '../lib/stack.mjs';

// The operator token of the stack: the module lets no one in without one.
let auth = [];

function curl(url, ...extra) {
  const r = spawnSync('curl', ['-sS', '--path-as-is', '-o', '-', '-w', '\n%{http_code} %{content_type}', ...auth, ...extra, url]);
  assert.equal(r.status, 0, `curl failed: ${r.stderr}`);
  const out = r.stdout.toString();
  const i = out.lastIndexOf('\n');
  const [status, type] = out.slice(i + 1).split(' ');
  const body = out.slice(0, i);
  let json;
  try { json = JSON.parse(body); } catch { /* not JSON */ }
  return { status: Number(status), type, body, json };
}

function assertJsonError(r, status, code) {
  assert.equal(r.status, status, r.body);
  assert.match(r.type, /^application\/json/);
  assert.equal(r.json?.error?.code, code, r.body);
  assert.equal(typeof r.json.error.message, 'string');
}

describe('routing /api/workers/NAME/*', () => {
  let stack;
  before(async () => {
    stack = await startStack({ tag: 'routing', workers: [{ name: 'demo', container: 'demo-box' }] });
    auth = ['-H', `Authorization: Bearer ${stack.token}`];
  });
  after(async () => stack && stack.stop());

  test('plain HTTP passes through to the agent\'s /health', () => {
    const r = curl(`${stack.http}/api/workers/demo/health`);
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json.status, 'ok');
    assert.equal(r.json.worker, 'demo');
    assert.equal(r.json.container, 'demo-box');
  });

  test('the query string is carried to the agent', () => {
    const r = curl(`${stack.http}/api/workers/demo/health?x=1`);
    assert.equal(r.status, 200, r.body);
  });

  test('an agent 404 comes back through as it is', () => {
    const r = curl(`${stack.http}/api/workers/demo/no-such-route`);
    assertJsonError(r, 404, 'not_found');
  });

  test('unknown worker: 404 JSON', () => {
    assertJsonError(curl(`${stack.http}/api/workers/nosuch/health`), 404, 'worker_not_found');
    assertJsonError(curl(`${stack.http}/api/workers/nosuch/terminal`), 404, 'worker_not_found');
  });

  test('../etc and encoded dot segments: 400 JSON', () => {
    for (const p of ['..%2Fetc/health', '%2e%2e/etc', '%2E%2E%2Fetc', '..%2F..%2Fetc%2Fpasswd']) {
      assertJsonError(curl(`${stack.http}/api/workers/${p}`), 400, 'invalid_worker_name');
    }
  });

  test('name length edge: 63 characters is a name, 64 and 200 are not', () => {
    assertJsonError(curl(`${stack.http}/api/workers/${'a'.repeat(63)}/health`), 404, 'worker_not_found');
    assertJsonError(curl(`${stack.http}/api/workers/${'a'.repeat(64)}/health`), 400, 'invalid_worker_name');
    assertJsonError(curl(`${stack.http}/api/workers/${'a'.repeat(200)}/health`), 400, 'invalid_worker_name');
  });

  test('a name in another case is not the worker', () => {
    assertJsonError(curl(`${stack.http}/api/workers/Demo/health`), 400, 'invalid_worker_name');
  });

  test('no name at all: 400 JSON', () => {
    assertJsonError(curl(`${stack.http}/api/workers/`), 400, 'bad_route');
  });

  test('the server keeps serving after bad requests', () => {
    assert.equal(curl(`${stack.http}/api/workers/demo/health`).status, 200);
  });
});
