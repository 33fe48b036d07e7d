// Hash routes of the contract: #/inbox (default) · #/request/:id · #/history
// · #/settings · #/authenticators · #/sign-in, and #/request/:id/approve,
// which the Rust side opens for a notification's "Approve" button: the
// request shown as usual, its approval started once it has loaded (the
// authenticator still asks), then the hash replaced by #/request/:id. The
// window may be opened at any of them, and the "navigate" event moves
// between them.

export type Route =
  | { name: 'inbox' }
  | { name: 'request'; id: string; approve?: true }
  | { name: 'history' }
  | { name: 'settings' }
  | { name: 'authenticators' }
  | { name: 'sign-in' };

const SIMPLE = ['inbox', 'history', 'settings', 'authenticators', 'sign-in'] as const;

/** The route a location hash names; anything unknown is the inbox. */
export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '').replace(/^\/+/, '').replace(/\/+$/, '');
  const [head, ...rest] = path.split('/');
  const approve = rest.length === 2 && rest[1] === 'approve';
  if (head === 'request' && (rest.length === 1 || approve) && rest[0] !== undefined && rest[0] !== '') {
    let id: string;
    try {
      id = decodeURIComponent(rest[0]);
    } catch {
      return { name: 'inbox' };
    }
    return approve ? { name: 'request', id, approve: true } : { name: 'request', id };
  }
  const simple = SIMPLE.find((name) => name === head && rest.length === 0);
  return simple === undefined ? { name: 'inbox' } : { name: simple };
}

/** The href of a route, e.g. "#/request/AbC123". */
export function href(route: Route): string {
  if (route.name !== 'request') return `#/${route.name}`;
  const path = `#/request/${encodeURIComponent(route.id)}`;
  return route.approve === true ? `${path}/approve` : path;
}

const toHash = (path: string): string => (path.startsWith('#') ? path : `#${path.startsWith('/') ? path : `/${path}`}`);

/** Show the route at a hash path such as "/request/AbC123" (as the "navigate" event sends). */
export function navigate(path: string): void {
  const hash = toHash(path);
  if (window.location.hash !== hash) window.location.hash = hash;
}

class Router {
  route: Route = $state(parseRoute(window.location.hash));

  #sync = () => {
    this.route = parseRoute(window.location.hash);
  };

  /** Takes the current hash now, without waiting for its hashchange event. */
  follow(): void {
    this.#sync();
  }

  /**
   * Shows the route at a hash path in place of the current one: the history
   * entry is replaced, so Back does not come back to the old hash.
   */
  replace(path: string): void {
    const hash = toHash(path);
    if (window.location.hash !== hash) window.history.replaceState(window.history.state, '', hash);
    this.#sync();
  }

  /**
   * Called once the approval a #/request/:id/approve route asked for has
   * been started (or could not be, the request failing to load): shows
   * #/request/:id in its place, unless the window has moved on meanwhile.
   */
  approveHandled(id: string): void {
    const current = parseRoute(window.location.hash);
    if (current.name === 'request' && current.id === id && current.approve === true) {
      this.replace(href({ name: 'request', id }));
    }
  }

  /** Follows hash changes until the returned function is called. */
  start(): () => void {
    this.#sync();
    window.addEventListener('hashchange', this.#sync);
    return () => window.removeEventListener('hashchange', this.#sync);
  }
}

export const router = new Router();
