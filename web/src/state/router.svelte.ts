// The current route, following the location hash.

import { parseRoute, type Route, routeHash } from '../lib/route.ts';

class Router {
  route = $state<Route>(parseRoute(location.hash));

  constructor() {
    addEventListener('hashchange', () => {
      this.route = parseRoute(location.hash);
    });
  }

  /** Goes to a route; `replace` rewrites the current history entry instead of adding one. */
  go(route: Route, { replace = false } = {}): void {
    const hash = routeHash(route);
    if (replace) {
      history.replaceState(history.state, '', hash);
      this.route = parseRoute(hash);
    } else if (location.hash !== hash) {
      location.hash = hash;
    }
  }
}

export const router = new Router();
