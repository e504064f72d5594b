// The zone's size limits how many live workers fit (wharf_zone_size, issue
// 15): a PUT beyond is 507 zone_full and changes nothing; a removal frees
// the room again, all of it (fill, empty, fill: the same count); a state
// file with more workers than the zone holds stops nginx -t, naming the
// directive to raise.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { getFresh as get, nginxTest, startFakeEndpoint, startStack } from '../lib/stack.mjs';

const ZONE = '64k';

describe('live registry: the zone is full', () => {
  let stack, fake;
  const put = (name, body) => get(`${stack.http}/api/workers/${name}`, {
    method: 'PUT', headers: { ...stack.auth, 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  const del = (name) => get(`${stack.http}/api/workers/${name}`, { method: 'DELETE', headers: stack.auth });

  before(async () => {
    fake = await startFakeEndpoint('ws');
    stack = await startStack({ tag: 'registry-zone', workers: [{ name: 'demo' }], extraHttp: `wharf_zone_size ${ZONE};` });
  });
  after(async () => {
    if (stack) await stack.stop();
    if (fake) await fake.close();
  });

  // PUTs z0, z1, ... until one is 507; the number that fit
  async function fill() {
    for (let i = 0; i < 2000; i++) {
      const r = await put(`z${i}`, { upstream: fake.addr, container: `container-of-z${i}` });
      if (r.status === 507) {
        assert.equal(r.json.error.code, 'zone_full');
        assert.match(r.json.error.message, /the wharf zone \(\d+ bytes\) has no room for worker "z\d+"; raise wharf_zone_size/);
        return i;
      }
      assert.equal(r.status, 201, r.body);
    }
    throw new Error('the zone never filled');
  }

  test('at the edge: 507 zone_full, nothing changed; a removal makes room', async (t) => {
    const n = await fill();
    t.diagnostic(`${n} live workers in a ${ZONE} zone, with one wharf_worker`);
    assert.ok(n >= 10, `${n}`);
    const list = (await get(`${stack.http}/api/workers`, { headers: stack.auth })).json;
    assert.equal(list.length, n + 1);
    assert.ok(!list.some((w) => w.name === `z${n}`));
    // a change of one that is there still fits (its entry is replaced)
    assert.equal((await put('z0', { upstream: fake.addr, container: 'c' })).status, 200);
    assert.equal((await del('z1')).status, 200);
    assert.equal((await put(`z${n}`, { upstream: fake.addr })).status, 201);
  });

  test('every byte comes back: emptied and filled again, the same number fit', async () => {
    const list = (await get(`${stack.http}/api/workers`, { headers: stack.auth })).json.filter((w) => w.source === 'live');
    for (const w of list) assert.equal((await del(w.name)).status, 200);
    const first = await fill();
    for (let i = 0; i < first; i++) assert.equal((await del(`z${i}`)).status, 200);
    const second = await fill();
    assert.equal(second, first);
  });

  test('nginx -t: a state file with more than the zone holds', () => {
    const file = path.join(stack.prefix, 'state/registry.json');
    const good = fs.readFileSync(file, 'utf8');
    const workers = Array.from({ length: 400 }, (_, i) => ({ name: `s${i}`, upstream: fake.addr }));
    fs.writeFileSync(file, JSON.stringify({ version: 1, workers }));
    try {
      const r = nginxTest(stack.prefix, stack.conf);
      assert.notEqual(r.status, 0);
      assert.match(r.output, /wharf zone \(\d+ bytes\) is full at live worker "s\d+" of ".*registry\.json"; raise "wharf_zone_size"/);
    } finally {
      fs.writeFileSync(file, good);
    }
  });

  test('no alert in the error log (the emerg is nginx -t\'s, above)', () => {
    const bad = stack.nginx.errorLog().split('\n').filter((l) => /\[(alert|crit)\]/.test(l));
    assert.deepEqual(bad, []);
  });
});
