// The agent's ingest token never sits on its command line (issue 12),
// which every user of the machine reads (ps, /proc/PID/cmdline): it comes
// from WHARF_TOKEN or from a file (--token-file / WHARF_TOKEN_FILE), and
// --token is refused with a message saying how to pass it instead. Real
// agents shipping through real nginx to wharfd.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BIN, startAgent, startStack, waitFor } from '../lib/stack.mjs';
import { logRows } from '../lib/ship.mjs';

const APP = ['sh', '-c', 'echo hello; exec sleep 600'];

const cmdline = (pid) => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');

// Runs the agent to its exit (it must refuse to start).
const refused = (args, env = {}) => spawnSync(BIN.agent, ['--worker', 'w', '--listen', '127.0.0.1:0', '--insecure-no-auth', ...args],
  { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8', timeout: 10000 });

describe('the ingest token is not on the command line', () => {
  let stack, fileAgent, tokenFile;
  before(async () => {
    stack = await startStack({ tag: 'agent-token', workers: [{ name: 'envtok', ship: true, app: APP }] });
    tokenFile = path.join(stack.dir, 'ingest.token');
    // a file as an editor or `echo` leaves it: a trailing newline
    fs.writeFileSync(tokenFile, `${stack.mint({ sub: 'filetok', scope: 'ingest' })}\n`, { mode: 0o600 });
    fileAgent = await startAgent({
      name: 'filetok', keys: stack.keys, orchestrator: stack.http, logDir: stack.logDir,
      args: ['--token-file', tokenFile], app: APP,
    });
  });
  after(async () => {
    if (fileAgent) await fileAgent.stop();
    if (stack) await stack.stop();
  });

  test('--token on the command line is refused (exit 2), saying how to pass it', () => {
    const secret = stack.mint({ sub: 'w', scope: 'ingest' });
    for (const args of [['--token', secret], [`--token=${secret}`]]) {
      const r = refused(['--orchestrator', stack.http, ...args, '--', 'true']);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /--token is refused/);
      assert.match(r.stderr, /WHARF_TOKEN\b/);
      assert.match(r.stderr, /--token-file PATH/);
      assert.ok(!r.stderr.includes(secret), 'the message does not repeat the token');
    }
  });

  test('WHARF_TOKEN: the agent ships, and its command line holds no token', async () => {
    const a = stack.agents.envtok;
    await waitFor(async () => (await logRows(stack, 'envtok', 'app')).some((r) => r.message === 'hello'),
      { timeout: 10000, what: 'the line shipped with the token from WHARF_TOKEN' });
    const cl = cmdline(a.pid);
    assert.doesNotMatch(cl, /eyJ/, `a JWT on the command line: ${cl}`);
    assert.doesNotMatch(cl, /--token/);
  });

  test('--token-file: the agent ships, and neither its command line nor its log holds the token', async () => {
    await waitFor(async () => (await logRows(stack, 'filetok', 'app')).some((r) => r.message === 'hello'),
      { timeout: 10000, what: 'the line shipped with the token from the file' });
    const token = fs.readFileSync(tokenFile, 'utf8').trim();
    assert.ok(!cmdline(fileAgent.pid).includes(token));
    assert.doesNotMatch(cmdline(fileAgent.pid), /eyJ/);
    assert.ok(!fs.readFileSync(fileAgent.logPath, 'utf8').includes(token), 'the token is never logged');
  });

  test('a token file that cannot be read, or holds no token, stops the agent (exit 2) naming the file', () => {
    const missing = path.join(stack.dir, 'no-such.token');
    let r = refused(['--token-file', missing]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`--token-file ${missing}: cannot open`));
    const empty = path.join(stack.dir, 'empty.token');
    fs.writeFileSync(empty, '\n', { mode: 0o600 });
    r = refused([], { WHARF_TOKEN_FILE: empty });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--token-file .*empty\.token: not a token/);
    const twoWords = path.join(stack.dir, 'two.token');
    fs.writeFileSync(twoWords, 'abc def\n', { mode: 0o600 });
    r = refused(['--token-file', twoWords]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /not a token/);
  });
});
