// Lossless on any bytes (issue 12): a property test. Apps print random
// byte strings -- any bytes, lines from 0 B to 1 MiB, with and without a
// last newline, written in random-sized chunks -- through a real agent,
// nginx and wharfd. Every line must be accounted for on the orchestrator,
// in order, nothing dropped:
//   - stored whole: the line as a UTF-8 decoder with replacement reads it
//     (WHATWG: each maximal invalid subpart becomes one U+FFFD; Node's
//     TextDecoder is the independent reference), trimmed as the agent
//     trims (L4; a line left empty is not stored, L5);
//   - or cut into pieces (metadata split/continued) that join back into
//     that line, untrimmed;
//   - or, where wharfd refused a piece, that piece truncated with the
//     marker " ...[wharf: truncated, N bytes cut]" whose N is exact.
// Two agents: one at the default limits (--line-max = wharfd's
// --message-max: nothing may be truncated) and one whose --line-max is
// above wharfd's limit (pieces get refused, then stored truncated).
//
// The seed is random and printed; WHARF_PROPERTY_SEED=N replays a run.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { VALGRIND, startStack, tempDir, waitFor } from '../lib/stack.mjs';
import { TRUNCATED, agentHealth, logRows, rpc } from '../lib/ship.mjs';

const SEED = Number(process.env.WHARF_PROPERTY_SEED || Math.floor(Math.random() * 2 ** 31));
const MESSAGE_MAX = 65536; // wharfd's default --message-max
const MIB = 1 << 20;

// mulberry32: a small seeded PRNG, so that a seed replays a run exactly.
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Byte material for a line's content: never a '\n' (that ends the line).
const PIECES = [
  [0xc3, 0xa9], [0xe2, 0x82, 0xac], [0xf0, 0x9f, 0x98, 0x80], [0xe4, 0xb8, 0xad], // valid 2-4 bytes
  [0xef, 0xbf, 0xbd], [0xef, 0xbb, 0xbf], // U+FFFD itself, a BOM
  [0xe2, 0x82], [0xf0, 0x9f, 0x98], [0xc3], // cut characters
  [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xf4, 0x90, 0x80, 0x80], // surrogate, overlongs, > U+10FFFF
  [0x80], [0xbf], [0xff], [0xfe], [0xf8, 0x88, 0x80, 0x80, 0x80], // stray bytes, old 5-byte forms
  [0x00], [0x0d], [0x09], [0x20], [0x1b, 0x5b, 0x33, 0x31, 0x6d], // NUL, CR, tab, space, an ANSI escape
];

function genLine(rnd, len) {
  const b = Buffer.alloc(len);
  const flavour = Math.floor(rnd() * 6);
  let i = 0;
  while (i < len) {
    let chunk;
    const r = rnd();
    if (flavour === 0 || (flavour === 5 && r < 0.5)) {
      chunk = [0x20 + Math.floor(rnd() * 95)]; // printable ASCII
    } else if (flavour === 1) {
      chunk = PIECES[Math.floor(rnd() * 6)]; // valid multi-byte only
    } else if (flavour === 2) {
      chunk = [0x80 + Math.floor(rnd() * 128)]; // high bytes: mostly invalid
    } else if (flavour === 3) {
      const v = Math.floor(rnd() * 255);
      chunk = [v >= 0x0a ? v + 1 : v]; // any byte but '\n'
    } else if (flavour === 4) {
      chunk = [[0x20, 0x09, 0x0d, 0x0b, 0x0c][Math.floor(rnd() * 5)]]; // whitespace only
    } else {
      chunk = PIECES[Math.floor(rnd() * PIECES.length)];
    }
    for (const c of chunk) if (i < len) b[i++] = c;
  }
  return b;
}

// A stream of lines: mostly short, some around the limits, some up to
// 1 MiB; always one empty line and one of exactly 1 MiB; 3,000 short
// ones on top.
function genStream(rnd, budget) {
  const lines = [Buffer.alloc(0), genLine(rnd, MIB)];
  let total = MIB;
  while (total < budget) {
    const r = rnd();
    const len = r < 0.45 ? Math.floor(rnd() * 80)
      : r < 0.7 ? 80 + Math.floor(rnd() * 4000)
        : r < 0.85 ? 4096 + Math.floor(rnd() * 66000)
          : r < 0.97 ? 60000 + Math.floor(rnd() * 80000)
            : Math.floor(rnd() * MIB) + 1;
    lines.push(genLine(rnd, len));
    total += len + 1;
  }
  // and many short ones, so that batches of 500 hold odd lines among
  // ordinary ones
  for (let k = 0; k < 3000; k++) lines.push(genLine(rnd, Math.floor(rnd() * 200)));
  // shuffle, so that the big and empty lines land anywhere
  for (let i = lines.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [lines[i], lines[j]] = [lines[j], lines[i]];
  }
  const body = Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')]));
  // with or without a last newline
  return rnd() < 0.5 ? body : body.subarray(0, body.length - 1);
}

// What the orchestrator must hold for the stream: one entry per line,
// the line decoded with replacement (S) and trimmed as the agent trims (T).
const SPACE = ' \t\r\n\v\f';
function trimAgent(s) {
  let a = 0;
  let b = s.length;
  while (a < b && SPACE.includes(s[a])) a++;
  while (b > a && SPACE.includes(s[b - 1])) b--;
  return s.slice(a, b);
}
function expected(stream) {
  const dec = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
  const out = [];
  let start = 0;
  for (;;) {
    const nl = stream.indexOf(0x0a, start);
    if (nl < 0) {
      if (start < stream.length) out.push(stream.subarray(start));
      break;
    }
    out.push(stream.subarray(start, nl));
    start = nl + 1;
  }
  return out.map((raw) => {
    const S = dec.decode(raw);
    return { raw: raw.length, S, T: trimAgent(S) };
  });
}

// Does this run of rows hold the text want (bytes)? Each row is its next
// bytes, or a prefix of them and the marker counting the rest of a
// truncated row. Returns the rows truncated, or -1 when it does not match.
function holds(rows, want) {
  let pos = 0;
  let truncated = 0;
  for (const r of rows) {
    const m = TRUNCATED.exec(r.message);
    const kept = Buffer.from(m ? r.message.slice(0, m.index) : r.message);
    if (!kept.equals(want.subarray(pos, pos + kept.length))) return -1;
    pos += kept.length;
    if (m) {
      pos += Number(m[1]);
      truncated++;
    }
  }
  return pos === want.length ? truncated : -1;
}

// Walks the expected lines and the stored rows together.
function account(lines, rows, tag) {
  const fail = (msg) => assert.fail(`${tag} (seed ${SEED}): ${msg}`);
  let ri = 0;
  let truncated = 0;
  let whole = 0;
  let cut = 0;
  for (let li = 0; li < lines.length; li++) {
    const { S, T, raw } = lines[li];
    // the next stored line: a whole row, or the run of pieces of a cut one
    let end = ri;
    if (ri < rows.length) {
      while (end < rows.length && rows[end].metadata && rows[end].metadata.split) end++;
      end = Math.min(end + 1, rows.length);
    }
    const group = rows.slice(ri, end);
    const isPieces = group.length > 0 && group[0].metadata && (group[0].metadata.split || group[0].metadata.continued);
    let t = -1;
    if (group.length > 0) {
      if (isPieces) {
        if (group[0].metadata.continued) fail(`row ${group[0].sequence} continues no line`);
        t = holds(group, Buffer.from(S));
      } else if (T !== '') {
        t = holds(group, Buffer.from(T));
      }
    }
    if (t >= 0) {
      truncated += t;
      if (isPieces) cut++;
      else whole++;
      ri = end;
      continue;
    }
    if (T === '') continue; // empty once trimmed: not stored (L5)
    fail(`line ${li + 1} of ${lines.length} (${raw} bytes) is not where it belongs: `
      + `expected ${JSON.stringify(T.slice(0, 80))}..., row ${group[0] ? group[0].sequence : '(none)'} holds `
      + `${group[0] ? JSON.stringify(group[0].message.slice(0, 80)) : 'nothing'}...`);
  }
  if (ri !== rows.length) fail(`${rows.length - ri} rows stored that no line printed (first: sequence ${rows[ri].sequence})`);
  return { truncated, whole, cut };
}

// Writes a file to stdout in random-sized chunks (blocking writes).
const WRITER = `
import os, random, sys
data = open(sys.argv[1], 'rb').read()
rnd = random.Random(int(sys.argv[2]))
i = 0
while i < len(data):
    n = rnd.choice([1, 7, 100, 4096, 65536, 200000, rnd.randint(1, 300000)])
    i += os.write(1, data[i:i + n])
`;

describe(`any bytes are accounted for (seed ${SEED})`, () => {
  let stack, dir;
  const streams = {};
  const AGENTS = {
    // --line-max = wharfd's --message-max: nothing is ever refused
    even: [],
    // pieces up to 100,000 bytes: wharfd refuses those over 65,536
    wide: ['--line-max', '100000'],
  };

  before(async () => {
    dir = tempDir('agent-bytes');
    fs.writeFileSync(path.join(dir, 'writer.py'), WRITER);
    const rnd = prng(SEED);
    const workers = [];
    for (const [name, args] of Object.entries(AGENTS)) {
      // (under valgrind, a smaller stream: the same kinds of line)
      streams[name] = genStream(rnd, (VALGRIND ? 1.5 : 4) * MIB);
      fs.writeFileSync(path.join(dir, `${name}.bin`), streams[name]);
      workers.push({
        name, ship: true,
        // large enough that no line is dropped for room: this test is
        // about bytes, agent_outage about a full buffer
        args: [...args, '--buffer-bytes', String(256 * MIB)],
        config: {
          fatalRestart: false,
          processes: [{
            instanceId: 'app', command: 'python3',
            args: [path.join(dir, 'writer.py'), path.join(dir, `${name}.bin`), String(SEED)],
            autoRestart: false,
          }],
        },
      });
    }
    stack = await startStack({ tag: 'agent-bytes', workers });
  });
  after(async () => {
    if (stack) await stack.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const name of Object.keys(AGENTS)) {
    test(`${name}: every line stored whole, in pieces, or truncated with the marker; in order; nothing dropped`, async (t) => {
      t.diagnostic(`seed ${SEED} (WHARF_PROPERTY_SEED=${SEED} replays it)`);
      const agent = stack.agents[name];
      let h;
      let stats;
      await waitFor(async () => {
        const p = await rpc(stack, 'getProcess', { worker: name, instanceId: 'app' });
        h = await agentHealth(agent);
        stats = await rpc(stack, 'getLogStats', { worker: name, instanceId: 'app' });
        // (a line lost ends the wait: the assertions below say which)
        return p && p.status === 'stopped' && h.shipping.queued === 0
          && (stats.total === h.shipping.shipped || h.shipping.dropped > 0);
      }, { timeout: 90000, interval: 250, what: () => `${name} (seed ${SEED}): the app done and every line stored (stored ${stats && stats.total}, shipped ${h && h.shipping.shipped})` });

      assert.equal(h.shipping.dropped, 0, `${name} (seed ${SEED}): lines dropped`);
      const rows = await logRows(stack, name, 'app');
      for (let i = 0; i < rows.length; i++) {
        if (rows[i].sequence !== i + 1) assert.fail(`${name} (seed ${SEED}): row ${i} has sequence ${rows[i].sequence}: a gap`);
        const bytes = Buffer.byteLength(rows[i].message);
        if (bytes > MESSAGE_MAX) assert.fail(`${name} (seed ${SEED}): row ${rows[i].sequence} holds ${bytes} bytes`);
      }
      const lines = expected(streams[name]);
      const got = account(lines, rows, name);
      t.diagnostic(`${lines.length} lines, ${streams[name].length} bytes: ${got.whole} whole, ${got.cut} cut, `
        + `${got.truncated} rows truncated, ${rows.length} rows`);

      h = await agentHealth(agent);
      assert.equal(h.shipping.dropped, 0, `${name} (seed ${SEED}): lines dropped`);
      assert.equal(h.shipping.refused, 0, `${name} (seed ${SEED}): lines refused`);
      assert.equal(h.shipping.truncated, got.truncated, `${name} (seed ${SEED}): /health counts the truncated rows`);
      const drops = await rpc(stack, 'getEvents', { worker: name, type: 'logs_dropped' });
      assert.equal(drops.data.length, 0, `${name} (seed ${SEED}): a logs_dropped event`);
      if (name === 'even') assert.equal(got.truncated, 0, `seed ${SEED}: nothing truncated at the default limits`);
      // the 1 MiB line alone leaves pieces of 100,000 bytes to refuse
      else assert.ok(got.truncated > 0, `seed ${SEED}: pieces above wharfd's limit were stored truncated`);
    });
  }
});
