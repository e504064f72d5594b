// Hostile handshakes (issue 13): WebSocket upgrades that RFC 6455 (section
// 4.2.1) says are not handshakes, sent on a raw socket to the agent's own
// /terminal and /websocket and through the gateway: no Sec-WebSocket-Key,
// one that is not base64 or not 16 bytes, two of them, and versions 8, 99
// and none. libwebsockets 4.1.6 upgraded them all (a key is not checked,
// any version is taken for 13) and the agent started a shell for each;
// through nginx a missing key got nginx's 502 page. Now: 400 bad_handshake
// or 426 with "Sec-WebSocket-Version: 13", JSON, and no shell started.
// Also a body over the limit on the worker route: JSON 413 from nginx
// (over 1 MiB) and from the agent (over its 256 KiB).

import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { childPids, startStack } from '../lib/stack.mjs';
import { Terminal } from '../lib/terminal.mjs';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

// An upgrade with exactly these extra header lines; { status, head, body }.
function upgrade(port, path, lines) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    const s = net.connect(port, '127.0.0.1', () => {
      s.write([`GET ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Upgrade: websocket', 'Connection: Upgrade',
        ...lines, '', ''].join('\r\n'));
    });
    const answer = () => {
      const all = Buffer.concat(chunks).toString('latin1');
      const i = all.indexOf('\r\n\r\n');
      const len = /\r\ncontent-length: *(\d+)/i.exec(all.slice(0, i));
      return { status: Number(all.split(' ')[1]) || 0, head: all.slice(0, i), body: all.slice(i + 4),
        complete: i >= 0 && (!len || all.length >= i + 4 + Number(len[1])) };
    };
    s.on('data', (d) => {
      chunks.push(d);
      if (answer().complete) { s.destroy(); resolve(answer()); }
    });
    s.on('error', reject);
    s.on('close', () => resolve(answer()));
    s.setTimeout(10000, () => s.destroy());
  });
}

describe('hostile WebSocket handshakes', () => {
  let stack, agent, agentToken;

  before(async () => {
    stack = await startStack({ tag: 'hostile-handshakes', workers: [{ name: 'tty', terminalCmd: '/bin/sh' }] });
    agent = stack.agents.tty;
    agentToken = stack.mint({ sub: 'tty', aud: 'tty', scope: 'read terminal' });
  });
  after(async () => stack && stack.stop());

  const CASES = [
    ['no key', ['Sec-WebSocket-Version: 13'], 400, 'bad_handshake'],
    ['a key that is not base64', ['Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: !!!!not*base64!!!!!!!=='], 400, 'bad_handshake'],
    ['a key of 15 bytes', ['Sec-WebSocket-Version: 13', `Sec-WebSocket-Key: ${Buffer.alloc(15, 1).toString('base64')}`], 400, 'bad_handshake'],
    ['a key of 20 bytes', ['Sec-WebSocket-Version: 13', `Sec-WebSocket-Key: ${Buffer.alloc(20, 1).toString('base64')}`], 400, 'bad_handshake'],
    ['an empty key', ['Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: '], 400, 'bad_handshake'],
    ['version 8', ['Sec-WebSocket-Version: 8', `Sec-WebSocket-Key: ${KEY}`], 426, 'unsupported_websocket_version'],
    ['version 99', ['Sec-WebSocket-Version: 99', `Sec-WebSocket-Key: ${KEY}`], 426, 'unsupported_websocket_version'],
    ['no version', [`Sec-WebSocket-Key: ${KEY}`], 426, 'unsupported_websocket_version'],
  ];

  for (const [where, viaGateway] of [['the agent directly', false], ['through the gateway', true]]) {
    test(`${where}: 400 or 426 JSON, and no shell started`, async () => {
      const shells = childPids(agent.pid).length;
      const bad = [];
      for (const path of ['/terminal', '/websocket']) {
        for (const [what, lines, status, code] of CASES) {
          const auth = viaGateway ? `Authorization: Bearer ${stack.token}` : `Authorization: Bearer ${agentToken}`;
          const r = viaGateway
            ? await upgrade(stack.port, `/api/workers/tty${path}`, [...lines, auth])
            : await upgrade(agent.port, path, [...lines, auth]);
          let got;
          try { got = JSON.parse(r.body).error.code; } catch { got = `not JSON: ${r.body.slice(0, 60)}`; }
          if (r.status !== status || got !== code) bad.push(`${path} ${what}: ${r.status} ${got}`);
          if (status === 426 && !/\r\nsec-websocket-version: 13(\r\n|$)/i.test(r.head)) bad.push(`${path} ${what}: no Sec-WebSocket-Version: 13 in ${r.head}`);
        }
      }
      assert.deepEqual(bad, []);
      assert.equal(childPids(agent.pid).length, shells, 'no shell was started');
      // a good client is served
      const t = await Terminal.open(`${stack.ws}/api/workers/tty/terminal`, { headers: stack.auth });
      t.send('echo ok-$((40+2))\n');
      await t.expect(/ok-42/);
      t.close();
      await t.waitClosed();
    });
  }

  test('a body over the limit on the worker route: JSON 413 from nginx and from the agent', async () => {
    for (const [size, from] of [[1048577, 'nginx'], [262145, 'the agent']]) {
      const r = await fetch(`${stack.http}/api/workers/tty/processes`, {
        method: 'POST', headers: { ...stack.auth, 'content-type': 'application/json' }, body: Buffer.alloc(size, 0x20),
      });
      assert.equal(r.status, 413, from);
      assert.match(r.headers.get('content-type'), /^application\/json/, from);
      assert.equal((await r.json()).error.code, 'body_too_large', from);
    }
  });
});
