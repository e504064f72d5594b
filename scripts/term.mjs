#!/usr/bin/env node
// Attach this terminal to a wharf terminal WebSocket (wharf.tty.v1):
//   node scripts/term.mjs ws://127.0.0.1:8080/api/workers/demo/terminal
// Raw mode while attached, window size sent at start and on resize, the
// terminal restored on exit. wharfctl's `terminal` command is the operator's
// tool; this is the dependency-free way in for `make run`.
import { createRequire } from 'node:module';

const require = createRequire(new URL('../tests/package.json', import.meta.url));
const WebSocket = require('ws');

const url = process.argv[2];
if (!url) {
  console.error('usage: node scripts/term.mjs ws://HOST:PORT/api/workers/NAME/terminal');
  process.exit(2);
}
const sep = url.includes('?') ? '&' : '?';
const ws = new WebSocket(`${url}${sep}cols=${process.stdout.columns || 80}&rows=${process.stdout.rows || 24}`,
  'wharf.tty.v1');
let status = 0;
const restore = () => { if (process.stdin.isTTY) process.stdin.setRawMode(false); };

ws.on('open', () => {
  if (process.stdin.isTTY) process.stdin.setRawMode(true);
  process.stdin.on('data', (d) => ws.send(d, { binary: true }));
  process.stdout.on('resize', () =>
    ws.send(JSON.stringify({ type: 'resize', cols: process.stdout.columns, rows: process.stdout.rows })));
});
ws.on('message', (data, isBinary) => {
  if (isBinary) { process.stdout.write(data); return; }
  const msg = JSON.parse(data.toString());
  if (msg.type === 'exit') status = msg.code ?? 128 + (msg.signal || 0);
});
ws.on('close', () => { restore(); process.exit(status); });
ws.on('error', (e) => { restore(); console.error(`term: ${e.message}`); process.exit(1); });
