// wharfctl against the real stack (nginx + module, wharfd, an agent): every
// command's output in json, table and raw, and its exit status, including a
// wrong token, a dead orchestrator and a bad flag.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BIN, decodeToken, freePort, get, keyId, procGone, startStack, tempDir, waitFor, TOKEN_LEEWAY } from '../lib/stack.mjs';

const FORMATS = ['json', 'table', 'raw'];

// The operator token of the stack: the module lets no one in without one.
let token = '';
let url = '';

function ctl(args, { env = {}, input } = {}) {
  const r = spawnSync(BIN.wharfctl, args, {
    env: { ...process.env, WHARF_URL: url, WHARF_TOKEN: token, WHARF_KEY: '', ...env },
    input,
    timeout: 20000,
  });
  return { status: r.status, out: r.stdout.toString(), err: r.stderr.toString() };
}

// Runs args in each format; checks the shape of each output; returns them.
function inFormats(args, { status = 0, table, rawJson = true, argsFor = () => args } = {}) {
  const out = {};
  for (const f of FORMATS) {
    const r = ctl(['--format', f, ...argsFor(f)]);
    assert.equal(r.status, status, `${args.join(' ')} --format ${f}: ${r.err}`);
    out[f] = r.out;
  }
  // json: pretty-printed JSON; raw: the server's compact JSON; table: not JSON.
  out.value = JSON.parse(out.json);
  if (out.json.trim().length > 2) assert.match(out.json, /\n {2}\S/, 'json is indented');
  if (rawJson) {
    JSON.parse(out.raw);
    assert.doesNotMatch(out.raw, /\n {2}"/, 'raw is the body as received (compact)');
  }
  assert.doesNotMatch(out.table, /^\s*[[{]/, 'table is not JSON');
  if (table) assert.match(out.table.split('\n')[0], table, 'table header');
  return out;
}

describe('wharfctl', () => {
  let stack;
  let keyDir;
  before(async () => {
    stack = await startStack({ tag: 'wharfctl', workers: [{ name: 'demo', terminalCmd: 'bash --norc --noprofile' }] });
    token = stack.token;
    url = stack.http;
    keyDir = tempDir('wharfctl-keys');
    // Data for the monitoring commands, stored through wharfctl rpc itself.
    const seed = [
      ['storeLogs', { worker: 'demo', instanceId: 'web', logs: [
        { sequence: 1, level: 'info', message: 'listening on 3000', stream: 'stdout' },
        { sequence: 2, level: 'error', message: 'boom', stream: 'stderr' },
        { sequence: 3, level: 'warn', message: 'slow', stream: 'stdout' }] }],
      ['storeErrors', { worker: 'demo', instanceId: 'web', errors: [
        { level: 50, message: 'TypeError: x is undefined' }, { level: 50, message: 'TypeError: x is undefined' },
        { level: 60, message: 'fatal: out of memory' }] }],
      ['upsertProcess', { worker: 'demo', instanceId: 'web', command: 'node', args: ['server.js'], status: 'running', pid: 4242 }],
      ['heartbeat', { worker: 'demo', agentVersion: 'test' }],
    ];
    for (const [m, p] of seed) {
      const r = ctl(['rpc', m, JSON.stringify(p)]);
      assert.equal(r.status, 0, `${m}: ${r.err}`);
    }
  });
  after(async () => {
    if (stack) await stack.stop();
    if (keyDir) fs.rmSync(keyDir, { recursive: true, force: true });
  });

  test('--help for every command, and help COMMAND', () => {
    const cmds = ['health', 'workers', 'terminals', 'terminal', 'process', 'errors', 'logs', 'keys', 'token', 'rpc', 'version'];
    for (const c of cmds) {
      const r = ctl([c, '--help']);
      assert.equal(r.status, 0, c);
      assert.match(r.out, new RegExp(`^usage: wharfctl ${c}`), c);
      assert.equal(ctl(['help', c]).out, r.out);
    }
    for (const sub of [['workers', 'list'], ['process', 'list'], ['errors', 'clear'], ['logs', 'tail'], ['keys', 'init'], ['token', 'issue']]) {
      assert.equal(ctl([...sub, '--help']).status, 0, sub.join(' '));
    }
    const top = ctl(['--help']);
    assert.equal(top.status, 0);
    for (const c of cmds) assert.match(top.out, new RegExp(`^ {2}${c}\\b`, 'm'), `${c} in wharfctl --help`);
  });

  test('health: every worker and wharfd; the exit status follows the verdict', () => {
    const r = ctl(['health']);
    const v = JSON.parse(r.out);
    assert.equal(r.status, v.status === 'healthy' ? 0 : 1, r.err);
    assert.equal(v.wharfd.status, 'healthy');
    assert.ok(v.workers.some((w) => w.worker === 'demo' && w.check === 'terminal' && w.status === 'healthy'));
    const t = ctl(['--format', 'table', 'health']);
    assert.match(t.out, /^WORKER\s+CHECK\s+STATUS/);
    assert.match(t.out, /^\(wharfd\)\s+backend\s+healthy/m);
    assert.match(t.out, /^demo\s+terminal\s+healthy/m);
  });

  test('health --check terminal and --worker, in all formats', () => {
    const all = inFormats(['health', '--check', 'terminal'], { table: /^WORKER\s+CHECK\s+STATUS\s+LATENCY_MS/ });
    assert.equal(all.value.status, 'healthy');
    const one = inFormats(['health', '--worker', 'demo', '--check', 'terminal'], { table: /^WORKER/ });
    assert.equal(one.value.worker, 'demo');
    assert.match(one.table, /^demo\s+terminal\s+healthy/m);
    const agent = inFormats(['health', '--worker', 'demo', '--check', 'agent']);
    assert.equal(agent.value.worker, 'demo');
    // Both checks of one worker: one answer, status by both.
    const both = ctl(['health', '--worker', 'demo']);
    const bv = JSON.parse(both.out);
    assert.deepEqual(bv.checks.map((c) => c.check), ['terminal', 'websocket']);
    assert.equal(both.status, bv.status === 'healthy' ? 0 : 1);
  });

  test('health of an unknown worker fails with 1 and says why', () => {
    const r = ctl(['health', '--worker', 'nosuch']);
    assert.equal(r.status, 1);
    assert.match(r.err, /404.*not registered/);
    assert.equal(r.out, '');
  });

  test('workers list / get / seen in all formats', () => {
    const list = inFormats(['workers', 'list'], { table: /^NAME\s+SOURCE\s+CONTAINER\s+UPSTREAM\s+TERMINAL/ });
    assert.equal(list.value[0].name, 'demo');
    assert.match(list.table, new RegExp(`^demo\\s+static\\s+demo\\s+${stack.agents.demo.addr.replace(/\./g, '\\.')}\\s`, 'm'));
    const get = inFormats(['workers', 'get', 'demo'], { table: /^NAME/ });
    assert.equal(get.value.name, 'demo');
    const seen = inFormats(['workers', 'seen'], { table: /^NAME\s+CONTAINER\s+AGENT_VERSION/ });
    assert.ok(seen.value.workers.some((w) => w.name === 'demo' && w.agentVersion === 'test'));
    assert.match(seen.table, /^demo\s.*\btest\b/m);
    assert.equal(ctl(['workers', 'get', 'nosuch']).status, 1);
    assert.equal(ctl(['workers', 'get', 'Bad']).status, 2);
  });

  test('terminals in all formats, with filters', () => {
    const t = inFormats(['terminals'], { table: /^WORKER\s+CONTAINER\s+HEALTH\s+SESSIONS/ });
    assert.equal(t.value[0].worker, 'demo');
    assert.equal(t.value[0].path, '/api/workers/demo/terminal');
    assert.deepEqual(JSON.parse(ctl(['terminals', '--status', 'healthy']).out).map((x) => x.worker), ['demo']);
    assert.equal(JSON.parse(ctl(['terminals', '--worker', 'demo']).out).length, 1);
    const none = ctl(['terminals', '--worker', 'nosuch']);
    assert.equal(none.status, 1);
    assert.match(none.err, /404.*not registered/);
    assert.equal(ctl(['terminals', '--status', 'sideways']).status, 2);
  });

  test('process list / status in all formats; unknown process is 1', () => {
    const list = inFormats(['process', 'list'], { table: /^WORKER\s+INSTANCE\s+STATUS\s+PID/ });
    assert.equal(list.value.data[0].instanceId, 'web');
    assert.match(list.table, /^demo\s+web\s+running\s+4242\b/m);
    const st = inFormats(['process', 'status', '-i', 'web', '--worker', 'demo'], { table: /^WORKER/ });
    assert.equal(st.value.pid, 4242);
    const none = ctl(['process', 'status', '-i', 'nope', '--worker', 'demo']);
    assert.equal(none.status, 1);
    assert.match(none.err, /no process 'nope'/);
    assert.equal(ctl(['process', 'status']).status, 2, '-i is required');
    assert.equal(ctl(['process', 'restart', '-i', 'web']).status, 2, '--worker is required');
  });

  test('errors list / stats in all formats, with level filters', () => {
    const list = inFormats(['errors', 'list', '--worker', 'demo'], { table: /^LAST_SEEN\s+WORKER\s+INSTANCE\s+LEVEL\s+COUNT\s+MESSAGE/ });
    assert.equal(list.value.data.length, 2);
    assert.match(list.table, /\b50\s+2\s+TypeError: x is undefined/);
    const fatal = JSON.parse(ctl(['errors', 'list', '--min-level', '60']).out);
    assert.deepEqual(fatal.data.map((e) => e.message), ['fatal: out of memory']);
    const stats = inFormats(['errors', 'stats', '--worker', 'demo'], { table: /^KEY\s+VALUE/ });
    assert.equal(stats.value.totalErrors, 3);
    assert.equal(stats.value.uniqueErrors, 2);
    assert.equal(ctl(['errors', 'list', '--limit', 'many']).status, 2);
  });

  test('logs list / get / stats / tail in all formats, with filters', () => {
    const list = inFormats(['logs', 'list', '--worker', 'demo'], { table: /^TIMESTAMP\s+WORKER\s+INSTANCE\s+LEVEL\s+STREAM\s+MESSAGE/ });
    assert.equal(list.value.data.length, 3);
    const errs = JSON.parse(ctl(['logs', 'list', '--levels', 'error,warn', '--streams', 'stderr']).out);
    assert.deepEqual(errs.data.map((l) => l.message), ['boom']);
    const get = inFormats(['logs', 'get', '-i', 'web', '--worker', 'demo'], { table: /^TIMESTAMP/ });
    assert.deepEqual(get.value.data.map((l) => l.sequence), [1, 2, 3], 'get is oldest first');
    const stats = inFormats(['logs', 'stats', '--worker', 'demo']);
    assert.equal(stats.value.total, 3);
    const since = JSON.parse(ctl(['logs', 'list', '--since', '1h']).out);
    assert.equal(since.data.length, 3, '--since 1h is an hour ago');
    assert.equal(JSON.parse(ctl(['logs', 'list', '--until', '2000-01-01T00:00:00Z']).out).data.length, 0);

    // tail: the last n, oldest first; json is one object per line.
    const tail = ctl(['logs', 'tail', '-n', '2']);
    assert.equal(tail.status, 0, tail.err);
    const lines = tail.out.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => l.message), ['boom', 'slow']);
    const tailRaw = ctl(['--format', 'raw', 'logs', 'tail', '-n', '1']);
    assert.match(tailRaw.out, /^\S+Z warn\s+demo\/web slow\n$/);
    assert.equal(ctl(['logs', 'tail', '-n', '0']).status, 2);
  });

  test('errors clear / logs clear need --confirm (2), then clear (0); --reset lists then clears', () => {
    assert.equal(ctl(['errors', 'clear', '--worker', 'demo']).status, 2);
    assert.match(ctl(['errors', 'clear', '--worker', 'demo']).err, /--confirm/);
    const r = ctl(['errors', 'list', '--worker', 'demo', '--reset']);
    assert.equal(r.status, 0, r.err);
    assert.equal(JSON.parse(r.out).data.length, 2);
    assert.match(r.err, /cleared 2 rows/);
    assert.equal(JSON.parse(ctl(['errors', 'list', '--worker', 'demo']).out).data.length, 0);
    const c = inFormats(['logs', 'clear', '--worker', 'demo', '--confirm']);
    assert.equal(typeof c.value.clearedCount, 'number');
    assert.equal(JSON.parse(ctl(['logs', 'list', '--worker', 'demo']).out).data.length, 0);
  });

  test('keys init: a pair whose tokens node\'s crypto verifies; refuses to overwrite without --force', () => {
    const dir = path.join(keyDir, 'k');
    const k = inFormats([], { rawJson: false, argsFor: (f) => ['keys', 'init', '--dir', path.join(keyDir, f)] });
    assert.equal(k.value.privateKey, path.join(keyDir, 'json/private.pem'));
    assert.match(k.table, /^PRIVATE_KEY\s+PUBLIC_KEY\s+PUBLIC_DIR\s+KID\s+ALGORITHM\n.*table\/private\.pem/);
    // the kid is the public key's RFC 7638 thumbprint, and names its file
    // in the folder of trusted keys
    const pubJson = fs.readFileSync(path.join(keyDir, 'json/public.pem'));
    assert.equal(k.value.kid, keyId(crypto.createPublicKey(pubJson)));
    assert.deepEqual(fs.readFileSync(path.join(keyDir, 'json/public', `${k.value.kid}.pem`)), pubJson);
    assert.equal(k.raw, `${path.join(keyDir, 'raw/private.pem')}\n${path.join(keyDir, 'raw/public.pem')}\n`);
    const r = ctl(['keys', 'init', '--dir', dir]);
    assert.equal(r.status, 0, r.err);
    assert.equal(fs.statSync(path.join(dir, 'private.pem')).mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.join(dir, 'public.pem')).mode & 0o777, 0o644);
    const before = fs.readFileSync(path.join(dir, 'private.pem'));
    const again = ctl(['keys', 'init', '--dir', dir]);
    assert.equal(again.status, 1);
    assert.match(again.err, /already holds a key.*--force/);
    assert.deepEqual(fs.readFileSync(path.join(dir, 'private.pem')), before, 'not overwritten');
    assert.equal(ctl(['keys', 'init', '--dir', dir, '--force']).status, 0);
    assert.notDeepEqual(fs.readFileSync(path.join(dir, 'private.pem')), before, '--force replaces');
    // A token signed with the new key verifies with node's crypto.
    const t = ctl(['--format', 'raw', 'token', 'issue', '--key', path.join(dir, 'private.pem'), '--sub', 'demo', '--scope', 'ingest', '--ttl', '7d']);
    assert.equal(t.status, 0, t.err);
    const pub = fs.readFileSync(path.join(dir, 'public.pem'));
    const d = decodeToken(t.out.trim(), pub);
    assert.equal(d.valid, true);
    assert.equal(d.header.alg, 'ES256');
    assert.equal(d.claims.sub, 'demo');
    assert.equal(d.claims.scope, 'ingest');
    assert.equal(d.claims.exp - d.claims.iat, 7 * 86400);
    assert.equal(d.header.kid, keyId(crypto.createPublicKey(pub)));
  });

  test('keys rotate, retire and list: usage errors and refusals (the flow: key_rotation.test.mjs)', () => {
    const dir = path.join(keyDir, 'rot');
    assert.equal(ctl(['keys', 'rotate', '--dir', dir]).status, 1, 'nothing to rotate yet');
    assert.equal(ctl(['keys', 'init', '--dir', dir]).status, 0);
    assert.equal(ctl(['keys', 'retire', '--dir', dir]).status, 2, 'which key?');
    const notKid = ctl(['keys', 'retire', '../../etc/passwd', '--dir', dir]);
    assert.equal(notKid.status, 2);
    assert.match(notKid.err, /not a key id/);
    const unknown = ctl(['keys', 'retire', 'A'.repeat(43), '--dir', dir]);
    assert.equal(unknown.status, 1);
    assert.match(unknown.err, /keys list shows/);
    const rot = ctl(['--format', 'raw', 'keys', 'rotate', '--dir', dir]);
    assert.equal(rot.status, 0, rot.err);
    const list = ctl(['--format', 'raw', 'keys', 'list', '--dir', dir]).out.trim().split('\n');
    assert.equal(list.length, 2);
    assert.ok(list.includes(rot.out.trim()));
    assert.match(ctl(['keys', 'frob']).err, /unknown subcommand 'frob'/);
  });

  test('token issue: formats, and the module accepts what it signs with the stack key', () => {
    const args = ['token', 'issue', '--key', stack.keys.privatePath, '--sub', '*', '--scope', 'read', '--ttl', '5m'];
    const t = inFormats(args, { table: /^SUB\s+SCOPE\s+AUD\s+EXPIRES\s+TOKEN/, rawJson: false });
    assert.match(t.raw, /^[\w-]+\.[\w-]+\.[\w-]+\n$/, 'raw is the token alone');
    assert.equal(t.value.sub, '*');
    assert.equal(t.value.scope, 'read');
    const minted = ctl(['--format', 'raw', ...args]).out.trim();
    assert.equal(minted.split('.').length, 3);
    assert.equal(ctl(['workers', 'list'], { env: { WHARF_TOKEN: minted } }).status, 0);
    // read only: the terminal is refused (403), clearing too (-32003).
    const term = ctl(['terminal', 'demo'], { env: { WHARF_TOKEN: minted }, input: 'exit\n' });
    assert.equal(term.status, 1);
    assert.match(term.err, /403/);
    const clear = ctl(['logs', 'clear', '--worker', 'demo', '--confirm'], { env: { WHARF_TOKEN: minted } });
    assert.equal(clear.status, 1);
    assert.match(clear.err, /-32003/);
    // WHARF_KEY is the default key.
    assert.equal(ctl(['token', 'issue', '--sub', 'demo', '--scope', 'read'], { env: { WHARF_KEY: stack.keys.privatePath } }).status, 0);
    // Usage errors.
    for (const bad of [
      ['token', 'issue', '--sub', 'demo'],
      ['token', 'issue', '--key', stack.keys.privatePath, '--sub', 'Bad!', '--scope', 'read'],
      ['token', 'issue', '--key', stack.keys.privatePath, '--sub', 'demo', '--scope', 'root'],
      ['token', 'issue', '--key', stack.keys.privatePath, '--sub', 'demo', '--scope', 'read', '--ttl', '400d'],
      ['token', 'issue', '--sub', 'demo', '--scope', 'read'],
    ]) assert.equal(ctl(bad).status, 2, bad.join(' '));
    assert.equal(ctl(['token', 'issue', '--key', '/nonexistent/k.pem', '--sub', 'demo', '--scope', 'read']).status, 1);
    assert.equal(ctl(['token', 'issue', '--key', stack.keys.publicPath, '--sub', 'demo', '--scope', 'read']).status, 1,
      'a public key cannot sign');
  });

  test('terminal with a piped stdin: the remote status, ^D at the end, refusals', () => {
    const r = ctl(['terminal', 'demo'], { input: 'echo $((6*7))\nexit 3\n' });
    assert.equal(r.status, 3, r.err);
    assert.match(r.out, /[\r\n]42\r\n/);
    const eof = ctl(['terminal', 'demo'], { input: 'echo done\n' });
    assert.equal(eof.status, 0, `end of stdin ends the shell: ${eof.err}`);
    const bad = ctl(['terminal', 'demo'], { env: { WHARF_TOKEN: 'not.a.token' }, input: '' });
    assert.equal(bad.status, 1);
    assert.match(bad.err, /401/);
    const none = ctl(['terminal', 'nosuch'], { input: '' });
    assert.equal(none.status, 1);
    assert.match(none.err, /404/);
    assert.equal(ctl(['terminal']).status, 2);
    assert.equal(ctl(['terminal', 'Bad_Name']).status, 2);
  });

  test('rpc and version in all formats', () => {
    const v = inFormats(['version'], { rawJson: false });
    assert.equal(v.raw, `${v.value.version}\n`);
    assert.match(v.value.version, /^\d+\.\d+\.\d+$/);
    const w = inFormats(['rpc', 'getWorkers']);
    assert.ok(Array.isArray(w.value.workers));
    const unknown = ctl(['rpc', 'noSuchMethod']);
    assert.equal(unknown.status, 1);
    assert.match(unknown.err, /-32601/);
  });

  test('a wrong token: exit 1 naming the refusal, for the module and for wharfd', () => {
    const env = { WHARF_TOKEN: stack.mint({ sub: '*', scope: 'read', ttl: -TOKEN_LEEWAY - 10 }) };
    for (const args of [['workers', 'list'], ['terminals'], ['health', '--worker', 'demo', '--check', 'terminal']]) {
      const r = ctl(args, { env });
      assert.equal(r.status, 1, args.join(' '));
      assert.match(r.err, /HTTP 401/, args.join(' '));
      assert.match(r.err, /the token was refused; pass one with --token or WHARF_TOKEN/, args.join(' '));
      assert.equal(r.out, '');
    }
    for (const args of [['logs', 'list'], ['errors', 'stats'], ['process', 'list'], ['workers', 'seen']]) {
      const r = ctl(args, { env });
      assert.equal(r.status, 1, args.join(' '));
      assert.match(r.err, /-32001/, args.join(' '));
    }
    // No token at all.
    assert.match(ctl(['workers', 'list'], { env: { WHARF_TOKEN: '' } }).err, /401[\s\S]*no token was given/);
  });

  test('a dead orchestrator: exit 1 naming the URL, for every network command', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    for (const args of [['health'], ['workers', 'list'], ['workers', 'seen'], ['terminals'], ['process', 'list'],
      ['errors', 'list'], ['logs', 'list'], ['logs', 'tail'], ['terminal', 'demo'], ['rpc', 'getWorkers']]) {
      const r = ctl(['--url', dead, ...args], { input: '' });
      assert.equal(r.status, 1, args.join(' '));
      assert.ok(r.err.includes(dead.replace('http://', '')), `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, /running|reach/, args.join(' '));
    }
  });

  test('values the server refuses as invalid params exit 2, with its message naming the field', () => {
    for (const [args, field] of [
      [['errors', 'list', '--since', 'yesterday'], 'since'],
      [['errors', 'list', '--limit', '0'], 'limit'],
      [['logs', 'list', '--order', 'sideways'], 'order'],
      [['logs', 'list', '--limit', '1001'], 'limit'],
      [['process', 'list', '--status', 'asleep'], 'status'],
      [['rpc', 'getLogs', '{"bogus":1}'], 'bogus'],
    ]) {
      const r = ctl(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, /^wharfctl: .*-32602/, args.join(' '));
      assert.ok(r.err.includes(`"field":"${field}"`), `${args.join(' ')}: ${r.err}`);
      assert.equal(r.out, '');
    }
  });

  test('a bad flag, a bad value or an unknown command: exit 2', () => {
    for (const args of [['health', '--bogus'], ['frobnicate'], ['--format', 'xml', 'health'], ['workers', 'list', '--bogus'],
      ['terminals', '--bogus'], ['process', 'list', '--bogus'], ['errors', 'list', '--bogus'], ['logs', 'list', '--bogus'],
      ['logs', 'tail', '--bogus'], ['keys', 'init', '--bogus'], ['token', 'issue', '--bogus'], ['terminal', 'demo', '--bogus'],
      ['health', '--check', 'everything'], ['workers'], ['logs', 'frob'], ['--url', 'ftp://x', 'health']]) {
      const r = ctl(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, /^wharfctl: /, args.join(' '));
    }
  });
});

// Process control: wharfctl -> wharfd (JSON-RPC) -> the gateway -> the agent
// supervising an app.
describe('wharfctl process control', () => {
  let stack;
  before(async () => {
    stack = await startStack({ tag: 'wharfctl-proc', workers: [{ name: 'demo', app: ['sleep', '1000'] }] });
  });
  after(async () => stack && stack.stop());

  test('process restart / stop / start reach the agent (json, table, raw); a read-only token is refused', async () => {
    const env = { WHARF_URL: stack.http, WHARF_TOKEN: stack.token };
    const r = ctl(['process', 'restart', '-i', 'app', '--worker', 'demo'], { env });
    assert.equal(r.status, 0, r.err);
    const v = JSON.parse(r.out);
    assert.equal(v.process.instanceId, 'app');
    assert.equal(v.process.command, 'sleep');
    const stop = ctl(['--format', 'table', 'process', 'stop', '-i', 'app', '--worker', 'demo'], { env });
    assert.equal(stop.status, 0, stop.err);
    assert.match(stop.out, /^WORKER\s+INSTANCE\s+STATUS/);
    assert.match(stop.out, /\napp\s+(stopping|stopped)\b|\n\S+\s+app\s+(stopping|stopped)\b/);
    // the stop answers as soon as SIGTERM is sent; until the agent has
    // reaped the app a start is refused with -32009 (state conflict), so
    // the start is retried on exactly that answer
    let start;
    const t0 = Date.now();
    await waitFor(() => {
      start = ctl(['--format', 'raw', 'process', 'start', '-i', 'app', '--worker', 'demo'], { env });
      return start.status === 0 || !/-32009/.test(start.err);
    }, { timeout: 10000, what: () => `a start once the app stopped (${start && start.err})` });
    assert.equal(start.status, 0, start.err);
    assert.equal(JSON.parse(start.out).jsonrpc, '2.0', 'raw is the JSON-RPC answer');
    assert.equal(JSON.parse(start.out).result.process.instanceId, 'app');
    const ro = ctl(['process', 'stop', '-i', 'app', '--worker', 'demo'],
      { env: { ...env, WHARF_TOKEN: stack.mint({ sub: '*', scope: 'read' }) } });
    assert.equal(ro.status, 1);
    assert.match(ro.err, /-32003/);
  });
});

// logs list|get --reset: every line printed, then exactly those cleared;
// lines that arrive meanwhile (a slow reader holds the output) are kept.
describe('wharfctl logs --reset', () => {
  let stack;
  before(async () => {
    stack = await startStack({ tag: 'wharfctl-reset', workers: [{ name: 'demo', addr: '127.0.0.1:9' }] });
  });
  after(async () => stack && stack.stop());

  const env = () => ({ WHARF_URL: stack.http, WHARF_TOKEN: stack.token });
  const rpc = async (method, params) => {
    const r = await get(`${stack.http}/rpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.token}` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: `ContainerMonitoringOps.${method}`, params }),
    });
    assert.ok(r.json && r.json.result, r.body.slice(0, 300));
    return r.json.result;
  };
  const store = async (instanceId, from, n) => {
    for (let i = 0; i < n; i += 500) {
      const logs = Array.from({ length: Math.min(500, n - i) }, (_, k) => ({
        sequence: from + i + k, level: 'info', message: `${instanceId} line ${from + i + k} ${'x'.repeat(200)}` }));
      await rpc('storeLogs', { worker: 'demo', instanceId, logs });
    }
  };
  const stored = async (instanceId) => {
    const seqs = [];
    for (let after = 0; ;) {
      const page = await rpc('getLogs', { worker: 'demo', instanceId, order: 'asc', limit: 1000, afterSequence: after });
      seqs.push(...page.data.map((l) => l.sequence));
      if (!page.pagination.hasMore) return seqs;
      after = seqs[seqs.length - 1];
    }
  };
  const range = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

  test('logs get --reset with a slow reader and lines arriving: all printed in order, only those cleared', async () => {
    await store('r', 1, 2500); // more than a page of the server (1000) and of the old --reset (100)
    const child = spawn(BIN.wharfctl, ['logs', 'get', '-i', 'r', '--worker', 'demo', '--reset'], { env: { ...process.env, ...env() } });
    const chunks = [];
    let err = '';
    let first;
    const started = new Promise((resolve) => { first = resolve; });
    child.stdout.on('data', (d) => {
      chunks.push(d);
      // a slow reader: the first chunk, then nothing while lines arrive
      if (chunks.length === 1) { child.stdout.pause(); first(); }
    });
    child.stderr.on('data', (d) => { err += d; });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    await started;
    await store('r', 2501, 200);
    assert.equal(child.exitCode, null, `wharfctl waits for its reader (${err})`);
    child.stdout.resume();
    assert.equal(await exited, 0, err);
    const printed = JSON.parse(Buffer.concat(chunks).toString()).data.map((l) => l.sequence);
    assert.deepEqual(printed, range(1, 2500), 'every line stored before it started, in order');
    assert.match(err, /--reset cleared 2500 rows/);
    assert.deepEqual(await stored('r'), range(2501, 2700), 'the lines that arrived meanwhile are kept');
  });

  test('logs list --reset: newest first across instances, in every format; a filter is refused', async () => {
    await rpc('clearLogs', { worker: 'demo', confirm: true });
    for (const f of ['json', 'raw', 'table']) {
      await store(`a${f}`, 1, 600);
      await store(`b${f}`, 1, 600);
      const r = ctl(['--format', f, 'logs', 'list', '--worker', 'demo', '--reset'], { env: env() });
      assert.equal(r.status, 0, r.err);
      assert.match(r.err, /--reset cleared 1200 rows/);
      if (f === 'table') {
        assert.equal(r.out.trim().split('\n').length, 1201, 'a header and a row per line');
      } else {
        const data = JSON.parse(r.out).data;
        assert.equal(data.length, 1200);
        assert.ok(data.every((l, i) => i === 0 || l.id < data[i - 1].id), 'newest first, each once');
        assert.deepEqual(JSON.parse(r.out).pagination, { limit: 1200, offset: 0, total: 1200, hasMore: false });
      }
      assert.deepEqual([...await stored(`a${f}`), ...await stored(`b${f}`)], []);
    }
    await store('keep', 1, 3);
    for (const extra of [['--levels', 'error'], ['--since', '1h'], ['--limit', '10'], ['--offset', '1'], ['--streams', 'stdout']]) {
      const r = ctl(['logs', 'list', '--worker', 'demo', '--reset', ...extra], { env: env() });
      assert.equal(r.status, 2, `${extra.join(' ')}: ${r.err}`);
      assert.match(r.err, new RegExp(`takes no ${extra[0]}`));
    }
    assert.deepEqual(await stored('keep'), [1, 2, 3], 'a refused --reset clears nothing');
    // an empty worker: nothing printed but the envelope, nothing cleared
    const e = ctl(['logs', 'get', '-i', 'none', '--worker', 'nobody', '--reset'], { env: env() });
    assert.equal(e.status, 0, e.err);
    assert.deepEqual(JSON.parse(e.out).data, []);
    assert.match(e.err, /cleared 0 rows/);
  });
});

// logs tail -f on wharfd's live feed, across a wharfd restart.
describe('wharfctl logs tail -f', () => {
  let stack;
  let tail;
  let wharfd2;
  before(async () => {
    stack = await startStack({ tag: 'wharfctl-tail', workers: [{ name: 'demo', addr: '127.0.0.1:9' }] });
  });
  after(async () => {
    for (const p of [tail, wharfd2]) {
      if (p && p.exitCode === null && p.signalCode === null) {
        p.kill('SIGTERM');
        await waitFor(() => procGone(p.pid), { what: `pid ${p.pid} to end` });
      }
    }
    if (stack) await stack.stop();
  });

  const store = (seq, message) => {
    const r = ctl(['rpc', 'storeLogs', JSON.stringify({ worker: 'demo', instanceId: 'web', logs: [{ sequence: seq, level: 'info', message }] })],
      { env: { WHARF_URL: stack.http, WHARF_TOKEN: stack.token } });
    assert.equal(r.status, 0, r.err);
  };

  test('follows the feed, and after wharfd restarts, catches up what it missed and follows again', async () => {
    store(1, 'before');
    let out = '';
    let err = '';
    tail = spawn(BIN.wharfctl, ['--format', 'raw', 'logs', 'tail', '-f', '-n', '5', '--worker', 'demo'], {
      env: { ...process.env, WHARF_URL: stack.http, WHARF_TOKEN: stack.token },
    });
    tail.stdout.on('data', (d) => { out += d; });
    tail.stderr.on('data', (d) => { err += d; });
    await waitFor(() => /before/.test(out), { what: () => `the stored line (out ${JSON.stringify(out)}, err ${JSON.stringify(err)})` });
    store(2, 'live-one');
    await waitFor(() => /live-one/.test(out), { what: () => `live-one in ${JSON.stringify(out)}` });
    // From the feed: without it wharfctl says so before it polls the store.
    assert.equal(err, '');

    // wharfd goes away: the feed closes; a line stored while it is down
    // cannot be; wharfd comes back on the same addresses and database.
    const cmdline = fs.readFileSync(`/proc/${stack.wharfd.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    await stack.wharfd.stop();
    await waitFor(() => /reconnecting|no live feed/.test(err), { what: () => `a reconnect message in ${JSON.stringify(err)}` });
    wharfd2 = spawn(cmdline[0], cmdline.slice(1), { stdio: ['ignore', 'pipe', 'ignore'] });
    await waitFor(async () => (await fetch(`${stack.http}/api/monitoring/health`)).status === 200, { what: 'wharfd back' });
    store(3, 'after-restart');
    await waitFor(() => /after-restart/.test(out), { timeout: 20000, what: () => `after-restart in ${JSON.stringify(out)} (${err})` });
    store(4, 'live-two');
    await waitFor(() => /live-two/.test(out), { timeout: 20000, what: () => `live-two in ${JSON.stringify(out)}` });
    // Every line once, in order.
    const msgs = out.trim().split('\n').map((l) => l.split(' ').pop());
    assert.deepEqual(msgs, ['before', 'live-one', 'after-restart', 'live-two']);
    assert.equal(tail.exitCode, null, 'still following');
  });

  test('-n 2 -f prints the two newest lines, then only lines stored after them', async () => {
    for (let i = 1; i <= 10; i++) {
      const r = ctl(['rpc', 'storeLogs', JSON.stringify({ worker: 'demo', instanceId: 'few', logs: [{ sequence: i, level: 'info', message: `few-${i}` }] })],
        { env: { WHARF_URL: stack.http, WHARF_TOKEN: stack.token } });
      assert.equal(r.status, 0, r.err);
    }
    let out = '';
    const t = spawn(BIN.wharfctl, ['--format', 'raw', 'logs', 'tail', '-f', '-n', '2', '--worker', 'demo', '-i', 'few'], {
      env: { ...process.env, WHARF_URL: stack.http, WHARF_TOKEN: stack.token },
    });
    t.stdout.on('data', (d) => { out += d; });
    try {
      await waitFor(() => /few-10/.test(out), { what: () => `the two newest in ${JSON.stringify(out)}` });
      const r = ctl(['rpc', 'storeLogs', JSON.stringify({ worker: 'demo', instanceId: 'few', logs: [{ sequence: 11, level: 'info', message: 'few-11' }] })],
        { env: { WHARF_URL: stack.http, WHARF_TOKEN: stack.token } });
      assert.equal(r.status, 0, r.err);
      // by the time a new line shows, the catch-up after subscribing ran
      await waitFor(() => /few-11/.test(out), { what: () => `few-11 in ${JSON.stringify(out)}` });
      const msgs = out.trim().split('\n').map((l) => l.split(' ').pop());
      assert.deepEqual(msgs, ['few-9', 'few-10', 'few-11']);
    } finally {
      t.kill('SIGTERM');
      await waitFor(() => procGone(t.pid), { what: `pid ${t.pid} to end` });
    }
  });
});
