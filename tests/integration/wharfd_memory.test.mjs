// wharfd's memory budget (issue 13; docs/wharfd.md, "Memory budget"):
// four JSON-RPC batches of 95,000 getWorkers calls (7.8 MiB each, read
// scope) at once, through nginx, as in the attack that took wharfd from
// 161 MB to 1.35 GB of RSS and left it at 0.9-1.2 GB. wharfd's RSS is read
// from /proc/PID/status before, during (every 20 ms) and after the burst.
//
//   - with the defaults, each batch is refused (413, -32600, over
//     --rpc-batch-max) before it is parsed: RSS stays near the bodies;
//   - with --rpc-batch-max raised so that the batches are parsed, each one
//     runs into --request-memory-max (413) and the total into
//     --memory-budget: RSS stays under idle + the budget;
//   - either way RSS is back within MEMORY_AFTER_BURST of the idle
//     baseline once the burst is over (malloc's fixed thresholds and
//     malloc_trim, fcgi_backend/budget.h).
//
// Under SANITIZE=1 or valgrind the allocator is the tool's (ASan keeps
// freed memory in quarantine), so RSS is not wharfd's: the answers are
// checked, the RSS bounds are not.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROOT, SANITIZE, VALGRIND, startStack, waitFor } from '../lib/stack.mjs';

const M = (name) => `ContainerMonitoringOps.${name}`;
const CALLS = 95000;
const PARALLEL = 4;
const MiB = 1024 * 1024;
// docs/wharfd.md: RSS after a burst is within this of the idle baseline
const MEMORY_AFTER_BURST = 16 * MiB;
const budgetH = fs.readFileSync(path.join(ROOT, 'fcgi_backend/budget.h'), 'utf8');
// a product of numbers, e.g. "(256UL * 1024 * 1024)"
const define = (name) => new RegExp(`#define ${name}\\s+([^\\n]*)`).exec(budgetH)[1]
  .replace(/[()UL\s]/g, '').split('*').reduce((a, x) => a * Number(x), 1);
const MEMORY_BUDGET = define('WHARFD_MEMORY_BUDGET_DEFAULT');
const RSS_CHECKED = !SANITIZE && !VALGRIND;

const rss = (pid) => 1024 * Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
const mib = (n) => `${(n / MiB).toFixed(1)} MiB`;

function batch() {
  const calls = [];
  for (let i = 0; i < CALLS; i++) calls.push(`{"jsonrpc":"2.0","id":${i},"method":"${M('getWorkers')}","params":{}}`);
  return `[${calls.join(',')}]`;
}

// The burst: PARALLEL batches at once; RSS sampled meanwhile.
async function burst(stack, body) {
  const pid = stack.wharfd.pid;
  const token = stack.mint({ sub: '*', scope: 'read' });
  const post = (b) => fetch(`${stack.http}/rpc`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: b,
    signal: AbortSignal.timeout(120000),
  }).then(async (r) => ({ status: r.status, json: JSON.parse(await r.text()) }));
  // the idle baseline: after one small request (threads and caches warm)
  await post(`{"jsonrpc":"2.0","id":1,"method":"${M('getWorkers')}"}`);
  const idle = rss(pid);
  let peak = idle;
  const sampler = setInterval(() => { peak = Math.max(peak, rss(pid)); }, 20);
  let answers;
  try {
    answers = await Promise.all(Array.from({ length: PARALLEL }, () => post(body)));
  } finally {
    clearInterval(sampler);
  }
  // memory goes back as the requests end; wait for it, bounded
  let afterBurst = rss(pid);
  if (RSS_CHECKED) {
    await waitFor(() => {
      afterBurst = rss(pid);
      return afterBurst <= idle + MEMORY_AFTER_BURST;
    }, { timeout: 10000, what: () => `wharfd's RSS back within ${mib(MEMORY_AFTER_BURST)} of ${mib(idle)} (now ${mib(afterBurst)})` }).catch(() => {});
  }
  // and wharfd serves as before
  const ok = await post(`{"jsonrpc":"2.0","id":2,"method":"${M('getWorkers')}"}`);
  assert.equal(ok.status, 200);
  console.log(`# ${PARALLEL} x ${CALLS} calls (${mib(body.length)} each): RSS idle ${mib(idle)}, peak ${mib(peak)}, after ${mib(afterBurst)}`);
  return { answers, idle, peak, after: afterBurst };
}

describe('wharfd memory budget', () => {
  let body;
  before(() => { body = batch(); });

  describe('defaults', () => {
    let stack;
    before(async () => { stack = await startStack({ tag: 'memory-default', workers: [] }); });
    after(async () => stack && stack.stop());

    test('four 7.8 MiB batches of 95,000 calls: refused before parsing (413), RSS back to idle', async () => {
      const { answers, idle, peak, after: a } = await burst(stack, body);
      for (const r of answers) {
        assert.equal(r.status, 413);
        assert.equal(r.json.error.code, -32600);
        assert.match(r.json.error.message, /rpc-batch-max/);
        assert.equal(r.json.id, null);
      }
      if (RSS_CHECKED) {
        // what is held is the bodies, counted in the budget
        assert.ok(peak <= idle + MEMORY_BUDGET, `peak ${mib(peak)} over idle ${mib(idle)} + budget`);
        assert.ok(a <= idle + MEMORY_AFTER_BURST, `after ${mib(a)}, idle ${mib(idle)}`);
      }
    });
  });

  describe('--rpc-batch-max 100000: the batches are parsed', () => {
    let stack;
    before(async () => {
      stack = await startStack({ tag: 'memory-parsed', workers: [], wharfdArgs: ['--rpc-batch-max', '100000'] });
    });
    after(async () => stack && stack.stop());

    test('each runs into --request-memory-max (413), all of them into --memory-budget; RSS bounded, then back to idle', async () => {
      const { answers, idle, peak, after: a } = await burst(stack, body);
      for (const r of answers) {
        // its own limit (413, -32600), or everyone's (503, -32603)
        assert.ok([413, 503].includes(r.status), `status ${r.status}`);
        assert.equal(r.json.error.code, r.status === 413 ? -32600 : -32603);
        assert.match(r.json.error.message, /--request-memory-max|--memory-budget/);
      }
      if (RSS_CHECKED) {
        // the budget counts what requests hold; malloc's own overhead and
        // the libraries' memory come on top: 10 % of it
        assert.ok(peak <= idle + MEMORY_BUDGET * 1.1, `peak ${mib(peak)} over idle ${mib(idle)} + budget ${mib(MEMORY_BUDGET)}`);
        assert.ok(a <= idle + MEMORY_AFTER_BURST, `after ${mib(a)}, idle ${mib(idle)}`);
      }
    });
  });

  describe('--answer-max', () => {
    let stack;
    before(async () => {
      stack = await startStack({ tag: 'memory-answer', workers: [], wharfdArgs: ['--answer-max', '65536'] });
    });
    after(async () => stack && stack.stop());

    test('calls past the answer limit are not run, each answered -32603; the answer stays under the limit', async () => {
      const token = stack.mint({ sub: '*', scope: 'read ingest' });
      const n = 999; // and the heartbeat: --rpc-batch-max calls
      // long ids, echoed in each answer: ~150 bytes an answer
      const calls = Array.from({ length: n }, (_, i) => `{"jsonrpc":"2.0","id":"${'i'.repeat(100)}${i}","method":"${M('getWorkers')}"}`);
      // a heartbeat at the end: past the limit it must not run
      calls.push(`{"jsonrpc":"2.0","id":"hb","method":"${M('heartbeat')}","params":{"worker":"late"}}`);
      const r = await fetch(`${stack.http}/rpc`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: `[${calls.join(',')}]`,
      });
      const text = await r.text();
      assert.equal(r.status, 200);
      const json = JSON.parse(text);
      assert.equal(json.length, n + 1);
      const ran = json.filter((x) => x.result);
      const notRun = json.filter((x) => x.error);
      assert.ok(ran.length > 0 && notRun.length > 0);
      assert.ok(json.slice(0, ran.length).every((x) => x.result), 'the calls that ran come first, in order');
      assert.ok(notRun.every((x) => x.error.code === -32603 && /--answer-max/.test(x.error.message)));
      // the answers of the calls that ran fit the limit; those not run
      // add one short error each (at most --rpc-batch-max of them)
      assert.ok(JSON.stringify(ran).length <= 65536, `answers of ${JSON.stringify(ran).length} bytes`);
      const workers = await fetch(`${stack.http}/rpc`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: `{"jsonrpc":"2.0","id":1,"method":"${M('getWorkers')}"}`,
      }).then((x) => x.json());
      assert.equal(workers.result.workers.find((w) => w.name === 'late'), undefined, 'the heartbeat past the limit did not run');
    });
  });
});
