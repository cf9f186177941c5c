import { describe, expect, it } from 'vitest';
import { parseRoute, type Route, routeHash } from './route.ts';

describe('routes', () => {
  it.each<[string, Route]>([
    ['', { view: 'library' }],
    ['#/library', { view: 'library' }],
    ['#/nowhere', { view: 'library' }],
    ['#/machine/shell', { view: 'machine', image: 'shell' }],
    ['#/compare?images=shell,debian&runs=3', { view: 'compare', images: ['shell', 'debian'], runs: 3 }],
    ['#/compare', { view: 'compare', images: [], runs: 1 }],
    ['#/s/abc-_09', { view: 'open-share', data: 'abc-_09' }],
    ['#/share/shell', { view: 'share', image: 'shell' }],
    ['#/import', { view: 'import' }],
    ['#/inspect/sqlite?twin=debian', { view: 'inspect', image: 'sqlite', twin: 'debian' }],
  ])('%s', (hash, route) => {
    expect(parseRoute(hash)).toEqual(route);
    if (hash.startsWith('#/') && hash !== '#/nowhere') expect(routeHash(route)).toBe(hash);
  });

  it('clamps the number of runs', () => {
    expect(parseRoute('#/compare?runs=1000')).toMatchObject({ runs: 20 });
    expect(parseRoute('#/compare?runs=abc')).toMatchObject({ runs: 1 });
  });
});
