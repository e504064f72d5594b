// The fleet: every worker with its terminal and WebSocket health, open
// sessions, last seen, error count and process states.
//
// First data comes from the module's registry (GET /api/workers: names,
// health, sessions), drawn at once; then one JSON-RPC round to wharfd fills
// in what it stores (getWorkers: last seen; getProcesses: every process row,
// paged by 1000; getErrorSummary per worker, in batches). The feed keeps the
// processes and errors live; the registry is read again every few seconds
// for health and sessions, which the module has and the feed does not.

import { type RpcResult, getJSON, getJSONAny, rpc } from './api';
import { ago, debounce, h, stamp } from './dom';
import { feed } from './feed';
import { go } from './nav';
import type { Envelope, ErrorSummary, Health, ProcessRow, RegistryWorker, StoredWorker } from './types';
import { type Column, VirtualTable } from './vtable';

interface FleetRow {
  name: string;
  reg: RegistryWorker;
  stored?: StoredWorker;
  lastSeen: string | null;
  errors: number | null;
  procs: Map<string, string>;
}

const REGISTRY_EVERY_MS = 5000;
const STORED_EVERY_MS = 15000;

export function healthBadge(hl: Health | undefined, label: string): HTMLElement {
  const st = hl ? hl.status : 'unknown';
  const text = st === 'healthy' ? 'healthy' : st === 'unhealthy' ? 'unhealthy' : 'not probed';
  const lat = st === 'healthy' && hl && typeof hl.latency_ms === 'number' ? ` ${hl.latency_ms.toFixed(1)} ms` : '';
  const title = [`${label}: ${text}`, hl?.error, hl?.checked_at ? `checked ${stamp(hl.checked_at)}` : ''].filter(Boolean).join('\n');
  return h('span', { class: `badge health-${st}`, title }, h('span', { class: 'dot', 'aria-hidden': 'true' }), text, lat ? h('span', { class: 'muted' }, lat) : null);
}

export function procBadges(procs: Map<string, string>): HTMLElement {
  if (!procs.size) return h('span', { class: 'muted' }, '—');
  const counts = new Map<string, number>();
  for (const s of procs.values()) counts.set(s, (counts.get(s) || 0) + 1);
  if (procs.size <= 2) {
    return h('span', null, [...procs].map(([id, s]) => h('span', { class: `badge proc-${s}`, title: `${id}: ${s}` }, `${id} ${s}`)));
  }
  return h('span', null, [...counts].map(([s, n]) => h('span', { class: `badge proc-${s}` }, `${n} ${s}`)));
}

export class FleetPage {
  readonly el: HTMLElement;
  private rows = new Map<string, FleetRow>();
  private view: FleetRow[] = [];
  private table: VirtualTable<FleetRow>;
  private filter: HTMLInputElement;
  private healthSel: HTMLSelectElement;
  private summary: HTMLElement;
  private gridBtn: HTMLButtonElement;
  private probeBtn: HTMLButtonElement;
  private picked = new Set<string>();
  private timers: ReturnType<typeof setInterval>[] = [];
  private offs: (() => void)[] = [];
  private dirtyErrors = new Set<string>();
  private gone = false;

  constructor() {
    const cols: Column<FleetRow>[] = [
      {
        title: '', cls: 'c-pick', cell: (r) => h('input', {
          type: 'checkbox', 'aria-label': `pick ${r.name} for the grid`, checked: this.picked.has(r.name), tabindex: -1,
          onchange: (ev: Event) => this.pick(r.name, (ev.target as HTMLInputElement).checked),
        }),
      },
      { title: 'Worker', cls: 'c-name', cell: (r) => h('a', { href: `#/w/${r.name}`, tabindex: -1 }, r.name) },
      { title: 'Terminal', cls: 'c-term', cell: (r) => healthBadge(r.reg.health?.terminal, 'terminal') },
      { title: 'WebSocket', cls: 'c-ws', cell: (r) => healthBadge(r.reg.health?.websocket, 'websocket') },
      {
        title: 'Sessions', cls: 'c-sess', cell: (r) => {
          const s = r.reg.sessions || { terminal: 0, websocket: 0, http: 0 };
          const max = r.reg.max_sessions ? ` / ${r.reg.max_sessions}` : '';
          return h('span', { title: `${s.terminal} terminal, ${s.websocket} websocket, ${s.http} http${max ? `; max_sessions ${r.reg.max_sessions}` : ''}` },
            `${s.terminal + s.websocket}${max}`);
        },
      },
      { title: 'Last seen', cls: 'c-seen', cell: (r) => r.lastSeen ? h('span', { title: stamp(r.lastSeen) }, ago(r.lastSeen)) : h('span', { class: 'muted' }, 'never') },
      {
        title: 'Errors', cls: 'c-err', cell: (r) => r.errors === null ? h('span', { class: 'muted' }, '…')
          : h('span', { class: r.errors ? 'errcount' : 'muted' }, String(r.errors)),
      },
      { title: 'Processes', cls: 'c-proc', cell: (r) => procBadges(r.procs) },
      {
        title: '', cls: 'c-act', cell: (r) => h('a', { class: 'btn btn-small', href: `#/t/${r.name}`, tabindex: -1, title: `open ${r.name}'s terminal (t)` }, 'Terminal'),
      },
    ];
    this.table = new VirtualTable(cols, {
      label: 'workers',
      key: (r) => r.name,
      onActivate: (r) => go(`/w/${r.name}`),
      onKey: (r, ev) => {
        if (ev.key === 't') go(`/t/${r.name}`);
        else if (ev.key === ' ') this.pick(r.name, !this.picked.has(r.name));
        else if (ev.key === 'g' && this.picked.size) this.openGrid();
        else return false;
        return true;
      },
    });
    this.filter = h('input', {
      type: 'search', class: 'filter', placeholder: 'Filter by name  ( / )', 'aria-label': 'filter workers by name',
      oninput: debounce(() => this.apply(), 80),
      onkeydown: (ev: KeyboardEvent) => {
        if (ev.key === 'ArrowDown' || ev.key === 'Enter') {
          ev.preventDefault();
          this.table.body.focus();
        }
      },
    });
    this.healthSel = h('select', { 'aria-label': 'filter by terminal health', onchange: () => this.apply() },
      h('option', { value: '' }, 'any health'),
      h('option', { value: 'healthy' }, 'healthy'),
      h('option', { value: 'unhealthy' }, 'unhealthy'),
      h('option', { value: 'unknown' }, 'not probed'));
    this.summary = h('span', { class: 'summary', 'aria-live': 'polite' }, 'loading…');
    this.probeBtn = h('button', { class: 'btn', onclick: () => void this.probe(), title: 'probe every worker\'s terminal and WebSocket now' }, 'Probe now');
    this.gridBtn = h('button', { class: 'btn btn-primary', disabled: true, onclick: () => this.openGrid(), title: 'open the picked workers\' terminals side by side (g)' }, 'Open grid');
    this.el = h('main', { class: 'page page-fleet', 'data-loaded': 'no' },
      h('div', { class: 'toolbar' }, this.filter, this.healthSel, this.summary, h('span', { class: 'spacer' }), this.probeBtn, this.gridBtn),
      this.table.el,
      h('p', { class: 'keys muted' }, 'Keys: / filter · ↑↓ or j k move · Enter open · t terminal · Space pick · g grid of picked'));
  }

  mount(): void {
    void this.load();
    feed.want({ kinds: ['process', 'error', 'event'] });
    this.offs.push(feed.onRow((m) => this.live(m.kind, m.row)));
    this.offs.push(feed.onReset(() => void this.loadStored()));
    this.timers.push(setInterval(() => void this.loadRegistry(), REGISTRY_EVERY_MS));
    this.timers.push(setInterval(() => void this.loadStored(), STORED_EVERY_MS));
    this.timers.push(setInterval(() => this.table.refresh(), 5000));
  }

  unmount(): void {
    this.gone = true;
    for (const t of this.timers) clearInterval(t);
    for (const f of this.offs) f();
  }

  // Keys that work anywhere on the page.
  key(ev: KeyboardEvent): boolean {
    if (ev.key === '/' && document.activeElement !== this.filter) {
      this.filter.focus();
      this.filter.select();
      return true;
    }
    return false;
  }

  focus(): void {
    this.table.body.focus({ preventScroll: true });
  }

  private async load(): Promise<void> {
    await this.loadRegistry();
    this.el.dataset.loaded = 'registry';
    await this.loadStored();
    if (!this.gone) this.el.dataset.loaded = 'complete';
  }

  private async loadRegistry(): Promise<void> {
    let reg: RegistryWorker[];
    try {
      reg = await getJSON<RegistryWorker[]>('/api/workers');
    } catch (e) {
      this.summary.textContent = `could not read the registry: ${(e as Error).message}`;
      return;
    }
    if (this.gone) return;
    const seen = new Set<string>();
    let added = false;
    for (const w of reg) {
      seen.add(w.name);
      const r = this.rows.get(w.name);
      if (r) r.reg = w;
      else {
        this.rows.set(w.name, { name: w.name, reg: w, lastSeen: null, errors: null, procs: new Map() });
        added = true;
      }
    }
    for (const name of [...this.rows.keys()]) {
      if (!seen.has(name)) {
        this.rows.delete(name);
        added = true;
      }
    }
    if (added) this.apply();
    else {
      this.updateSummary();
      this.table.refresh();
    }
  }

  // What wharfd stores: last seen, processes, error counts.
  private async loadStored(names?: string[]): Promise<void> {
    const targets = names || [...this.rows.keys()];
    if (!targets.length) return;
    try {
      const calls = names ? [] : [{ method: 'getWorkers' }, { method: 'getProcesses', params: { limit: 1000 } }];
      const sums = targets.map((w) => ({ method: 'getErrorSummary', params: { worker: w } }));
      const res = await rpc([...calls, ...sums]);
      if (this.gone) return;
      if (!names) {
        this.takeWorkers(res[0] as RpcResult<{ workers: StoredWorker[] }>);
        await this.takeProcesses(res[1] as RpcResult<Envelope<ProcessRow>>);
      }
      const offset = calls.length;
      targets.forEach((w, i) => {
        const r = this.rows.get(w);
        const s = res[offset + i] as RpcResult<ErrorSummary>;
        if (r && s.ok) r.errors = s.result.totalErrors;
      });
    } catch (e) {
      this.summary.textContent = `could not read wharfd: ${(e as Error).message}`;
      return;
    }
    this.updateSummary();
    this.table.refresh();
  }

  private takeWorkers(res: RpcResult<{ workers: StoredWorker[] }>): void {
    if (!res.ok) return;
    for (const w of res.result.workers) {
      const r = this.rows.get(w.name);
      if (!r) continue;
      r.stored = w;
      if (w.lastSeen && (!r.lastSeen || w.lastSeen > r.lastSeen)) r.lastSeen = w.lastSeen;
    }
  }

  private async takeProcesses(first: RpcResult<Envelope<ProcessRow>>): Promise<void> {
    if (!first.ok) return;
    const all = [...first.result.data];
    let page = first.result;
    while (page.pagination.hasMore && !this.gone) {
      const [next] = await rpc<Envelope<ProcessRow>>([{ method: 'getProcesses', params: { limit: 1000, offset: all.length } }]);
      if (!next.ok) break;
      page = next.result;
      all.push(...page.data);
    }
    for (const r of this.rows.values()) r.procs.clear();
    for (const p of all) this.rows.get(p.workerName)?.procs.set(p.instanceId, p.status);
  }

  private live(kind: string, row: Record<string, unknown>): void {
    const r = this.rows.get(String(row.workerName));
    if (!r) return;
    const when = String(row.updatedAt || row.timestamp || row.lastSeen || '') || new Date().toISOString();
    if (!r.lastSeen || when > r.lastSeen) r.lastSeen = when;
    if (kind === 'process') r.procs.set(String(row.instanceId), String(row.status));
    if (kind === 'error') {
      this.dirtyErrors.add(r.name);
      this.flushErrors();
    }
    this.table.refresh();
    this.updateSummary();
  }

  // Error rows carry the count of their own (instance, hash); the worker's
  // total is asked again, once per second at most, for the workers that had
  // one.
  private flushErrors = debounce(() => {
    const names = [...this.dirtyErrors];
    this.dirtyErrors.clear();
    if (names.length) void this.loadStored(names);
  }, 1000);

  private apply(): void {
    const q = this.filter.value.trim().toLowerCase();
    const hs = this.healthSel.value;
    this.view = [...this.rows.values()]
      .filter((r) => !q || r.name.includes(q))
      .filter((r) => !hs || (r.reg.health?.terminal?.status || 'unknown') === hs)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    this.table.setRows(this.view);
    this.el.dataset.rows = String(this.view.length);
    this.updateSummary();
  }

  private updateSummary(): void {
    let healthy = 0;
    let unhealthy = 0;
    for (const r of this.rows.values()) {
      const s = r.reg.health?.terminal?.status;
      if (s === 'healthy') healthy++;
      else if (s === 'unhealthy') unhealthy++;
    }
    const total = this.rows.size;
    const shown = this.view.length === total ? '' : `${this.view.length} shown of `;
    this.summary.textContent = `${shown}${total} worker${total === 1 ? '' : 's'} · ${healthy} healthy · ${unhealthy} unhealthy · ${total - healthy - unhealthy} not probed`;
  }

  private pick(name: string, on: boolean): void {
    if (on) this.picked.add(name);
    else this.picked.delete(name);
    this.gridBtn.disabled = this.picked.size === 0;
    this.gridBtn.textContent = this.picked.size ? `Open grid (${this.picked.size})` : 'Open grid';
    this.table.refresh();
  }

  private openGrid(): void {
    go(`/grid/${[...this.picked].sort().join(',')}`);
  }

  private async probe(): Promise<void> {
    this.probeBtn.disabled = true;
    this.probeBtn.textContent = 'Probing…';
    try {
      await Promise.all([getJSONAny('/health/terminal'), getJSONAny('/health/websocket')]);
      await this.loadRegistry();
    } catch (e) {
      this.summary.textContent = `probe failed: ${(e as Error).message}`;
    } finally {
      this.probeBtn.disabled = false;
      this.probeBtn.textContent = 'Probe now';
    }
  }
}
