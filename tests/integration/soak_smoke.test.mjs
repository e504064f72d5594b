// A short pass of the soak (tests/soak/soak.mjs, `make soak`), so that it
// cannot rot: the same code and checks on a smaller load for 15 s: 4
// agents shipping 50 lines/s each, 20 terminals typing, 5 feed
// subscribers, 2 REST clients with injected bad requests. Every row
// printed must be stored exactly once, every subscriber must see every
// row in order, no request may fail but the injected ones, and the
// daemons must exit 0. RSS is reported, not judged: 15 s is too short for
// a growth bound to mean anything (the 10-minute soak judges it).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TIMEOUT_SCALE } from '../lib/stack.mjs';
import { runSoak, table } from '../soak/soak.mjs';

test('soak smoke: 15 s of mixed load, nothing lost, no unexpected error', async (ctx) => {
  const r = await runSoak({
    seconds: 15, warmup: 3, rssWindow: 3, agents: 4, terminals: 20, subscribers: 5, unfiltered: 1,
    restClients: 2, sessionMinMs: 4000, sessionMaxMs: 8000, rssBound: null,
    timeoutMs: 15000 * TIMEOUT_SCALE,
  }, (line) => ctx.diagnostic(line));
  for (const line of table(r).split('\n')) ctx.diagnostic(line);
  const failed = r.checks.filter((c) => !c.ok);
  assert.deepEqual(failed, [], table(r));
  assert.ok(r.ingest.stored > 0 && r.terminals.commands > 0 && r.feed.rows > 0);
});
