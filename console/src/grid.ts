// The unified view: several workers' terminals at once, in a grid whose
// number of columns the operator picks; each pane has its own session and
// fits its box (a pane resized by its handle, or maximized, sends its new
// size with wharf.tty.v1). Alt+1..9 focuses a pane; Alt+0 the toolbar.

import { getJSON } from './api';
import { h } from './dom';
import { TermView } from './term';
import { statusLine } from './terminal';
import type { TerminalEntry } from './types';

export const GRID_MAX = 16;

interface Pane { name: string; el: HTMLElement; view: TermView; status: HTMLElement }

export class GridPage {
  readonly el: HTMLElement;
  private grid: HTMLElement;
  private panes: Pane[] = [];
  private colsSel: HTMLSelectElement;
  private addSel: HTMLSelectElement;

  constructor(private names: string[]) {
    this.names = [...new Set(names)].slice(0, GRID_MAX);
    this.grid = h('div', { class: 'grid', 'aria-label': 'terminals' });
    this.colsSel = h('select', { 'aria-label': 'columns', onchange: () => this.layout() },
      ['auto', '1', '2', '3', '4'].map((c) => h('option', { value: c }, c === 'auto' ? 'auto columns' : `${c} column${c === '1' ? '' : 's'}`)));
    this.addSel = h('select', { 'aria-label': 'add a worker', onchange: () => this.addPicked() }, h('option', { value: '' }, 'add a worker…'));
    this.el = h('main', { class: 'page page-grid' },
      h('div', { class: 'toolbar' },
        h('nav', { class: 'crumbs', 'aria-label': 'breadcrumb' }, h('a', { href: '#/' }, 'Fleet'), ' / grid'),
        h('span', { class: 'spacer' }), this.addSel, this.colsSel),
      this.grid);
  }

  mount(): void {
    for (const n of this.names) this.addPane(n);
    this.layout();
    this.panes[0]?.view.focus();
    void this.loadChoices();
    if (!this.names.length) {
      this.grid.appendChild(h('p', { class: 'muted empty' }, 'No terminal yet: add workers above, or pick them on the fleet page and press "Open grid".'));
    }
  }

  unmount(): void {
    for (const p of this.panes) p.view.dispose();
    this.panes = [];
  }

  key(ev: KeyboardEvent): boolean {
    if (ev.altKey && /^[0-9]$/.test(ev.key)) {
      const i = Number(ev.key);
      if (i === 0) this.addSel.focus();
      else this.panes[i - 1]?.view.focus();
      return true;
    }
    return false;
  }

  focus(): void {
    this.panes[0]?.view.focus();
  }

  private async loadChoices(): Promise<void> {
    try {
      const list = await getJSON<TerminalEntry[]>('/api/terminals');
      for (const t of list) {
        this.addSel.appendChild(h('option', { value: t.worker }, `${t.worker} (${t.health.status === 'unknown' ? 'not probed' : t.health.status})`));
      }
    } catch {
      // the pane list still works by URL
    }
  }

  private addPicked(): void {
    const n = this.addSel.value;
    this.addSel.value = '';
    if (!n || this.names.includes(n) || this.names.length >= GRID_MAX) return;
    this.names.push(n);
    this.addPane(n);
    this.layout();
    this.syncRoute();
    this.panes[this.panes.length - 1].view.focus();
  }

  // The address follows the panes without a new page: the other panes
  // keep their sessions.
  private syncRoute(): void {
    history.replaceState(null, '', `#/grid/${this.names.map(encodeURIComponent).join(',')}`);
  }

  private addPane(name: string): void {
    this.grid.querySelector('.empty')?.remove();
    const host = h('div', { class: 'pane-term' });
    const status = h('span', { class: 'term-status' }, 'connecting…');
    const el = h('section', { class: 'pane', 'data-worker': name, 'aria-label': `terminal of ${name}` },
      h('header', { class: 'pane-head' },
        h('span', { class: 'pane-num' }, String(this.panes.length + 1)),
        h('a', { href: `#/w/${name}`, class: 'pane-name' }, name),
        status,
        h('span', { class: 'spacer' }),
        h('button', { class: 'icon', title: 'reconnect', 'aria-label': `reconnect ${name}`, onclick: () => pane.view.connect() }, '⟳'),
        h('button', { class: 'icon', title: 'maximize', 'aria-label': `maximize ${name}`, onclick: () => this.toggleMax(pane) }, '⤢'),
        h('button', { class: 'icon', title: 'close', 'aria-label': `close ${name}`, onclick: () => this.remove(pane) }, '×')),
      host);
    this.grid.appendChild(el);
    const view = new TermView(name, host, { fontSize: 13 });
    const pane: Pane = { name, el, view, status };
    view.onChange((v) => {
      status.textContent = statusLine(v);
      status.dataset.state = v.state;
    });
    view.term.onResize(() => {
      status.textContent = statusLine(view);
    });
    el.addEventListener('focusin', () => el.classList.add('focused'));
    el.addEventListener('focusout', () => el.classList.remove('focused'));
    this.panes.push(pane);
  }

  private remove(p: Pane): void {
    this.names = this.names.filter((n) => n !== p.name);
    this.panes = this.panes.filter((q) => q !== p);
    p.view.dispose();
    p.el.remove();
    this.panes.forEach((q, i) => {
      const num = q.el.querySelector('.pane-num');
      if (num) num.textContent = String(i + 1);
    });
    if (p.el.classList.contains('max')) this.grid.classList.remove('has-max');
    this.layout();
    this.syncRoute();
  }

  private toggleMax(p: Pane): void {
    const on = !p.el.classList.contains('max');
    for (const q of this.panes) q.el.classList.remove('max');
    this.grid.classList.toggle('has-max', on);
    if (on) p.el.classList.add('max');
    p.view.focus();
  }

  private layout(): void {
    const n = Math.max(1, this.panes.length);
    const want = this.colsSel.value;
    const cols = want === 'auto' ? Math.ceil(Math.sqrt(n)) : Number(want);
    const rows = Math.ceil(n / cols);
    this.grid.style.setProperty('--cols', String(cols));
    this.grid.style.setProperty('--rows', String(rows));
  }
}
