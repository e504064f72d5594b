// A scripted terminal client over the npm `ws` package: what xterm.js's
// AttachAddon does (raw mode) or a wharf.tty.v1 client, with helpers to wait
// for output.

import WebSocket from 'ws';
import { waitFor } from './stack.mjs';

export const TTY_PROTOCOL = 'wharf.tty.v1';

export class Terminal {
  // url: ws://.../terminal; protocol: undefined (raw) or TTY_PROTOCOL.
  static open(url, { protocol, headers } = {}) {
    const t = new Terminal();
    t.ws = protocol ? new WebSocket(url, protocol, { headers }) : new WebSocket(url, { headers });
    t.output = Buffer.alloc(0);
    t.chunks = [];
    t.controls = [];
    t.textFrames = 0;
    t.closed = null;
    t.ws.on('message', (data, isBinary) => {
      if (isBinary) {
        t.chunks.push(data);
      } else {
        t.textFrames++;
        t.controls.push(JSON.parse(data.toString()));
      }
    });
    t.ws.on('close', (code, reason) => {
      t.closed = { code, reason: reason.toString() };
    });
    t.ws.on('error', (e) => {
      t.error = e;
    });
    t.opened = new Promise((resolve, reject) => {
      t.ws.once('open', () => resolve(t));
      t.ws.once('unexpected-response', (req, res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
      t.ws.once('error', reject);
    });
    return t.opened;
  }

  text() {
    if (this.chunks.length) {
      this.output = Buffer.concat([this.output, ...this.chunks]);
      this.chunks = [];
    }
    return this.output.toString('utf8');
  }

  bytes() {
    this.text();
    return this.output.length;
  }

  send(s) {
    this.ws.send(Buffer.from(s), { binary: true });
  }

  sendText(s) {
    this.ws.send(s);
  }

  resize(cols, rows) {
    this.ws.send(JSON.stringify({ type: 'resize', cols, rows }));
  }

  // Waits until the accumulated output matches re; returns the match.
  async expect(re, timeout = 10000) {
    return waitFor(() => this.text().match(re), {
      timeout, what: () => `terminal output ${re} (got ${JSON.stringify(this.text().slice(-200))})`,
    });
  }

  async waitClosed(timeout = 10000) {
    return waitFor(() => this.closed, { timeout, what: 'close frame' });
  }

  close() {
    this.ws.close();
  }
}
