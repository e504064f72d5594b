// The agent's buffer keeps waiting lines LZ4-compressed (agent/ship_queue.h,
// --buffer-compress, default on). Against a sink that is down while an app
// prints more than a 1 MiB buffer holds (compressible pino-like lines and
// incompressible random base64, in runs), then comes back: with compression
// on and off alike, the oldest lines are dropped and reported exactly
// (logs_dropped count and range), every other line arrives once with its
// own bytes, and the agent's exit line shows what the compression did
// (compressed chunks and chunks kept raw; none with it off).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startAgent, tempDir, waitFor } from '../lib/stack.mjs';

const N = 12000;
const RUN = 1500;               // lines per run of one kind
const BUFFER = 1 << 20;         // --buffer-bytes: keeps ~4,500 of the lines

function makeLines() {
  const lines = [];
  for (let i = 1; i <= N; i++) {
    if (Math.floor((i - 1) / RUN) % 2 === 0) {
      lines.push(JSON.stringify({
        level: 30, time: 1764236400000 + i * 3, pid: 4242, reqId: `req-${(0x1a3f00 + i).toString(16)}`,
        url: `/api/items/${(i * 7919) % 5000}`, responseTime: (i % 300) + 0.5, msg: ['ok', 'cache miss', 'db query'][i % 3],
      }));
    } else {
      lines.push(crypto.randomBytes(90).toString('base64'));
    }
  }
  return lines;
}

// A sink that refuses everything (HTTP 503) until open() and then stores
// like wharfd: one message per sequence, events in order.
function startSink() {
  const st = { open: false, stored: new Map(), dupes: 0, events: [] };
  const srv = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      if (!st.open) {
        res.writeHead(503, { 'Content-Type': 'text/plain' });
        res.end('down');
        return;
      }
      const answers = JSON.parse(body).map((c) => {
        const m = c.method.replace(/^ContainerMonitoringOps\./, '');
        if (m === 'storeLogs') {
          for (const l of c.params.logs) {
            if (st.stored.has(l.sequence)) st.dupes++;
            else st.stored.set(l.sequence, l.message);
          }
        }
        if (m === 'recordEvent') st.events.push(c.params);
        const result = m === 'getLastSequence' ? { instanceId: c.params.instanceId, lastSequence: 0 } : {};
        return { jsonrpc: '2.0', id: c.id, result };
      });
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(answers));
    });
  });
  return new Promise((r) => srv.listen(0, '127.0.0.1', () => r({ srv, st })));
}

describe('buffer compression: exact drops, every other line intact', () => {
  let dir, lines, file;
  const live = [];

  before(() => {
    dir = tempDir('agent-compress');
    lines = makeLines();
    file = path.join(dir, 'lines.txt');
    fs.writeFileSync(file, `${lines.join('\n')}\n`);
  });
  after(async () => {
    for (const x of live) {
      if (x.agent) await x.agent.stop();
      if (x.srv) { x.srv.closeAllConnections(); x.srv.close(); }
    }
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const mode of ['on', 'off']) {
    test(`--buffer-compress ${mode}: stored + dropped = printed, ranges exact`, async () => {
      const { srv, st } = await startSink();
      const x = { srv };
      live.push(x);
      x.agent = await startAgent({
        name: `compress-${mode}`, logDir: dir, token: 'unused-by-the-sink',
        orchestrator: `http://127.0.0.1:${srv.address().port}`,
        args: ['--buffer-bytes', String(BUFFER), '--buffer-compress', mode],
        config: { processes: [{ instanceId: 'app', command: 'cat', args: [file], autoRestart: false }] },
      });
      const health = async () => (await fetch(`http://${x.agent.addr}/health`)).json();

      // every line captured while the sink is down: the buffer overflowed
      let h;
      await waitFor(async () => {
        h = await health();
        return h.shipping.queued + h.shipping.dropped + h.shipping.shipped === N;
      }, { timeout: 20000, interval: 50, what: () => `${N} lines captured (${JSON.stringify(h && h.shipping)})` });
      assert.ok(h.shipping.dropped > 0, 'the 1 MiB buffer overflowed');

      st.open = true;
      const dropEvents = () => st.events.filter((e) => e.type === 'logs_dropped');
      const droppedReported = () => dropEvents().reduce((n, e) => n + e.payload.count, 0);
      await waitFor(async () => {
        h = await health();
        return h.shipping.queued === 0 && st.stored.size + droppedReported() === N;
      }, { timeout: 30000, interval: 50, what: () => `stored ${st.stored.size} + dropped ${droppedReported()} = ${N}` });

      // the dropped lines: one contiguous range, the oldest still queued
      const evs = dropEvents();
      const first = Math.min(...evs.map((e) => e.payload.firstSequence));
      const last = Math.max(...evs.map((e) => e.payload.lastSequence));
      assert.equal(droppedReported(), last - first + 1, 'count matches the range');
      assert.equal(droppedReported(), h.shipping.dropped);
      assert.equal(st.dupes, 0);
      for (let s = 1; s <= N; s++) {
        const inRange = s >= first && s <= last;
        const got = st.stored.get(s);
        if (inRange && got !== undefined) assert.fail(`sequence ${s} both stored and reported dropped`);
        if (!inRange && got !== lines[s - 1]) assert.fail(`sequence ${s}: ${JSON.stringify(got)} != ${JSON.stringify(lines[s - 1])}`);
      }

      // what the compression did, from the agent's exit line
      await x.agent.stop();
      const log = fs.readFileSync(x.agent.logPath, 'utf8');
      const m = /ship: buffer: (\d+) chunks compressed, (\d+) -> (\d+) bytes \(ratio [\d.]+\), (\d+) kept raw, (\d+) decompressed/.exec(log);
      assert.ok(m, 'the agent logged its buffer statistics');
      const [zChunks, zIn, zOut, kept, unz] = m.slice(1).map(Number);
      if (mode === 'on') {
        assert.ok(zChunks > 0, 'pino-like runs were compressed');
        // (each kept compressed only when at most 3/4 of its size)
        assert.ok(zOut * 4 <= zIn * 3, `and shrank (${zIn} -> ${zOut})`);
        assert.ok(kept > 0, 'random runs were kept raw');
        assert.ok(unz > 0, 'compressed chunks were decompressed to be taken or dropped');
      } else {
        assert.equal(zChunks + kept + unz, 0, 'nothing compressed with --buffer-compress off');
      }
    });
  }
});
