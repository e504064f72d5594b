// The wharf console: a single page served by the gateway at /console/.
// main.ts routes between the pages (#/, #/w/NAME, #/t/NAME, #/grid/A,B),
// draws the header (who is signed in, until when, the feed's state) and
// sends the operator to the sign-in page when there is no token or the
// gateway refuses it.

import '@xterm/xterm/css/xterm.css';
import './style.css';
import { onUnauthorized } from './api';
import { clearToken, getToken, readClaims, secondsLeft, takeFragmentToken } from './auth';
import { fill, h } from './dom';
import { feed } from './feed';
import { FleetPage } from './fleet';
import { GridPage } from './grid';
import { currentRoute, go } from './nav';
import { SignInPage, checkToken } from './signin';
import { TerminalPage } from './terminal';
import { liveTerminals } from './term';
import { WorkerPage } from './worker';

interface Page {
  el: HTMLElement;
  mount(): void;
  unmount(): void;
  key(ev: KeyboardEvent): boolean;
  focus(): void;
}

const app = document.getElementById('app')!;
const who = h('span', { class: 'who' });
const feedPill = h('span', { class: 'pill', role: 'status', title: 'the live feed (/ws/monitoring)' });
const signOut = h('button', { class: 'btn btn-small', onclick: () => signOutNow('') }, 'Sign out');
const nav = h('nav', { class: 'mainnav', 'aria-label': 'main' },
  h('a', { href: '#/', 'data-nav': 'fleet' }, 'Fleet'),
  h('a', { href: '#/grid', 'data-nav': 'grid' }, 'Grid'));
const header = h('header', { class: 'top' },
  h('a', { class: 'brand', href: '#/' }, h('img', { src: 'icon.svg', alt: '', width: 22, height: 22 }), 'wharf'),
  nav, h('span', { class: 'spacer' }), feedPill, who, signOut);
const slot = h('div', { class: 'slot' });
app.append(header, slot);

let page: Page | null = null;
let signInMessage = '';

function signOutNow(why: string): void {
  clearToken();
  feed.stop();
  signInMessage = why;
  const r = currentRoute();
  go(r.startsWith('/signin') ? r : `/signin?next=${encodeURIComponent(r)}`);
}

onUnauthorized((why) => {
  if (!getToken()) return;
  signOutNow(`Your session ended: ${why}. Sign in again.`);
});

feed.onState((s) => {
  const text = { off: 'feed off', connecting: 'feed connecting', live: 'live', down: 'feed down' }[s];
  feedPill.textContent = text;
  feedPill.dataset.state = s;
  feedPill.title = `the live feed (/ws/monitoring): ${s}${feed.why ? ` (${feed.why})` : ''}`;
});

function showWho(): void {
  const t = getToken();
  header.hidden = !t;
  if (!t) return;
  const c = readClaims(t);
  const left = secondsLeft(t);
  if (left !== null && left <= 0) {
    signOutNow('Your token expired. Sign in with a new one.');
    return;
  }
  const until = left === null ? '' : left > 3600 ? ` · ${Math.floor(left / 3600)} h ${Math.floor((left % 3600) / 60)} min left`
    : ` · ${Math.max(1, Math.floor(left / 60))} min left`;
  who.textContent = `${c?.sub === '*' ? 'operator' : c?.sub || '?'}${until}`;
  who.title = `sub ${c?.sub ?? '?'} · scope ${c?.scope ?? '?'}${c?.exp ? ` · expires ${new Date(c.exp * 1000).toLocaleString()}` : ''}`;
}

async function route(): Promise<void> {
  const fromLink = takeFragmentToken();
  if (fromLink !== null) {
    signInMessage = '';
    // A link's token is checked before any page opens a socket with it.
    const refused = getToken() ? await checkToken() : null;
    if (refused) signInMessage = refused;
  }
  const r = currentRoute();
  const [path, query = ''] = r.split('?');
  const parts = path.split('/').filter(Boolean);
  let next: Page;
  if (!getToken() || parts[0] === 'signin') {
    if (getToken() && parts[0] === 'signin') {
      go(new URLSearchParams(query).get('next') || '/');
      return;
    }
    const target = parts[0] === 'signin' ? (new URLSearchParams(query).get('next') || '/') : r;
    next = new SignInPage(signInMessage, target, (to) => {
      signInMessage = '';
      go(to.startsWith('/') && !to.startsWith('/signin') ? to : '/');
    });
    feed.stop();
  } else if (parts[0] === 'w' && parts[1]) {
    next = new WorkerPage(decodeURIComponent(parts[1]));
  } else if (parts[0] === 't' && parts[1]) {
    next = new TerminalPage(decodeURIComponent(parts[1]));
  } else if (parts[0] === 'grid') {
    next = new GridPage((parts[1] || '').split(',').map(decodeURIComponent).filter(Boolean));
  } else {
    next = new FleetPage();
  }
  if (page) page.unmount();
  page = next;
  if (!(next instanceof WorkerPage) && !(next instanceof FleetPage)) feed.want(null);
  for (const a of nav.querySelectorAll('a')) {
    const on = (a.dataset.nav === 'grid' && parts[0] === 'grid') || (a.dataset.nav === 'fleet' && !parts.length);
    if (on) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = next instanceof SignInPage ? 'Sign in · wharf' : parts[1] ? `${decodeURIComponent(parts[1])} · wharf` : parts[0] === 'grid' ? 'Grid · wharf' : 'Fleet · wharf';
  showWho();
  fill(slot, next.el);
  next.mount();
  next.focus();
}

// Alt+key shortcuts first (capture), so a terminal does not also get them;
// plain keys only where nothing is being typed.
document.addEventListener('keydown', (ev) => {
  if (page && ev.altKey && !ev.ctrlKey && !ev.metaKey && page.key(ev)) {
    ev.preventDefault();
    ev.stopPropagation();
  }
}, true);
document.addEventListener('keydown', (ev) => {
  if (!page) return;
  const t = ev.target as HTMLElement;
  const typing = t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.closest('.xterm'));
  if (typing || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (page.key(ev)) ev.preventDefault();
});

window.addEventListener('hashchange', () => void route());
setInterval(showWho, 30000);
void route();

// For tests and the benchmark (bench/console): the live terminals.
(window as unknown as { wharf: unknown }).wharf = { terminals: liveTerminals };
