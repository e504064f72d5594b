// The template's sample app: answers HTTP on $PORT and logs pino-style JSON
// lines, which wharf-agent classifies (level 30 info, 50 error) and ships.
'use strict';
const http = require('http');

const port = Number(process.env.PORT || 3000);
const log = (level, msg, extra = {}) =>
  process.stdout.write(`${JSON.stringify({ level, time: Date.now(), pid: process.pid, msg, ...extra })}\n`);

http.createServer((req, res) => {
  log(30, 'request', { method: req.method, url: req.url });
  res.setHeader('Content-Type', 'application/json');
  res.end('{"ok":true}\n');
}).listen(port, '0.0.0.0', () => log(30, `listening on port ${port}`));

process.on('SIGTERM', () => { log(30, 'SIGTERM: bye'); process.exit(0); });
