// One worker: its processes with start, stop and restart; its logs live,
// with level, stream and text filters and paging into history; its errors
// grouped by hash with their counts and first and last seen; its events.
// History comes from wharfd (JSON-RPC and REST); what happens next comes
// from the feed, subscribed to this worker alone.

import { ApiError, getJSON, getJSONAny, postJSON, rpcOne } from './api';
import { ago, clock, debounce, fill, h, stamp, toast } from './dom';
import { feed } from './feed';
import { healthBadge } from './fleet';
import type { Envelope, ErrorRow, EventRow, Health, LogRow, ProcessRow, RegistryWorker, StoredWorker } from './types';

const LEVELS = ['debug', 'info', 'warn', 'error', 'output'];
const LOG_PAGE = 200;
// Lines kept in the page; older ones leave as new ones come (load older
// brings them back from wharfd).
const LOG_KEEP = 2000;
const EVENT_PAGE = 100;

type Tab = 'logs' | 'errors' | 'events';

// A log row's identity: wharfd keeps one row per (worker, instance,
// sequence), and a feed row carries no database id.
const logKey = (r: LogRow) => `${r.instanceId}/${r.sequence}`;

// A pino line ({"level":30,"msg":"..."}) is shown as its message first,
// then the rest of its fields, dimmed; anything else as it is.
function logMessage(text: string): HTMLElement {
  if (text.startsWith('{')) {
    try {
      const o = JSON.parse(text) as Record<string, unknown>;
      if (o && typeof o.msg === 'string') {
        const { msg, level: _l, time: _t, pid: _p, hostname: _hn, ...rest } = o;
        const more = Object.keys(rest).length ? JSON.stringify(rest) : '';
        return h('span', { class: 'msg', title: text }, msg as string, more ? h('span', { class: 'muted' }, ` ${more}`) : null);
      }
    } catch {
      // not JSON after all
    }
  }
  return h('span', { class: 'msg' }, text);
}

function errorLevel(level: number): string {
  return level >= 60 ? 'fatal' : 'error';
}

function payloadText(p: unknown): string {
  if (p === null || p === undefined) return '';
  if (typeof p === 'string') return p;
  try {
    return JSON.stringify(p);
  } catch {
    return String(p);
  }
}

export class WorkerPage {
  readonly el: HTMLElement;
  private head: HTMLElement;
  private procBody: HTMLElement;
  private procs = new Map<string, ProcessRow>();
  private tabs: Record<Tab, { btn: HTMLButtonElement; panel: HTMLElement; count: HTMLElement }>;
  private tab: Tab = 'logs';
  private offs: (() => void)[] = [];
  private timers: ReturnType<typeof setInterval>[] = [];
  private gone = false;

  // logs
  private logs: LogRow[] = [];
  private logIds = new Set<string>();
  private logList: HTMLElement;
  private levelBoxes = new Map<string, HTMLInputElement>();
  private streamSel: HTMLSelectElement;
  private search: HTMLInputElement;
  private follow = true;
  private olderBtn: HTMLButtonElement;
  private logMore = true;

  // errors and events
  private errors = new Map<string, ErrorRow>();
  private errBody: HTMLElement;
  private events: EventRow[] = [];
  private eventBody: HTMLElement;
  private eventMore = true;
  private eventOlderBtn: HTMLButtonElement;

  constructor(readonly name: string) {
    this.head = h('section', { class: 'card worker-head', 'aria-label': 'worker' });
    this.procBody = h('tbody');
    const procs = h('section', { class: 'card', 'aria-label': 'processes' },
      h('h2', null, 'Processes'),
      h('div', { class: 'table-wrap' }, h('table', { class: 'table procs' },
        h('thead', null, h('tr', null, ['Instance', 'Status', 'PID', 'Restarts', 'Started', 'Exit', 'Last error', ''].map((t) => h('th', { scope: 'col' }, t)))),
        this.procBody)));

    // Logs toolbar
    for (const l of LEVELS) {
      this.levelBoxes.set(l, h('input', { type: 'checkbox', checked: true, onchange: () => void this.reloadLogs() }));
    }
    this.streamSel = h('select', { 'aria-label': 'stream', onchange: () => void this.reloadLogs() },
      h('option', { value: '' }, 'all streams'), h('option', { value: 'stdout' }, 'stdout'), h('option', { value: 'stderr' }, 'stderr'));
    this.search = h('input', { type: 'search', class: 'filter', placeholder: 'Search the lines  ( / )', 'aria-label': 'search log lines', oninput: debounce(() => this.drawLogs(), 120) });
    this.olderBtn = h('button', { class: 'btn btn-small', onclick: () => void this.olderLogs() }, 'Load older');
    this.logList = h('div', { class: 'loglist', tabindex: 0, role: 'log', 'aria-label': 'log lines', 'aria-live': 'off' });
    this.logList.addEventListener('scroll', () => {
      const l = this.logList;
      this.follow = l.scrollTop + l.clientHeight >= l.scrollHeight - 8;
    });
    const logsPanel = h('div', { class: 'panel' },
      h('div', { class: 'toolbar' },
        h('fieldset', { class: 'levels' }, h('legend', { class: 'sr-only' }, 'levels'),
          LEVELS.map((l) => h('label', { class: `lvl lvl-${l}` }, this.levelBoxes.get(l), l))),
        this.streamSel, this.search, h('span', { class: 'spacer' }), this.olderBtn),
      this.logList);

    this.errBody = h('tbody');
    const errPanel = h('div', { class: 'panel' }, h('div', { class: 'table-wrap' }, h('table', { class: 'table errors' },
      h('thead', null, h('tr', null, ['Count', 'Message', 'Level', 'Instance', 'First seen', 'Last seen'].map((t) => h('th', { scope: 'col' }, t)))),
      this.errBody)));

    this.eventBody = h('tbody');
    this.eventOlderBtn = h('button', { class: 'btn btn-small', onclick: () => void this.olderEvents() }, 'Load older');
    const evPanel = h('div', { class: 'panel' },
      h('div', { class: 'table-wrap' }, h('table', { class: 'table events' },
        h('thead', null, h('tr', null, ['Time', 'Type', 'Instance', 'Details'].map((t) => h('th', { scope: 'col' }, t)))),
        this.eventBody)),
      h('div', { class: 'toolbar' }, h('span', { class: 'spacer' }), this.eventOlderBtn));

    const mk = (t: Tab, title: string, panel: HTMLElement) => {
      const count = h('span', { class: 'count' });
      const btn = h('button', {
        class: 'tab', role: 'tab', id: `tab-${t}`, 'aria-controls': `panel-${t}`, 'aria-selected': 'false', tabindex: -1,
        onclick: () => this.show(t),
      }, title, count);
      panel.id = `panel-${t}`;
      panel.setAttribute('role', 'tabpanel');
      panel.setAttribute('aria-labelledby', `tab-${t}`);
      return { btn, panel, count };
    };
    this.tabs = { logs: mk('logs', 'Logs', logsPanel), errors: mk('errors', 'Errors', errPanel), events: mk('events', 'Events', evPanel) };
    const order: Tab[] = ['logs', 'errors', 'events'];
    const tablist = h('div', {
      class: 'tabs', role: 'tablist', 'aria-label': 'worker data',
      onkeydown: (ev: KeyboardEvent) => {
        const i = order.indexOf(this.tab);
        const next = ev.key === 'ArrowRight' ? order[(i + 1) % 3] : ev.key === 'ArrowLeft' ? order[(i + 2) % 3] : null;
        if (next) {
          ev.preventDefault();
          this.show(next);
          this.tabs[next].btn.focus();
        }
      },
    }, order.map((t) => this.tabs[t].btn));

    this.el = h('main', { class: 'page page-worker', 'data-worker': name },
      h('nav', { class: 'crumbs', 'aria-label': 'breadcrumb' }, h('a', { href: '#/' }, 'Fleet'), ' / ', h('span', null, name)),
      this.head, procs,
      h('section', { class: 'card card-tabs', 'aria-label': 'logs, errors and events' }, tablist, order.map((t) => this.tabs[t].panel)));
    this.show('logs');
  }

  mount(): void {
    feed.want({ worker: this.name });
    this.offs.push(feed.onRow((m) => this.live(m.kind, m.row)));
    this.offs.push(feed.onReset(() => void this.loadAll()));
    void this.loadAll();
    this.timers.push(setInterval(() => void this.loadHead(), 5000));
  }

  unmount(): void {
    this.gone = true;
    for (const f of this.offs) f();
    for (const t of this.timers) clearInterval(t);
  }

  key(ev: KeyboardEvent): boolean {
    if (ev.key === '/' && document.activeElement !== this.search) {
      this.show('logs');
      this.search.focus();
      return true;
    }
    return false;
  }

  focus(): void {
    this.tabs[this.tab].btn.focus();
  }

  private show(t: Tab): void {
    this.tab = t;
    for (const [k, v] of Object.entries(this.tabs)) {
      const on = k === t;
      v.btn.setAttribute('aria-selected', on ? 'true' : 'false');
      v.btn.tabIndex = on ? 0 : -1;
      v.panel.hidden = !on;
    }
    if (t === 'logs') this.scrollLogs();
  }

  private async loadAll(): Promise<void> {
    await Promise.all([this.loadHead(), this.loadProcesses(), this.reloadLogs(), this.loadErrors(), this.loadEvents()]);
  }

  // --- head -------------------------------------------------------------

  private async loadHead(): Promise<void> {
    let reg: RegistryWorker | null = null;
    let stored: StoredWorker | undefined;
    try {
      reg = await getJSON<RegistryWorker>(`/api/workers/${encodeURIComponent(this.name)}`);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) {
        fill(this.head, h('h1', null, this.name), h('p', { class: 'error', role: 'alert' }, `No worker named ${this.name} is registered at this gateway.`));
        return;
      }
    }
    try {
      const r = await rpcOne<{ workers: StoredWorker[] }>('getWorkers');
      stored = r.workers.find((w) => w.name === this.name);
    } catch {
      // shown as unknown
    }
    if (this.gone) return;
    const hl = reg?.health;
    const s = reg?.sessions;
    fill(this.head,
      h('div', { class: 'worker-title' },
        h('h1', null, this.name),
        h('span', { class: 'spacer' }),
        h('button', { class: 'btn', onclick: () => void this.probe(), title: 'probe this worker\'s terminal and WebSocket now' }, 'Probe'),
        h('a', { class: 'btn btn-primary', href: `#/t/${this.name}` }, 'Open terminal')),
      h('dl', { class: 'facts' },
        h('div', null, h('dt', null, 'Terminal'), h('dd', { class: 'h-term' }, healthBadge(hl?.terminal, 'terminal'))),
        h('div', null, h('dt', null, 'WebSocket'), h('dd', { class: 'h-ws' }, healthBadge(hl?.websocket, 'websocket'))),
        h('div', null, h('dt', null, 'Sessions'), h('dd', null, s ? `${s.terminal} terminal · ${s.websocket} websocket${reg?.max_sessions ? ` (max ${reg.max_sessions})` : ''}` : '—')),
        h('div', null, h('dt', null, 'Last seen'), h('dd', { title: stamp(stored?.lastSeen) }, stored?.lastSeen ? ago(stored.lastSeen) : 'never')),
        h('div', null, h('dt', null, 'Container'), h('dd', null, reg?.container || stored?.containerName || '—')),
        h('div', null, h('dt', null, 'Agent'), h('dd', null, stored?.agentVersion || '—'))));
  }

  private async probe(): Promise<void> {
    const base = `/api/workers/${encodeURIComponent(this.name)}/health`;
    try {
      const [t, w] = await Promise.all([getJSONAny<Health>(`${base}/terminal`), getJSONAny<Health>(`${base}/websocket`)]);
      toast(`terminal ${t.body.status ?? t.status}, websocket ${w.body.status ?? w.status}`);
    } catch (e) {
      toast(`probe failed: ${(e as Error).message}`, 'error');
    }
    await this.loadHead();
  }

  // --- processes ----------------------------------------------------------

  private async loadProcesses(): Promise<void> {
    try {
      const env = await rpcOne<Envelope<ProcessRow>>('getProcesses', { worker: this.name, limit: 1000 });
      this.procs.clear();
      for (const p of env.data) this.procs.set(p.instanceId, p);
    } catch (e) {
      fill(this.procBody, h('tr', null, h('td', { colspan: 8, class: 'error' }, `could not read the processes: ${(e as Error).message}`)));
      return;
    }
    this.drawProcesses();
  }

  private drawProcesses(): void {
    if (!this.procs.size) {
      fill(this.procBody, h('tr', null, h('td', { colspan: 8, class: 'muted' }, 'No process reported yet.')));
      return;
    }
    fill(this.procBody, [...this.procs.values()].sort((a, b) => a.instanceId.localeCompare(b.instanceId)).map((p) => {
      const running = p.status === 'running' || p.status === 'starting';
      const act = (what: 'start' | 'stop' | 'restart', enabled: boolean) => h('button', {
        class: 'btn btn-small', disabled: !enabled, 'data-action': what,
        'aria-label': `${what} ${p.instanceId}`, onclick: (ev: Event) => void this.control(p.instanceId, what, ev.target as HTMLButtonElement),
      }, what[0].toUpperCase() + what.slice(1));
      return h('tr', { 'data-instance': p.instanceId },
        h('td', null, h('code', null, p.instanceId)),
        h('td', null, h('span', { class: `badge proc-${p.status}`, 'data-status': p.status }, p.status)),
        h('td', null, p.pid ?? '—'),
        h('td', null, p.restartCount ?? 0),
        h('td', { title: stamp(p.startTime) }, p.startTime ? ago(p.startTime) : '—'),
        h('td', null, p.exitCode ?? '—'),
        h('td', { class: 'wrap' }, p.lastError || ''),
        h('td', { class: 'actions' }, act('start', !running), act('stop', running), act('restart', true)));
    }));
  }

  private async control(instance: string, what: 'start' | 'stop' | 'restart', btn: HTMLButtonElement): Promise<void> {
    btn.disabled = true;
    try {
      const r = await postJSON<{ process?: ProcessRow }>(
        `/api/monitoring/process/${encodeURIComponent(instance)}/${what}?worker=${encodeURIComponent(this.name)}`);
      toast(`${what} ${instance}: done`);
      if (r && r.process && r.process.status) {
        const old = this.procs.get(instance);
        this.procs.set(instance, { ...(old || { workerName: this.name, instanceId: instance }), ...r.process, workerName: this.name });
        this.drawProcesses();
      }
    } catch (e) {
      const m = e instanceof ApiError ? `${e.code}: ${e.message}` : (e as Error).message;
      toast(`${what} ${instance} failed: ${m}`, 'error');
      btn.disabled = false;
    }
  }

  // --- logs ---------------------------------------------------------------

  private serverFilter(): { levels?: string[]; streams?: string[] } {
    const levels = LEVELS.filter((l) => this.levelBoxes.get(l)!.checked);
    const f: { levels?: string[]; streams?: string[] } = {};
    if (levels.length !== LEVELS.length) f.levels = levels.length ? levels : ['none'];
    if (this.streamSel.value) f.streams = [this.streamSel.value];
    return f;
  }

  private matchesServer(r: LogRow): boolean {
    const f = this.serverFilter();
    if (f.levels && !f.levels.includes(r.level)) return false;
    if (f.streams && !f.streams.includes(r.stream || '')) return false;
    return true;
  }

  private matchesSearch(r: LogRow): boolean {
    const q = this.search.value.trim().toLowerCase();
    return !q || r.message.toLowerCase().includes(q) || r.instanceId.toLowerCase().includes(q);
  }

  private async reloadLogs(): Promise<void> {
    this.logs = [];
    this.logIds.clear();
    this.logMore = true;
    const f = this.serverFilter();
    if (f.levels && f.levels[0] === 'none') {
      this.logMore = false;
      this.drawLogs();
      return;
    }
    try {
      const env = await rpcOne<Envelope<LogRow>>('getLogs', { worker: this.name, limit: LOG_PAGE, ...f });
      this.addOlder(env);
    } catch (e) {
      fill(this.logList, h('p', { class: 'error' }, `could not read the logs: ${(e as Error).message}`));
      return;
    }
    this.follow = true;
    this.drawLogs();
  }

  private async olderLogs(): Promise<void> {
    const f = this.serverFilter();
    this.olderBtn.disabled = true;
    try {
      // Newest first: the page holds the newest rows that match the
      // filter (those that arrived live included), so the next older ones
      // start at that offset. A row counted twice is dropped by its id.
      const env = await rpcOne<Envelope<LogRow>>('getLogs', { worker: this.name, limit: LOG_PAGE, offset: this.logs.length, ...f });
      const before = this.logList.scrollHeight;
      this.follow = false;
      this.addOlder(env);
      this.drawLogs();
      this.logList.scrollTop += this.logList.scrollHeight - before;
    } catch (e) {
      toast(`could not read older logs: ${(e as Error).message}`, 'error');
    }
    this.olderBtn.disabled = !this.logMore;
  }

  private addOlder(env: Envelope<LogRow>): void {
    const rows = env.data.filter((r) => !this.logIds.has(logKey(r))).reverse();
    for (const r of rows) this.logIds.add(logKey(r));
    this.logs = [...rows, ...this.logs];
    this.logMore = env.pagination.hasMore;
    this.olderBtn.disabled = !this.logMore;
    this.olderBtn.textContent = this.logMore ? 'Load older' : 'No older lines';
  }

  private logLine(r: LogRow): HTMLElement {
    return h('div', { class: `logline lvl-${r.level}`, 'data-key': logKey(r) },
      h('time', { datetime: r.timestamp, title: stamp(r.timestamp) }, clock(r.timestamp)),
      h('span', { class: 'lv' }, r.level),
      h('span', { class: 'inst' }, r.instanceId),
      h('span', { class: `st st-${r.stream || 'none'}` }, r.stream || ''),
      logMessage(r.message));
  }

  private drawLogs(): void {
    const rows = this.logs.filter((r) => this.matchesSearch(r));
    fill(this.logList, rows.length ? rows.map((r) => this.logLine(r))
      : h('p', { class: 'muted empty' }, this.logs.length ? 'No loaded line matches the search; load older lines to search further.' : 'No log lines yet.'));
    this.tabs.logs.count.textContent = String(this.logs.length);
    this.scrollLogs();
  }

  private scrollLogs(): void {
    if (this.follow) this.logList.scrollTop = this.logList.scrollHeight;
  }

  private liveLog(r: LogRow): void {
    if (this.logIds.has(logKey(r)) || !this.matchesServer(r)) return;
    this.logIds.add(logKey(r));
    this.logs.push(r);
    const empty = this.logList.querySelector('.empty');
    if (empty) empty.remove();
    if (this.matchesSearch(r)) this.logList.appendChild(this.logLine(r));
    while (this.logs.length > LOG_KEEP) {
      const old = this.logs.shift()!;
      this.logIds.delete(logKey(old));
      this.logList.querySelector(`[data-key="${logKey(old)}"]`)?.remove();
      this.logMore = true;
      this.olderBtn.disabled = false;
      this.olderBtn.textContent = 'Load older';
    }
    this.tabs.logs.count.textContent = String(this.logs.length);
    this.scrollLogs();
  }

  // --- errors -------------------------------------------------------------

  private async loadErrors(): Promise<void> {
    try {
      const env = await rpcOne<Envelope<ErrorRow>>('getErrors', { worker: this.name, limit: 200 });
      this.errors.clear();
      for (const e of env.data) this.errors.set(`${e.instanceId}/${e.errorHash}`, e);
    } catch (e) {
      fill(this.errBody, h('tr', null, h('td', { colspan: 6, class: 'error' }, `could not read the errors: ${(e as Error).message}`)));
      return;
    }
    this.drawErrors();
  }

  private drawErrors(): void {
    const rows = [...this.errors.values()].sort((a, b) => (a.lastSeen < b.lastSeen ? 1 : -1));
    let total = 0;
    for (const r of rows) total += r.occurrenceCount;
    this.tabs.errors.count.textContent = String(total);
    if (!rows.length) {
      fill(this.errBody, h('tr', null, h('td', { colspan: 6, class: 'muted' }, 'No errors.')));
      return;
    }
    fill(this.errBody, rows.map((r) => {
      const raw = r.rawOutput ? h('details', null, h('summary', null, r.message), h('pre', null, r.rawOutput)) : r.message;
      return h('tr', { 'data-hash': r.errorHash },
        h('td', { class: 'num' }, h('span', { class: 'errcount', 'data-count': r.occurrenceCount }, `×${r.occurrenceCount}`)),
        h('td', { class: 'wrap msg' }, raw),
        h('td', null, h('span', { class: `badge lvl-${errorLevel(r.level)}` }, `${errorLevel(r.level)} ${r.level}`)),
        h('td', null, h('code', null, r.instanceId)),
        h('td', { title: stamp(r.firstSeen) }, ago(r.firstSeen)),
        h('td', { title: stamp(r.lastSeen) }, ago(r.lastSeen)));
    }));
  }

  // --- events -------------------------------------------------------------

  private async loadEvents(): Promise<void> {
    try {
      const env = await rpcOne<Envelope<EventRow>>('getEvents', { worker: this.name, limit: EVENT_PAGE, order: 'desc' });
      this.events = env.data;
      this.eventMore = env.pagination.hasMore;
    } catch (e) {
      fill(this.eventBody, h('tr', null, h('td', { colspan: 4, class: 'error' }, `could not read the events: ${(e as Error).message}`)));
      return;
    }
    this.drawEvents();
  }

  private async olderEvents(): Promise<void> {
    try {
      const env = await rpcOne<Envelope<EventRow>>('getEvents', { worker: this.name, limit: EVENT_PAGE, offset: this.events.length, order: 'desc' });
      const ids = new Set(this.events.map((e) => e.id));
      this.events.push(...env.data.filter((e) => !ids.has(e.id)));
      this.eventMore = env.pagination.hasMore;
      this.drawEvents();
    } catch (e) {
      toast(`could not read older events: ${(e as Error).message}`, 'error');
    }
  }

  private eventRow(e: EventRow): HTMLElement {
    return h('tr', { 'data-type': e.type },
      h('td', { title: stamp(e.timestamp) }, clock(e.timestamp)),
      h('td', null, h('span', { class: `badge ev ev-${e.type}` }, e.type)),
      h('td', null, e.instanceId ? h('code', null, e.instanceId) : ''),
      h('td', { class: 'wrap mono' }, payloadText(e.payload)));
  }

  private drawEvents(): void {
    this.tabs.events.count.textContent = String(this.events.length);
    this.eventOlderBtn.disabled = !this.eventMore;
    this.eventOlderBtn.textContent = this.eventMore ? 'Load older' : 'No older events';
    fill(this.eventBody, this.events.length ? this.events.map((e) => this.eventRow(e))
      : h('tr', null, h('td', { colspan: 4, class: 'muted' }, 'No events.')));
  }

  // --- live ---------------------------------------------------------------

  private live(kind: string, row: Record<string, unknown>): void {
    if (row.workerName !== this.name) return;
    if (kind === 'log') this.liveLog(row as unknown as LogRow);
    else if (kind === 'error') {
      const e = row as unknown as ErrorRow;
      this.errors.set(`${e.instanceId}/${e.errorHash}`, e);
      this.drawErrors();
    } else if (kind === 'event') {
      this.events.unshift(row as unknown as EventRow);
      this.drawEvents();
    } else if (kind === 'process') {
      const p = row as unknown as ProcessRow;
      this.procs.set(p.instanceId, p);
      this.drawProcesses();
    }
  }
}
