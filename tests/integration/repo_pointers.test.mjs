// No doc and no message of wharf points outside the repository (issue
// 12): the design lives in docs/DESIGN.md, the Vibe SDK's behaviour in
// docs/vibesdk-behavior.md. Only CI's own script may use ../shared/ (the
// nginx sources of make test-nginx, where that folder exists).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../lib/stack.mjs';

// A path that leaves the checkout for the workspace's shared folder, or
// names that folder's design files.
const OUTSIDE = /\.\.\/shared\b|(?<![@\w])shared\/(DESIGN|vibesdk-behavior)\.md/;

test('no tracked file points at ../shared/ or the shared design files, except .ci/', () => {
  const r = spawnSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, `git ls-files: ${r.stderr}`);
  const files = r.stdout.split('\0').filter((f) => f && !f.startsWith('.ci/') && f !== 'tests/integration/repo_pointers.test.mjs');
  assert.ok(files.length > 100, `git lists the checkout's files (${files.length})`);
  const hits = [];
  for (const f of files) {
    const p = path.join(ROOT, f);
    let text;
    try {
      if (!fs.statSync(p).isFile() || fs.statSync(p).size > 4 << 20) continue;
      text = fs.readFileSync(p, 'utf8');
    } catch {
      continue;
    }
    text.split('\n').forEach((line, i) => {
      if (OUTSIDE.test(line)) hits.push(`${f}:${i + 1}: ${line.trim().slice(0, 120)}`);
    });
  }
  assert.deepEqual(hits, [], 'pointers outside the repository');
});
