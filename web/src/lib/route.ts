// Hash routes: every view has an address people can bookmark or send (`#/machine/shell`).

export type Route =
  | { view: 'library' }
  | { view: 'machine'; image: string }
  | { view: 'compare'; images: string[]; runs: number }
  | { view: 'share'; image?: string }
  | { view: 'open-share'; data: string }
  | { view: 'import' }
  | { view: 'inspect'; image?: string; twin?: string };

export const MAX_RUNS = 20;

/** Reads a location hash (`#/compare?images=shell,debian&runs=3`); unknown paths go to the library. */
export function parseRoute(hash: string): Route {
  const text = hash.replace(/^#\/?/, '');
  const q = text.indexOf('?');
  const path = (q < 0 ? text : text.slice(0, q)).split('/').filter(Boolean).map(safeDecode);
  const params = new URLSearchParams(q < 0 ? '' : text.slice(q + 1));
  const [head, arg] = path;
  switch (head) {
    case 'machine':
      return arg ? { view: 'machine', image: arg } : { view: 'library' };
    case 'compare': {
      const images = (params.get('images') ?? '').split(',').filter(Boolean);
      const runs = Math.min(MAX_RUNS, Math.max(1, Math.floor(Number(params.get('runs') ?? 1)) || 1));
      return { view: 'compare', images, runs };
    }
    case 's':
      // Share data is base64url: keep it exactly as written (no decoding).
      return { view: 'open-share', data: text.slice(2).split('?')[0] };
    case 'share':
      return arg ? { view: 'share', image: arg } : { view: 'share' };
    case 'import':
      return { view: 'import' };
    case 'inspect': {
      const route: Route = { view: 'inspect' };
      if (arg) route.image = arg;
      const twin = params.get('twin');
      if (twin) route.twin = twin;
      return route;
    }
    default:
      return { view: 'library' };
  }
}

/** The hash for a route (inverse of parseRoute). */
export function routeHash(route: Route): string {
  const e = encodeURIComponent;
  switch (route.view) {
    case 'library':
      return '#/library';
    case 'machine':
      return `#/machine/${e(route.image)}`;
    case 'compare': {
      const p = new URLSearchParams();
      if (route.images.length) p.set('images', route.images.join(','));
      if (route.runs > 1) p.set('runs', String(route.runs));
      const qs = p.toString().replace(/%2C/g, ',');
      return `#/compare${qs ? `?${qs}` : ''}`;
    }
    case 'share':
      return route.image ? `#/share/${e(route.image)}` : '#/share';
    case 'open-share':
      return `#/s/${route.data}`;
    case 'import':
      return '#/import';
    case 'inspect':
      return `#/inspect${route.image ? `/${e(route.image)}` : ''}${route.twin ? `?twin=${e(route.twin)}` : ''}`;
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
