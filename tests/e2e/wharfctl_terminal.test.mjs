// `wharfctl terminal` driven as a person drives it: inside a real terminal
// (a tmux pane, keys sent with send-keys, the screen read with
// capture-pane), through the orchestrator's nginx to the worker's shell.
//
// Each session runs a small sh script in the pane that saves `stty -g`
// before and after wharfctl and wharfctl's exit status, so the test can
// check that the local terminal is left exactly as it was found.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BIN, childPids, procGone, startStack, tempDir, waitFor } from '../lib/stack.mjs';

const BASH = 'bash --norc --noprofile';

describe('wharfctl terminal in tmux', () => {
  let stack;
  let dir;
  let sock;
  let serverPid = 0;

  const tmux = (...args) => {
    const r = spawnSync('tmux', ['-S', sock, ...args]);
    if (r.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.toString();
  };
  const screen = (t) => tmux('capture-pane', '-p', '-J', '-t', t, '-S', '-200');

  // Starts wharfctl in a new tmux session (cols x rows); returns the
  // session name and the files the script writes.
  function session(name, { cols = 100, rows = 30, token = stack.token } = {}) {
    const files = {
      before: path.join(dir, `${name}.before`),
      after: path.join(dir, `${name}.after`),
      status: path.join(dir, `${name}.status`),
    };
    const script = path.join(dir, `${name}.sh`);
    fs.writeFileSync(script, [
      `stty -g > '${files.before}'`,
      `WHARF_URL='${stack.http}' WHARF_TOKEN='${token}' '${BIN.wharfctl}' terminal demo`,
      `echo $? > '${files.status}.tmp'`,
      `stty -g > '${files.after}'`,
      `mv '${files.status}.tmp' '${files.status}'`,
      // Keeps the pane (and so the session) open for capture-pane.
      'exec sleep 600',
      '',
    ].join('\n'));
    if (!serverPid) {
      // The first session starts the server, with no status line so that
      // the pane is exactly cols x rows.
      tmux('-f', path.join(dir, 'tmux.conf'), 'new-session', '-d', '-s', name, '-x', `${cols}`, '-y', `${rows}`, `sh '${script}'`);
      serverPid = Number(tmux('display-message', '-p', '#{pid}').trim());
    } else {
      tmux('new-session', '-d', '-s', name, '-x', `${cols}`, '-y', `${rows}`, `sh '${script}'`);
    }
    return { name, files };
  }

  const waitScreen = (t, re, timeout = 10000) =>
    waitFor(() => re.test(screen(t)), { timeout, what: () => `${re} on the tmux screen:\n${screen(t)}` });

  const keys = (t, text) => tmux('send-keys', '-t', t, '-l', text);
  const enter = (t) => tmux('send-keys', '-t', t, 'Enter');

  async function finished(files) {
    await waitFor(() => fs.existsSync(files.status), { timeout: 10000, what: 'wharfctl to exit' });
    return {
      status: Number(fs.readFileSync(files.status, 'utf8').trim()),
      before: fs.readFileSync(files.before, 'utf8'),
      after: fs.readFileSync(files.after, 'utf8'),
    };
  }

  before(async () => {
    const probe = spawnSync('tmux', ['-V']);
    assert.equal(probe.status, 0, 'tmux is needed (scripts/install-deps installs it)');
    stack = await startStack({ tag: 'wharfctl-tmux', workers: [{ name: 'demo', terminalCmd: BASH }] });
    dir = tempDir('wharfctl-tmux');
    sock = path.join(dir, 'tmux.sock');
    fs.writeFileSync(path.join(dir, 'tmux.conf'), 'set -g status off\nset -g remain-on-exit off\n');
  });

  after(async () => {
    if (serverPid) {
      spawnSync('tmux', ['-S', sock, 'kill-server']);
      try { process.kill(serverPid, 'SIGKILL'); } catch { /* gone */ }
      await waitFor(() => procGone(serverPid), { what: 'the tmux server to end' });
    }
    if (stack) await stack.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('typing runs commands, resizing the pane resizes the remote terminal, exit 3 is our status', async () => {
    const t = session('main', { cols: 100, rows: 30 });
    // The initial size reaches the remote shell with the upgrade.
    await waitScreen(t.name, /bash.*[#$] $/m);
    keys(t.name, 'stty size');
    enter(t.name);
    await waitScreen(t.name, /^30 100\s*$/m);

    keys(t.name, 'echo $((6*7))');
    enter(t.name);
    await waitScreen(t.name, /^42\s*$/m);

    // tmux resizes the pane and sends wharfctl SIGWINCH; wharfctl sends the
    // new size. The signal and the next keys may race in wharfctl's loop,
    // so `stty size` is asked again until it answers (a few times at most).
    tmux('resize-window', '-t', t.name, '-x', '120', '-y', '40');
    await waitFor(() => tmux('display-message', '-p', '-t', t.name, '#{pane_width}x#{pane_height}').trim() === '120x40',
      { what: 'the pane to be 120x40' });
    let seen = false;
    for (let i = 0; i < 5 && !seen; i++) {
      keys(t.name, 'stty size');
      enter(t.name);
      try {
        await waitScreen(t.name, /^40 120\s*$/m, 2000);
        seen = true;
      } catch { /* asked again */ }
    }
    assert.ok(seen, `stty size never said 40 120:\n${screen(t.name)}`);

    keys(t.name, 'exit 3');
    enter(t.name);
    const r = await finished(t.files);
    assert.equal(r.status, 3);
    assert.equal(r.after, r.before, 'stty -g differs after wharfctl');
    assert.doesNotMatch(r.before, /^$/);
  });

  test('SIGTERM to wharfctl: status 143 and the terminal restored', async () => {
    const t = session('term');
    await waitScreen(t.name, /bash.*[#$] $/m);
    const panePid = Number(tmux('display-message', '-p', '-t', t.name, '#{pane_pid}').trim());
    const ctl = childPids(panePid).find((p) => {
      try { return fs.readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'wharfctl'; } catch { return false; }
    });
    assert.ok(ctl, 'wharfctl runs in the pane');
    // The terminal is raw while attached (what has to be restored).
    const tty = tmux('display-message', '-p', '-t', t.name, '#{pane_tty}').trim();
    const during = spawnSync('stty', ['-F', tty, '-a']).stdout.toString();
    assert.match(during, /-icanon/);
    assert.match(during, /-echo\b/);
    process.kill(ctl, 'SIGTERM');
    const r = await finished(t.files);
    assert.equal(r.status, 143);
    assert.equal(r.after, r.before);
  });

  test('a wrong token: status 1, a message on the screen, the terminal untouched', async () => {
    const t = session('badtoken', { token: stack.mint({ sub: '*', scope: 'read' }) });
    const r = await finished(t.files);
    assert.equal(r.status, 1);
    assert.equal(r.after, r.before);
    await waitScreen(t.name, /HTTP 403/);
  });
});
