// The auth matrix (issue 7, after issue 3's; claims and credentials of
// issue 13): every route of wharfd (REST, each JSON-RPC method, the live
// feed and its methods), of the agent spoken to directly, and of the
// gateway, against every kind of bad token: none, expired, alg none, HS256
// forged with the public key, the wrong scope, another worker's token; the
// claim cases (nbf and iat in the future, aud as an array, a crit header
// naming an unknown extension, a kid no key has, the kid of a retired key,
// a typ other than JWT); a good token in the header and in ?access_token=
// (through the module: the upstream never sees it), and two credentials
// at once (400 invalid_request); and a bad Origin on every WebSocket
// upgrade (origins are configured on all three parts). Each gets its
// documented status and JSON code: 400, 401 or 403 with a JSON body,
// never 200 or 5xx.
//
// The route lists are read from their sources, so a new route without an
// auth row fails the first test: docs/openapi.yaml (wharfd REST), the
// method tables in fcgi_backend/methods_*.c (JSON-RPC) and feed.c (the
// feed's methods), docs/agent.md's route table and agent/api.c's method
// table (the agent), conf/wharf.conf's locations (the gateway).
//
// Tokens are minted with node's crypto (tests/lib/stack.mjs). The matrix
// is documented in docs/SECURITY.md, "Auth matrix".

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import YAML from 'yaml';
import { ROOT, keyId, mintToken, startFakeEndpoint, startStack, waitFor, TOKEN_LEEWAY } from '../lib/stack.mjs';
import { rawWs } from '../lib/wsraw.mjs';

const ORIGIN = 'https://console.example.com';
const EVIL = 'https://evil.example';
const SCOPES = ['ingest', 'read', 'control', 'terminal', 'admin'];
const M = (name) => `ContainerMonitoringOps.${name}`;
const src = (p) => fs.readFileSync(path.join(ROOT, p), 'utf8');
const b64url = (d) => Buffer.from(d).toString('base64url');

// --- the route lists, from their sources -------------------------------------

function wharfdRestRoutes() {
  const spec = YAML.parse(src('docs/openapi.yaml'), { merge: true });
  const out = [];
  for (const [p, ops] of Object.entries(spec.paths)) {
    for (const m of Object.keys(ops)) {
      if (['get', 'post', 'put', 'patch', 'delete'].includes(m)) out.push(`${m.toUpperCase()} ${p}`);
    }
  }
  return out.filter((r) => r !== 'POST /rpc'); // /rpc: one row per method
}

function wharfdMethods() {
  const out = [];
  for (const f of fs.readdirSync(path.join(ROOT, 'fcgi_backend')).filter((n) => /^methods_.*\.c$/.test(n))) {
    for (const m of src(`fcgi_backend/${f}`).matchAll(/\{\s*"(\w+)",\s*method_\w+\s*\}/g)) out.push(m[1]);
  }
  return out;
}

const feedMethods = () => [...src('fcgi_backend/feed.c').matchAll(/strcmp\(name, "(\w+)"\) == 0/g)].map((m) => m[1]);

function agentRoutes() {
  const out = [];
  for (const m of src('docs/agent.md').matchAll(/^\| `(?:(GET|POST) )?(\/[^`]*)` \|/gm)) {
    const [, verb, p] = m;
    for (const alt of p.includes('\\|') ? p.split('/').pop().split('\\|').map((a) => p.replace(/[^/]*$/, a)) : [p]) {
      out.push(verb ? `${verb} ${alt}` : `WS ${alt}`);
    }
  }
  return out.filter((r) => r !== 'POST /rpc');
}

const agentMethods = () => [...src('agent/api.c').matchAll(/\{ "(\w+)", OP_\w+, WHARF_SCOPE_(\w+) \}/g)]
  .map((m) => ({ name: m[1], scope: m[2].toLowerCase() }));

const gatewayLocations = () => [...src('conf/wharf.conf').matchAll(/^location\s+(?:(?:=|~|\^~)\s+)?"?([^"\s{]+)"?\s*\{/gm)]
  .map((m) => m[1]);

// --- the rows ---------------------------------------------------------------------
// A row: key (route), target (how it is called and what a refusal looks
// like), scope (what the good token needs), worker (the worker it is
// about: the other worker's token is refused), and the request.

const W = 'w1';     // the worker the requests are about (a real agent)
let gatewaySpy;     // a fake worker, for the routes that proxy to one
const OTHER = 'w2'; // another worker (a real agent)

let seq = 0;
const logRow = () => ({ sequence: ++seq, level: 'info', message: 'm' });

// wharfd JSON-RPC: method -> [scope, params for worker W]
const RPC = {
  heartbeat: ['ingest', () => ({ worker: W })],
  storeLogs: ['ingest', () => ({ worker: W, instanceId: 'am', logs: [logRow()] })],
  storeLog: ['ingest', () => ({ worker: W, instanceId: 'am', ...logRow() })],
  storeErrors: ['ingest', () => ({ worker: W, instanceId: 'am', errors: [{ level: 50, message: 'e' }] })],
  storeError: ['ingest', () => ({ worker: W, instanceId: 'am', level: 50, message: 'e' })],
  upsertProcess: ['ingest', () => ({ worker: W, instanceId: 'am', command: 'x', status: 'running' })],
  recordEvent: ['ingest', () => ({ worker: W, instanceId: 'am', type: 't' })],
  // an agent resumes its numbering; an operator may read it too
  getLastSequence: ['ingest|read', () => ({ worker: W, instanceId: 'am' })],
  getWorkers: ['read', () => ({ worker: W })],
  removeWorker: ['admin', () => ({ worker: 'gone' })],
  getLogs: ['read', () => ({ worker: W })],
  getLogStats: ['read', () => ({ worker: W })],
  getErrors: ['read', () => ({ worker: W })],
  getErrorSummary: ['read', () => ({ worker: W })],
  getEvents: ['read', () => ({ worker: W })],
  getProcesses: ['read', () => ({ worker: W })],
  getProcess: ['read', () => ({ worker: W, instanceId: 'am' })],
  getProcessStatus: ['read', () => ({ worker: W, instanceId: 'am' })],
  startProcess: ['control', () => ({ worker: W, instanceId: 'app' })],
  stopProcess: ['control', () => ({ worker: W, instanceId: 'nope' })],
  restartProcess: ['control', () => ({ worker: W, instanceId: 'nope' })],
  clearErrors: ['admin', () => ({ worker: W, instanceId: 'none', confirm: true })],
  clearLogs: ['admin', () => ({ worker: W, instanceId: 'none', confirm: true })],
};

// wharfd REST: "VERB path" -> [scope, url for worker W]
const REST = {
  'GET /api/monitoring/health': [null, '/api/monitoring/health'],
  // wharfd's own metrics: every worker's counts, so "read" for sub "*"
  // (a worker's token, the row's otherWorker, is 403)
  'GET /api/monitoring/metrics': ['read', '/api/monitoring/metrics'],
  'GET /api/monitoring/workers': ['read', `/api/monitoring/workers?worker=${W}`],
  'DELETE /api/monitoring/workers/{worker}': ['admin', '/api/monitoring/workers/gone'],
  'GET /api/monitoring/logs': ['read', `/api/monitoring/logs?worker=${W}`],
  'GET /api/monitoring/logs/{instanceId}': ['read', `/api/monitoring/logs/am?worker=${W}`],
  'GET /api/monitoring/logs/{instanceId}/stats': ['read', `/api/monitoring/logs/am/stats?worker=${W}`],
  'GET /api/monitoring/errors': ['read', `/api/monitoring/errors?worker=${W}`],
  'GET /api/monitoring/errors/{instanceId}': ['read', `/api/monitoring/errors/am?worker=${W}`],
  'GET /api/monitoring/errors/{instanceId}/summary': ['read', `/api/monitoring/errors/am/summary?worker=${W}`],
  'GET /api/monitoring/events': ['read', `/api/monitoring/events?worker=${W}`],
  'GET /api/monitoring/processes': ['read', `/api/monitoring/processes?worker=${W}`],
  'GET /api/monitoring/process/{instanceId}/status': ['read', `/api/monitoring/process/am/status?worker=${W}`],
  'POST /api/monitoring/process/{instanceId}/start': ['control', `/api/monitoring/process/app/start?worker=${W}`],
  'POST /api/monitoring/process/{instanceId}/stop': ['control', `/api/monitoring/process/nope/stop?worker=${W}`],
  'POST /api/monitoring/process/{instanceId}/restart': ['control', `/api/monitoring/process/nope/restart?worker=${W}`],
};

// The agent, directly: "VERB path" -> [scope, path, body]
const AGENT = {
  'GET /health': [null, '/health'],
  'WS /terminal': ['terminal', '/terminal'],
  'WS /websocket': ['read', '/websocket'],
  'GET /processes': ['read', '/processes'],
  'POST /processes': ['control', '/processes', { instanceId: 'app', command: 'true' }],
  'GET /processes/:id': ['read', '/processes/app'],
  'POST /processes/:id/start': ['control', '/processes/app/start'],
  'POST /processes/:id/stop': ['control', '/processes/nope/stop'],
  'POST /processes/:id/restart': ['control', '/processes/nope/restart'],
};

// The agent's JSON-RPC methods: params (scope from agent/api.c's table)
const AGENT_RPC = {
  startProcess: { instanceId: 'app' },
  stopProcess: { instanceId: 'nope' },
  restartProcess: { instanceId: 'nope' },
  getProcessStatus: { instanceId: 'app' },
  getProcess: { instanceId: 'app' },
  listProcesses: {},
  getProcesses: {},
  createProcess: { instanceId: 'app', command: 'true' },
  subscribe: { logs: false },
};

// The gateway's locations: [kind, scope, sub rule, paths]
//   'fleet': scope read, sub "*"; 'worker': sub W or "*"
const GATEWAY = {
  '/api/workers/': [
    ['http', 'terminal', 'worker', `/api/workers/${W}/processes`],
    ['http', 'terminal', 'worker', `/api/workers/${W}/rpc`, { jsonrpc: '2.0', id: 1, method: 'listProcesses' }],
    ['ws', 'terminal', 'worker', `/api/workers/${W}/terminal`],
    ['ws', 'terminal', 'worker', `/api/workers/${W}/websocket`],
    ['http', 'read', 'worker', `/api/workers/${W}/health/terminal`],
    ['http', 'read', 'worker', `/api/workers/${W}/health/websocket`],
    ['http', 'terminal', 'worker', '/api/workers/spy/any/path?keep=1', null, 'spy'],
    ['ws', 'terminal', 'worker', '/api/workers/spy/echo?keep=1', null, 'spy'],
  ],
  '/api/workers': [['http', 'read', 'fleet', '/api/workers']],
  '^/api/workers/[a-z0-9][a-z0-9-]*$': [
    ['http', 'read', 'worker', `/api/workers/${W}`],
    // the live registry: a change wants admin, sub "*" (the worker "lw"
    // is made again before each DELETE)
    ['put', 'admin', 'fleet', '/api/workers/lw', () => ({ upstream: gatewaySpy.addr })],
    ['delete', 'admin', 'fleet', '/api/workers/lw'],
  ],
  '/api/terminals': [['http', 'read', 'fleet', '/api/terminals']],
  '/health': [['http', 'read', 'fleet', '/health']],
  '/health/terminal': [['http', 'read', 'fleet', '/health/terminal']],
  '/health/websocket': [['http', 'read', 'fleet', '/health/websocket']],
  '/metrics': [['http', 'read', 'fleet', '/metrics']],
  '/api/fleet/sessions': [['http', 'read', 'fleet', '/api/fleet/sessions']],
  // wharfd's locations: their rows are the REST and RPC rows above
  '/api/monitoring/': 'wharfd REST rows',
  '/rpc': 'wharfd RPC rows',
  '@wharf_rpc_too_large': 'not a route (413 answer)',
  '@wharf_rest_too_large': 'not a route (413 answer)',
  '@wharf_worker_body_too_large': 'not a route (413 answer)',
  '@wharf_worker_unreachable': 'not a route (502 answer)',
  '@wharf_worker_timeout': 'not a route (504 answer)',
  '/ws/monitoring': 'feed rows',
  '/console': 'static: the console, no token (tests/e2e/console.test.mjs)',
  '/console/': 'static: the console, no token (tests/e2e/console.test.mjs)',
};

// --- the test ------------------------------------------------------------------

describe('auth matrix', () => {
  let stack, spy, pubPem, agentAddr, retired;
  const n = () => Math.floor(Date.now() / 1000);

  before(async () => {
    spy = await startFakeEndpoint('ws');
    gatewaySpy = spy;
    const agentArgs = ['--allowed-origins', ORIGIN];
    stack = await startStack({
      tag: 'auth-matrix',
      workers: [
        { name: W, args: agentArgs, config: { processes: [{ instanceId: 'app', command: 'sleep', args: ['600'] }] } },
        { name: OTHER, args: agentArgs },
        { name: 'spy', addr: spy.addr },
      ],
      extraHttp: `wharf_allowed_origins ${ORIGIN};`,
      wharfdArgs: ['--ws-origins', ORIGIN],
    });
    pubPem = fs.readFileSync(stack.keys.publicPath);
    agentAddr = stack.agents[W].addr;
    // a key pair no part is given: what a retired key is once retired
    retired = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  });
  after(async () => {
    if (stack) await stack.stop();
    if (spy) await spy.close();
  });

  // The token of each kind for a row: claims of the good one are
  // { sub, scope, aud? }; the bad ones are derived from them.
  function tokens(good, { other }) {
    const forge = (alg, sign) => {
      const input = `${b64url(JSON.stringify({ alg, typ: 'JWT' }))}.${b64url(JSON.stringify({ ...goodClaims, iat: n(), exp: n() + 600 }))}`;
      return `${input}.${sign ? b64url(sign(input)) : ''}`;
    };
    // wrongScope: every other scope (scope "a|b": either will do)
    const others = SCOPES.filter((s) => !good.scope.split(/[ |]/).includes(s)).join(' ');
    const goodClaims = { ...good, scope: good.scope.split('|')[0] };
    const kid = keyId(stack.keys.privateKey);
    return {
      none: null,
      expired: stack.mint({ ...goodClaims, iat: n() - 100, exp: n() - TOKEN_LEEWAY - 10 }),
      algNone: forge('none'),
      hs256: forge('HS256', (input) => crypto.createHmac('sha256', pubPem).update(input).digest()),
      wrongScope: stack.mint({ ...goodClaims, scope: others }),
      otherWorker: other ? stack.mint(other) : null,
      good: stack.mint(goodClaims),
      ...claimCases(goodClaims, kid),
    };
  }

  // The claim cases (issue 13): signed with the stack's key, valid but for
  // the one claim or header member; each is refused 401 everywhere.
  const CLAIM_CASES = ['nbfFuture', 'iatFuture', 'critUnknown', 'kidUnknown', 'kidRetired', 'typWrong'];
  function claimCases(claims, kid) {
    const h = (extra) => ({ header: { alg: 'ES256', typ: 'JWT', kid, ...extra } });
    return {
      nbfFuture: stack.mint({ ...claims, nbf: n() + 3600 }),
      iatFuture: stack.mint({ ...claims, iat: n() + 3600 }),
      critUnknown: stack.mint(claims, h({ crit: ['x-wharf-unknown'], 'x-wharf-unknown': true })),
      kidUnknown: stack.mint(claims, h({ kid: 'no-key-has-this-id' })),
      kidRetired: mintToken(retired.privateKey, claims),
      typWrong: stack.mint(claims, h({ typ: 'at+jwt' })),
    };
  }
  // every claim case refused as want() says
  const claimWant = (want) => Object.fromEntries(CLAIM_CASES.map((k) => [k, want]));

  // wharfd applies the gateway's audience rule: a token with an aud was
  // made for one agent and opens nothing there; the module's own token
  // for an agent (sub = aud = the worker, scopes read control terminal)
  // first of all, then aud as a string and as an array on the good claims
  const AUD_CASES = ['moduleToken', 'withAud', 'audArray'];
  function audCases(claims) {
    return {
      moduleToken: stack.mint({ sub: W, aud: W, scope: 'read control terminal' }),
      withAud: stack.mint({ ...claims, aud: W }),
      audArray: stack.mint({ ...claims, aud: [W] }),
    };
  }
  const audWant = (want) => Object.fromEntries(AUD_CASES.map((k) => [k, want]));

  // -- callers: each returns { status, code } (code: error.code of the
  // JSON body, or of the JSON-RPC error; undefined on success) ---------------
  async function http(url, { method = 'GET', token, query, body, headers = {} } = {}) {
    let u = url;
    if (query) u += `${u.includes('?') ? '&' : '?'}access_token=${query}`;
    const res = await fetch(u, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(20000),
    });
    const text = await res.text();
    let json;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    return { status: res.status, code: json?.error?.code, json, www: res.headers.get('www-authenticate') };
  }

  function upgrade(url, { token, query, origin, protocol } = {}) {
    let u = url;
    if (query) u += `${u.includes('?') ? '&' : '?'}access_token=${query}`;
    return new Promise((resolve) => {
      const headers = { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(origin ? { origin } : {}) };
      const ws = new WebSocket(u, protocol, { headers });
      ws.on('error', () => {});
      ws.on('open', () => resolve({ status: 101, ws, protocol: ws.protocol }));
      ws.on('unexpected-response', (req, res) => {
        let text = '';
        res.on('data', (d) => { text += d; });
        res.on('end', () => {
          let json;
          try { json = JSON.parse(text); } catch { /* not JSON */ }
          resolve({ status: res.statusCode, code: json?.error?.code, json, www: res.headers['www-authenticate'] });
        });
      });
    });
  }

  // a JSON-RPC request over an open WebSocket
  function wsCall(ws, method, params) {
    return new Promise((resolve) => {
      const id = crypto.randomUUID();
      const on = (d) => {
        const m = JSON.parse(d.toString());
        if (m.id === id) { ws.off('message', on); resolve(m); }
      };
      ws.on('message', on);
      ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    });
  }

  // Runs every kind of token on a row; returns the mismatches.
  async function runRow(label, { toks, call, want, kinds = Object.keys(toks) }) {
    const bad = [];
    for (const kind of kinds) {
      if (kind === 'otherWorker' && toks.otherWorker === null) continue;
      const got = await call(kind, toks[kind]);
      const exp = want[kind];
      if (process.env.WHARF_AUTH_MATRIX_SHOW) console.log(`# ${label} ${kind}: ${got.status} ${got.code ?? ''}`);
      if (!exp(got)) bad.push(`${label} ${kind}: got ${got.status} ${JSON.stringify(got.code)}${got.detail ? ` ${got.detail}` : ''}`);
    }
    return bad;
  }

  const is = (status, code) => (r) => r.status === status && (code === undefined || r.code === code);
  const okStatus = (...s) => (r) => s.includes(r.status) && r.code === undefined;

  test('every route has an auth row, and every row a route', () => {
    const same = (got, rows, what) => assert.deepEqual([...new Set(got)].sort(), Object.keys(rows).sort(), what);
    same(wharfdRestRoutes(), REST, 'wharfd REST (docs/openapi.yaml) vs REST rows');
    same(wharfdMethods(), RPC, 'wharfd JSON-RPC methods (fcgi_backend/methods_*.c) vs RPC rows');
    same(agentRoutes(), AGENT, 'agent routes (docs/agent.md) vs AGENT rows');
    same(agentMethods().map((m) => m.name), AGENT_RPC, 'agent methods (agent/api.c) vs AGENT_RPC rows');
    same(gatewayLocations(), GATEWAY, 'gateway locations (conf/wharf.conf) vs GATEWAY rows');
    assert.deepEqual(feedMethods().sort(), ['restartProcess', 'startProcess', 'stopProcess', 'subscribe'],
      'feed methods (fcgi_backend/feed.c): each has its row in the feed test below');
    for (const [name, [scope]] of Object.entries(RPC)) assert.ok(scope.split('|').every((x) => SCOPES.includes(x)), name);
  });

  test('wharfd JSON-RPC: every method', async () => {
    const bad = [];
    for (const [method, [scope, params]] of Object.entries(RPC)) {
      // control goes on through the gateway with the caller's token,
      // which needs the terminal scope there (docs/wharfd.md)
      const extra = scope === 'control' ? ' terminal' : '';
      const toks = tokens({ sub: '*', scope: scope + extra }, { other: { sub: OTHER, scope: scope.split('|')[0] + extra } });
      toks.query = toks.good;
      toks.two = toks.good;
      toks.twoBad = toks.good;
      Object.assign(toks, audCases({ sub: '*', scope: scope.split('|')[0] + extra }));
      const call = async (kind, t) => {
        // two credentials: the header and the query, both good, or one bad
        const query = kind === 'query' || kind === 'two' ? toks.good : kind === 'twoBad' ? toks.expired : null;
        const r = await http(`${stack.http}/rpc`, {
          method: 'POST', token: kind === 'query' ? null : t, query,
          body: { jsonrpc: '2.0', id: 1, method: M(method), params: params() },
        });
        const e = r.json?.error;
        return { status: r.status, code: e?.code, www: r.www, detail: e ? e.message : '' };
      };
      // the good token gets past auth: a result, or the agent's own
      // answer for an instance that does not exist (relayed, -32004)
      const passed = (r) => r.status === 200 && (r.code === undefined || r.code === -32004 || r.code === -32009);
      // RFC 6750: 401 with a challenge, 403 insufficient_scope, 400
      // invalid_request; the JSON-RPC error object is the body
      const u401 = (r) => r.status === 401 && r.code === -32001 && /^Bearer realm="wharf"/.test(r.www || '');
      const f403 = (r) => r.status === 403 && r.code === -32003 && /error="insufficient_scope"/.test(r.www || '');
      const b400 = (r) => r.status === 400 && r.code === -32600 && /error="invalid_request"/.test(r.www || '');
      const want = {
        none: u401, expired: u401, algNone: u401, hs256: u401,
        wrongScope: f403, otherWorker: f403, good: passed, query: passed,
        two: b400, twoBad: b400, ...claimWant(u401), ...audWant(u401),
      };
      bad.push(...await runRow(`rpc ${method}`, { toks, call, want }));
    }
    assert.deepEqual(bad, []);
  });

  test('wharfd REST: every route', async () => {
    const bad = [];
    for (const [route, [scope, url]] of Object.entries(REST)) {
      const verb = route.split(' ')[0];
      const extra = scope === 'control' ? ' terminal' : '';
      const toks = tokens({ sub: '*', scope: (scope || 'read') + extra }, { other: { sub: OTHER, scope: (scope || 'read') + extra } });
      toks.query = toks.good;
      toks.two = toks.good;
      toks.twoBad = toks.good;
      Object.assign(toks, audCases({ sub: '*', scope: (scope || 'read') + extra }));
      const call = (kind, t) => http(`${stack.http}${url}`, {
        method: verb, token: kind === 'query' ? null : t,
        query: kind === 'query' || kind === 'two' ? toks.good : kind === 'twoBad' ? toks.expired : null,
      });
      const passed = okStatus(200, 404, 409);
      const u401 = (r) => r.status === 401 && r.code === 'unauthorized' && /^Bearer realm="wharf"/.test(r.www || '');
      const want = scope === null
        ? Object.fromEntries(Object.keys(toks).map((k) => [k, okStatus(200)]))  // open
        : {
          none: u401, expired: u401, algNone: u401, hs256: u401,
          wrongScope: is(403, 'forbidden'), otherWorker: is(403, 'forbidden'),
          good: passed, query: passed,
          two: is(400, 'invalid_request'), twoBad: is(400, 'invalid_request'), ...claimWant(u401),
          ...audWant(u401),
        };
      // 409: the agent's own error for an instance that does not exist,
      // relayed (the request got through wharfd, the gateway and the agent)
      bad.push(...await runRow(`rest ${route}`, {
        toks, want,
        call: async (kind, t) => {
          const r = await call(kind, t);
          return r.status === 409 && r.code === 'agent_error' ? { status: 409 } : r;
        },
      }));
    }
    assert.deepEqual(bad, []);
  });

  test('the live feed: the upgrade, and each method over it', async () => {
    const url = `${stack.ws}/ws/monitoring`;
    const toks = tokens({ sub: '*', scope: 'read' }, { other: { sub: OTHER, scope: 'read' } });
    const bad = [];
    // the upgrade
    const want401 = (r) => r.status === 401 && r.code === 'unauthorized' && /^Bearer realm="wharf"/.test(r.www || '');
    const want400 = is(400, 'invalid_request');
    const subscribed = (r) => r.status === 101 && r.sub?.result?.subscribed === true;
    const up = {
      none: want401, expired: want401, algNone: want401, hs256: want401,
      wrongScope: is(403, 'forbidden'),
      // another worker's reader gets in, confined to its own worker
      otherWorker: (r) => r.status === 101 && r.sub?.error?.code === -32003 && r.own?.result?.subscribed === true,
      good: subscribed,
      query: subscribed,
      // the browser transport: the token as a subprotocol beside the
      // feed's own, which alone is selected (never the token)
      proto: (r) => subscribed(r) && r.protocol === 'wharf-monitoring',
      // one credential only, whichever two (RFC 6750 section 2)
      headerQuery: want400, headerProto: want400, queryProto: want400, protoTwice: want400,
      headerProtoBad: want400,
      // a 5 KB token: too long, said in JSON (it was nginx's 502 page)
      big: (r) => want401(r) && /too long/.test(r.json?.error?.message || ''),
      bigProto: (r) => want401(r) && /too long/.test(r.json?.error?.message || ''),
      badOrigin: is(403, 'origin_not_allowed'),
      goodOrigin: (r) => r.status === 101,
      ...claimWant(want401),
      ...audWant(want401),
    };
    const BIG = `${toks.good}${'A'.repeat(5000)}`;
    for (const k of ['query', 'proto', 'headerQuery', 'headerProto', 'queryProto', 'protoTwice', 'headerProtoBad', 'badOrigin', 'goodOrigin']) toks[k] = toks.good;
    toks.big = BIG;
    toks.bigProto = BIG;
    Object.assign(toks, audCases({ sub: '*', scope: 'read' }));
    const bearer = (t) => `wharf.bearer.${t}`;
    bad.push(...await runRow('feed upgrade', {
      toks, want: up,
      call: async (kind, t) => {
        const header = ['good', 'headerQuery', 'headerProto', 'headerProtoBad', 'badOrigin', 'goodOrigin', 'big',
          'none', 'expired', 'algNone', 'hs256', 'wrongScope', 'otherWorker', ...CLAIM_CASES, ...AUD_CASES].includes(kind) ? t : null;
        const query = ['query', 'headerQuery', 'queryProto'].includes(kind) ? t : null;
        const protocol = {
          proto: ['wharf-monitoring', bearer(t)],
          headerProto: ['wharf-monitoring', bearer(t)],
          headerProtoBad: ['wharf-monitoring', bearer(toks.expired)],
          queryProto: ['wharf-monitoring', bearer(t)],
          protoTwice: ['wharf-monitoring', bearer(t), bearer(toks.wrongScope)],
          bigProto: ['wharf-monitoring', bearer(t)],
        }[kind];
        const r = await upgrade(url, {
          token: header, query, protocol,
          origin: kind === 'badOrigin' ? EVIL : kind === 'goodOrigin' ? ORIGIN : undefined,
        });
        if (r.ws) {
          r.sub = await wsCall(r.ws, 'subscribe', { worker: W });
          if (kind === 'otherWorker') r.own = await wsCall(r.ws, 'subscribe', {});
          r.ws.close();
        }
        return r;
      },
    }));
    // the control methods: control scope (and terminal at the gateway)
    for (const method of feedMethods().filter((m) => m !== 'subscribe')) {
      const params = { worker: W, instanceId: 'nope' };
      for (const [kind, claims, check] of [
        ['read only', { sub: '*', scope: 'read' }, (m) => m.error?.code === -32003],
        ['another worker', { sub: OTHER, scope: 'read control terminal' }, (m) => m.error?.code === -32003],
        ['good', { sub: '*', scope: 'read control terminal' }, (m) => m.error?.code === -32004],
      ]) {
        const r = await upgrade(url, { token: stack.mint(claims) });
        assert.equal(r.status, 101);
        const m = await wsCall(r.ws, method, params);
        r.ws.close();
        if (!check(m)) bad.push(`feed ${method} ${kind}: ${JSON.stringify(m.error || m.result)}`);
      }
    }
    assert.deepEqual(bad, []);
  });

  test('the agent, directly: every route', async () => {
    const bad = [];
    for (const [route, [scope, p, body]] of Object.entries(AGENT)) {
      const [verb] = route.split(' ');
      const good = { sub: W, aud: W, scope: scope || 'read' };
      const toks = tokens(good, { other: { sub: OTHER, aud: OTHER, scope: scope || 'read' } });
      toks.query = toks.good;
      // a token made for the gateway (no aud) is not for the agent
      toks.noAud = stack.mint({ sub: '*', scope: ALL() });
      // aud as an array (RFC 7519): naming this worker among others, it
      // is this agent's; naming others only, it is not
      toks.audArray = stack.mint({ ...good, aud: [OTHER, W] });
      toks.audArrayOther = stack.mint({ ...good, aud: [OTHER, 'w3'] });
      const passed = okStatus(200, 201, 101, 404, 409);
      const want = scope === null
        ? Object.fromEntries(Object.keys(toks).map((k) => [k, okStatus(200)]))
        : {
          none: is(401, 'unauthorized'), expired: is(401, 'unauthorized'), algNone: is(401, 'unauthorized'),
          hs256: is(401, 'unauthorized'), wrongScope: is(403, 'forbidden'), otherWorker: is(403, 'forbidden'),
          noAud: is(403, 'forbidden'), audArrayOther: is(403, 'forbidden'),
          good: passed, query: passed, audArray: passed,
          ...claimWant(is(401, 'unauthorized')),
        };
      if (verb === 'WS') {
        toks.badOrigin = toks.good;
        want.badOrigin = is(403, 'origin_not_allowed');
        toks.goodOrigin = toks.good;
        want.goodOrigin = okStatus(101);
      }
      bad.push(...await runRow(`agent ${route}`, {
        toks, want,
        call: async (kind, t) => {
          const viaQuery = kind === 'query';
          if (verb === 'WS') {
            const r = await upgrade(`ws://${agentAddr}${p}`, {
              token: viaQuery ? null : t, query: viaQuery ? t : null,
              origin: kind === 'badOrigin' ? EVIL : kind === 'goodOrigin' ? ORIGIN : undefined,
            });
            if (r.ws) r.ws.close();
            return r;
          }
          const r = await http(`http://${agentAddr}${p}`, { method: verb, token: viaQuery ? null : t, query: viaQuery ? t : null, body });
          // 404/409: the route's own answer (unknown instance, already
          // exists): auth let it through
          return [404, 409].includes(r.status) && ['not_found', 'conflict'].includes(r.code) ? { status: r.status } : r;
        },
      }));
    }
    assert.deepEqual(bad, []);
  });

  test('the agent\'s JSON-RPC: every method (HTTP /rpc and /websocket)', async () => {
    const bad = [];
    for (const { name, scope } of agentMethods()) {
      const params = AGENT_RPC[name];
      const toks = tokens({ sub: W, aud: W, scope }, { other: { sub: OTHER, aud: OTHER, scope } });
      toks.query = toks.good;
      // passed auth: a result, or the method's own error
      const passed = (r) => r.status === 200 && (r.code === undefined || [-32004, -32009, -32601].includes(r.code));
      const want = {
        none: is(401, -32001), expired: is(401, -32001), algNone: is(401, -32001), hs256: is(401, -32001),
        wrongScope: is(200, -32003), otherWorker: is(403, -32003), good: passed, query: passed,
        ...claimWant(is(401, -32001)),
      };
      // subscribe is for /websocket; over /rpc it is refused as unknown
      bad.push(...await runRow(`agent rpc ${name}`, {
        toks, want,
        call: async (kind, t) => {
          const viaQuery = kind === 'query';
          const r = await http(`http://${agentAddr}/rpc`, {
            method: 'POST', token: viaQuery ? null : t, query: viaQuery ? t : null,
            body: { jsonrpc: '2.0', id: 1, method: name, params },
          });
          const e = r.json?.error;
          return { status: r.status, code: e?.code, detail: e?.message };
        },
      }));
      // over /websocket: the upgrade needs read; each call its own scope
      const ws = await upgrade(`ws://${agentAddr}/websocket`, { token: stack.mint({ sub: W, aud: W, scope: 'read' }) });
      assert.equal(ws.status, 101);
      const r = await wsCall(ws.ws, name, params);
      const full = await upgrade(`ws://${agentAddr}/websocket`, { token: stack.mint({ sub: W, aud: W, scope: 'read control' }) });
      const r2 = await wsCall(full.ws, name, params);
      ws.ws.close();
      full.ws.close();
      if (scope === 'control' && r.error?.code !== -32003) bad.push(`agent ws ${name} read-only: ${JSON.stringify(r)}`);
      if (scope === 'read' && r.error) bad.push(`agent ws ${name} read: ${JSON.stringify(r.error)}`);
      if (r2.error && ![-32004, -32009].includes(r2.error.code)) bad.push(`agent ws ${name} control: ${JSON.stringify(r2.error)}`);
    }
    assert.deepEqual(bad, []);
  });

  test('the gateway: every location, and the client\'s token never reaches the upstream', async () => {
    const bad = [];
    const seenBefore = spy.requests.length;
    for (const [loc, rows] of Object.entries(GATEWAY)) {
      if (!Array.isArray(rows)) continue;
      for (const [kind, scope, subRule, p, body, fake] of rows) {
        const worker = fake || W;
        const good = { sub: subRule === 'fleet' ? '*' : worker, scope };
        const toks = tokens(good, { other: { sub: OTHER, scope } });
        toks.query = toks.good;
        // a token with aud was made for one agent, not for the gateway,
        // whether aud is a string or an array (RFC 7519)
        toks.withAud = stack.mint({ ...good, aud: worker });
        toks.audArray = stack.mint({ ...good, aud: [worker] });
        const healthRoute = /\/health/.test(p);
        const okCodes = kind === 'ws' ? [101] : healthRoute ? [200, 503] : kind === 'put' ? [200, 201] : [200];
        const want401 = (r) => r.status === 401 && r.code === 'unauthorized' && /^Bearer realm="wharf"/.test(r.www || '');
        const want = {
          none: want401, expired: want401, algNone: want401, hs256: want401, withAud: want401, audArray: want401,
          wrongScope: is(403, 'forbidden'), otherWorker: is(403, 'forbidden'),
          good: (r) => okCodes.includes(r.status), query: (r) => okCodes.includes(r.status),
          ...claimWant(want401),
        };
        if (kind === 'ws') {
          toks.badOrigin = toks.good;
          want.badOrigin = is(403, 'origin_not_allowed');
          toks.goodOrigin = toks.good;
          want.goodOrigin = okStatus(101);
        }
        bad.push(...await runRow(`gateway ${loc} ${p}`, {
          toks, want,
          call: async (k, t) => {
            const viaQuery = k === 'query';
            if (kind === 'ws') {
              const r = await upgrade(`${stack.ws}${p}`, {
                token: viaQuery ? null : t, query: viaQuery ? t : null,
                origin: k === 'badOrigin' ? EVIL : k === 'goodOrigin' ? ORIGIN : undefined,
              });
              if (r.ws) r.ws.close();
              return r;
            }
            if (kind === 'delete') {
              const made = await http(`${stack.http}${p}`, { method: 'PUT', token: stack.token, body: { upstream: spy.addr } });
              assert.ok([200, 201].includes(made.status), `PUT ${p}: ${made.status}`);
            }
            const method = { put: 'PUT', delete: 'DELETE' }[kind] || (body ? 'POST' : 'GET');
            const r = await http(`${stack.http}${p}`, {
              method, token: viaQuery ? null : t, query: viaQuery ? t : null, body: typeof body === 'function' ? body() : body,
            });
            return { ...r, code: r.status < 300 ? undefined : r.code };
          },
        }));
      }
    }
    assert.deepEqual(bad, []);
    // what the spy (a worker's upstream) received: never a client's token,
    // never access_token, always the module's own token for it
    // (the spy also gets the health probes of /health/terminal etc.)
    const got = spy.requests.slice(seenBefore);
    assert.ok(got.filter((q) => q.url === '/any/path?keep=1').length >= 2, 'HTTP: header and query');
    assert.ok(got.filter((q) => q.url === '/echo?keep=1').length >= 3, 'WebSocket: header, query, origin');
    for (const q of got) {
      assert.ok(!/access_token/.test(q.url), q.url);
      const { authorization, ...rest } = q.headers;
      assert.ok(!/eyJ/.test(JSON.stringify(rest)), `a token in another header: ${JSON.stringify(rest).slice(0, 200)}`);
      const auth = q.headers.authorization || '';
      const claims = JSON.parse(Buffer.from(auth.replace(/^Bearer /, '').split('.')[1] || 'e30', 'base64url'));
      // "lw" is the live worker of the PUT and DELETE rows, at the spy's
      // address too (the fleet's health probes reach it)
      assert.ok(['spy', 'lw'].includes(claims.sub) && claims.aud === claims.sub, `the upstream got ${auth.slice(0, 30)}...`);
    }
  });

  // Issue 13: a browser's token as the subprotocol "wharf.bearer.JWT", and
  // one credential per request (RFC 6750 section 2), on the gateway's
  // route classes (fleet, a worker's entry and health, passthrough HTTP,
  // terminal and WebSocket) and on the agent spoken to directly. wharfd's
  // routes (/rpc, REST, the feed) have their rows with its own auth.
  test('one credential per request, and the browser\'s subprotocol', async () => {
    const bad = [];
    const gw = stack.mint({ sub: '*', scope: 'read terminal' });
    const gwExpired = stack.mint({ sub: '*', scope: 'read terminal', iat: n() - 100, exp: n() - TOKEN_LEEWAY - 10 });
    const ag = stack.mint({ sub: W, aud: W, scope: 'read control terminal' });
    const agExpired = stack.mint({ sub: W, aud: W, scope: 'read control terminal', iat: n() - 100, exp: n() - TOKEN_LEEWAY - 10 });
    const pairs = (good, expired) => [
      ['header + query', { token: good, query: good }],
      ['header + query, one expired', { token: expired, query: good }],
      ['header + subprotocol', { token: good, sub: good }],
      ['header + subprotocol, one expired', { token: good, sub: expired }],
      ['query + subprotocol', { query: good, sub: good }],
      ['query + subprotocol, one expired', { query: expired, sub: good }],
    ];
    const rows = [
      ['http', `${stack.http}/api/workers`],
      ['http', `${stack.http}/api/workers/${W}`],
      ['http', `${stack.http}/api/workers/${W}/health/terminal`],
      ['http', `${stack.http}/api/workers/${W}/processes`],
      ['http', `${stack.http}/api/workers/spy/any/path`],
      ['ws', `${stack.ws}/api/workers/${W}/terminal`],
      ['ws', `${stack.ws}/api/workers/${W}/websocket`],
      ['ws', `${stack.ws}/api/workers/spy/echo`],
      ['agent-http', `http://${agentAddr}/processes`],
      ['agent-rpc', `http://${agentAddr}/rpc`],
      ['agent-ws', `ws://${agentAddr}/terminal`],
      ['agent-ws', `ws://${agentAddr}/websocket`],
    ];
    for (const [kind, url] of rows) {
      const agent = kind.startsWith('agent');
      for (const [what, c] of pairs(agent ? ag : gw, agent ? agExpired : gwExpired)) {
        const protocol = c.sub ? `wharf.bearer.${c.sub}` : undefined;
        let r;
        if (kind.endsWith('ws')) {
          r = await upgrade(url, { token: c.token, query: c.query, protocol });
          if (r.ws) r.ws.close();
        } else {
          r = await http(url, {
            method: kind === 'agent-rpc' ? 'POST' : 'GET', token: c.token, query: c.query,
            headers: protocol ? { 'sec-websocket-protocol': protocol } : {},
            body: kind === 'agent-rpc' ? { jsonrpc: '2.0', id: 1, method: 'listProcesses', params: {} } : undefined,
          });
        }
        const want = kind === 'agent-rpc' ? r.status === 400 && r.code === -32600 : r.status === 400 && r.code === 'invalid_request';
        if (!want) bad.push(`${url} ${what}: ${r.status} ${r.code}`);
        if (!agent && !/error="invalid_request"/.test(r.www || '')) bad.push(`${url} ${what}: WWW-Authenticate ${r.www}`);
      }
    }
    // the subprotocol alone: through the gateway it opens, beside the real
    // subprotocol (which is the one selected), and nothing is echoed
    const term = await upgrade(`${stack.ws}/api/workers/${W}/terminal`, { protocol: ['wharf.tty.v1', `wharf.bearer.${gw}`] });
    if (term.status !== 101 || term.ws.protocol !== 'wharf.tty.v1') bad.push(`gateway terminal, subprotocol: ${term.status} ${term.ws?.protocol}`);
    if (term.ws) term.ws.close();
    for (const p of [`/api/workers/${W}/websocket`, '/api/workers/spy/echo']) {
      const c = await rawWs(`${stack.ws}${p}`, { protocol: `wharf.bearer.${gw}` });
      if (c.status !== 101 || /sec-websocket-protocol/i.test(c.head)) bad.push(`gateway ${p}, subprotocol alone: ${c.status} ${c.head}`);
      if (c.end) await c.end();
      const e = await rawWs(`${stack.ws}${p}`, { protocol: `wharf.bearer.${gwExpired}` });
      if (e.status !== 401) bad.push(`gateway ${p}, expired subprotocol: ${e.status}`);
    }
    const fleet = await http(`${stack.http}/metrics`, { headers: { 'sec-websocket-protocol': `wharf.bearer.${gw}` } });
    if (fleet.status !== 200) bad.push(`gateway /metrics, subprotocol: ${fleet.status}`);
    // the agent, directly: its WebSocket library cannot take a protocol
    // list that long; the token is still checked first, and never echoed
    for (const p of ['/terminal', '/websocket']) {
      const ok = await rawWs(`ws://${agentAddr}${p}`, { protocol: `wharf.tty.v1, wharf.bearer.${ag}` });
      if (ok.status !== 400 || JSON.parse(ok.body).error.code !== 'subprotocol_too_long') bad.push(`agent ${p}, subprotocol: ${ok.status} ${ok.body}`);
      const ex = await rawWs(`ws://${agentAddr}${p}`, { protocol: `wharf.bearer.${agExpired}` });
      if (ex.status !== 401) bad.push(`agent ${p}, expired subprotocol: ${ex.status}`);
    }
    assert.deepEqual(bad, []);
  });
});

const ALL = () => SCOPES.join(' ');
