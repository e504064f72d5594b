// One odd line never takes its batch down (issue 12, item 3): real apps
// print unusual bytes to a real agent that ships through nginx to wharfd.
//
//   - a long line of multi-byte UTF-8 is cut between characters, so no
//     piece grows past wharfd's --message-max and its batch is stored;
//   - invalid bytes are replaced (U+FFFD, three bytes each) before a line
//     is measured: 30,000 bytes of 0xFF and the ten lines with it arrive;
//   - a line with an invalid byte is classified (pino level, error row,
//     the fatal-error rule) as the line with the byte replaced;
//   - a line wharfd refuses all the same (an agent whose --line-max is
//     above wharfd's --message-max) is stored truncated with a marker, its
//     neighbours whole, and counted in the agent's /health;
//   - a line refused even truncated is lost alone, reported as refused
//     (logs_dropped reason "refused"), never as "dropped while the
//     orchestrator was away".

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startStack, tempDir, waitFor } from '../lib/stack.mjs';
import { TRUNCATED, agentHealth, joinPieces, logRows, payload, rpc } from '../lib/ship.mjs';

const MESSAGE_MAX = 65536; // wharfd's default --message-max
const R = '\uFFFD';

// Prints what its mode says in one write (one batch), then exits 0; the
// fatal mode waits to be stopped by the fatal-error rule.
const APP = `
const mode = process.argv[2];
const b = (s) => (Buffer.isBuffer(s) ? s : Buffer.from(s));
const lines = (...ls) => Buffer.concat(ls.flatMap((l) => [b(l), b('\\n')]));
const n = (tag, k) => Array.from({ length: k }, (_, i) => tag + ' ' + (i + 1));
const out = {
  accent: () => lines(...n('before', 10), 'a' + '\\u00e9'.repeat(70000), ...n('after', 10)),
  ff: () => lines(...n('clean', 5), Buffer.alloc(30000, 0xff), ...n('clean', 10).slice(5)),
  pino: () => lines('pino before', Buffer.concat([b('{"level":50,"msg":"bad byte '), Buffer.from([0xff]), b(' here"}')]), 'pino after'),
  fatal: () => lines(Buffer.concat([b('FATAL ERROR: disk on fire '), Buffer.from([0xff])])),
  wide: () => lines(...n('near', 10), 'x'.repeat(150000), 'fatal error: ' + 'y'.repeat(100000), ...n('far', 10)),
  tiny: () => lines(...n('ok', 5), 'z'.repeat(100), ...n('ok', 10).slice(5)),
  many: () => lines(...n('m', 50)),
}[mode]();
process.stdout.write(out, () => {
  if (mode === 'fatal') setTimeout(() => {}, 60000);
  else process.exit(0);
});
`;

const app = (dir, id, extra = {}) => ({
  instanceId: id, command: 'node', args: [path.join(dir, 'app.js'), id], autoRestart: false, ...extra,
});

// The agent's log says nothing about lines dropped while the orchestrator
// was away: it was there all along.
const noAwayWarning = (agent) => {
  const log = fs.readFileSync(agent.logPath, 'utf8');
  assert.doesNotMatch(log, /orchestrator was away/, 'no line was dropped for an outage');
};

describe('odd lines at the default limits', () => {
  let stack, dir;
  before(async () => {
    dir = tempDir('agent-odd');
    fs.writeFileSync(path.join(dir, 'app.js'), APP);
    stack = await startStack({
      tag: 'agent-odd',
      workers: [{
        name: 'odd', ship: true,
        config: { processes: [app(dir, 'accent'), app(dir, 'ff'), app(dir, 'pino'), app(dir, 'fatal')] },
      }],
    });
  });
  after(async () => {
    if (stack) await stack.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const stored = async (id, want) => {
    let rows = [];
    await waitFor(async () => {
      rows = await logRows(stack, 'odd', id);
      return joinPieces(rows).length >= want;
    }, { timeout: 20000, interval: 200, what: () => `${want} lines of ${id} stored (have ${joinPieces(rows).length})` });
    return rows;
  };

  test('a long line of multi-byte UTF-8 is cut between characters, and every line of its batch is stored', async () => {
    const rows = await stored('accent', 21);
    const lines = joinPieces(rows);
    assert.deepEqual(lines.map((l) => l.text).filter((t) => t.length < 100),
      [...Array.from({ length: 10 }, (_, i) => `before ${i + 1}`), ...Array.from({ length: 10 }, (_, i) => `after ${i + 1}`)]);
    const long = lines[10];
    assert.equal(long.text, `a${'\u00e9'.repeat(70000)}`, 'the pieces join back to the line');
    assert.ok(long.pieces >= 3, `cut in pieces (${long.pieces})`);
    for (const r of long.rows) {
      assert.ok(Buffer.byteLength(r.message) <= MESSAGE_MAX, `a piece of ${Buffer.byteLength(r.message)} bytes`);
      assert.ok(!r.message.includes(R), 'no piece was cut inside a character');
    }
    // gapless: nothing of the batch was dropped
    assert.deepEqual(rows.map((r) => r.sequence), rows.map((_, i) => i + 1));
    const h = await agentHealth(stack.agents.odd);
    assert.equal(h.shipping.dropped, 0);
    noAwayWarning(stack.agents.odd);
  });

  test('30,000 invalid bytes are measured after their replacement, and the ten lines batched with them are stored', async () => {
    const rows = await stored('ff', 11);
    const lines = joinPieces(rows);
    assert.deepEqual(lines.filter((l) => l.text.startsWith('clean')).map((l) => l.text),
      Array.from({ length: 10 }, (_, i) => `clean ${i + 1}`));
    const bad = lines[5];
    assert.equal(bad.text, R.repeat(30000), 'each invalid byte is one U+FFFD, nothing lost');
    for (const r of bad.rows) assert.ok(Buffer.byteLength(r.message) <= MESSAGE_MAX, `a piece of ${Buffer.byteLength(r.message)} bytes`);
    assert.deepEqual(rows.map((r) => r.sequence), rows.map((_, i) => i + 1));
    const events = await rpc(stack, 'getEvents', { worker: 'odd', type: 'logs_dropped' });
    assert.equal(events.data.length, 0, 'no logs_dropped event');
  });

  test('a pino line with an invalid byte is classified as the line with the byte replaced', async () => {
    // pino JSON: level 50 is an error, with its msg
    const rows = await stored('pino', 3);
    assert.equal(rows[1].message, `{"level":50,"msg":"bad byte ${R} here"}`);
    assert.equal(rows[1].level, 'error');
    let errs;
    await waitFor(async () => {
      errs = await rpc(stack, 'getErrors', { worker: 'odd', instanceId: 'pino' });
      return errs.data.length === 1;
    }, { timeout: 10000, what: 'the pino error row' });
    assert.equal(errs.data[0].message, `bad byte ${R} here`);
    assert.equal(errs.data[0].level, 50);
  });

  test('a fatal pattern with an invalid byte is an error and triggers the fatal-error rule', async () => {
    let errs;
    await waitFor(async () => {
      errs = await rpc(stack, 'getErrors', { worker: 'odd', instanceId: 'fatal' });
      return errs.data.length === 1;
    }, { timeout: 10000, what: 'the fatal error row' });
    assert.equal(errs.data[0].message, `FATAL ERROR: disk on fire ${R}`);
    await waitFor(async () => (await rpc(stack, 'getEvents', { worker: 'odd', instanceId: 'fatal', type: 'fatal_error' })).data.length === 1,
      { timeout: 10000, what: 'a fatal_error event' });
    await waitFor(async () => (await rpc(stack, 'getProcess', { worker: 'odd', instanceId: 'fatal' })).status === 'crashed',
      { timeout: 10000, what: 'the fatal rule to end the process' });
  });
});

describe('lines the orchestrator refuses', () => {
  let stack, tiny, dir;
  before(async () => {
    dir = tempDir('agent-refused-lines');
    fs.writeFileSync(path.join(dir, 'app.js'), APP);
    // 'wide' keeps lines whole up to 200,000 bytes: above wharfd's
    // --message-max, which refuses them
    stack = await startStack({
      tag: 'agent-refused-lines',
      workers: [{
        name: 'wide', ship: true, args: ['--line-max', '200000'],
        config: { fatalRestart: false, processes: [app(dir, 'wide')] },
      }],
    });
    // wharfd's --message-max is below even the marker: the line cannot be
    // stored at all; and it takes at most 4 lines per call
    tiny = await startStack({
      tag: 'agent-refused-tiny', wharfdArgs: ['--message-max', '20', '--batch-max', '4'],
      workers: [{ name: 'tiny', ship: true, config: { processes: [app(dir, 'tiny'), app(dir, 'many')] } }],
    });
  });
  after(async () => {
    if (stack) await stack.stop();
    if (tiny) await tiny.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a refused line is stored truncated with the marker; its neighbours are stored whole', async () => {
    let rows = [];
    await waitFor(async () => {
      rows = await logRows(stack, 'wide', 'wide');
      return rows.length >= 22;
    }, { timeout: 20000, interval: 200, what: () => `22 rows (have ${rows.length})` });
    assert.equal(rows.length, 22);
    assert.deepEqual(rows.map((r) => r.sequence), rows.map((_, i) => i + 1));
    assert.deepEqual(rows.slice(0, 10).map((r) => r.message), Array.from({ length: 10 }, (_, i) => `near ${i + 1}`));
    assert.deepEqual(rows.slice(12).map((r) => r.message), Array.from({ length: 10 }, (_, i) => `far ${i + 1}`));
    for (const [r, full] of [[rows[10], 'x'.repeat(150000)], [rows[11], `fatal error: ${'y'.repeat(100000)}`]]) {
      const m = TRUNCATED.exec(r.message);
      assert.ok(m, `the refused line ends with the marker: ...${r.message.slice(-60)}`);
      const kept = r.message.slice(0, m.index);
      assert.equal(kept, full.slice(0, kept.length), 'what is kept is the line\'s start');
      assert.equal(kept.length + Number(m[1]), full.length, 'the marker counts the bytes cut');
      assert.ok(Buffer.byteLength(r.message) <= MESSAGE_MAX);
    }
    // the error of the fatal-pattern line too
    let errs;
    await waitFor(async () => {
      errs = await rpc(stack, 'getErrors', { worker: 'wide', instanceId: 'wide' });
      return errs.data.length === 1;
    }, { timeout: 10000, what: 'the error row' });
    assert.match(errs.data[0].message, TRUNCATED);
    assert.match(errs.data[0].rawOutput, TRUNCATED);

    const h = await agentHealth(stack.agents.wide);
    assert.equal(h.shipping.truncated, 3, 'two lines and an error stored truncated');
    assert.equal(h.shipping.dropped, 0);
    assert.equal(h.shipping.refused, 0);
    const log = fs.readFileSync(stack.agents.wide.logPath, 'utf8');
    assert.match(log, /log line 11 refused by the orchestrator \(.*'message' must be at most 65536 bytes\); storing it truncated/);
    noAwayWarning(stack.agents.wide);
  });

  test('a line refused even truncated is lost alone and reported as refused', async () => {
    let rows = [];
    let drops = [];
    await waitFor(async () => {
      rows = await logRows(tiny, 'tiny', 'tiny');
      drops = (await rpc(tiny, 'getEvents', { worker: 'tiny', type: 'logs_dropped' })).data;
      return rows.length >= 10 && drops.length >= 1;
    }, { timeout: 20000, interval: 200, what: () => `10 rows (have ${rows.length}) and a logs_dropped event (have ${drops.length})` });
    assert.deepEqual(rows.map((r) => r.message), Array.from({ length: 10 }, (_, i) => `ok ${i + 1}`));
    assert.deepEqual(rows.map((r) => r.sequence), [1, 2, 3, 4, 5, 7, 8, 9, 10, 11]);
    assert.equal(drops.length, 1);
    assert.deepEqual(payload(drops[0]), { count: 1, firstSequence: 6, lastSequence: 6, reason: 'refused' });
    const h = await agentHealth(tiny.agents.tiny);
    assert.equal(h.shipping.refused, 1);
    assert.equal(h.shipping.dropped, 1);
    const log = fs.readFileSync(tiny.agents.tiny.logPath, 'utf8');
    assert.match(log, /1 log lines \(sequences 6\.\.6\) were refused by the orchestrator/);
    noAwayWarning(tiny.agents.tiny);
  });

  test('a call over wharfd\'s --batch-max is split in halves until it fits: every line stored', async () => {
    let rows = [];
    await waitFor(async () => {
      rows = await logRows(tiny, 'tiny', 'many');
      return rows.length >= 50;
    }, { timeout: 20000, interval: 200, what: () => `50 rows (have ${rows.length})` });
    assert.deepEqual(rows.map((r) => r.message), Array.from({ length: 50 }, (_, i) => `m ${i + 1}`));
    const drops = (await rpc(tiny, 'getEvents', { worker: 'tiny', instanceId: 'many', type: 'logs_dropped' })).data;
    assert.equal(drops.length, 0);
  });
});
