// wharfctl workers add | set | remove (issue 15): the live registry from
// the command line, against the real stack: what each prints in every
// format, what it sends, and its exit status when refused.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { BIN, get, startFakeEndpoint, startStack } from '../lib/stack.mjs';

describe('wharfctl workers add | set | remove', () => {
  let stack, fake, fake2;
  const ctl = (args, token = stack.token) => {
    const r = spawnSync(BIN.wharfctl, args, {
      env: { ...process.env, WHARF_URL: stack.http, WHARF_TOKEN: token },
      timeout: 20000,
    });
    return { status: r.status, out: r.stdout.toString(), err: r.stderr.toString() };
  };
  const entry = async (name) => get(`${stack.http}/api/workers/${name}`, { headers: stack.auth });

  before(async () => {
    fake = await startFakeEndpoint('ws');
    fake2 = await startFakeEndpoint('ws');
    stack = await startStack({ tag: 'wharfctl-live', workers: [{ name: 'demo' }] });
  });
  after(async () => {
    if (stack) await stack.stop();
    for (const f of [fake, fake2]) if (f) await f.close();
  });

  test('add: the worker\'s entry, routed', async () => {
    const r = ctl(['workers', 'add', 'cli-1', '--upstream', fake.addr, '--container', 'box', '--max-sessions', '3',
      '--terminal-path', '/tty']);
    assert.equal(r.status, 0, r.err);
    const v = JSON.parse(r.out);
    assert.equal(v.source, 'live');
    assert.equal(v.container, 'box');
    assert.equal(v.max_sessions, 3);
    assert.equal(v.paths.terminal, '/api/workers/cli-1/tty');
    assert.equal((await get(`${stack.http}/api/workers/cli-1/x`, { headers: stack.auth })).status, 200);
    const table = ctl(['--format', 'table', 'workers', 'add', 'cli-2', '--upstream', fake.addr]);
    assert.equal(table.status, 0, table.err);
    assert.match(table.out, /^NAME\s+SOURCE\s+CONTAINER\s+UPSTREAM\s+MAX_SESSIONS\n/);
    assert.match(table.out, new RegExp(`^cli-2\\s+live\\s+cli-2\\s+${fake.addr}\\s+-\\s*$`, 'm'));
    const raw = ctl(['--format', 'raw', 'workers', 'add', 'cli-3', '--upstream', fake.addr]);
    assert.equal(raw.status, 0);
    assert.equal(JSON.parse(raw.out).name, 'cli-3');
    const list = ctl(['--format', 'table', 'workers', 'list']);
    assert.match(list.out, /^cli-1\s+live\s+box\s/m);
    assert.match(list.out, /^demo\s+static\s/m);
  });

  test('add refuses a name that exists; set changes the flags given, keeps the rest', async () => {
    const again = ctl(['workers', 'add', 'cli-1', '--upstream', fake2.addr]);
    assert.equal(again.status, 1);
    assert.match(again.err, /^wharfctl: workers add: worker 'cli-1' exists already \(live\): wharfctl workers set changes it/);
    const stat = ctl(['workers', 'add', 'demo', '--upstream', fake2.addr]);
    assert.equal(stat.status, 1);
    assert.match(stat.err, /exists already \(static\)/);
    assert.deepEqual((await entry('cli-1')).json.upstream.servers, [fake.addr]);

    const set = ctl(['workers', 'set', 'cli-1', '--upstream', fake2.addr]);
    assert.equal(set.status, 0, set.err);
    const v = JSON.parse(set.out);
    assert.deepEqual(v.upstream.servers, [fake2.addr]);
    assert.equal(v.container, 'box');
    assert.equal(v.max_sessions, 3);
    assert.equal(v.paths.terminal, '/api/workers/cli-1/tty');
    assert.equal(v.paths.websocket, '/api/workers/cli-1/websocket');
    const max = ctl(['workers', 'set', 'cli-1', '--max-sessions', '0']);
    assert.equal(max.status, 0, max.err);
    assert.equal(JSON.parse(max.out).max_sessions, null);
    assert.deepEqual(JSON.parse(max.out).upstream.servers, [fake2.addr]);

    const none = ctl(['workers', 'set', 'nobody', '--max-sessions', '1']);
    assert.equal(none.status, 1);
    assert.match(none.err, /no worker 'nobody' \(wharfctl workers add registers one\)/);
    const stat2 = ctl(['workers', 'set', 'demo', '--max-sessions', '1']);
    assert.equal(stat2.status, 1);
    assert.match(stat2.err, /HTTP 409 .*is a wharf_worker of the configuration/);
  });

  test('remove: the worker goes; again is a failure', async () => {
    const r = ctl(['workers', 'remove', 'cli-2']);
    assert.equal(r.status, 0, r.err);
    assert.deepEqual(JSON.parse(r.out), { removed: 'cli-2', wharfd: { status: 'ok', http_status: 200, error: null } });
    assert.equal((await entry('cli-2')).status, 404);
    const t = ctl(['--format', 'table', 'workers', 'remove', 'cli-3']);
    assert.equal(t.status, 0);
    assert.match(t.out, /^REMOVED\s+WHARFD\ncli-3\s+ok\s*$/);
    const again = ctl(['workers', 'remove', 'cli-2']);
    assert.equal(again.status, 1);
    assert.match(again.err, /workers remove: HTTP 404 .*worker "cli-2" is not registered/);
  });

  test('usage errors exit 2; a value the gateway refuses too; a token without admin exits 1', async () => {
    for (const [args, re] of [
      [['workers', 'add', 'x'], /--upstream HOST:PORT is required/],
      [['workers', 'add', 'Bad', '--upstream', fake.addr], /'Bad' is not a worker name/],
      [['workers', 'add', 'x', '--upstream', fake.addr, '--max-sessions', 'many'], /--max-sessions 'many'/],
      [['workers', 'add', 'x', '--upstream', fake.addr, '--max-sessions', '1000001'], /--max-sessions/],
      [['workers', 'remove'], /missing NAME/],
      [['workers', 'remove', 'x', '--upstream', 'y'], /--upstream/],
      [['workers', 'add', 'x', '--upstream', 'localhost:80'], /HTTP 400 .*not an IP address/],
    ]) {
      const r = ctl(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, re, args.join(' '));
    }
    assert.equal((await entry('x')).status, 404);
    const ro = ctl(['workers', 'add', 'x', '--upstream', fake.addr], stack.mint({ sub: '*', scope: 'read' }));
    assert.equal(ro.status, 1);
    assert.match(ro.err, /HTTP 403/);
    assert.match(ro.err, /lacks the scope/);
    assert.equal(ctl(['workers', 'add', '--help']).status, 0);
  });
});
