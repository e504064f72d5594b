// The live feed, /ws/monitoring (docs/wharfd.md): one WebSocket for the
// whole app, authenticated with the subprotocol "wharf.bearer.<token>"
// (the gateway moves it into an Authorization header for wharfd) offered
// beside the feed's own subprotocol, "wharf-monitoring", which wharfd
// selects: a browser refuses a handshake that selects none of the
// protocols it offered. Each page says what it wants (subscribe's filter) and listens
// for rows; the feed reconnects with backoff and, after a reconnect or a
// "lagged" message (rows were dropped for this client), tells the pages to
// reload what they show, so nothing is missed silently.

import { wsURL } from './api';
import { BEARER_PREFIX, getToken } from './auth';

export const FEED_PROTOCOL = 'wharf-monitoring';

export type FeedKind = 'log' | 'error' | 'process' | 'event';
export interface FeedFilter { worker?: string; kinds?: FeedKind[] }
export interface FeedRow { kind: FeedKind; row: Record<string, unknown> }
export type FeedState = 'off' | 'connecting' | 'live' | 'down';

type RowListener = (m: FeedRow) => void;

class Feed {
  state: FeedState = 'off';
  why = '';
  private ws: WebSocket | null = null;
  private filter: FeedFilter | null = null;
  private rows = new Set<RowListener>();
  private resets = new Set<() => void>();
  private states = new Set<(s: FeedState) => void>();
  private backoff = 1000;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private nextId = 1;
  private everLive = false;

  // Sets what the current page wants; opens the socket when needed.
  want(filter: FeedFilter | null): void {
    this.filter = filter;
    if (!filter) {
      this.stop();
      return;
    }
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.sendSubscribe();
    else if (!this.ws) this.connect();
  }

  onRow(f: RowListener): () => void {
    this.rows.add(f);
    return () => this.rows.delete(f);
  }

  // After a reconnect or lost rows: reload what the page shows.
  onReset(f: () => void): () => void {
    this.resets.add(f);
    return () => this.resets.delete(f);
  }

  onState(f: (s: FeedState) => void): () => void {
    this.states.add(f);
    f(this.state);
    return () => this.states.delete(f);
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close(1000);
    this.everLive = false;
    this.setState('off', '');
  }

  private setState(s: FeedState, why: string): void {
    this.state = s;
    this.why = why;
    for (const f of this.states) f(s);
  }

  private connect(): void {
    const token = getToken();
    if (!token || !this.filter) return;
    this.setState('connecting', '');
    let opened = false;
    const ws = new WebSocket(wsURL('/ws/monitoring'), [FEED_PROTOCOL, BEARER_PREFIX + token]);
    this.ws = ws;
    ws.onopen = () => {
      opened = true;
      this.backoff = 1000;
      this.setState('live', '');
      this.sendSubscribe();
      if (this.everLive) this.reset();
      this.everLive = true;
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data !== 'string') return;
      let m: { kind?: string; row?: Record<string, unknown>; error?: { message?: string } };
      try {
        m = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (m.kind === 'lagged') {
        this.reset();
      } else if (m.kind && m.row) {
        for (const f of this.rows) f(m as FeedRow);
      } else if (m.error) {
        this.setState('down', `the feed refused the subscription: ${m.error.message || ''}`);
      }
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return; // replaced or stopped on purpose
      this.ws = null;
      this.setState('down', opened ? `closed (${ev.code})` : 'could not connect');
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.connect();
      }, this.backoff);
      this.backoff = Math.min(this.backoff * 2, 15000);
    };
  }

  private sendSubscribe(): void {
    if (!this.ws || !this.filter) return;
    this.ws.send(JSON.stringify({ jsonrpc: '2.0', id: this.nextId++, method: 'subscribe', params: this.filter }));
  }

  private reset(): void {
    for (const f of this.resets) f();
  }
}

export const feed = new Feed();
