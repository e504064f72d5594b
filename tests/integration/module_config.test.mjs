// The module's directives under `nginx -t`: each limit at its edge, every
// mistake refused with its file and line, the key pair checked, and
// "wharf_auth off" allowed but warned about.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateKeys, nginxTest, renderNginxConf, tempDir, writeWorkerConf } from '../lib/stack.mjs';

describe('nginx -t on the module\'s directives', () => {
  let dir, prefix, workers, keys, other;

  before(() => {
    dir = tempDir('module-config');
    prefix = path.join(dir, 'nginx');
    workers = path.join(dir, 'workers.d');
    fs.mkdirSync(prefix);
    fs.mkdirSync(workers);
    keys = generateKeys(dir);
    const otherDir = path.join(dir, 'other');
    fs.mkdirSync(otherDir);
    other = generateKeys(otherDir);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const reset = () => { for (const f of fs.readdirSync(workers)) fs.unlinkSync(path.join(workers, f)); };
  const render = (k = keys, healthInterval = 'off') => renderNginxConf({ prefix, listen: '127.0.0.1:1', wharfd: '127.0.0.1:2', wharfdWs: '127.0.0.1:3', workersDir: workers, keys: k, healthInterval });

  // nginx -t with one worker "demo" plus `extra` at http level
  const check = (extra, { k = keys, workerParams = [], interval } = {}) => {
    reset();
    writeWorkerConf(workers, 'demo', '127.0.0.1:9', undefined, workerParams);
    if (extra) fs.writeFileSync(path.join(workers, '00-extra.conf'), `\n${extra}\n`);
    const conf = render(k, interval);
    return { ...nginxTest(prefix, conf), conf, extraFile: path.join(workers, '00-extra.conf'), workerFile: path.join(workers, 'demo.conf') };
  };

  const ok = (r) => assert.equal(r.status, 0, r.output);
  const fails = (r, re, where) => {
    assert.notEqual(r.status, 0, r.output);
    assert.match(r.output, /\[emerg\]/);
    assert.match(r.output, re);
    if (where) assert.ok(r.output.includes(where), `${where} not in: ${r.output}`);
  };

  test('the rendered reference configuration passes', () => ok(check('')));

  test('wharf_fleet_peer: http:// URLs, at most 8, none twice; https refused', () => {
    const peer = (n) => `wharf_fleet_peer http://127.0.0.1:${9000 + n}/api/fleet/sessions;`;
    ok(check(peer(1)));
    ok(check('wharf_fleet_peer http://127.0.0.1:9001;'));
    ok(check([1, 2, 3, 4, 5, 6, 7, 8].map(peer).join('\n')));
    let r = check([1, 2, 3, 4, 5, 6, 7, 8, 9].map(peer).join('\n'));
    fails(r, /at most 8 "wharf_fleet_peer" directives/, `${r.extraFile}:10`);
    r = check(`${peer(1)}\n${peer(1)}`);
    fails(r, /peer "http:\/\/127\.0\.0\.1:9001\/api\/fleet\/sessions" is duplicate/, `${r.extraFile}:3`);
    r = check('wharf_fleet_peer https://127.0.0.1:9001/api/fleet/sessions;');
    fails(r, /https is not supported; a peer is asked in plain http/, `${r.extraFile}:2`);
    r = check('wharf_fleet_peer ftp://127.0.0.1/;');
    fails(r, /"ftp:\/\/127\.0\.0\.1\/" is not an http:\/\/ URL/, `${r.extraFile}:2`);
    r = check('wharf_fleet_peer http://;');
    fails(r, /is not an http:\/\/ URL/, `${r.extraFile}:2`);
    r = check('wharf_fleet_peer http://127.0.0.1:70000/;');
    fails(r, /invalid port in peer/, `${r.extraFile}:2`);
    r = check('wharf_fleet_peer http://127.0.0.1:9001/ http://127.0.0.1:9002/;');
    fails(r, /invalid number of arguments in "wharf_fleet_peer"/, `${r.extraFile}:2`);
  });

  test('wharf_fleet_interval and wharf_fleet_stale: 100ms at least, stale longer than the interval', () => {
    ok(check('wharf_fleet_interval 100ms;'));
    ok(check('wharf_fleet_interval 100ms;\nwharf_fleet_stale 101ms;'));
    ok(check('wharf_fleet_interval 5s;')); // stale defaults to 25s
    let r = check('wharf_fleet_interval 99ms;');
    fails(r, /"99ms" is too short, the least is 100ms/, `${r.extraFile}:2`);
    r = check('wharf_fleet_stale 99ms;');
    fails(r, /"99ms" is too short, the least is 100ms/, `${r.extraFile}:2`);
    r = check('wharf_fleet_interval soon;');
    fails(r, /"soon" is not a time/, `${r.extraFile}:2`);
    r = check('wharf_fleet_interval 1s;\nwharf_fleet_interval 2s;');
    fails(r, /"wharf_fleet_interval" directive is duplicate/, `${r.extraFile}:3`);
    r = check('wharf_fleet_interval 1s;\nwharf_fleet_stale 1s;');
    fails(r, /"wharf_fleet_stale" \(1000ms\) must be longer than "wharf_fleet_interval" \(1000ms\)/, `${r.extraFile}:3`);
    r = check('wharf_fleet_stale 1s;'); // the interval's default is 2s
    fails(r, /must be longer than "wharf_fleet_interval" \(2000ms\)/, `${r.extraFile}:2`);
  });

  test('wharf_pass_request_headers: Cookie and Proxy-Authorization only, never Authorization', () => {
    ok(check('wharf_pass_request_headers Cookie;'));
    ok(check('wharf_pass_request_headers cookie Proxy-Authorization;'));
    let r = check('wharf_pass_request_headers Authorization;');
    fails(r, /"Authorization" cannot be passed: the client's token never reaches a worker/, `${r.extraFile}:2`);
    r = check('wharf_pass_request_headers X-Api-Key;');
    fails(r, /"X-Api-Key": only "Cookie" and "Proxy-Authorization"/, `${r.extraFile}:2`);
    r = check('wharf_pass_request_headers Cookie;\nwharf_pass_request_headers Cookie;');
    fails(r, /is duplicate/, `${r.extraFile}:3`);
  });

  test('max_sessions=: 0 and 1000000 pass; -1, 1000001, x and a second one fail at their line', () => {
    ok(check('', { workerParams: ['max_sessions=0'] }));
    ok(check('', { workerParams: ['max_sessions=1000000'] }));
    for (const bad of [['max_sessions=-1'], ['max_sessions=1000001'], ['max_sessions=x'], ['max_sessions='],
      ['max_sessions=1', 'max_sessions=2']]) {
      const r = check('', { workerParams: bad });
      fails(r, /max_sessions/, `${r.workerFile}:7`);
    }
  });

  test('terminal_path= and websocket_path=: a path of 1 to 255 bytes', () => {
    ok(check('', { workerParams: [`terminal_path=/${'a'.repeat(254)}`, 'websocket_path=/'] }));
    for (const bad of [[`terminal_path=/${'a'.repeat(255)}`], ['terminal_path=relative'], ['websocket_path='],
      ['terminal_path=/a', 'terminal_path=/b']]) {
      const r = check('', { workerParams: bad });
      fails(r, /path/, `${r.workerFile}:7`);
    }
  });

  test('wharf_health_timeout must be more than 0', () => {
    ok(check('wharf_health_timeout 1ms;'));
    fails(check('wharf_health_timeout 0;'), /wharf_health_timeout/);
    fails(check('wharf_health_timeout soon;'), /invalid value/);
  });

  test('wharf_health_interval: off, or 100ms and more', () => {
    ok(check('', { interval: 'off' }));
    ok(check('', { interval: '100ms' }));
    ok(check('', { interval: '1h' }));
    for (const bad of ['99ms', '0', 'never']) {
      const r = check('', { interval: bad });
      fails(r, /invalid interval/, `${r.conf}:`);
    }
    // the reference config sets it: a second one is a duplicate
    const r = check('wharf_health_interval 5s;');
    fails(r, /"wharf_health_interval" directive is duplicate|is duplicate/, `${r.extraFile}:2`);
  });

  test('wharf_auth_token_ttl: 2s to 1d', () => {
    ok(check('wharf_auth_token_ttl 2s;'));
    ok(check('wharf_auth_token_ttl 1d;'));
    fails(check('wharf_auth_token_ttl 1s;'), /wharf_auth_token_ttl/);
    fails(check('wharf_auth_token_ttl 86401s;'), /wharf_auth_token_ttl/);
  });

  test('wharf_auth_cache_size: 0 to 1000000', () => {
    ok(check('wharf_auth_cache_size 0;'));
    ok(check('wharf_auth_cache_size 1000000;'));
    const r = check('wharf_auth_cache_size 1000001;');
    fails(r, /must be equal or less than 1000000|1000000/, `${r.extraFile}:2`);
  });

  test('wharf_zone_size: at least 8 pages; a zone too small for the workers says so', () => {
    ok(check('wharf_zone_size 32k;'));
    fails(check('wharf_zone_size 16k;'), /wharf_zone_size.*too small/);
    // 32 KiB holds a few dozen workers; 200 do not fit
    reset();
    const lines = ['wharf_zone_size 32k;'];
    for (let i = 0; i < 200; i++) lines.push(`upstream u${i} { server 127.0.0.1:9; }`, `wharf_worker w${i} upstream=u${i};`);
    fs.writeFileSync(path.join(workers, 'many.conf'), `${lines.join('\n')}\n`);
    const r = nginxTest(prefix, render());
    fails(r, /wharf zone "wharf" .* is full at worker "w\d+" of 200; raise "wharf_zone_size"/);
  });

  test('wharf_allowed_origins: "*" or scheme://host[:port]', () => {
    ok(check('wharf_allowed_origins * https://a.example http://b.example:8080;'));
    for (const bad of ['example.com', 'https://a.example/', 'ftp://a.example']) {
      const r = check(`wharf_allowed_origins ${bad};`);
      fails(r, /invalid origin/, `${r.extraFile}:2`);
    }
  });

  test('wharf_auth off: allowed, warned about, with file and line', () => {
    reset();
    writeWorkerConf(workers, 'demo', '127.0.0.1:9');
    const r = nginxTest(prefix, renderNginxConf({ prefix, listen: '127.0.0.1:1', wharfd: '127.0.0.1:2', wharfdWs: '127.0.0.1:3', workersDir: workers }));
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, /\[warn\] wharf_auth is off: the wharf routes here are open to anyone/);
    assert.ok(r.output.includes(`${path.join(prefix, 'nginx.conf')}:`), r.output);
  });

  test('wharf_auth on without a public key fails, naming the location', () => {
    reset();
    writeWorkerConf(workers, 'demo', '127.0.0.1:9');
    const conf = renderNginxConf({ prefix, listen: '127.0.0.1:1', wharfd: '127.0.0.1:2', wharfdWs: '127.0.0.1:3', workersDir: workers });
    fs.writeFileSync(conf, fs.readFileSync(conf, 'utf8').replace('wharf_auth off;', ''));
    const r = nginxTest(prefix, conf);
    fails(r, /wharf_auth_public_key" is not set/, `${path.join(prefix, 'wharf.conf')}:`);
  });

  test('keys: not a pair, not a key, not EC P-256, missing, or one without the other', () => {
    const conf = path.join(prefix, 'nginx.conf');
    fails(check('', { k: { publicPath: other.publicPath, privatePath: keys.privatePath } }),
      /wharf_auth_private_key \(kid [\w-]{43}\) is not among the keys of wharf_auth_public_key/);
    const junk = path.join(dir, 'junk.pem');
    fs.writeFileSync(junk, 'not a key\n');
    fails(check('', { k: { publicPath: junk, privatePath: keys.privatePath } }), /junk\.pem": not a PEM public key/, `${conf}:`);
    fails(check('', { k: { publicPath: keys.publicPath, privatePath: junk } }), /wharf_auth_private_key/);
    fails(check('', { k: { publicPath: path.join(dir, 'missing.pem'), privatePath: keys.privatePath } }),
      /".*missing\.pem" failed/);
    const empty = path.join(dir, 'empty.pem');
    fs.writeFileSync(empty, '');
    fails(check('', { k: { publicPath: empty, privatePath: keys.privatePath } }), /a PEM key is 1 to 16384/);
    const p384 = path.join(dir, 'p384.pem');
    fs.writeFileSync(p384, crypto.generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey.export({ type: 'spki', format: 'pem' }));
    fails(check('', { k: { publicPath: p384, privatePath: keys.privatePath } }), /not an EC P-256 key/, `${conf}:`);
  });

  test('wharf_auth_public_key: repeated, or a folder of keys (key rotation); a private key in it refused', () => {
    // the directive twice: both keys trusted, the signing key among them
    const conf = path.join(prefix, 'nginx.conf');
    const twice = check(`wharf_auth_public_key ${other.publicPath};`);
    ok(twice);
    // a folder: every *.pem in it, dot-files skipped
    const folder = path.join(dir, 'public.d');
    fs.mkdirSync(folder, { recursive: true });
    fs.copyFileSync(keys.publicPath, path.join(folder, 'a.pem'));
    fs.copyFileSync(other.publicPath, path.join(folder, 'b.pem'));
    fs.writeFileSync(path.join(folder, '.partial.pem'), 'being written');
    fs.writeFileSync(path.join(folder, 'README'), 'not a key');
    ok(check('', { k: { publicPath: folder, privatePath: keys.privatePath } }));
    // a private key in the folder: refused, naming the file and the line
    fs.copyFileSync(keys.privatePath, path.join(folder, 'c.pem'));
    fails(check('', { k: { publicPath: folder, privatePath: keys.privatePath } }),
      /c\.pem": a private key where a public key belongs/, `${conf}:`);
    fs.unlinkSync(path.join(folder, 'c.pem'));
    // a folder without a key
    const none = path.join(dir, 'none.d');
    fs.mkdirSync(none, { recursive: true });
    fails(check('', { k: { publicPath: none, privatePath: keys.privatePath } }), /holds no \*\.pem key/, `${conf}:`);
  });

  test('wharf_health takes terminal, websocket or all; one wharf handler per location', () => {
    const bad = check('server { listen 127.0.0.1:4; location /h { wharf_health everything; } }');
    fails(bad, /invalid value "everything"/, `${bad.extraFile}:2`);
    const two = check('server { listen 127.0.0.1:4; location /h { wharf_registry; wharf_metrics; } }');
    fails(two, /another wharf handler/, `${two.extraFile}:2`);
    const backend = check('server { listen 127.0.0.1:4; location /h { wharf_health all; wharf_health_backend http://x/; } }');
    fails(backend, /invalid URI/, `${backend.extraFile}:2`);
  });

  test('wharf_registry_backend: a local path that ends with "/"', () => {
    ok(check('server { listen 127.0.0.1:4; location /r { wharf_registry; wharf_registry_backend /api/x/; } }'));
    for (const bad of ['/api/x', 'http://x/', '/a b/', '/x/?y=1/']) {
      const r = check(`server { listen 127.0.0.1:4; location /r { wharf_registry; wharf_registry_backend "${bad}"; } }`);
      fails(r, /invalid URI .* ends with "\/"/, `${r.extraFile}:2`);
    }
    const two = check('server { listen 127.0.0.1:4; location /r { wharf_registry_backend /a/; wharf_registry_backend /b/; } }');
    fails(two, /is duplicate/, `${two.extraFile}:2`);
  });

  test('wharf_live_keepalive: 0 to 1024; wharf_live_keepalive_timeout: more than 0', () => {
    ok(check('wharf_live_keepalive 0;'));
    ok(check('wharf_live_keepalive 1024; wharf_live_keepalive_timeout 1ms;'));
    for (const bad of ['-1', '1025', 'x']) {
      const r = check(`wharf_live_keepalive ${bad};`);
      fails(r, /value must be between 0 and 1024|"wharf_live_keepalive" directive invalid number/, `${r.extraFile}:2`);
    }
    fails(check('wharf_live_keepalive_timeout 0;'), /"wharf_live_keepalive_timeout" must be more than 0/);
    fails(check('wharf_live_keepalive_timeout x;'), /wharf_live_keepalive_timeout/);
  });

  test('wharf_registry_state: a file in a folder that is there; once', () => {
    // the rendered configuration has one; a second is refused at its line
    const two = check('wharf_registry_state /tmp/x.json;');
    fails(two, /"wharf_registry_state" directive is duplicate/, `${two.extraFile}:2`);
    // without the template's, each edge
    const without = (extra) => {
      const r = check(extra);
      fs.writeFileSync(r.conf, fs.readFileSync(r.conf, 'utf8').replace(/^\s*wharf_registry_state .*$/m, ''));
      return { ...nginxTest(prefix, r.conf), extraFile: r.extraFile };
    };
    // (the worker processes, nobody when the master is root, write there)
    const kept = path.join(prefix, 'kept');
    fs.mkdirSync(kept, { recursive: true });
    fs.chmodSync(kept, 0o777);
    ok(without('wharf_registry_state kept/registry.json;'));
    const dir = without('wharf_registry_state /tmp/;');
    fails(dir, /invalid state file "\/tmp\/", expected the name of a file/, `${dir.extraFile}:2`);
    const gone = without('wharf_registry_state nowhere/registry.json;');
    fails(gone, /wharf_registry_state ".*\/nginx\/nowhere\/registry\.json": its folder ".*\/nowhere" is not there/);
  });
});
