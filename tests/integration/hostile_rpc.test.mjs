// Hostile JSON (issue 7) against wharfd's POST /rpc (through nginx), the
// agent's POST /rpc and the live feed: batches of 100,000 entries, deep
// nesting, huge numbers, duplicate keys; and log lines full of terminal
// escape sequences and NULs, stored and returned as valid JSON byte for
// byte, never interpreted: sent with storeLogs and captured by a real agent
// from a real process's output. After each refusal wharfd still serves and
// nothing it had stored changed.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, startStack, waitFor } from '../lib/stack.mjs';

const M = (name) => `ContainerMonitoringOps.${name}`;
const BATCH = 100000;
const BODY_LIMIT = 8 * 1024 * 1024;
const JSON_DEPTH_MAX = 2048; // jansson's JSON_PARSER_MAX_DEPTH
// wharfd's --rpc-batch-max default (fcgi_backend/budget.h)
const RPC_BATCH_MAX = Number(/#define WHARFD_RPC_BATCH_MAX_DEFAULT\s+(\d+)/
  .exec(fs.readFileSync(path.join(ROOT, 'fcgi_backend/budget.h'), 'utf8'))[1]);

// Lines no terminal may interpret on the way: CSI colours, an OSC title,
// OSC 52 (writes the clipboard of a terminal that honours it), a cursor
// move and clear-screen, BEL, backspaces, CR in the middle, NULs, DEL, a
// C1 CSI as UTF-8, right-to-left override, and JSON's own specials.
const NASTY = [
  '\u001b[31mred\u001b[0m plain',
  'title \u001b]0;pwned\u0007 after',
  'clip \u001b]52;c;cm0gLXJmIH4=\u0007 after',
  '\u001b[2J\u001b[H\u001b[1;1Hcleared',
  'bell\u0007\u0007 back\b\b\bspace',
  'carriage\rreturn in the middle',
  'nul\u0000in\u0000the middle\u0000',
  '\u0000',
  'del\u007f and c1 \u009b31m csi',
  'rtl \u202eevil\u202c done',
  'quote " backslash \\ slash / tab\tend',
  '\u001bP+q\u001b\\ DCS query',
];

describe('hostile JSON and log lines', () => {
  let stack, op, ingestW;
  const PRINTED = [
    // what the app prints, line by line (printf escapes); the agent trims
    // each line's ends and drops empty ones (docs/agent.md), so these have
    // something visible at both ends
    ['x\\033[31mred\\033[0my', 'x\u001b[31mred\u001b[0my'],
    ['a\\033]0;pwned\\007b', 'a\u001b]0;pwned\u0007b'],
    ['n\\000u\\000l', 'n\u0000u\u0000l'],
    ['c\\033]52;c;cm0gLXJmIH4=\\007d', 'c\u001b]52;c;cm0gLXJmIH4=\u0007d'],
    ['bs\\b\\b\\007e', 'bs\b\b\u0007e'],
    ['cr\\rin', 'cr\rin'],
    ['del\\177z', 'del\u007fz'],
  ];

  before(async () => {
    const script = `${PRINTED.map(([p]) => `printf '${p}\\n'`).join('; ')}; printf 'capture-done\\n'; exec sleep 600`;
    stack = await startStack({
      tag: 'hostile-rpc',
      workers: [{ name: 'cap', ship: true, app: ['sh', '-c', script] }],
    });
    op = stack.token;
    ingestW = stack.mint({ sub: 'hb', scope: 'ingest' });
  });
  after(async () => stack && stack.stop());

  const post = async (body, { token = op, url = `${stack.http}/rpc` } = {}) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: typeof body === 'string' ? body : JSON.stringify(body),
      signal: AbortSignal.timeout(50000),
    });
    const text = await res.text();
    let json;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    return { status: res.status, text, json };
  };
  const call = async (method, params, token = op) => (await post({ jsonrpc: '2.0', id: 1, method: M(method), params }, { token })).json;
  const stats = async () => (await call('getLogStats', {})).result;
  const served = async () => {
    const h = await fetch(`${stack.http}/api/monitoring/health`);
    assert.equal(h.status, 200);
  };

  describe('batches of 100,000 entries', () => {
    // at the limit a batch runs; one call more and it is refused before
    // it is parsed, nothing of it run (docs/wharfd.md, "Memory budget")
    test(`${RPC_BATCH_MAX} reads in one batch (--rpc-batch-max): all answered in order; wharfd serves others meanwhile`, async () => {
      const reads = (n) => `[${Array.from({ length: n }, (_, i) => `{"jsonrpc":"2.0","id":${i},"method":"${M('getWorkers')}"}`).join(',')}]`;
      const t0 = Date.now();
      const big = post(reads(RPC_BATCH_MAX));
      // another request meanwhile: a request thread of its own
      const during = await call('getLogStats', {});
      assert.ok(during.result);
      await served();
      const r = await big;
      assert.equal(r.status, 200);
      assert.equal(r.json.length, RPC_BATCH_MAX);
      assert.ok(r.json.every((x, i) => x.id === i && Array.isArray(x.result.workers)));
      console.log(`# ${RPC_BATCH_MAX} getWorkers in one batch: ${Date.now() - t0} ms`);
      for (const n of [RPC_BATCH_MAX + 1, BATCH]) {
        const over = await post(reads(n));
        assert.equal(over.status, 413, `${n} calls`);
        assert.equal(over.json.error.code, -32600);
        assert.match(over.json.error.message, /rpc-batch-max/);
      }
    });

    test('100,000 heartbeat notifications in one batch: refused (413), none run', async () => {
      const body = `[${Array.from({ length: BATCH }, () => `{"jsonrpc":"2.0","method":"${M('heartbeat')}"}`).join(',')}]`;
      assert.ok(body.length < BODY_LIMIT);
      const r = await post(body, { token: ingestW });
      assert.equal(r.status, 413);
      assert.equal(r.json.error.code, -32600);
      assert.equal((await call('getWorkers', {})).result.workers.find((x) => x.name === 'hb'), undefined);
      await served();
    });

    test(`${RPC_BATCH_MAX} entries that are not requests: ${RPC_BATCH_MAX} -32600 answers; 100,000 refused`, async () => {
      const r = await post(`[${Array(RPC_BATCH_MAX).fill('1').join(',')}]`);
      assert.equal(r.status, 200);
      assert.equal(r.json.length, RPC_BATCH_MAX);
      assert.ok(r.json.every((x) => x.error.code === -32600 && x.id === null));
      const over = await post(`[${Array(BATCH).fill('1').join(',')}]`);
      assert.equal(over.status, 413);
      assert.equal(over.json.error.code, -32600);
      await served();
    });

    test('100,000 storeLog entries do not fit the body limit: 413 and -32600, nothing stored', async () => {
      const before = await stats();
      const one = (i) => JSON.stringify({ jsonrpc: '2.0', id: i, method: M('storeLog'),
        params: { worker: 'big', instanceId: 'b', sequence: i + 1, level: 'info', message: 'm' } });
      const body = `[${Array.from({ length: BATCH }, (_, i) => one(i)).join(',')}]`;
      assert.ok(body.length > BODY_LIMIT);
      const r = await post(body);
      assert.equal(r.status, 413);
      assert.equal(r.json.error.code, -32600);
      assert.deepEqual(await stats(), before);
      await served();
    });

    test('the agent\'s /rpc: a 100,000-entry batch within its 256 KiB body limit is answered; one over is 413', async () => {
      const agentToken = stack.mint({ sub: 'cap', aud: 'cap', scope: 'read' });
      const url = `http://${stack.agents.cap.addr}/rpc`;
      const r = await post(`[${Array(BATCH).fill('1').join(',')}]`, { token: agentToken, url });
      assert.equal(r.status, 200);
      assert.equal(r.json.length, BATCH);
      assert.ok(r.json.every((x) => x.error.code === -32600));
      const over = await post(`[${'1,'.repeat(128 * 1024)}1]`, { token: agentToken, url });
      assert.equal(over.status, 413);
      const ok = await post({ jsonrpc: '2.0', id: 1, method: 'listProcesses' }, { token: agentToken, url });
      assert.equal(ok.json.result.processes.length, 1);
    });
  });

  describe('deep nesting', () => {
    const nested = (depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
    // a request whose params hold arrays: the whole document is depth+2 deep
    const withDepth = (total) => `{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":${nested(total - 2)}}}`;

    test(`wharfd: ${JSON_DEPTH_MAX} levels are parsed, ${JSON_DEPTH_MAX + 1} and 1,000,000 are -32700; nothing stored`, async () => {
      const before = await stats();
      assert.equal((await post(withDepth(JSON_DEPTH_MAX))).json.error.code, -32601);
      const over = await post(withDepth(JSON_DEPTH_MAX + 1));
      assert.equal(over.json.error.code, -32700);
      assert.match(over.json.error.message, /depth/);
      const huge = await post(`${'{"a":'.repeat(1000000)}1${'}'.repeat(1000000)}`);
      assert.equal(huge.json.error.code, -32700);
      assert.deepEqual(await stats(), before);
      await served();
    });

    test('metadata nested 2,000 deep is stored and read back whole (RPC, REST, NDJSON)', async () => {
      let meta = { leaf: true };
      for (let i = 0; i < 2000; i++) meta = { d: meta };
      const r = await call('storeLogs', { worker: 'deep', instanceId: 'd', logs: [{ sequence: 1, level: 'info', message: 'deep', metadata: meta }] });
      assert.equal(r.result.stored, 1);
      // compared as JSON text: assert.deepEqual recurses too deep for node
      const want = JSON.stringify(meta);
      const g = await call('getLogs', { worker: 'deep' });
      assert.equal(JSON.stringify(g.result.data[0].metadata), want);
      const rest = await (await fetch(`${stack.http}/api/monitoring/logs/d?worker=deep`, { headers: stack.auth })).json();
      assert.equal(JSON.stringify(rest.data[0].metadata), want);
      const nd = await (await fetch(`${stack.http}/api/monitoring/logs/d?worker=deep&format=ndjson`, { headers: stack.auth })).text();
      assert.equal(JSON.stringify(JSON.parse(nd.split('\n')[0]).metadata), want);
    });

    test('the agent\'s /rpc and the feed: too deep is -32700, and both go on', async () => {
      const agentToken = stack.mint({ sub: 'cap', aud: 'cap', scope: 'read' });
      const url = `http://${stack.agents.cap.addr}/rpc`;
      const deep = await post(nested(100000), { token: agentToken, url });
      assert.equal(deep.json.error.code, -32700);
      assert.equal((await post({ jsonrpc: '2.0', id: 1, method: 'listProcesses' }, { token: agentToken, url })).json.result.processes.length, 1);
      const ws = new WebSocket(`${stack.ws}/ws/monitoring`, { headers: stack.auth });
      const msgs = [];
      ws.on('message', (d) => msgs.push(JSON.parse(d.toString())));
      await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
      ws.send(nested(30000)); // 60,000 bytes: under the feed's 64 KiB
      await waitFor(() => msgs.find((m) => m.error), { what: 'the feed\'s parse error' });
      assert.equal(msgs[0].error.code, -32700);
      ws.send(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'subscribe', params: {} }));
      await waitFor(() => msgs.find((m) => m.id === 2 && m.result), { what: 'the feed to go on' });
      ws.close();
    });
  });

  describe('huge numbers', () => {
    test('beyond int64 or double: -32700; at the edge: stored and read back exactly', async () => {
      const before = await stats();
      const raw = (params) => post(`{"jsonrpc":"2.0","id":1,"method":"${M('storeLog')}","params":{"worker":"num","instanceId":"n","level":"info","message":"m",${params}}}`);
      for (const p of ['"sequence":9223372036854775808', `"sequence":1${'0'.repeat(400)}`, '"sequence":1e400',
        '"sequence":-1e400', '"sequence":NaN', '"sequence":Infinity', '"sequence":0x10']) {
        const r = await raw(p);
        assert.equal(r.json?.error?.code, -32700, `${p}: ${r.text.slice(0, 200)}`);
      }
      for (const p of ['"sequence":0', '"sequence":-5', '"sequence":1.5', '"sequence":1e3']) {
        const r = await raw(p);
        assert.equal(r.json?.error?.code, -32602, `${p}: ${r.text.slice(0, 200)}`);
        assert.equal(r.json.error.data.field, 'sequence');
      }
      assert.deepEqual(await stats(), before);
      const idBig = await post(`{"jsonrpc":"2.0","id":1${'0'.repeat(30)},"method":"${M('getWorkers')}"}`);
      assert.equal(idBig.json.error.code, -32700);
      const limit = await call('getLogs', { limit: 1e30 });
      assert.equal(limit.error.code, -32602);
      // the largest sequence and extreme levels are stored and read back
      const edge = await raw('"sequence":9223372036854775807');
      // (compared as text: JSON.parse rounds it to a double)
      assert.match(edge.text, /"lastSequence":9223372036854775807\b/);
      const got = await fetch(`${stack.http}/api/monitoring/logs/n?worker=num`, { headers: stack.auth }).then((x) => x.text());
      assert.match(got, /"sequence":9223372036854775807\b/);
      for (const level of [1e308, -1e308, 5e-324]) {
        const e = await call('storeError', { worker: 'num', instanceId: 'n', level, message: `lvl ${level}` });
        assert.equal(e.result.stored, 1, JSON.stringify(e));
      }
      const errs = (await call('getErrors', { worker: 'num', limit: 10 })).result.data;
      assert.deepEqual(errs.map((e) => e.level).sort((a, b) => a - b), [-1e308, 5e-324, 1e308]);
      await served();
    });
  });

  describe('duplicate keys', () => {
    test('wharfd: a duplicate member anywhere is -32700, nothing stored', async () => {
      const before = await stats();
      const cases = [
        `{"jsonrpc":"2.0","id":1,"method":"${M('getWorkers')}","method":"${M('clearLogs')}"}`,
        `{"jsonrpc":"2.0","id":1,"id":2,"method":"${M('getWorkers')}"}`,
        `{"jsonrpc":"2.0","id":1,"method":"${M('storeLog')}","params":{"worker":"dup","worker":"other","instanceId":"d","sequence":1,"level":"info","message":"m"}}`,
        `{"jsonrpc":"2.0","id":1,"method":"${M('storeLogs')}","params":{"worker":"dup","instanceId":"d","logs":[{"sequence":1,"sequence":2,"level":"info","message":"m"}]}}`,
        `{"jsonrpc":"2.0","id":1,"method":"${M('storeLog')}","params":{"worker":"dup","instanceId":"d","sequence":1,"level":"info","message":"m","metadata":{"a":1,"a":2}}}`,
        `[{"jsonrpc":"2.0","id":1,"method":"${M('getWorkers')}"},{"jsonrpc":"2.0","jsonrpc":"2.0","id":2,"method":"${M('getWorkers')}"}]`,
      ];
      for (const c of cases) {
        const r = await post(c);
        assert.equal(r.json?.error?.code, -32700, c);
        assert.match(r.json.error.message, /duplicate/);
      }
      assert.deepEqual(await stats(), before);
      await served();
    });

    test('the agent\'s /rpc and REST, and the feed: -32700 / 400 too', async () => {
      const agentToken = stack.mint({ sub: 'cap', aud: 'cap', scope: 'read control' });
      const base = `http://${stack.agents.cap.addr}`;
      const r = await post('{"jsonrpc":"2.0","id":1,"method":"listProcesses","method":"stopProcess","params":{"instanceId":"app"}}',
        { token: agentToken, url: `${base}/rpc` });
      assert.equal(r.json.error.code, -32700);
      const rest = await post('{"force":false,"force":true}', { token: agentToken, url: `${base}/processes/nope/stop` });
      assert.equal(rest.status, 400);
      const list = await post({ jsonrpc: '2.0', id: 1, method: 'listProcesses' }, { token: agentToken, url: `${base}/rpc` });
      assert.equal(list.json.result.processes[0].status, 'running', 'nothing was stopped');
      const ws = new WebSocket(`${stack.ws}/ws/monitoring`, { headers: stack.auth });
      const msgs = [];
      ws.on('message', (d) => msgs.push(JSON.parse(d.toString())));
      await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
      ws.send('{"jsonrpc":"2.0","id":1,"method":"subscribe","method":"stopProcess","params":{}}');
      await waitFor(() => msgs.length > 0, { what: 'the feed\'s answer' });
      assert.equal(msgs[0].error.code, -32700);
      ws.close();
    });
  });

  describe('log lines with terminal escapes and NULs', () => {
    // The raw bytes of a JSON answer: valid JSON whose every control
    // character is escaped, so nothing reaches a terminal that prints it.
    const noRawControls = (text, label) => {
      const bad = [...text].filter((ch) => ch.charCodeAt(0) < 0x20 && ch !== '\n');
      assert.deepEqual(bad.map((c) => c.charCodeAt(0)), [], `${label}: raw control bytes in the answer`);
    };

    test('storeLogs / storeErrors: stored and returned byte for byte (RPC, REST, NDJSON, the feed)', async () => {
      const ws = new WebSocket(`${stack.ws}/ws/monitoring`, { headers: stack.auth });
      const feed = [];
      ws.on('message', (d) => feed.push(d.toString()));
      await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
      ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'subscribe', params: { worker: 'esc' } }));
      await waitFor(() => feed.length > 0, { what: 'subscribed' });

      const logs = NASTY.map((message, i) => ({ sequence: i + 1, level: 'output', message, metadata: { echo: message } }));
      const s = await call('storeLogs', { worker: 'esc', instanceId: 'e', logs });
      assert.equal(s.result.stored, NASTY.length, JSON.stringify(s));
      const e = await call('storeErrors', { worker: 'esc', instanceId: 'e', errors: NASTY.map((message) => ({ level: 50, message })) });
      assert.equal(e.result.stored, NASTY.length, JSON.stringify(e));

      const rpcRaw = await post({ jsonrpc: '2.0', id: 1, method: M('getLogs'), params: { worker: 'esc', order: 'asc', limit: 100 } });
      noRawControls(rpcRaw.text, 'getLogs');
      assert.deepEqual(rpcRaw.json.result.data.map((l) => l.message), NASTY);
      assert.deepEqual(rpcRaw.json.result.data.map((l) => l.metadata.echo), NASTY);

      const restRaw = await (await fetch(`${stack.http}/api/monitoring/logs/e?worker=esc&order=asc`, { headers: stack.auth })).text();
      noRawControls(restRaw, 'REST');
      assert.deepEqual(JSON.parse(restRaw).data.map((l) => l.message), NASTY);

      const ndRaw = await (await fetch(`${stack.http}/api/monitoring/logs/e?worker=esc&order=asc&format=ndjson`, { headers: stack.auth })).text();
      noRawControls(ndRaw, 'NDJSON');
      const nd = ndRaw.trim().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual(nd.slice(0, -1).map((l) => l.message), NASTY);

      const errRaw = await post({ jsonrpc: '2.0', id: 1, method: M('getErrors'), params: { worker: 'esc', limit: 100 } });
      noRawControls(errRaw.text, 'getErrors');
      assert.deepEqual(errRaw.json.result.data.map((x) => x.message).sort(), [...NASTY].sort());

      await waitFor(() => feed.filter((m) => JSON.parse(m).kind === 'log').length === NASTY.length, { what: 'the rows on the feed' });
      for (const m of feed) noRawControls(m, 'feed');
      assert.deepEqual(feed.map((m) => JSON.parse(m)).filter((m) => m.kind === 'log').map((m) => m.row.message), NASTY);
      ws.close();
    });

    test('captured by the agent from a real process: stored byte for byte', async () => {
      const rows = await waitFor(async () => {
        const r = await call('getLogs', { worker: 'cap', instanceId: 'app', order: 'asc', limit: 100 });
        const data = r.result?.data || [];
        return data.some((l) => l.message === 'capture-done') ? data : null;
      }, { timeout: 20000, what: 'the agent to ship the captured lines' });
      assert.deepEqual(rows.map((l) => l.message), [...PRINTED.map(([, want]) => want), 'capture-done']);
      assert.deepEqual(rows.map((l) => l.sequence), rows.map((_, i) => i + 1), 'no line lost or repeated');
      const raw = await (await fetch(`${stack.http}/api/monitoring/logs/app?worker=cap&order=asc`, { headers: stack.auth })).text();
      noRawControls(raw, 'REST');
      // the agent ships on: nothing stuck behind the NUL line
      const h = await (await fetch(`http://${stack.agents.cap.addr}/health`)).json();
      assert.equal(h.shipping.dropped, 0);
      assert.equal(h.shipping.queued, 0);
    });
  });
});
