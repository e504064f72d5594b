// Signing in: the operator pastes a token (wharfctl token issue, or the
// one make run prints); it is checked against the gateway (GET
// /api/workers wants scope read and sub "*") before the console uses it.

import { ApiError, getJSON } from './api';
import { clearToken, looksLikeJwt, readClaims, setToken } from './auth';
import { h } from './dom';

// Asks the gateway whether the stored token opens the fleet; on a refusal,
// forgets it and returns what to tell the operator.
export async function checkToken(): Promise<string | null> {
  try {
    await getJSON('/api/workers', { quiet: true });
    return null;
  } catch (e) {
    clearToken();
    if (e instanceof ApiError && e.status === 401) {
      return `The gateway refused this token (${e.message}). It may have expired or been signed by another key; sign in with a new one.`;
    }
    if (e instanceof ApiError && e.status === 403) {
      return `This token may not read the fleet (${e.message}): the console needs sub "*" and the read scope (terminal and control to open terminals and restart processes).`;
    }
    return `Could not reach the gateway: ${(e as Error).message}`;
  }
}

export class SignInPage {
  readonly el: HTMLElement;
  private box: HTMLTextAreaElement;
  private msg: HTMLElement;
  private btn: HTMLButtonElement;

  constructor(message: string, private next: string, private done: (next: string) => void) {
    this.box = h('textarea', {
      id: 'token', rows: 5, autocomplete: 'off', spellcheck: false, autocapitalize: 'off',
      placeholder: 'eyJhbGciOiJFUzI1NiIs…', 'aria-describedby': 'token-hint',
    });
    this.msg = h('p', { class: 'signin-msg', role: 'alert', hidden: !message }, message);
    this.btn = h('button', { class: 'btn btn-primary', type: 'submit' }, 'Sign in');
    this.el = h('main', { class: 'page page-signin' },
      h('form', { class: 'card signin', onsubmit: (ev: Event) => { ev.preventDefault(); void this.submit(); } },
        h('h1', null, 'Sign in to wharf'),
        this.msg,
        h('label', { for: 'token' }, 'Operator token'),
        this.box,
        h('p', { id: 'token-hint', class: 'muted hint' },
          'A token from ', h('code', null, 'wharfctl token issue --sub "*" --scope "read control terminal"'),
          ', or the one ', h('code', null, 'make run'), ' prints. It stays in this tab (sessionStorage) and goes only into the ',
          h('code', null, 'Authorization'), ' header and the WebSocket subprotocol, never into a URL.'),
        h('div', { class: 'row' }, this.btn)));
  }

  mount(): void {}
  unmount(): void {}
  key(): boolean {
    return false;
  }

  focus(): void {
    this.box.focus();
  }

  private say(text: string): void {
    this.msg.textContent = text;
    this.msg.hidden = !text;
  }

  private async submit(): Promise<void> {
    const t = this.box.value.replace(/^\s*(Bearer\s+)?/i, '').trim();
    if (!t) {
      this.say('Paste a token first.');
      return;
    }
    if (!looksLikeJwt(t)) {
      this.say('This is not a token: a wharf token is a JWT, three base64url parts separated by dots.');
      return;
    }
    const c = readClaims(t);
    if (c && typeof c.exp === 'number' && c.exp * 1000 <= Date.now()) {
      this.say(`This token expired at ${new Date(c.exp * 1000).toLocaleString()}. Ask for a new one (wharfctl token issue).`);
      return;
    }
    this.btn.disabled = true;
    setToken(t);
    const refused = await checkToken();
    if (refused) {
      this.btn.disabled = false;
      this.say(refused);
      return;
    }
    this.done(this.next);
  }
}
