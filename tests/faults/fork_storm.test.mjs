// Fault: an app that forks a hundred children and exits while they still
// run (issue 7). The agent must reap every one of them (as a child
// subreaper, and as PID 1 of its own PID namespace, the container case),
// leave no zombie, record each exit and restart per policy, and keep
// shipping: the orphans' own output, and a second instance's steady stream,
// arrive exactly once.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { childPids, startAgent, startStack, waitFor } from '../lib/stack.mjs';
import { PRINTER, assertExact, sqlAll, storedLogs, zombiesOf } from './faults.mjs';

const CHILDREN = 100;
const MAX_RESTARTS = 2;
const RUNS = MAX_RESTARTS + 1;
const STEADY = 3000;

// Forks CHILDREN subshells that outlive it: the even ones print a line at
// once and then stay 0.3 s, the odd ones stay 0.2 s saying nothing; it
// waits until every printing child has printed (a file each: a barrier, not
// a sleep), prints its own line and exits 3 (a crash) with all of its
// children still running.
const STORM = `
d=$(mktemp -d)
i=0
while [ $i -lt ${CHILDREN} ]; do
  i=$((i+1))
  if [ $((i % 2)) -eq 0 ]; then (echo "child-$i of $$"; : > "$d/$i"; sleep 0.3) &
  else (sleep 0.2) </dev/null >/dev/null 2>&1 &
  fi
done
while [ "$(ls "$d" | wc -l)" -lt ${CHILDREN / 2} ]; do sleep 0.02; done
rm -rf "$d"
echo "parent $$ forked ${CHILDREN}"
exit 3
`;

// Children that print only after their parent exited: the pipe outlives
// the main process, so the agent keeps reading it (a "drain",
// agent/proc.c) until the children close it; their lines are shipped on
// the instance's sequence.
const LATE = 10;
const LATE_APP = `
i=0
while [ $i -lt ${LATE} ]; do i=$((i+1)); (sleep 0.5; echo "late-$i of $$") & done
echo "parent $$ done"
exit 3
`;

// A process's children from the kernel's own lists (every thread's), much
// cheaper than a scan of /proc, so that short-lived orphans are seen.
const kidsOf = (pid) => {
  try {
    return fs.readdirSync(`/proc/${pid}/task`).flatMap((tid) => fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8')
      .trim().split(/\s+/).filter(Boolean).map(Number));
  } catch {
    return childPids(pid);
  }
};

const comm = (pid) => {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
};

describe('fault: an app forks a hundred children and exits', () => {
  let stack;
  const agents = [];
  before(async () => {
    stack = await startStack({ tag: 'fault-fork', workers: [] });
    fs.writeFileSync(path.join(stack.dir, 'storm.sh'), STORM);
  });
  after(async () => {
    for (const a of agents) {
      // Under unshare the agent is unshare's child (unshare ignores
      // SIGTERM): SIGTERM the agent itself, then unshare exits with it.
      if (a.hostPid && a.hostPid !== a.pid) {
        try { process.kill(a.hostPid, 'SIGTERM'); } catch { /* gone */ }
      }
      await a.stop();
    }
    if (stack) await stack.stop();
  });

  const config = () => ({
    processes: [
      { instanceId: 'app', command: 'sh', args: [path.join(stack.dir, 'storm.sh')],
        autoRestart: true, maxRestarts: MAX_RESTARTS, restartDelayMs: 300 },
      { instanceId: 'steady', command: 'node', args: [PRINTER, 'steady', String(STEADY), '10', '10'] },
    ],
  });

  // A PID namespace needs root (CAP_SYS_ADMIN); without it only the
  // subreaper case runs, and the test says so.
  const root = process.getuid && process.getuid() === 0;
  const modes = [
    { name: 'storm-sub', what: 'as a child subreaper', wrap: [] },
    ...(root ? [{ name: 'storm-pid1', what: 'as PID 1 of a PID namespace', wrap: ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child'] }] : []),
  ];

  test(`${RUNS} runs of ${CHILDREN} orphans each: all reaped, exits recorded, shipping goes on`, { timeout: 60000 }, async (t) => {
    for (const m of modes) {
      const a = await startAgent({
        name: m.name, keys: stack.keys, logDir: stack.logDir, config: config(), wrap: m.wrap,
        orchestrator: stack.http, token: stack.mint({ sub: m.name, scope: 'ingest' }),
      });
      agents.push(a);
      // the agent's own pid on this side: unshare's only child under unshare
      a.hostPid = m.wrap.length ? (await waitFor(() => childPids(a.pid)[0], { what: 'the agent under unshare' })) : a.pid;
      if (m.wrap.length) {
        const status = fs.readFileSync(`/proc/${a.hostPid}/status`, 'utf8');
        assert.match(status, /^NSpid:\s+\d+\s+1$/m, 'the agent is PID 1 of its namespace');
      }
      a.mode = m;
      a.maxOrphans = 0;
      a.orphans = new Set();    // every pid seen as its child (the runs' own sh: 3 of them)
    }
    const db = path.join(stack.dir, 'wharf.db');
    const crashes = (w) => sqlAll(db, `SELECT payload FROM container_events WHERE worker_name = ?
      AND instance_id = 'app' AND type = 'process_crashed' ORDER BY id`, w).map((r) => JSON.parse(r.payload));
    const row = (w) => sqlAll(db, `SELECT status, exit_code, restart_count FROM container_processes
      WHERE worker_name = ? AND instance_id = 'app'`, w)[0];

    // Watch the orphans come back to the agent while the runs go on: the
    // subshells of a run whose parent exited (dash execs their last
    // command: sleep) are the agent's children, beside the app's own sh.
    await waitFor(() => {
      for (const a of agents) {
        const kids = kidsOf(a.hostPid).filter((p) => comm(p) === 'sh' || comm(p) === 'sleep');
        a.maxOrphans = Math.max(a.maxOrphans, kids.length - 1);
        for (const p of kids) a.orphans.add(p);
      }
      return agents.every((a) => crashes(a.worker).length === RUNS && row(a.worker)?.status === 'crashed');
    }, { timeout: 30000, interval: 10, what: () => `${RUNS} crashes each (${agents.map((a) => crashes(a.worker).length)})` });

    // Every orphan is gone and none is a zombie: only the steady printer
    // (node) is left as the agent's child.
    await waitFor(() => agents.every((a) => childPids(a.hostPid).every((p) => comm(p) === 'node')
      && zombiesOf(a.hostPid).length === 0), { timeout: 10000, what: 'every orphan reaped' });

    const report = [];
    for (const a of agents) {
      const w = a.worker;
      assert.ok(a.orphans.size >= RUNS + 20, `${w}: orphans were re-parented to the agent (saw ${a.orphans.size - RUNS})`);
      const c = crashes(w);
      assert.deepEqual(c.map((p) => p.exitCode), Array(RUNS).fill(3));
      assert.deepEqual(c.map((p) => p.willRestart), [...Array(RUNS - 1).fill(true), false]);
      assert.deepEqual(row(w), { status: 'crashed', exit_code: 3, restart_count: MAX_RESTARTS });

      // The app's lines: per run, its own line and one from each printing
      // child, each exactly once, with a gapless sequence.
      const expected = (CHILDREN / 2 + 1) * RUNS;
      await waitFor(() => storedLogs(db, w).length >= expected, { timeout: 10000, what: `${w}: ${expected} app lines` });
      const rows = storedLogs(db, w);
      assert.equal(rows.length, expected);
      rows.forEach((r, i) => assert.equal(r.sequence, i + 1));
      const parents = rows.map((r) => /^parent (\d+) forked/.exec(r.message)).filter(Boolean).map((m) => m[1]);
      assert.equal(new Set(parents).size, RUNS);
      for (const pid of parents) {
        const kids = rows.map((r) => new RegExp(`^child-(\\d+) of ${pid}$`).exec(r.message)).filter(Boolean).map((m) => Number(m[1]));
        assert.deepEqual(kids.sort((x, y) => x - y), Array.from({ length: CHILDREN / 2 }, (_, i) => 2 * (i + 1)),
          `${w}: run ${pid}: each printing child's line exactly once`);
      }
      // Shipping went on through the storms: the steady instance.
      await waitFor(() => storedLogs(db, w, 'steady').length >= STEADY, { timeout: 15000, what: `${w}: steady lines` });
      assertExact(storedLogs(db, w, 'steady'), 'steady', STEADY, `${w} steady`);
      report.push(`${a.mode.what}: ${RUNS} runs x ${CHILDREN} children, ${a.orphans.size - RUNS} orphans seen `
        + `re-parented to the agent (up to ${a.maxOrphans} at once), `
        + `0 zombies, app lines ${rows.length}/${expected}, steady ${STEADY}/${STEADY}`);
    }
    if (!root) report.push('PID 1 case skipped: unshare --pid needs root');
    t.diagnostic(report.join('; '));
  });

  test('lines printed by orphans after the app exited are shipped', { timeout: 20000 }, async () => {
    fs.writeFileSync(path.join(stack.dir, 'late.sh'), LATE_APP);
    const a = await startAgent({
      name: 'storm-late', keys: stack.keys, logDir: stack.logDir,
      config: { processes: [{ instanceId: 'app', command: 'sh', args: [path.join(stack.dir, 'late.sh')], autoRestart: false }] },
      orchestrator: stack.http, token: stack.mint({ sub: 'storm-late', scope: 'ingest' }),
    });
    agents.push(a);
    a.hostPid = a.pid;
    const db = path.join(stack.dir, 'wharf.db');
    await waitFor(() => childPids(a.pid).length === 0 && zombiesOf(a.pid).length === 0,
      { timeout: 10000, what: 'the late children reaped' });
    await waitFor(() => storedLogs(db, 'storm-late').length >= LATE + 1,
      { timeout: 3000, what: () => `${LATE} late lines and the parent's (got ${storedLogs(db, 'storm-late').map((r) => r.message)})` });
    // each late line exactly once, on the instance's gapless sequence
    const rows = storedLogs(db, 'storm-late');
    const late = rows.map((r) => r.message).filter((m) => m.startsWith('late-')).map((m) => Number(m.split(' ')[0].slice(5))).sort((x, y) => x - y);
    assert.deepEqual(late, Array.from({ length: LATE }, (_, i) => i + 1));
    assert.equal(rows.length, LATE + 1);
    const seqs = rows.map((r) => r.sequence).sort((x, y) => x - y);
    assert.deepEqual(seqs, Array.from({ length: rows.length }, (_, i) => seqs[0] + i));
  });
});
