// Live sessions counted in the module's shared zone: exactly, across the
// nginx worker processes, back to zero however sessions end, and capped by
// max_sessions.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { childPids, get, startFakeEndpoint, startStack, waitFor } from '../lib/stack.mjs';
import { Terminal } from '../lib/terminal.mjs';

const PER_WORKER = 25;
const MAX = 3;

// An upgrade the gateway refuses: its status and JSON body.
function refusedUpgrade(url, headers) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.on('open', () => { ws.terminate(); reject(new Error('the upgrade was accepted')); });
    ws.on('error', () => {});
    ws.on('unexpected-response', (req, res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'], json: JSON.parse(body) }));
    });
  });
}

function parseMetrics(text) {
  const m = {};
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const [key, value] = line.split(' ');
    m[key] = Number(value);
  }
  return m;
}

describe('sessions', () => {
  let stack, fake;

  before(async () => {
    fake = await startFakeEndpoint('ws');
    stack = await startStack({
      tag: 'module-sessions',
      workers: [
        { name: 'alpha', terminalCmd: 'cat' },
        { name: 'beta', terminalCmd: 'cat' },
        { name: 'capped', terminalCmd: 'cat', params: [`max_sessions=${MAX}`] },
        { name: 'feed', addr: fake.addr },
      ],
    });
  });

  after(async () => {
    if (stack) await stack.stop();
    if (fake) await fake.close();
  });

  const term = (w) => Terminal.open(`${stack.ws}/api/workers/${w}/terminal`, { headers: stack.auth });
  const registry = async () => {
    const r = await get(`${stack.http}/api/workers`, { headers: stack.auth });
    assert.equal(r.status, 200, r.body);
    return Object.fromEntries(r.json.map((w) => [w.name, w]));
  };
  const metrics = async () => parseMetrics((await get(`${stack.http}/metrics`, { headers: stack.auth })).body);
  const allZero = (reg) => Object.values(reg).every((w) => w.sessions.terminal === 0
    && w.sessions.websocket === 0 && w.sessions.http === 0);

  test('nginx runs several worker processes here', () => {
    assert.ok(childPids(stack.nginx.pid).length >= 2, 'the shared counts are only tested across processes');
  });

  test(`${2 * PER_WORKER} terminals over two workers show exactly, then all return to 0 after SIGKILL`, async (ctx) => {
    const terms = await Promise.all([
      ...Array.from({ length: PER_WORKER }, () => term('alpha')),
      ...Array.from({ length: PER_WORKER }, () => term('beta')),
    ]);
    // each is a live shell: it echoes
    await Promise.all(terms.map(async (t, i) => {
      t.send(`ping${i}\r`);
      await t.expect(new RegExp(`ping${i}`));
    }));

    // read several times: different nginx worker processes answer
    for (let i = 0; i < 4; i++) {
      const reg = await registry();
      assert.deepEqual(reg.alpha.sessions, { terminal: PER_WORKER, websocket: 0, http: 0 });
      assert.deepEqual(reg.beta.sessions, { terminal: PER_WORKER, websocket: 0, http: 0 });
      const m = await metrics();
      assert.equal(m['wharf_sessions{worker="alpha",kind="terminal"}'], PER_WORKER);
      assert.equal(m['wharf_sessions{worker="beta",kind="terminal"}'], PER_WORKER);
      assert.equal(m['wharf_sessions{worker="capped",kind="terminal"}'], 0);
    }
    const view = (await get(`${stack.http}/api/terminals`, { headers: stack.auth })).json;
    assert.equal(view.find((t) => t.worker === 'alpha').sessions, PER_WORKER);

    // the upstream goes away under half of them...
    const t0 = Date.now();
    stack.agents.alpha.child.kill('SIGKILL');
    await stack.agents.alpha.exited;
    await waitFor(async () => (await registry()).alpha.sessions.terminal === 0,
      { timeout: 5000, what: 'alpha\'s sessions to end with its agent' });
    const t1 = Date.now();
    // ...and the clients leave the other half
    for (const t of terms) t.close();
    await waitFor(async () => allZero(await registry()), { timeout: 5000, what: 'every counter back to 0' });
    ctx.diagnostic(`alpha's ${PER_WORKER} sessions at 0 ${t1 - t0} ms after SIGKILL; `
      + `all counters at 0 ${Date.now() - t1} ms after the clients closed`);
    const m = await metrics();
    for (const [k, v] of Object.entries(m)) {
      if (k.startsWith('wharf_sessions{')) assert.equal(v, 0, k);
    }
  });

  test(`max_sessions=${MAX}: the ${MAX + 1}th terminal gets 503 JSON, and a freed place is usable`, async () => {
    const terms = await Promise.all(Array.from({ length: MAX }, () => term('capped')));
    const r = await refusedUpgrade(`${stack.ws}/api/workers/capped/terminal`, stack.auth);
    assert.equal(r.status, 503);
    assert.match(r.type, /^application\/json/);
    assert.equal(r.json.error.code, 'too_many_sessions');
    assert.match(r.json.error.message, /capped/);
    assert.equal((await registry()).capped.sessions.terminal, MAX);
    assert.equal((await registry()).capped.rejected_sessions, 1);
    assert.equal((await metrics())['wharf_sessions_rejected_total{worker="capped"}'], 1);

    // plain HTTP is not what max_sessions limits: the REST API still answers
    const h = await get(`${stack.http}/api/workers/capped/health`, { headers: stack.auth });
    assert.equal(h.status, 200, h.body);

    terms[0].close();
    await waitFor(async () => (await registry()).capped.sessions.terminal === MAX - 1,
      { timeout: 5000, what: 'a place to free up' });
    const again = await term('capped');
    again.send('back\r');
    await again.expect(/back/);
    for (const t of [...terms.slice(1), again]) t.close();
    await waitFor(async () => (await registry()).capped.sessions.terminal === 0,
      { timeout: 5000, what: 'capped back to 0' });
  });

  test('kinds: another WebSocket path is "websocket", a request in flight is "http"', async () => {
    const ws = new WebSocket(`${stack.ws}/api/workers/feed/websocket`, { headers: stack.auth });
    await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
    const slow = get(`${stack.http}/api/workers/feed/slow?ms=1500`, { headers: stack.auth });
    await waitFor(async () => {
      const s = (await registry()).feed.sessions;
      return s.websocket === 1 && s.http === 1 && s.terminal === 0;
    }, { timeout: 3000, what: 'one websocket and one http session on feed' });
    assert.equal((await slow).status, 200);
    ws.close();
    await waitFor(async () => allZero(await registry()), { timeout: 5000, what: 'feed back to 0' });
  });

  test('routed requests are counted by status class', async () => {
    const before = (await registry()).feed.requests;
    for (let i = 0; i < 3; i++) assert.equal((await get(`${stack.http}/api/workers/feed/x`, { headers: stack.auth })).status, 200);
    assert.equal((await get(`${stack.http}/api/workers/feed/x`)).status, 401);
    const ws = new WebSocket(`${stack.ws}/api/workers/feed/websocket`, { headers: stack.auth });
    await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
    ws.close();
    await waitFor(async () => (await registry()).feed.requests['1xx'] === before['1xx'] + 1,
      { timeout: 3000, what: 'the WebSocket to be counted when it ends' });
    const now = (await registry()).feed.requests;
    assert.equal(now['2xx'], before['2xx'] + 3);
    assert.equal(now['4xx'], before['4xx'] + 1);
    const m = await metrics();
    assert.equal(m['wharf_requests_total{worker="feed",class="2xx"}'], now['2xx']);
  });
});
