// Helpers for the scripts/migrate.py tests: run the real script, and judge
// it by what is on disk (every file hashed with its mode, every folder).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './stack.mjs';

export const SCRIPT = path.join(ROOT, 'scripts/migrate.py');
export const FIXTURES = path.join(ROOT, 'tests/fixtures/migrate');
// The TypeScript compiler the tests install (tests/package.json, pinned by
// its lockfile): the migrate tests check TypeScript with exactly this one.
export const TSC = path.join(ROOT, 'tests/node_modules/.bin/tsc');

export function migrate(args, { env = {}, cwd } = {}) {
  const r = spawnSync('python3', [SCRIPT, ...args], {
    encoding: 'utf8', cwd, env: { ...process.env, WHARF_TSC: TSC, ...env },
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export const sha256 = (data) => createHash('sha256').update(data).digest('hex');

// The observable state of a tree: each file's sha256 and mode, each folder.
// `skip` leaves out top-level names (a .git folder).
export function snapshot(dir, { skip = [] } = {}) {
  const files = {};
  const dirs = [];
  const walk = (rel) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (!rel && skip.includes(e.name)) continue;
      const full = path.join(dir, r);
      if (e.isDirectory()) { dirs.push(r); walk(r); }
      else files[r] = `${sha256(fs.readFileSync(full))} ${(fs.lstatSync(full).mode & 0o7777).toString(8)}`;
    }
  };
  if (fs.existsSync(dir)) walk('');
  return { files, dirs: dirs.sort() };
}
export const hashOf = (snap, rel) => snap.files[rel]?.split(' ')[0];

export function assertOk(r, what) {
  assert.equal(r.status, 0, `${what} failed:\n${r.stderr}\n${r.stdout}`);
}
