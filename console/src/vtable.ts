// A virtual table: only the rows in view (plus a few) are in the DOM, so a
// fleet of thousands scrolls and filters as fast as one of ten. Rows have
// one fixed height; a spacer gives the scrollbar its full length. It is an
// ARIA grid: the body takes the focus, arrow keys (and j/k, PageUp/Down,
// Home/End) move the selected row, Enter activates it, and other keys go to
// the page (onKey).

import { type Child, append, h } from './dom';

export interface Column<T> {
  title: string;
  cls: string;
  cell: (row: T) => Child | Child[];
}

export interface VTableOptions<T> {
  label: string;
  rowHeight?: number;
  key: (row: T) => string;
  onActivate?: (row: T) => void;
  onKey?: (row: T, ev: KeyboardEvent) => boolean;
  rowClass?: (row: T) => string;
}

const OVERSCAN = 6;

export class VirtualTable<T> {
  readonly el: HTMLElement;
  readonly body: HTMLElement;
  private spacer: HTMLElement;
  private rows: T[] = [];
  private sel = -1;
  private rowH: number;
  private drawn = new Map<number, HTMLElement>();
  private queued = false;

  constructor(private cols: Column<T>[], private opts: VTableOptions<T>) {
    this.rowH = opts.rowHeight ?? 36;
    const head = h('div', { class: 'vrow vhead', role: 'row', 'aria-rowindex': 1 },
      cols.map((c) => h('div', { class: `vcell ${c.cls}`, role: 'columnheader' }, c.title)));
    this.spacer = h('div', { class: 'vspacer' });
    this.body = h('div', { class: 'vbody', tabindex: 0, role: 'rowgroup' }, this.spacer);
    this.el = h('div', { class: 'vtable', role: 'grid', 'aria-label': opts.label }, head, this.body);
    this.body.addEventListener('scroll', () => this.schedule());
    this.body.addEventListener('keydown', (ev) => this.key(ev));
    new ResizeObserver(() => this.schedule()).observe(this.body);
  }

  setRows(rows: T[]): void {
    const selKey = this.sel >= 0 && this.sel < this.rows.length ? this.opts.key(this.rows[this.sel]) : null;
    this.rows = rows;
    this.sel = selKey === null ? (rows.length ? Math.min(Math.max(this.sel, 0), rows.length - 1) : -1)
      : rows.findIndex((r) => this.opts.key(r) === selKey);
    if (this.sel < 0 && rows.length) this.sel = 0;
    this.el.setAttribute('aria-rowcount', String(rows.length + 1));
    this.spacer.style.height = `${rows.length * this.rowH}px`;
    this.redraw();
  }

  // The data of some rows changed: draw the rows in view again.
  refresh(): void {
    this.schedule();
  }

  selected(): T | undefined {
    return this.rows[this.sel];
  }

  private schedule(): void {
    if (this.queued) return;
    this.queued = true;
    requestAnimationFrame(() => {
      this.queued = false;
      this.redraw();
    });
  }

  private redraw(): void {
    const top = this.body.scrollTop;
    const height = this.body.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / this.rowH) - OVERSCAN);
    const last = Math.min(this.rows.length - 1, Math.ceil((top + height) / this.rowH) + OVERSCAN);
    for (const [i, el] of this.drawn) {
      if (i < first || i > last) {
        el.remove();
        this.drawn.delete(i);
      }
    }
    for (let i = first; i <= last; i++) {
      const row = this.rows[i];
      const el = h('div', {
        class: `vrow${i === this.sel ? ' selected' : ''}${this.opts.rowClass ? ` ${this.opts.rowClass(row)}` : ''}`,
        role: 'row',
        'aria-rowindex': i + 2,
        'aria-selected': i === this.sel ? 'true' : 'false',
        'data-key': this.opts.key(row),
        style: `top:${i * this.rowH}px;height:${this.rowH}px`,
      });
      for (const c of this.cols) {
        const cell = h('div', { class: `vcell ${c.cls}`, role: 'gridcell' });
        append(cell, [c.cell(row)]);
        el.appendChild(cell);
      }
      el.addEventListener('click', (ev) => {
        this.select(i, false);
        if ((ev.target as HTMLElement).closest('a,button,input')) return;
        this.body.focus({ preventScroll: true });
      });
      el.addEventListener('dblclick', () => this.opts.onActivate?.(row));
      const old = this.drawn.get(i);
      if (old) old.replaceWith(el);
      else this.spacer.appendChild(el);
      this.drawn.set(i, el);
    }
  }

  private select(i: number, scroll = true): void {
    if (!this.rows.length) return;
    this.sel = Math.max(0, Math.min(this.rows.length - 1, i));
    if (scroll) {
      const y = this.sel * this.rowH;
      if (y < this.body.scrollTop) this.body.scrollTop = y;
      else if (y + this.rowH > this.body.scrollTop + this.body.clientHeight) {
        this.body.scrollTop = y + this.rowH - this.body.clientHeight;
      }
    }
    this.redraw();
  }

  private key(ev: KeyboardEvent): void {
    const page = Math.max(1, Math.floor(this.body.clientHeight / this.rowH) - 1);
    const moves: Record<string, number> = {
      ArrowDown: 1, j: 1, ArrowUp: -1, k: -1, PageDown: page, PageUp: -page,
    };
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.key in moves) {
      this.select(this.sel + moves[ev.key]);
    } else if (ev.key === 'Home') {
      this.select(0);
    } else if (ev.key === 'End') {
      this.select(this.rows.length - 1);
    } else if (ev.key === 'Enter' && this.rows[this.sel]) {
      this.opts.onActivate?.(this.rows[this.sel]);
    } else if (this.rows[this.sel] && this.opts.onKey?.(this.rows[this.sel], ev)) {
      // handled by the page
    } else {
      return;
    }
    ev.preventDefault();
  }
}
