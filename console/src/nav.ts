// Routes are in the fragment (#/w/demo), so every page is index.html and
// nginx needs no fallback rule; a sign-in link's #token=... is taken out
// before routing (auth.ts).

export function go(route: string): void {
  const target = `#${route}`;
  if (location.hash === target) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = target;
}

export function currentRoute(): string {
  const r = location.hash.replace(/^#/, '');
  return r.startsWith('/') ? r : '/';
}
