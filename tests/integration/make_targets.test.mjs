// What each make target sets up: `make run` installs only what running
// needs (no test tools, no npm packages of the test suite; the console's
// own packages, which it is built from, yes), `make test` everything the
// suite uses. Read from make's own plan (make -n), which lists every
// command a target would run.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { ROOT, SANITIZE } from '../lib/stack.mjs';

function plan(target) {
  // -B: as on a machine where nothing is built yet.
  const r = spawnSync('make', ['-n', '-B', '--no-print-directory', target, `SANITIZE=${SANITIZE ? 1 : 0}`],
    { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

test('make run installs only what running needs', () => {
  const out = plan('run');
  assert.match(out, /scripts\/install-deps\s*$/m, 'the build and run packages');
  assert.doesNotMatch(out, /install-deps test/, 'no test tools');
  const npm = out.split('\n').filter((l) => /\bnpm\b/.test(l));
  assert.ok(npm.length > 0 && npm.every((l) => /^cd console && npm ci\b/.test(l)),
    `npm only for the console's own packages: ${JSON.stringify(npm)}`);
  assert.doesNotMatch(out, /cd tests\b|tests\/node_modules/, 'no npm packages of the test suite');
  assert.match(out, /node console\/build\.mjs/, 'the console is built');
  assert.match(out, /scripts\/run-stack/);
});

test('make test installs the test tools and the suite\'s npm packages', () => {
  const out = plan('test');
  assert.match(out, /scripts\/install-deps test/);
  assert.match(out, /npm ci/);
});
