// A WebSocket client on a raw TCP socket, for tests that must send frames
// no well-behaved client library would: oversized, fragmented with control
// frames in between, bad continuation, invalid UTF-8. It does the RFC 6455
// handshake itself, sends frames byte for byte (masked, as a client must),
// and parses what the server sends back, close code included.

import crypto from 'node:crypto';
import net from 'node:net';
import { waitFor } from './stack.mjs';

export const OP = { CONT: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa };

// One frame as bytes: fin flag, opcode, payload (Buffer or string),
// masked with a random key unless mask is false.
export function frame(opcode, payload = Buffer.alloc(0), { fin = true, mask = true, rsv = 0 } = {}) {
  const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const len = data.length;
  let head;
  if (len < 126) {
    head = Buffer.alloc(2);
    head[1] = len;
  } else if (len < 65536) {
    head = Buffer.alloc(4);
    head[1] = 126;
    head.writeUInt16BE(len, 2);
  } else {
    head = Buffer.alloc(10);
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  head[0] = (fin ? 0x80 : 0) | (rsv << 4) | opcode;
  if (!mask) return Buffer.concat([head, data]);
  head[1] |= 0x80;
  const key = crypto.randomBytes(4);
  const body = Buffer.alloc(len);
  for (let i = 0; i < len; i++) body[i] = data[i] ^ key[i & 3];
  return Buffer.concat([head, key, body]);
}

// Opens a WebSocket on a raw socket. url: ws://host:port/path?query;
// headers: extra request headers; protocol: Sec-WebSocket-Protocol.
// Resolves with a client { sock, status, head, frames, closed, send(buf),
// waitFrame(pred), waitClose(), end() }, or, when the server does not
// answer 101, with { status, head, body }.
export function rawWs(url, { headers = {}, protocol, timeout = 10000 } = {}) {
  const u = new URL(url);
  const key = crypto.randomBytes(16).toString('base64');
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(u.port), u.hostname);
    let buf = Buffer.alloc(0);
    let upgraded = false;
    const c = { sock, frames: [], closeCode: null, closeReason: null, closed: false, ended: false };
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`no handshake answer from ${url}`)); }, timeout);
    sock.on('error', (e) => { if (!upgraded) { clearTimeout(timer); reject(e); } });
    sock.on('close', () => {
      c.ended = true;
      if (!upgraded) {
        clearTimeout(timer);
        const text = buf.toString('latin1');
        const i = text.indexOf('\r\n\r\n');
        resolve({ status: Number(text.split(' ')[1]) || 0, head: text.slice(0, i), body: text.slice(i + 4) });
      }
    });
    sock.on('connect', () => {
      const lines = [`GET ${u.pathname}${u.search} HTTP/1.1`, `Host: ${u.host}`, 'Upgrade: websocket',
        'Connection: Upgrade', `Sec-WebSocket-Key: ${key}`, 'Sec-WebSocket-Version: 13'];
      if (protocol) lines.push(`Sec-WebSocket-Protocol: ${protocol}`);
      for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
      sock.write(`${lines.join('\r\n')}\r\n\r\n`);
    });
    const parse = () => {
      for (;;) {
        if (buf.length < 2) return;
        const op = buf[0] & 0x0f;
        const fin = !!(buf[0] & 0x80);
        let len = buf[1] & 0x7f;
        let off = 2;
        if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); off = 4; }
        else if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); off = 10; }
        if (buf[1] & 0x80) off += 4; // a server never masks; tolerate it anyway
        if (buf.length < off + len) return;
        const payload = buf.subarray(off, off + len);
        buf = buf.subarray(off + len);
        c.frames.push({ op, fin, payload: Buffer.from(payload) });
        if (op === OP.CLOSE) {
          c.closed = true;
          c.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
          c.closeReason = payload.subarray(2).toString();
        }
      }
    };
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (!upgraded) {
        const i = buf.indexOf('\r\n\r\n');
        if (i < 0) return;
        const head = buf.subarray(0, i).toString('latin1');
        const status = Number(head.split(' ')[1]);
        if (status !== 101) {
          // the body follows: until Content-Length bytes, or the close
          const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
          if (m && buf.length >= i + 4 + Number(m[1])) {
            clearTimeout(timer);
            upgraded = true; // settled: the close handler must not resolve again
            sock.destroy();
            resolve({ status, head, body: buf.subarray(i + 4, i + 4 + Number(m[1])).toString() });
          }
          return;
        }
        upgraded = true;
        clearTimeout(timer);
        const want = crypto.createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
        const got = /\r\nsec-websocket-accept:\s*(\S+)/i.exec(head);
        if (!got || got[1] !== want) {
          sock.destroy();
          reject(new Error(`bad Sec-WebSocket-Accept in ${head}`));
          return;
        }
        buf = buf.subarray(i + 4);
        c.status = 101;
        c.head = head;
        c.send = (b) => sock.write(b);
        // every frame's payload, as text, of the given opcode
        c.texts = (op = OP.TEXT) => c.frames.filter((f) => f.op === op).map((f) => f.payload.toString());
        c.waitFrame = (pred, ms = 10000) => waitFor(() => c.frames.find(pred), { timeout: ms, what: `a frame from ${url}` });
        // the server's close frame, or the socket closing without one (1006)
        c.waitClose = async (ms = 10000) => {
          await waitFor(() => c.closed || c.ended, { timeout: ms, what: `the close of ${url}` });
          return c.closed ? c.closeCode : 1006;
        };
        c.end = () => new Promise((r) => {
          if (c.ended) return r();
          sock.once('close', r);
          try { sock.write(frame(OP.CLOSE, Buffer.from([0x03, 0xe8]))); } catch { /* gone */ }
          setTimeout(() => sock.destroy(), 200);
        });
        parse();
        resolve(c);
        return;
      }
      parse();
    });
  });
}
