// Key rotation end to end (issue 13; docs/SECURITY.md, "Key rotation"):
// the orchestrator's keys made and rotated by wharfctl, in the order the
// docs give, with every part (nginx's module, wharfd, an agent) pointed at
// the folder of trusted public keys (DIR/public). Before the rotation a
// token of the first key works everywhere; during the overlap tokens of
// both keys do, and the module signs its own tokens to the agent with the
// new key; after the old key is retired only the new key's tokens work,
// and the old ones are refused for their kid.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  BIN, childPids, decodeToken, keyId, mintToken, nginxTest, reloadNginx, startAgent, startFakeEndpoint, startStack,
  startWharfd, pidAlive, tempDir, waitFor,
} from '../lib/stack.mjs';

const W = 'w1';
const M = (name) => `ContainerMonitoringOps.${name}`;

// A request on a connection of its own: nginx's old worker processes keep
// serving the kept-alive connections they had before a reload, with the
// old configuration, and a restarted agent closed the old ones.
function request(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function wharfctl(...args) {
  const r = spawnSync(BIN.wharfctl, ['--format', 'json', ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, `wharfctl ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

describe('key rotation', () => {
  let stack, spy, dir, keysDir, oldKey, newKey, oldKid, newKid;
  const privateKey = () => crypto.createPrivateKey(fs.readFileSync(path.join(keysDir, 'private.pem')));

  before(async () => {
    dir = tempDir('rotation');
    keysDir = path.join(dir, 'keys');
    const init = wharfctl('keys', 'init', '--dir', keysDir);
    oldKey = privateKey();
    oldKid = init.kid;
    assert.equal(oldKid, keyId(oldKey), 'wharfctl and node agree on the kid (RFC 7638)');
    spy = await startFakeEndpoint('ws');
    stack = await startStack({
      tag: 'rotation',
      // spy: a worker whose upstream records what the module sends it
      workers: [{ name: W }, { name: 'spy', addr: spy.addr }],
      // every part trusts the folder, nginx signs with private.pem
      keys: { publicPath: path.join(keysDir, 'public'), privatePath: path.join(keysDir, 'private.pem'), privateKey: oldKey },
    });
  });
  after(async () => {
    if (stack) await stack.stop();
    if (spy) await spy.close();
    if (dir && process.env.WHARF_KEEP_TMP !== '1') fs.rmSync(dir, { recursive: true, force: true });
  });

  // The three parts, each with a token of key k: through the module (a
  // worker route: the module verifies, then the agent verifies the
  // module's own token), wharfd's JSON-RPC, the agent spoken to directly.
  async function statuses(k) {
    const op = mintToken(k, { sub: '*', scope: 'read terminal' });
    const agentTok = mintToken(k, { sub: W, aud: W, scope: 'read' });
    const get = (url, t, init = {}) => request(url, { ...init, headers: { authorization: `Bearer ${t}`, ...(init.headers || {}) } });
    const module = await get(`${stack.http}/api/workers/${W}/processes`, op);
    const wharfd = await get(`${stack.http}/rpc`, op, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: M('getWorkers') }),
    });
    const agent = await get(`http://${stack.agents[W].addr}/processes`, agentTok);
    const out = { module: module.status, wharfd: wharfd.status, agent: agent.status };
    out.why = [module, wharfd, agent].map((r) => r.text).join(' | ');
    return out;
  }
  const allOk = (s) => s.module === 200 && s.wharfd === 200 && s.agent === 200;
  const allRefused = (s) => s.module === 401 && s.wharfd === 401 && s.agent === 401;

  // wharfd and the agents read their keys at start: restarted on the
  // same addresses; nginx reloads (docs: the order of the steps).
  async function redeploy() {
    const swap = (old, fresh) => { stack.procs[stack.procs.indexOf(old)] = fresh; };
    const oldWharfd = stack.wharfd;
    await oldWharfd.stop();
    stack.wharfd = await startWharfd({ ...stack.wharfdOpts, addr: oldWharfd.addr });
    swap(oldWharfd, stack.wharfd);
    const oldAgent = stack.agents[W];
    await oldAgent.stop();
    stack.agents[W] = await startAgent({ name: W, keys: stack.keys, listen: oldAgent.addr, logDir: stack.logDir });
    swap(oldAgent, stack.agents[W]);
    // nginx: the old worker processes go once idle; until then they may
    // still accept a connection, with the old keys
    const oldWorkers = childPids(stack.nginx.pid);
    await reloadNginx(stack.nginx);
    await waitFor(() => oldWorkers.every((p) => !pidAlive(p)), { what: 'the old nginx workers to exit' });
  }

  test('before: the first key works everywhere', async () => {
    const s = await statuses(oldKey);
    assert.ok(allOk(s), JSON.stringify(s));
    assert.equal(await moduleKid(), oldKid);
  });

  test('rotate: during the overlap tokens of both keys work on every part', async () => {
    const r = wharfctl('keys', 'rotate', '--dir', keysDir);
    assert.equal(r.retiring, oldKid);
    newKid = r.kid;
    newKey = privateKey();
    assert.equal(newKid, keyId(newKey));
    assert.notEqual(newKid, oldKid);
    const list = wharfctl('keys', 'list', '--dir', keysDir);
    assert.deepEqual(list.map((k) => [k.kid, k.signing]).sort(), [[oldKid, false], [newKid, true]].sort());
    await redeploy();
    for (const [name, k] of [['old', oldKey], ['new', newKey]]) {
      const s = await statuses(k);
      assert.ok(allOk(s), `${name} key: ${JSON.stringify(s)}`);
    }
    // wharfctl mints with the new key, its kid in the header
    const issued = wharfctl('token', 'issue', '--key', path.join(keysDir, 'private.pem'), '--sub', '*', '--scope', 'read');
    assert.equal(decodeToken(issued.token).header.kid, newKid);
    assert.equal(issued.kid, newKid);
  });

  // the kid of the token the module sends a worker's upstream
  async function moduleKid() {
    const n = spy.requests.length;
    const op = mintToken(privateKey(), { sub: '*', scope: 'terminal' });
    const r = await request(`${stack.http}/api/workers/spy/any`, { headers: { authorization: `Bearer ${op}` } });
    assert.equal(r.status, 200);
    const auth = spy.requests.slice(n).find((q) => q.url === '/any').headers.authorization;
    return decodeToken(auth.replace(/^Bearer /, '')).header.kid;
  }

  test('the module signs its tokens to the agents with the signing key, named by its kid', async () => {
    assert.equal(await moduleKid(), newKid);
  });

  test('retire: only the new key works; the old key\'s tokens are refused for their kid', async () => {
    const r = wharfctl('keys', 'retire', oldKid, '--dir', keysDir);
    assert.equal(r.retired, oldKid);
    assert.deepEqual(wharfctl('keys', 'list', '--dir', keysDir).map((k) => k.kid), [newKid]);
    await redeploy();
    const s = await statuses(oldKey);
    assert.ok(allRefused(s), JSON.stringify(s));
    assert.match(s.why, /unknown kid/);
    assert.ok(allOk(await statuses(newKey)));
  });

  test('a key id that begins with \'-\' (1 kid in 64) is a key id to retire, not a flag, before or after --dir', () => {
    const kid = `-${'A'.repeat(42)}`;
    for (const args of [['keys', 'retire', kid, '--dir', keysDir], ['keys', 'retire', '--dir', keysDir, kid]]) {
      const r = spawnSync(BIN.wharfctl, args, { encoding: 'utf8' });
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`public/${kid}\\.pem: No such file`));
    }
    const r = spawnSync(BIN.wharfctl, ['keys', 'retire', '-Bx', '--dir', keysDir], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown flag '-Bx'/);
  });

  test('the signing key cannot be retired; nginx refuses a private key it does not trust', async () => {
    const r = spawnSync(BIN.wharfctl, ['keys', 'retire', newKid, '--dir', keysDir], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /is the signing key/);
    // the configuration check: public keys without the signing key's
    const lone = path.join(dir, 'lone');
    fs.mkdirSync(lone);
    fs.writeFileSync(path.join(lone, 'other.pem'),
      crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'pem' }));
    const conf = fs.readFileSync(stack.conf, 'utf8')
      .replace(/wharf_auth_public_key\s+[^;]+;/, `wharf_auth_public_key ${lone};`);
    const confPath = path.join(stack.prefix, 'lone.conf');
    fs.writeFileSync(confPath, conf);
    const t = nginxTest(stack.prefix, confPath);
    assert.notEqual(t.status, 0);
    assert.ok(t.output.includes(`wharf_auth_private_key (kid ${newKid}) is not among`), t.output);
  });
});
