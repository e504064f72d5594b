// Auth at the gateway, table-driven over every route the module serves or
// routes: who gets in with which token, what the refusals look like, and
// that the client's credential never reaches the container.
//
// Tokens are minted with node's crypto (tests/lib/stack.mjs), independently
// of the libjwt the module verifies them with.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { ALL_SCOPES, decodeToken, generateKeys, get, mintToken, startFakeEndpoint, startStack, tempDir, waitFor, TOKEN_LEEWAY } from '../lib/stack.mjs';

const TOKEN_TTL = 4;

const b64url = (d) => Buffer.from(d).toString('base64url');

// kinds of route: what they want
const FLEET = 'fleet';          // scope read, sub "*"
const WORKER_READ = 'wread';    // scope read, sub spy or "*"
const WORKER_TERM = 'wterm';    // scope terminal, sub spy or "*"

const ROUTES = [
  { path: '/api/workers', kind: FLEET, ok: 200 },
  { path: '/api/terminals', kind: FLEET, ok: 200 },
  { path: '/metrics', kind: FLEET, ok: 200 },
  { path: '/health', kind: FLEET, ok: 200 },
  { path: '/health/terminal', kind: FLEET, ok: 200 },
  { path: '/health/websocket', kind: FLEET, ok: 200 },
  { path: '/api/workers/spy', kind: WORKER_READ, ok: 200 },
  { path: '/api/workers/spy/health/terminal', kind: WORKER_READ, ok: 200 },
  { path: '/api/workers/spy/health/websocket', kind: WORKER_READ, ok: 200 },
  { path: '/api/workers/spy/some/rest?x=1', kind: WORKER_TERM, ok: 200 },
  { path: '/api/workers/spy/terminal', kind: WORKER_TERM, ok: 101, ws: true },
];

// An HTTP request, or a WebSocket upgrade: { status, json, headers }.
function call(base, route, { headers = {}, query } = {}) {
  let url = `${base}${route.path}`;
  if (query) url += `${url.includes('?') ? '&' : '?'}${query}`;
  if (!route.ws) {
    return get(url, { headers }).then((r) => ({ status: r.status, json: r.json, headers: r.headers }));
  }
  return new Promise((resolve) => {
    const ws = new WebSocket(url.replace(/^http/, 'ws'), { headers });
    ws.on('error', () => {});
    ws.on('open', () => { ws.close(); resolve({ status: 101 }); });
    ws.on('unexpected-response', (req, res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => {
        let json;
        try { json = JSON.parse(body); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, json, headers: new Map(Object.entries(res.headers)) });
      });
    });
  });
}

const header = (r, name) => (r.headers?.get ? r.headers.get(name) : undefined);

describe('auth', () => {
  let stack, spy, other, T;

  before(async () => {
    spy = await startFakeEndpoint('ws');
    other = await startFakeEndpoint('ws');
    stack = await startStack({
      tag: 'module-auth',
      workers: [{ name: 'spy', addr: spy.addr }, { name: 'other', addr: other.addr }],
      extraHttp: `wharf_auth_token_ttl ${TOKEN_TTL}s;`,
    });
    const now = Math.floor(Date.now() / 1000);
    const mint = stack.mint;
    const pubPem = fs.readFileSync(stack.keys.publicPath);
    const forge = (alg, body, sign) => {
      const input = `${b64url(JSON.stringify({ alg, typ: 'JWT' }))}.${b64url(JSON.stringify(body))}`;
      return `${input}.${sign ? b64url(sign(input)) : ''}`;
    };
    const claims = { sub: '*', scope: ALL_SCOPES, iat: now, exp: now + 3600 };
    const dir = tempDir('module-auth-keys');
    const stranger = generateKeys(dir);
    fs.rmSync(dir, { recursive: true, force: true });
    T = {
      valid: stack.token,
      expired: mint({ sub: '*', scope: ALL_SCOPES, iat: now - 100, exp: now - TOKEN_LEEWAY - 10 }),
      noExp: mint({ sub: '*', scope: ALL_SCOPES, exp: undefined }),
      algNone: forge('none', claims),
      hs256: forge('HS256', claims, (input) => crypto.createHmac('sha256', pubPem).update(input).digest()),
      strangerKey: mintToken(stranger.privateKey, { sub: '*', scope: ALL_SCOPES }),
      withAud: mint({ sub: 'spy', aud: 'spy', scope: 'read control terminal' }),
      badSignature: `${stack.token.slice(0, -4)}AAAA`,
      wrongScope: mint({ sub: '*', scope: 'ingest' }),
      otherWorker: mint({ sub: 'other', scope: 'read terminal' }),
      ownWorker: mint({ sub: 'spy', scope: 'read terminal' }),
      readOnly: mint({ sub: '*', scope: 'read' }),
      terminalOnly: mint({ sub: '*', scope: 'terminal' }),
    };
  });

  after(async () => {
    if (stack) await stack.stop();
    if (spy) await spy.close();
    if (other) await other.close();
  });

  // expected status per token and kind of route ("ok": the route's own)
  const MATRIX = {
    none: { [FLEET]: 401, [WORKER_READ]: 401, [WORKER_TERM]: 401 },
    expired: { [FLEET]: 401, [WORKER_READ]: 401, [WORKER_TERM]: 401 },
    noExp: { [FLEET]: 401, [WORKER_READ]: 401, [WORKER_TERM]: 401 },
    algNone: { [FLEET]: 401, [WORKER_READ]: 401, [WORKER_TERM]: 401 },
    hs256: { [FLEET]: 401, [WORKER_READ]: 401, [WORKER_TERM]: 401 },
    strangerKey: { [FLEET]: 401, [WORKER_READ]: 401, [WORKER_TERM]: 401 },
    withAud: { [FLEET]: 401, [WORKER_READ]: 401, [WORKER_TERM]: 401 },
    badSignature: { [FLEET]: 401, [WORKER_READ]: 401, [WORKER_TERM]: 401 },
    wrongScope: { [FLEET]: 403, [WORKER_READ]: 403, [WORKER_TERM]: 403 },
    otherWorker: { [FLEET]: 403, [WORKER_READ]: 403, [WORKER_TERM]: 403 },
    ownWorker: { [FLEET]: 403, [WORKER_READ]: 'ok', [WORKER_TERM]: 'ok' },
    readOnly: { [FLEET]: 'ok', [WORKER_READ]: 'ok', [WORKER_TERM]: 403 },
    terminalOnly: { [FLEET]: 403, [WORKER_READ]: 403, [WORKER_TERM]: 'ok' },
    valid: { [FLEET]: 'ok', [WORKER_READ]: 'ok', [WORKER_TERM]: 'ok' },
  };

  for (const [name, expect] of Object.entries(MATRIX)) {
    test(`token "${name}" on every route (Authorization: Bearer)`, async () => {
      const failures = [];
      for (const route of ROUTES) {
        const headers = name === 'none' ? {} : { Authorization: `Bearer ${T[name]}` };
        const r = await call(stack.http, route, { headers });
        const want = expect[route.kind] === 'ok' ? route.ok : expect[route.kind];
        if (r.status !== want) failures.push(`${route.path}: ${r.status}, want ${want}`);
        if (want === 401) {
          if (r.json?.error?.code !== 'unauthorized') failures.push(`${route.path}: code ${r.json?.error?.code}`);
          const www = header(r, 'www-authenticate');
          if (!/^Bearer realm="wharf"/.test(www || '')) failures.push(`${route.path}: WWW-Authenticate ${www}`);
          if (name !== 'none' && !/error="invalid_token"/.test(www)) failures.push(`${route.path}: ${www}`);
        }
        if (want === 403 && r.json?.error?.code !== 'forbidden') failures.push(`${route.path}: code ${r.json?.error?.code}`);
      }
      assert.deepEqual(failures, []);
    });
  }

  test('the reasons are said: expired, algorithm, no exp, aud', async () => {
    const msg = async (t) => (await call(stack.http, ROUTES[0], { headers: { Authorization: `Bearer ${t}` } })).json.error.message;
    assert.match(await msg(T.expired), /expired/);
    assert.match(await msg(T.hs256), /algorithm not allowed/);
    assert.match(await msg(T.noExp), /no exp/);
    assert.match(await msg(T.withAud), /aud/);
    assert.match(await msg(T.algNone), /malformed token or bad signature|algorithm/);
  });

  test('a malformed Authorization header or token: 401', async () => {
    for (const h of ['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer not a jwt', `Bearer ${'a'.repeat(4097)}`, 'Bearer a.b.c']) {
      const r = await call(stack.http, ROUTES[0], { headers: { Authorization: h } });
      assert.equal(r.status, 401, h.slice(0, 40));
      assert.equal(r.json.error.code, 'unauthorized');
    }
  });

  test('?access_token= works on every route, and the bad ones are refused there too', async () => {
    for (const route of ROUTES) {
      assert.equal((await call(stack.http, route, { query: `access_token=${T.valid}` })).status, route.ok, route.path);
      assert.equal((await call(stack.http, route, { query: `access_token=${T.expired}` })).status, 401, route.path);
      assert.equal((await call(stack.http, route, { query: `access_token=${T.hs256}` })).status, 401, route.path);
    }
  });

  test('the container never gets the client\'s token: query stripped, header replaced', async () => {
    const n = spy.requests.length;
    const route = { path: '/api/workers/spy/echo?keep=1', ok: 200 };
    assert.equal((await call(stack.http, route, { query: `access_token=${T.valid}&also=2` })).status, 200);
    assert.equal((await call(stack.http, { ...route, ws: true }, { query: `access_token=${T.valid}` })).status, 101);
    assert.equal((await call(stack.http, route, { headers: { Authorization: `Bearer ${T.ownWorker}` } })).status, 200);
    const got = spy.requests.slice(n);
    assert.equal(got.length, 3);
    assert.equal(got[0].url, '/echo?keep=1&also=2');
    assert.equal(got[1].url, '/echo?keep=1');
    for (const q of got) {
      const raw = JSON.stringify(q);
      assert.ok(!raw.includes(T.valid) && !raw.includes(T.ownWorker), `the client's token reached the container: ${raw.slice(0, 200)}`);
      assert.ok(!/access_token/.test(q.url), q.url);
      const { claims, valid, header: h } = decodeToken(q.headers.authorization.replace(/^Bearer /, ''), stack.keys.publicKey);
      assert.equal(h.alg, 'ES256');
      assert.ok(valid, 'the module\'s token verifies with the orchestrator\'s public key');
      assert.deepEqual([claims.sub, claims.aud], ['spy', 'spy']);
      // only the claims the agent checks: no "iat" (it would be 23 more
      // bytes of base64 in every request's pool); exp is TOKEN_TTL from
      // when a nginx worker process signed it, within this test file's life
      assert.deepEqual(Object.keys(claims).sort(), ['aud', 'exp', 'scope', 'sub']);
      const now = Math.floor(Date.now() / 1000);
      assert.ok(claims.exp > now && claims.exp <= now + TOKEN_TTL, `exp ${claims.exp - now} s from now`);
    }
  });

  test('nor does the access log keep a token', () => {
    const log = fs.readFileSync(path.join(stack.prefix, 'logs/access.log'), 'utf8');
    assert.ok(log.length > 0);
    for (const t of [T.valid, T.expired, T.hs256]) assert.ok(!log.includes(t), 'a token is in the access log');
    // the request line as sent, the token's value redacted
    assert.match(log, /"GET \/api\/workers\/spy\/echo\?keep=1&access_token=\[redacted\]&also=2 HTTP\/1\.1" 200/);
  });

  test('the access log writes a request without a query as its bare path, and a query token redacted', async () => {
    // A request without a query has no $args at all, which nginx's log
    // printed as "-" ("GET /api/workers- HTTP/1.1"); the format now logs
    // $request, the request line as sent, with the token's value redacted
    // by the module (issue 13).
    const tag = `/api/workers/spy/logline${Date.now()}`;
    assert.equal((await get(`${stack.http}${tag}`, { headers: { Authorization: `Bearer ${T.valid}` } })).status, 200);
    assert.equal((await get(`${stack.http}${tag}?access_token=${T.valid}`)).status, 200);
    assert.equal((await get(`${stack.http}${tag}?a=1&access_token=${T.valid}`)).status, 200);
    const logPath = path.join(stack.prefix, 'logs/access.log');
    const lines = await waitFor(() => {
      const l = fs.readFileSync(logPath, 'utf8').split('\n').filter((x) => x.includes(tag));
      return l.length >= 3 && l;
    }, { what: `three access log lines of ${tag}` });
    const targets = lines.map((l) => l.match(/"GET (\S+) HTTP\/1\.1"/)[1]);
    assert.deepEqual(targets, [tag, `${tag}?access_token=[redacted]`, `${tag}?a=1&access_token=[redacted]`], lines.join('\n'));
  });

  test('the module\'s token is cached per process and renewed at half its life', async () => {
    const seen = async () => {
      const n = spy.requests.length;
      for (let i = 0; i < 20; i++) {
        assert.equal((await call(stack.http, ROUTES[9], { headers: { Authorization: `Bearer ${T.valid}` } })).status, 200);
      }
      return spy.requests.slice(n).map((q) => q.headers.authorization);
    };
    const first = await seen();
    // one per nginx worker process, or two where a process's token
    // reached half its life (TOKEN_TTL / 2) during the loop
    assert.ok(new Set(first).size <= 4, `20 requests, ${new Set(first).size} tokens: not one per request`);
    // valid for 2 s more: its exp is already past, within the leeway
    const shortLived = stack.mint({ sub: '*', scope: ALL_SCOPES, ttl: 2 - TOKEN_LEEWAY });
    assert.equal((await call(stack.http, ROUTES[0], { headers: { Authorization: `Bearer ${shortLived}` } })).status, 200);
    await new Promise((r) => setTimeout(r, (TOKEN_TTL / 2) * 1000 + 300));
    // a token the module verified and cached is refused once it expires
    const r = await call(stack.http, ROUTES[0], { headers: { Authorization: `Bearer ${shortLived}` } });
    assert.equal(r.status, 401);
    assert.match(r.json.error.message, /expired/);
    const later = await seen();
    for (const t of later) assert.ok(!first.includes(t), 'renewed after half its life');
    const exp = (t) => decodeToken(t.slice(7)).claims.exp;
    assert.ok(Math.min(...later.map(exp)) > Math.max(...first.map(exp)));
  });

  test('Origin: a WebSocket from another site is refused, same origin and no Origin pass', async () => {
    const wsRoute = ROUTES.at(-1);
    const auth = { Authorization: `Bearer ${T.valid}` };
    const bad = await call(stack.http, wsRoute, { headers: { ...auth, Origin: 'http://evil.example' } });
    assert.equal(bad.status, 403);
    assert.equal(bad.json.error.code, 'origin_not_allowed');
    assert.match(bad.json.error.message, /evil\.example/);
    assert.equal((await call(stack.http, wsRoute, { headers: { ...auth, Origin: `http://127.0.0.1:${stack.port}` } })).status, 101);
    assert.equal((await call(stack.http, wsRoute, { headers: auth })).status, 101);
    // even with the query token a browser would use
    assert.equal((await call(stack.http, wsRoute, { headers: { Origin: 'null' }, query: `access_token=${T.valid}` })).status, 403);
  });
});

describe('auth: wharf_allowed_origins', () => {
  let stack, spy;
  before(async () => {
    spy = await startFakeEndpoint('ws');
    stack = await startStack({
      tag: 'module-origins',
      workers: [{ name: 'spy', addr: spy.addr }],
      extraHttp: 'wharf_allowed_origins https://console.example.com http://localhost:3000;',
    });
  });
  after(async () => {
    if (stack) await stack.stop();
    if (spy) await spy.close();
  });

  test('only the listed origins may open WebSockets', async () => {
    const wsRoute = ROUTES.at(-1);
    const open = (origin) => call(stack.http, wsRoute, { headers: { ...stack.auth, Origin: origin } });
    assert.equal((await open('https://console.example.com')).status, 101);
    assert.equal((await open('http://localhost:3000')).status, 101);
    assert.equal((await open('https://console.example.com.evil.example')).status, 403);
    assert.equal((await open(`http://127.0.0.1:${stack.port}`)).status, 403, 'the list replaces same-origin');
  });
});
