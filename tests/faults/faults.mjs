// Shared by the fault tests (tests/faults/*.test.mjs): the row-by-row
// accounting of what apps printed against what wharfd's SQLite file holds,
// read straight from the file with better-sqlite3 (not through wharfd, so
// that a bug in wharfd's reads cannot hide a loss), and small helpers.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

export const PRINTER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/printer.mjs');

// Rows of one worker's instance, by sequence: [{ sequence, message }].
// A fresh read-only connection each time: WAL lets it read beside wharfd's
// writer, and it sees every committed transaction.
export function storedLogs(dbPath, worker, instance = 'app') {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    return db.prepare(`SELECT sequence, message FROM container_logs
                       WHERE worker_name = ? AND instance_id = ? ORDER BY sequence`).all(worker, instance);
  } finally {
    db.close();
  }
}

export function countLogs(dbPath, worker, instance = 'app') {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT count(*) AS n FROM container_logs WHERE worker_name = ? AND instance_id = ?')
      .get(worker, instance).n;
  } finally {
    db.close();
  }
}

export function sqlAll(dbPath, sql, ...params) {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all(...params);
  } finally {
    db.close();
  }
}

// Compares the printer's lines "PREFIX-1".."PREFIX-COUNT" with the stored
// rows: { sent, stored, lost, duplicates, gaps, misordered }. A line is lost
// when no row carries it, duplicated when more than one does; the sequence
// must run 1..stored without a gap, and line i must be row i.
export function account(rows, prefix, count) {
  const seen = new Map();
  let foreign = 0;
  for (const r of rows) {
    const m = /^(.*)-(\d+)(?: |$)/.exec(r.message);
    if (!m || m[1] !== prefix) { foreign++; continue; }
    const n = Number(m[2]);
    seen.set(n, (seen.get(n) || 0) + 1);
  }
  let lost = 0, duplicates = foreign;
  for (let i = 1; i <= count; i++) {
    const c = seen.get(i) || 0;
    if (c === 0) lost++;
    else duplicates += c - 1;
  }
  let gaps = 0, misordered = 0;
  rows.forEach((r, i) => {
    if (r.sequence !== i + 1) gaps++;
    if (!r.message.startsWith(`${prefix}-${i + 1} `) && r.message !== `${prefix}-${i + 1}`) misordered++;
  });
  return { sent: count, stored: rows.length, lost, duplicates, gaps, misordered };
}

// Asserts exactly-once, in order, gapless; returns the accounting.
export function assertExact(rows, prefix, count, who = prefix) {
  const a = account(rows, prefix, count);
  assert.deepEqual(a, { sent: count, stored: count, lost: 0, duplicates: 0, gaps: 0, misordered: 0 },
    `${who}: printed vs stored`);
  return a;
}

// The agent's /health (no token): { shipping: { queued, shipped, dropped,
// requests, failures }, terminals, ... }.
export async function agentHealth(agent, base = `http://${agent.addr}`) {
  const r = await fetch(`${base}/health`, { signal: AbortSignal.timeout(2000) });
  return r.json();
}

// Processes in state Z whose parent is ppid (an unreaped child).
export function zombiesOf(ppid) {
  const out = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (f[0] === 'Z' && Number(f[1]) === ppid) out.push(Number(d));
    } catch { /* gone meanwhile */ }
  }
  return out;
}
