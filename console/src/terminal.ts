// One worker's terminal, full page.

import { h } from './dom';
import { TermView } from './term';

export function statusLine(v: TermView): string {
  if (v.state === 'connecting') return 'connecting…';
  if (v.state === 'open') return `connected · ${v.term.cols}×${v.term.rows}`;
  return v.reason || 'closed';
}

export class TerminalPage {
  readonly el: HTMLElement;
  private view: TermView | null = null;
  private host: HTMLElement;
  private status: HTMLElement;
  private again: HTMLButtonElement;

  constructor(readonly name: string) {
    this.host = h('div', { class: 'term-full' });
    this.status = h('span', { class: 'term-status', role: 'status' }, 'connecting…');
    this.again = h('button', { class: 'btn btn-small', hidden: true, onclick: () => this.view?.connect() }, 'Reconnect');
    this.el = h('main', { class: 'page page-terminal', 'data-worker': name },
      h('div', { class: 'toolbar' },
        h('nav', { class: 'crumbs', 'aria-label': 'breadcrumb' }, h('a', { href: '#/' }, 'Fleet'), ' / ',
          h('a', { href: `#/w/${name}` }, name), ' / terminal'),
        h('span', { class: 'spacer' }), this.status, this.again),
      this.host);
  }

  mount(): void {
    this.view = new TermView(this.name, this.host);
    this.view.onChange((v) => {
      this.status.textContent = statusLine(v);
      this.status.dataset.state = v.state;
      this.again.hidden = v.state !== 'closed';
    });
    this.view.term.onResize(() => {
      if (this.view) this.status.textContent = statusLine(this.view);
    });
    this.view.focus();
  }

  unmount(): void {
    this.view?.dispose();
    this.view = null;
  }

  key(): boolean {
    return false;
  }

  focus(): void {
    this.view?.focus();
  }
}
