// A page served by the gateway itself (the console, /console/) may open
// every WebSocket it needs without any origin configured: a terminal
// through the module to the agent, and wharfd's live feed. Pages of other
// origins stay refused (403 origin_not_allowed). The module decides for
// the worker routes and does not pass the browser's Origin on to the agent
// (conf/wharf.conf); wharfd's feed sees the Host the browser sent and
// allows an Origin of that host (common/origin.h).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { startFakeEndpoint, startStack } from '../lib/stack.mjs';

const EVIL = 'https://evil.example';

function upgrade(url, headers, protocol) {
  return new Promise((resolve) => {
    const ws = protocol ? new WebSocket(url, protocol, { headers }) : new WebSocket(url, { headers });
    ws.once('open', () => {
      ws.close();
      resolve({ status: 101 });
    });
    ws.once('unexpected-response', (req, res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    ws.once('error', (e) => resolve({ status: 0, error: e.message }));
  });
}

describe('the gateway\'s own origin by default', () => {
  let stack;
  let spy;
  before(async () => {
    spy = await startFakeEndpoint('ws');
    stack = await startStack({ tag: 'origin', workers: [{ name: 'demo', terminalCmd: 'cat' }, { name: 'spy', addr: spy.addr }] });
  });
  after(async () => {
    if (stack) await stack.stop();
    if (spy) await spy.close();
  });

  const own = () => stack.http; // http://127.0.0.1:PORT, what a browser sends

  test('a terminal opens from the gateway\'s own page; another origin is refused', async () => {
    const url = `${stack.ws}/api/workers/demo/terminal`;
    assert.equal((await upgrade(url, { ...stack.auth, Origin: own() }, 'wharf.tty.v1')).status, 101);
    const bad = await upgrade(url, { ...stack.auth, Origin: EVIL }, 'wharf.tty.v1');
    assert.equal(bad.status, 403);
    assert.equal(JSON.parse(bad.body).error.code, 'origin_not_allowed');
  });

  test('the worker gets no Origin: the module has decided', async () => {
    assert.equal((await upgrade(`${stack.ws}/api/workers/spy/echo`, { ...stack.auth, Origin: own() })).status, 101);
    const seen = spy.requests.find((r) => r.url === '/echo');
    assert.ok(seen, 'the upgrade reached the worker');
    assert.equal(seen.headers.origin, undefined);
  });

  test('the live feed opens from the gateway\'s own page; another origin is refused', async () => {
    const url = `${stack.ws}/ws/monitoring`;
    assert.equal((await upgrade(url, { ...stack.auth, Origin: own() })).status, 101);
    const bad = await upgrade(url, { ...stack.auth, Origin: EVIL });
    assert.equal(bad.status, 403);
    assert.equal(JSON.parse(bad.body).error.code, 'origin_not_allowed');
    // the same host on another port is another origin
    const port = await upgrade(url, { ...stack.auth, Origin: 'http://127.0.0.1:1' });
    assert.equal(port.status, 403);
  });
});
