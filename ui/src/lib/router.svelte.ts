// Hash routes of the contract: #/inbox (default) · #/request/:id · #/history
// · #/settings · #/authenticators · #/sign-in. The window may be opened at
// any of them, and the "navigate" event moves between them.

export type Route =
  | { name: 'inbox' }
  | { name: 'request'; id: string }
  | { name: 'history' }
  | { name: 'settings' }
  | { name: 'authenticators' }
  | { name: 'sign-in' };

const SIMPLE = ['inbox', 'history', 'settings', 'authenticators', 'sign-in'] as const;

/** The route a location hash names; anything unknown is the inbox. */
export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '').replace(/^\/+/, '').replace(/\/+$/, '');
  const [head, ...rest] = path.split('/');
  if (head === 'request' && rest.length === 1 && rest[0] !== '') {
    try {
      return { name: 'request', id: decodeURIComponent(rest[0] as string) };
    } catch {
      return { name: 'inbox' };
    }
  }
  const simple = SIMPLE.find((name) => name === head && rest.length === 0);
  return simple === undefined ? { name: 'inbox' } : { name: simple };
}

/** The href of a route, e.g. "#/request/AbC123". */
export function href(route: Route): string {
  return route.name === 'request' ? `#/request/${encodeURIComponent(route.id)}` : `#/${route.name}`;
}

/** Show the route at a hash path such as "/request/AbC123" (as the "navigate" event sends). */
export function navigate(path: string): void {
  const hash = path.startsWith('#') ? path : `#${path.startsWith('/') ? path : `/${path}`}`;
  if (window.location.hash !== hash) window.location.hash = hash;
}

class Router {
  route: Route = $state(parseRoute(window.location.hash));

  #sync = () => {
    this.route = parseRoute(window.location.hash);
  };

  /** Follows hash changes until the returned function is called. */
  start(): () => void {
    this.#sync();
    window.addEventListener('hashchange', this.#sync);
    return () => window.removeEventListener('hashchange', this.#sync);
  }
}

export const router = new Router();
