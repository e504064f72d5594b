// One worker's terminal: xterm.js on a WebSocket to
// /api/workers/NAME/terminal through the gateway, speaking wharf.tty.v1
// (agent/tty_proto.h): binary frames carry the terminal's bytes both ways;
// text frames carry control messages, {"type":"resize","cols","rows"} from
// here when the terminal's box changes size, {"type":"exit","code"|"signal"}
// from the agent when the program ends, just before the close frame. The
// token travels as the subprotocol "wharf.bearer.<token>" beside
// wharf.tty.v1; the URL has only the initial size.

import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import { ApiError, getJSON, wsURL } from './api';
import { BEARER_PREFIX, getToken } from './auth';
import type { TerminalEntry } from './types';

export const TTY_PROTOCOL = 'wharf.tty.v1';

export type TermState = 'connecting' | 'open' | 'closed';

const THEME = {
  background: '#0b1220',
  foreground: '#e2e8f0',
  cursor: '#38bdf8',
  selectionBackground: '#334155',
};

// Every live terminal of the page, for tests and the benchmark (window.wharf).
export const liveTerminals = new Set<TermView>();

export class TermView {
  readonly term: Terminal;
  readonly el: HTMLElement;
  state: TermState = 'connecting';
  // Why it closed, for people: "the shell exited with code 0", ...
  reason = '';
  exit: { code?: number; signal?: number } | null = null;
  private ws: WebSocket | null = null;
  private fit = new FitAddon();
  private resizeObs: ResizeObserver;
  private enc = new TextEncoder();
  private listeners = new Set<(v: TermView) => void>();
  private disposed = false;

  constructor(readonly worker: string, host: HTMLElement, opts: { fontSize?: number } = {}) {
    this.el = host;
    host.classList.add('term-host');
    host.dataset.worker = worker;
    this.term = new Terminal({
      cursorBlink: true,
      fontFamily: '"DejaVu Sans Mono", "Menlo", "Consolas", monospace',
      fontSize: opts.fontSize ?? 14,
      scrollback: 5000,
      theme: THEME,
      allowProposedApi: false,
    });
    this.term.loadAddon(this.fit);
    this.term.open(host);
    this.fitNow();
    this.term.onData((d) => this.sendBytes(this.enc.encode(d)));
    this.term.onBinary((d) => this.sendBytes(Uint8Array.from(d, (c) => c.charCodeAt(0) & 255)));
    this.term.onResize(({ cols, rows }) => {
      this.markSize();
      if (this.ws && this.ws.readyState === WebSocket.OPEN) {
        this.ws.send(JSON.stringify({ type: 'resize', cols, rows }));
      }
    });
    let queued = false;
    this.resizeObs = new ResizeObserver(() => {
      if (queued) return;
      queued = true;
      requestAnimationFrame(() => {
        queued = false;
        this.fitNow();
      });
    });
    this.resizeObs.observe(host);
    liveTerminals.add(this);
    this.connect();
  }

  onChange(f: (v: TermView) => void): void {
    this.listeners.add(f);
  }

  focus(): void {
    this.term.focus();
  }

  // Opens a new session (after the last one closed).
  connect(): void {
    if (this.disposed) return;
    if (this.ws) {
      // a reconnect while a session is open ends that one first
      const old = this.ws;
      this.ws = null;
      old.close(1000);
    }
    const token = getToken();
    this.exit = null;
    this.reason = '';
    this.setState('connecting');
    const { cols, rows } = this.term;
    const path = `/api/workers/${encodeURIComponent(this.worker)}/terminal?cols=${cols}&rows=${rows}`;
    let opened = false;
    let ws: WebSocket;
    try {
      ws = new WebSocket(wsURL(path), token ? [TTY_PROTOCOL, BEARER_PREFIX + token] : [TTY_PROTOCOL]);
    } catch (e) {
      this.reason = `could not open the WebSocket: ${(e as Error).message}`;
      this.setState('closed');
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onopen = () => {
      opened = true;
      this.setState('open');
      // The size may have changed while the handshake ran.
      ws.send(JSON.stringify({ type: 'resize', cols: this.term.cols, rows: this.term.rows }));
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data === 'string') this.control(ev.data);
      else this.term.write(new Uint8Array(ev.data as ArrayBuffer));
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (opened) {
        this.reason = this.closeReason(ev);
        this.setState('closed');
        this.term.write(`\r\n\x1b[2m[${this.reason}]\x1b[0m\r\n`);
      } else {
        this.reason = 'the terminal did not open';
        this.setState('closed');
        void this.diagnose();
      }
    };
  }

  // Closes the session and frees the terminal.
  dispose(): void {
    this.disposed = true;
    liveTerminals.delete(this);
    this.resizeObs.disconnect();
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close(1000);
    this.term.dispose();
  }

  disconnect(): void {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null;
    ws.close(1000);
    this.reason = 'closed here';
    this.setState('closed');
  }

  fitNow(): void {
    if (this.disposed || !this.el.isConnected || this.el.clientWidth === 0) return;
    try {
      this.fit.fit();
    } catch {
      // not laid out yet
    }
    this.markSize();
  }

  private markSize(): void {
    this.el.dataset.cols = String(this.term.cols);
    this.el.dataset.rows = String(this.term.rows);
  }

  private sendBytes(b: Uint8Array): void {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(b);
  }

  private control(text: string): void {
    let m: { type?: string; code?: number; signal?: number };
    try {
      m = JSON.parse(text);
    } catch {
      return;
    }
    if (m.type === 'exit') this.exit = { code: m.code, signal: m.signal };
  }

  private closeReason(ev: CloseEvent): string {
    if (this.exit) {
      if (typeof this.exit.code === 'number') return `the shell exited with code ${this.exit.code}`;
      if (typeof this.exit.signal === 'number') return `the shell was killed by signal ${this.exit.signal}`;
    }
    switch (ev.code) {
      case 1000: return 'the session ended';
      case 1001: return 'the worker is shutting down (1001)';
      case 1006: return 'the connection was lost (1006)';
      case 1009: return 'a message was too big (1009)';
      case 1011: return 'the worker hit an internal error (1011)';
      default: return `closed with code ${ev.code}${ev.reason ? `: ${ev.reason}` : ''}`;
    }
  }

  // A browser does not show why a WebSocket handshake was refused; ask the
  // gateway what it knows about this worker's terminal.
  private async diagnose(): Promise<void> {
    let why = 'the gateway refused the terminal';
    try {
      const list = await getJSON<TerminalEntry[]>(`/api/terminals?worker=${encodeURIComponent(this.worker)}`);
      const t = list[0];
      if (!t) why = `no worker named ${this.worker}`;
      else if (t.max_sessions > 0 && t.sessions >= t.max_sessions) why = `the worker has its ${t.max_sessions} sessions open (max_sessions)`;
      else if (t.health.status === 'unhealthy') why = `the worker's terminal does not answer: ${t.health.error || 'unhealthy'}`;
      else why = 'the gateway refused the terminal: does the token have the terminal scope for this worker?';
    } catch (e) {
      if (e instanceof ApiError) {
        if (e.status === 404) why = `no worker named ${this.worker}`;
        else if (e.status === 401) why = 'the token was refused; sign in again';
        else why = `${e.code}: ${e.message}`;
      }
    }
    this.reason = why;
    this.term.write(`\r\n\x1b[31m[${why}]\x1b[0m\r\n`);
    this.emit();
  }

  private setState(s: TermState): void {
    this.state = s;
    this.el.dataset.state = s;
    this.emit();
  }

  private emit(): void {
    for (const f of this.listeners) f(this);
  }
}
