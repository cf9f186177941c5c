// Why a requested kernel option did not stick after olddefconfig, explained from the source tree's
// own Kconfig files: the `depends on` expressions with their values, and what selects it.

import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describeUnmet, parseConfig, symbolsIn, type UnmetOption } from './kconfig.ts';

/** What the source's Kconfig files say about a symbol. */
export interface KconfigSymbolInfo {
  /** The `depends on` expressions of its entries. */
  dependsOn: string[];
  /** Symbols whose entries `select` it. */
  selectedBy: string[];
}

/** One indented paragraph per option that did not stick: what was asked, and why it is not so. */
export async function explainUnmet(unmet: UnmetOption[], srcDir: string, finalConfig: string): Promise<string> {
  const info = await kconfigInfo(srcDir, unmet.map((u) => u.wanted.name.replace(/^CONFIG_/, '')));
  const config = parseConfig(finalConfig);
  const valueOf = (s: string) => `${s}=${config.get(`CONFIG_${s}`) ?? 'n'}`;
  const lines = unmet.map((u) => {
    const i = info.get(u.wanted.name.replace(/^CONFIG_/, ''));
    const why: string[] = [];
    if (!i) why.push('no such option in this kernel (typo?)');
    else {
      for (const expr of i.dependsOn) why.push(`depends on ${expr} [${symbolsIn(expr).map(valueOf).join(', ')}]`);
      // An option forced on by another one: name the selectors that are on.
      const on = i.selectedBy.filter((s) => config.get(`CONFIG_${s}`) === 'y' || config.get(`CONFIG_${s}`) === 'm');
      if (on.length > 0) why.push(`selected by ${on.map(valueOf).join(', ')}`);
      if (why.length === 0) why.push('no "depends on" and nothing selects it (part of a choice?)');
    }
    return `  ${describeUnmet(u)}\n      ${why.join('; ')}`;
  });
  return lines.join('\n');
}

/**
 * Reads every Kconfig file of the source tree once and returns, for each symbol that has an entry,
 * its dependencies and reverse selects. Symbols without an entry are absent from the map.
 */
export async function kconfigInfo(srcDir: string, symbols: string[]): Promise<Map<string, KconfigSymbolInfo>> {
  const wanted = new Set(symbols);
  const found = new Map<string, KconfigSymbolInfo>();
  const entry = (sym: string) => found.get(sym) ?? found.set(sym, { dependsOn: [], selectedBy: [] }).get(sym)!;
  const visit = async (dir: string): Promise<void> => {
    for (const dirent of await readdir(dir, { withFileTypes: true })) {
      const p = path.join(dir, dirent.name);
      if (dirent.isDirectory()) {
        if (dirent.name !== 'Documentation' && !dirent.name.startsWith('.')) await visit(p);
      } else if (dirent.name.startsWith('Kconfig')) {
        let current: string | undefined;
        for (const line of (await readFile(p, 'utf8')).split('\n')) {
          const header = /^\s*(?:menu)?config\s+([A-Za-z0-9_]+)\s*$/.exec(line);
          if (header) {
            current = header[1];
            if (wanted.has(current)) entry(current);
            continue;
          }
          if (/^\s*(?:choice|endchoice|menu|endmenu|if|endif|source|comment)\b/.test(line)) current = undefined;
          if (!current) continue;
          const dep = /^\s*depends on\s+(.*)$/.exec(line);
          if (dep && wanted.has(current)) entry(current).dependsOn.push(dep[1].trim());
          const sel = /^\s*select\s+([A-Za-z0-9_]+)/.exec(line);
          if (sel && wanted.has(sel[1])) entry(sel[1]).selectedBy.push(current);
        }
      }
    }
  };
  await visit(srcDir);
  return found;
}
