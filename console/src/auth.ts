// The operator's token: kept in sessionStorage (this tab only, gone with
// it), sent as "Authorization: Bearer" on requests and as the WebSocket
// subprotocol "wharf.bearer.<token>" on sockets; never in a URL. A sign-in
// link may carry it in the fragment (#token=...), which browsers never send
// to a server: the page moves it into sessionStorage and takes it out of
// the address bar and the history at once.

const KEY = 'wharf.token';
export const BEARER_PREFIX = 'wharf.bearer.';

export interface Claims {
  sub?: string;
  scope?: string;
  exp?: number;
  nbf?: number;
  aud?: unknown;
}

export function getToken(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function setToken(t: string): void {
  sessionStorage.setItem(KEY, t);
}

export function clearToken(): void {
  sessionStorage.removeItem(KEY);
}

// A JWT is three base64url segments; the characters are all RFC 7230
// token characters, so it may stand in a subprotocol name as it is.
export function looksLikeJwt(t: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(t);
}

// The claims, read without verifying (the gateway verifies); for showing
// who is signed in and until when, and for an early "expired" message.
export function readClaims(t: string): Claims | null {
  try {
    const seg = t.split('.')[1];
    const b64 = seg.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((seg.length + 3) % 4);
    const json = decodeURIComponent(Array.from(atob(b64), (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join(''));
    const c = JSON.parse(json);
    return c && typeof c === 'object' ? c as Claims : null;
  } catch {
    return null;
  }
}

export function scopes(t: string): string[] {
  const s = readClaims(t)?.scope;
  return typeof s === 'string' ? s.split(' ').filter(Boolean) : [];
}

// Seconds left, or null when the token has no exp.
export function secondsLeft(t: string, now = Date.now()): number | null {
  const exp = readClaims(t)?.exp;
  return typeof exp === 'number' ? Math.floor(exp - now / 1000) : null;
}

// Moves a #token=... (optionally &next=ROUTE) from the address bar into
// sessionStorage. Returns the route to go to, or null when the fragment
// carries no token.
export function takeFragmentToken(): string | null {
  const frag = location.hash.replace(/^#/, '');
  if (!/(^|&)token=/.test(frag)) return null;
  const params = new URLSearchParams(frag);
  const t = (params.get('token') || '').trim();
  const next = params.get('next') || '/';
  // Out of the address bar and the history entry before anything else.
  history.replaceState(null, '', `${location.pathname}${location.search}#${next.startsWith('/') ? next : '/'}`);
  if (t) setToken(t);
  return next.startsWith('/') ? next : '/';
}
