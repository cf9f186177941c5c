// The built page runs under its Content Security Policy (vite.config.ts): no inline script in the
// HTML, the policy both in a <meta> and in the header `vite preview` sends, and a machine boots to its
// prompt (v86's wasm compiled in the worker) without a single violation, in the page or in the worker.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Worker } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { pollFor, ROOT, labForFile } from './harness.ts';

declare global {
  interface Window {
    cspViolations?: string[];
  }
}

describe('Content Security Policy', () => {
  const t = labForFile('shell');

  it('is in the built HTML and its header, and allows no inline script', async () => {
    const html = await readFile(join(ROOT, 'dist/index.html'), 'utf8');
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attrs, body] of scripts) {
      expect(attrs).toMatch(/\bsrc=/);
      expect(body.trim()).toBe('');
    }
    const policy = (await fetch(t.lab.url)).headers.get('content-security-policy') ?? '';
    expect(policy).toMatch(/(^|; )script-src 'self' 'wasm-unsafe-eval'(;|$)/);
    expect(policy).not.toMatch(/script-src[^;]*'unsafe-(inline|eval)'/);
    expect(policy).toMatch(/(^|; )connect-src [^;]*https: http:/); // share links fetch from other sites
    await t.lab.page.goto(t.lab.url);
    const meta = await t.lab.page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
    expect(meta).toBe(policy);
  });

  it('boots shell to its prompt with no violation reported', async () => {
    const { page, url } = t.lab;
    const seen: string[] = [];
    // In the page: the violation event (installed before any of the page's own scripts run) and the
    // console, where Chromium also logs what a policy refused.
    await page.addInitScript(() => {
      window.cspViolations = [];
      document.addEventListener('securitypolicyviolation', (e) => window.cspViolations!.push(`${e.effectiveDirective} refused ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber})`));
    });
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) seen.push(`console: ${m.text()}`);
    });
    // In the machine worker (its own policy, from the header): the same event, at its global scope.
    const workers: Worker[] = [];
    page.on('worker', (w) => {
      workers.push(w);
      void w
        .evaluate(() => {
          const scope = self as unknown as { cspViolations?: string[] } & EventTarget;
          scope.cspViolations = [];
          scope.addEventListener('securitypolicyviolation', (e) => {
            const v = e as SecurityPolicyViolationEvent;
            scope.cspViolations!.push(`${v.effectiveDirective} refused ${v.blockedURI || 'inline'} (${v.sourceFile}:${v.lineNumber})`);
          });
        })
        .catch(() => undefined);
    });

    const violations = async (): Promise<string[]> => {
      const inPage = ((await page.evaluate(() => window.cspViolations)) ?? []).map((v) => `page: ${v}`);
      const inWorkers = await Promise.all(workers.map((w) => w.evaluate(() => (self as unknown as { cspViolations?: string[] }).cspViolations ?? []).catch(() => [] as string[])));
      return [...seen, ...inPage, ...inWorkers.flat().map((v) => `worker: ${v}`)];
    };

    await page.goto(`${url}#/machine/shell`);
    // Ready, or the error the page shows (a refused wasm compile crashes the emulator).
    const outcome = await pollFor(
      'shell to reach its prompt under the policy',
      async () => ((await page.locator('[data-status="ready"]').count()) ? 'ready' : (await page.getByRole('alert').allInnerTexts()).join(' / ')),
      120_000,
    );
    expect({ outcome, violations: outcome === 'ready' ? [] : await violations() }).toEqual({ outcome: 'ready', violations: [] });

    expect(workers.length).toBeGreaterThan(0);
    expect(await violations()).toEqual([]);
    expect(t.lab.errors).toEqual([]);
  });
});
