// wharfctl against the real stack: output and exit status.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { BIN, freePort, startStack } from '../lib/stack.mjs';

function ctl(args, env = {}) {
  const r = spawnSync(BIN.wharfctl, args, { env: { ...process.env, WHARF_URL: '', WHARF_TOKEN: '', ...env } });
  return { status: r.status, out: r.stdout.toString(), err: r.stderr.toString() };
}

describe('wharfctl', () => {
  let stack;
  before(async () => { stack = await startStack({ tag: 'wharfctl', workers: [{ name: 'demo' }] }); });
  after(async () => stack && stack.stop());

  test('health (json, global option after the command)', () => {
    const r = ctl(['health', '--url', stack.http]);
    assert.equal(r.status, 0, r.err);
    assert.equal(JSON.parse(r.out).status, 'ok');
  });

  test('health --worker reaches the agent through nginx (WHARF_URL)', () => {
    const r = ctl(['health', '--worker', 'demo'], { WHARF_URL: stack.http });
    assert.equal(r.status, 0, r.err);
    assert.equal(JSON.parse(r.out).worker, 'demo');
  });

  test('health of an unknown worker fails with 1 and says why', () => {
    const r = ctl(['--url', stack.http, 'health', '--worker', 'nosuch']);
    assert.equal(r.status, 1);
    assert.match(r.err, /404|not found|worker_not_found/i);
  });

  test('workers list shows a worker after its heartbeat, in table format', () => {
    const hb = ctl(['--url', stack.http, 'rpc', 'ContainerMonitoringOps.heartbeat', '{"worker":"tbl"}']);
    assert.equal(hb.status, 0, hb.err);
    const r = ctl(['--url', stack.http, '--format', 'table', 'workers', 'list']);
    assert.equal(r.status, 0, r.err);
    assert.match(r.out, /tbl/);
    assert.doesNotMatch(r.out, /^\s*[{[]/);
  });

  test('a dead orchestrator: exit 1 naming the URL', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const r = ctl(['--url', url, 'health']);
    assert.equal(r.status, 1);
    assert.ok(r.err.includes(url.replace('http://', '')), r.err);
  });

  test('a bad flag or command: exit 2', () => {
    assert.equal(ctl(['health', '--bogus']).status, 2);
    assert.equal(ctl(['frobnicate']).status, 2);
    assert.equal(ctl(['--format', 'xml', 'health']).status, 2);
  });
});
