// Several gateways in front of the same workers (issue 16): each counts
// the sessions that go through it, asks the others for theirs
// (wharf_fleet_peer, wharf_fleet_sessions), and /api/workers and
// /api/terminals on any gateway report the fleet's; a gateway that dies
// drops out of the others' totals once wharf_fleet_stale has passed
// without an answer, and counts again when it is back. Real nginx x2,
// real agents, real terminals (npm ws).

import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { get, waitFor } from '../lib/stack.mjs';
import { startFleet } from '../lib/fleet.mjs';
import { Terminal } from '../lib/terminal.mjs';

const INTERVAL = '200ms';
const STALE = '1500ms';

describe('the fleet\'s sessions across two gateways', () => {
  let fleet;
  const terms = [];
  before(async () => {
    fleet = await startFleet({
      tag: 'module-fleet', engine: 'sqlite', wharfds: 1, gateways: 2,
      workers: [{ name: 'demo', terminalCmd: 'cat' }, { name: 'other', terminalCmd: 'cat' }],
      extraHttp: (g, all) => [
        ...all.filter((p) => p !== g).map((p) => `wharf_fleet_peer ${p.http}/api/fleet/sessions;`),
        `wharf_fleet_interval ${INTERVAL};`,
        `wharf_fleet_stale ${STALE};`,
      ].join('\n'),
    });
  });
  after(async () => {
    for (const t of terms) t.ws.terminate();
    if (fleet) await fleet.stop();
  });

  const registry = async (g) => {
    const r = await get(`${g.http}/api/workers`, { headers: fleet.auth });
    assert.equal(r.status, 200, r.body);
    return Object.fromEntries(r.json.map((w) => [w.name, w]));
  };
  const terminals = async (g) => {
    const r = await get(`${g.http}/api/terminals`, { headers: fleet.auth });
    assert.equal(r.status, 200, r.body);
    return Object.fromEntries(r.json.map((t) => [t.worker, t]));
  };
  const open = async (g, worker) => {
    const t = await Terminal.open(`${g.http.replace('http:', 'ws:')}/api/workers/${worker}/terminal`, { headers: fleet.auth });
    terms.push(t);
    return t;
  };
  const metrics = async (g) => (await get(`${g.http}/metrics`, { headers: fleet.auth })).body;

  test('wharf_fleet_sessions answers this gateway\'s own sessions, with a read token only', async () => {
    const [g0] = fleet.gateways;
    let r = await get(`${g0.http}/api/fleet/sessions`);
    assert.equal(r.status, 401);
    r = await get(`${g0.http}/api/fleet/sessions`, { headers: { Authorization: `Bearer ${fleet.mint({ sub: '*', scope: 'ingest' })}` } });
    assert.equal(r.status, 403);
    r = await get(`${g0.http}/api/fleet/sessions`, { headers: { Authorization: `Bearer ${fleet.mint({ sub: '*', scope: 'read' })}` } });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^text\/plain/);
    assert.equal(r.body, 'wharf-fleet-sessions 1\ndemo 0 0 0\nother 0 0 0\n');
    r = await get(`${g0.http}/api/fleet/sessions`, { method: 'POST', headers: fleet.auth });
    assert.equal(r.status, 405);
  });

  test('sessions on either gateway are reported by both; a dead gateway drops out after wharf_fleet_stale', { timeout: 60000 }, async (t) => {
    const [g0, g1] = fleet.gateways;
    await open(g0, 'demo');
    await open(g1, 'demo');
    await open(g1, 'demo');
    await open(g1, 'other');

    // both gateways see 3 terminals on demo, 1 on other
    for (const g of [g0, g1]) {
      await waitFor(async () => {
        const reg = await registry(g);
        return reg.demo.sessions.terminal === 3 && reg.other.sessions.terminal === 1;
      }, { timeout: 5000, what: `gateway ${g.index} to report the fleet's sessions` });
    }
    let reg0 = await registry(g0);
    const reg1 = await registry(g1);
    assert.deepEqual(reg0.demo.sessions_here, { terminal: 1, websocket: 0, http: 0 });
    assert.deepEqual(reg1.demo.sessions_here, { terminal: 2, websocket: 0, http: 0 });
    assert.deepEqual(reg0.other.sessions_here, { terminal: 0, websocket: 0, http: 0 });
    let view = await terminals(g0);
    assert.equal(view.demo.sessions, 3);
    assert.equal(view.demo.sessions_here, 1);
    assert.equal(view.other.sessions, 1);
    assert.match(await metrics(g0), new RegExp(`wharf_fleet_peer_up\\{peer="${g1.http}/api/fleet/sessions"\\} 1`));
    // a gateway's own metrics stay its own
    assert.match(await metrics(g0), /wharf_sessions\{worker="demo",kind="terminal"\} 1\n/);

    // gateway 1 dies (SIGKILL, master and workers): its sessions go with
    // it; gateway 0 counts them until wharf_fleet_stale, then no more
    const t0 = Date.now();
    await fleet.killGateway(1);
    await waitFor(async () => (await registry(g0)).demo.sessions.terminal === 1,
      { timeout: 10000, what: 'the dead gateway\'s sessions to drop out' });
    const gone = Date.now() - t0;
    reg0 = await registry(g0);
    assert.equal(reg0.other.sessions.terminal, 0);
    view = await terminals(g0);
    assert.equal(view.demo.sessions, 1);
    assert.match(await metrics(g0), new RegExp(`wharf_fleet_peer_up\\{peer="${g1.http}/api/fleet/sessions"\\} 0`));
    assert.match(g0.nginx.errorLog(), /wharf: fleet peer "[^"]+" does not answer: connect\(\) to 127\.0\.0\.1:\d+ failed( \(111: Connection refused\))?; its sessions count until 1500ms after its last answer \(wharf_fleet_stale\)/);

    // back: it answers again (with no sessions: they died with it), and a
    // new one through it counts on gateway 0
    await fleet.restartGateway(1);
    await open(g1, 'other');
    await waitFor(async () => (await registry(g0)).other.sessions.terminal === 1,
      { timeout: 5000, what: 'the restarted gateway to count again' });
    assert.match(await metrics(g0), new RegExp(`wharf_fleet_peer_up\\{peer="${g1.http}/api/fleet/sessions"\\} 1`));
    assert.match(g0.nginx.errorLog(), /wharf: fleet peer "[^"]+" answers/);
    t.diagnostic(`a dead gateway's sessions dropped out of the other's totals ${gone} ms after its SIGKILL (wharf_fleet_stale ${STALE})`);
  });
});

// A peer that answers what a gateway never would: each bad answer is a
// failed poll, logged with its reason, and changes nothing; an answer is
// read up to NGX_HTTP_WHARF_FLEET_ANSWER_MAX (8 MiB, header included).
describe('a fleet peer\'s bad answers', () => {
  const MAX = 8 * 1024 * 1024;
  let fleet, server, answer, requests = 0, headers;
  before(async () => {
    server = http.createServer((req, res) => {
      requests++;
      headers = req.headers;
      const { status = 200, body } = answer();
      res.writeHead(status, { 'Content-Type': 'text/plain' });
      res.end(body);
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    answer = () => ({ body: 'wharf-fleet-sessions 1\ndemo 5 0 0\n' });
    fleet = await startFleet({
      tag: 'module-fleet-bad', engine: 'sqlite', wharfds: 1, gateways: 1,
      workers: [{ name: 'demo', terminalCmd: 'cat' }],
      extraHttp: `wharf_fleet_peer http://127.0.0.1:${server.address().port}/sessions;\nwharf_fleet_interval 100ms;\nwharf_fleet_stale 400ms;`,
    });
  });
  after(async () => {
    if (fleet) await fleet.stop();
    server?.close();
  });

  const demo = async () => {
    const r = await get(`${fleet.gateways[0].http}/api/workers/demo`, { headers: fleet.auth });
    return r.json.sessions.terminal;
  };
  const failures = async () => Number(/wharf_fleet_poll_failures_total\{peer="[^"]+"\} (\d+)/
    .exec((await get(`${fleet.gateways[0].http}/metrics`, { headers: fleet.auth })).body)[1]);

  test('the peer is asked with the module\'s own read token; a good answer counts', async () => {
    await waitFor(async () => (await demo()) === 5, { timeout: 5000, what: 'the peer\'s 5 sessions' });
    assert.match(headers.authorization, /^Bearer ey/);
    assert.equal(headers['user-agent'], 'wharf-fleet');
    assert.ok(requests >= 1);
  });

  for (const [what, make, why] of [
    ['a 500', () => ({ status: 500, body: 'oops' }), /the answer's status is not 200/],
    ['no head line', () => ({ body: 'demo 1 0 0\n' }), /the answer is not a wharf_fleet_sessions one/],
    ['a bad name', () => ({ body: 'wharf-fleet-sessions 1\nDemo 1 0 0\n' }), /a line of the answer has no worker name/],
    ['two counts', () => ({ body: 'wharf-fleet-sessions 1\ndemo 1 0\n' }), /has not three counts/],
    ['four counts', () => ({ body: 'wharf-fleet-sessions 1\ndemo 1 0 0 0\n' }), /has more than three counts/],
    ['a count past 2^32', () => ({ body: 'wharf-fleet-sessions 1\ndemo 4294967296 0 0\n' }), /a count of the answer is too large/],
    ['no last newline', () => ({ body: 'wharf-fleet-sessions 1\ndemo 1 0 0' }), /the answer's last line has no end/],
    ['more than 8 MiB', () => ({ body: `wharf-fleet-sessions 1\n${'x 0 0 0\n'.repeat(MAX / 8 + 1)}` }), /the answer is too large/],
  ]) {
    test(`${what}: a failed poll, logged, nothing counted from it`, { timeout: 20000 }, async () => {
      // first a good answer with other counts, so a stale count is known
      answer = () => ({ body: 'wharf-fleet-sessions 1\ndemo 2 0 0\n' });
      await waitFor(async () => (await demo()) === 2, { timeout: 5000, what: 'a good answer first' });
      const before_ = await failures();
      answer = make;
      await waitFor(async () => (await failures()) > before_, { timeout: 5000, what: 'a failed poll' });
      await waitFor(() => why.test(fleet.gateways[0].nginx.errorLog()), { timeout: 5000, what: `the reason ${why} in the error log` });
      // stale: the last good answer drops out, and no bad one counted
      await waitFor(async () => (await demo()) === 0, { timeout: 5000, what: 'the peer to drop out' });
    });
  }

  test('an answer just under 8 MiB (header included) is read whole', { timeout: 20000 }, async () => {
    // node's header is under 1 KiB: the body is 8 MiB less 1 KiB
    const head = 'wharf-fleet-sessions 1\n';
    const tail = 'demo 7 0 0\n';
    const line = 'x 0 0 0\n';
    const body = `${head}${line.repeat(Math.floor((MAX - 1024 - head.length - tail.length) / line.length))}${tail}`;
    assert.ok(body.length > MAX - 1024 - line.length && body.length <= MAX - 1024);
    answer = () => ({ body });
    await waitFor(async () => (await demo()) === 7, { timeout: 10000, what: 'the near-8-MiB answer to count' });
  });
});
