// The host tool list is complete and installable: a static scan of the source for every program it runs
// finds none missing from HOST_TOOLS (so CI fails even on a machine that happens to have the tool), and
// scripts/host-packages.sh installs every package the list names.

import { readdirSync, readFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { hostPackagesScriptList } from './doctor.ts';
import { HOST_FILES, HOST_TOOLS, hostPackages } from './host-tools.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
/** Where code that runs on the host lives (web/ runs in the browser, worker/ in a worker or Node). */
const SCANNED = ['images', 'worker', 'test', 'bench'];
const THIS_FILE = fileURLToPath(import.meta.url);

// ---- the scan ---------------------------------------------------------------------------------------

/** A program some source runs on the host. */
interface Invocation {
  tool: string;
  at: string;
}

/** node:child_process's functions; each takes the program (or, for exec*, a shell command) first. */
const CHILD_PROCESS = new Set(['spawn', 'spawnSync', 'execFile', 'execFileSync', 'exec', 'execSync']);
const SHELL_RUNNERS = new Set(['exec', 'execSync']);
/** mmdebstrap's hook options: their values are shell commands run on the host. */
const HOOK = /^--(?:setup|extract|essential|customize)-hook=([\s\S]*)$/;
/** mmdebstrap's own hook verbs (`sync-in`, `copy-out`, …) are no programs. */
const MMDEBSTRAP_HOOK_VERBS = new Set(['sync-in', 'sync-out', 'copy-in', 'copy-out', 'tar-in', 'tar-out', 'upload', 'download']);
const SHELL_BUILTINS = new Set(['cd', 'exit', 'export', 'set', 'unset', 'test', '[', 'echo', 'printf', 'true', 'false', '.', 'exec', 'read', 'wait', 'trap', 'if', 'then', 'else', 'fi', 'for', 'do', 'done', 'while', '!', '{', '}']);

/** The text of a string literal or template (each `${…}` read as `X`), else undefined. */
function stringOf(node: ts.Node): string | undefined {
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return node.text;
  if (ts.isTemplateExpression(node)) return node.head.text + node.templateSpans.map((s) => `X${s.literal.text}`).join('');
  return undefined;
}

function calleeName(call: ts.CallExpression): string | undefined {
  const e = call.expression;
  if (ts.isIdentifier(e)) return e.text;
  // child_process.spawn(…), cp.execFile(…); not `regex.exec(…)`.
  if (ts.isPropertyAccessExpression(e) && ts.isIdentifier(e.expression) && /^(child_?process|cp)$/i.test(e.expression.text)) return e.name.text;
  return undefined;
}

/**
 * The programs a shell command line runs: the first word of each command (after `VAR=value`s), split at
 * unquoted `&&`, `||`, `;`, `|`, `&` and newlines. A quoted word stays one word, so what `chroot "$1" sh -c '…'`
 * runs inside the chroot is not taken for a host program.
 */
export function shellPrograms(line: string): string[] {
  const programs: string[] = [];
  let word = '';
  let words: string[] = [];
  let quote: string | undefined;
  const endWord = () => {
    if (word) words.push(word);
    word = '';
  };
  const endCommand = () => {
    endWord();
    const first = words.find((w) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(w));
    if (first && !SHELL_BUILTINS.has(first)) programs.push(first);
    words = [];
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = undefined;
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      word += '\u0000'; // a quoted empty string is still a word
    } else if (c === '\\') {
      word += line[++i] ?? '';
    } else if (c === ' ' || c === '\t') {
      endWord();
    } else if (c === '&' && (line[i - 1] === '>' || line[i - 1] === '<' || line[i + 1] === '>')) {
      word += c; // a redirection (`>&2`, `&>`), not a command separator
    } else if ('&|;\n()'.includes(c)) {
      endCommand();
    } else {
      word += c;
    }
  }
  endCommand();
  return programs.map((p) => p.replaceAll('\u0000', '')).filter(Boolean);
}

/**
 * Every program the given sources run: calls of node:child_process's functions and of any function that
 * passes its parameter on as the program (the builder's runners, found by following the calls, so
 * `spawnHostTool('make', …)` and a file's own `run('tar', …)` count), `sh -c` scripts, mmdebstrap hooks,
 * and playwright's `executablePath`.
 */
export function invokedTools(files: ReadonlyMap<string, string>): Invocation[] {
  const sources = [...files].map(([name, text]) => ts.createSourceFile(name, text, ts.ScriptTarget.Latest, true));
  const runners = new Set(CHILD_PROCESS);
  const shellRunners = new Set(SHELL_RUNNERS);

  // Runners, to a fixed point: `const f = promisify(execFile)`, and functions whose parameter reaches a runner first.
  for (let grew = true; grew; ) {
    grew = false;
    const add = (name: string, shell: boolean) => {
      if (runners.has(name)) return;
      runners.add(name);
      if (shell) shellRunners.add(name);
      grew = true;
    };
    for (const source of sources) {
      const visit = (node: ts.Node): void => {
        if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.initializer) {
          const init = node.initializer;
          if (ts.isCallExpression(init) && calleeName(init) === 'promisify' && init.arguments[0] && ts.isIdentifier(init.arguments[0]) && runners.has(init.arguments[0].text)) {
            add(node.name.text, shellRunners.has(init.arguments[0].text));
          }
          if (ts.isArrowFunction(init) || ts.isFunctionExpression(init)) checkWrapper(node.name.text, init);
        }
        if (ts.isFunctionDeclaration(node) && node.name) checkWrapper(node.name.text, node);
        ts.forEachChild(node, visit);
      };
      const checkWrapper = (name: string, fn: ts.SignatureDeclaration & { body?: ts.Node }) => {
        const params = new Set(fn.parameters.map((p) => (ts.isIdentifier(p.name) ? p.name.text : '')));
        let passes: { shell: boolean } | undefined;
        const look = (node: ts.Node): void => {
          if (ts.isCallExpression(node)) {
            const callee = calleeName(node);
            const first = node.arguments[0];
            if (callee && runners.has(callee) && first && ts.isIdentifier(first) && params.has(first.text)) passes = { shell: shellRunners.has(callee) };
          }
          ts.forEachChild(node, look);
        };
        if (fn.body) look(fn.body);
        if (passes) add(name, passes.shell);
      };
      visit(source);
    }
  }

  const found: Invocation[] = [];
  for (const source of sources) {
    const at = (node: ts.Node) => `${source.fileName}:${source.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;
    const consts = new Map<string, ts.Expression>();
    const collect = (node: ts.Node): void => {
      if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.initializer) consts.set(node.name.text, node.initializer);
      ts.forEachChild(node, collect);
    };
    collect(source);
    const stringsIn = (node: ts.Node, seen = new Set<string>()): string[] => {
      if (ts.isIdentifier(node)) {
        if (!consts.has(node.text) || seen.has(node.text)) return [];
        return stringsIn(consts.get(node.text)!, new Set(seen).add(node.text));
      }
      const s = stringOf(node);
      if (s !== undefined) return [s];
      const all: string[] = [];
      ts.forEachChild(node, (c) => void all.push(...stringsIn(c, seen)));
      return all;
    };
    const visit = (node: ts.Node): void => {
      if (ts.isCallExpression(node)) {
        const callee = calleeName(node);
        const first = node.arguments[0] && stringOf(node.arguments[0]);
        if (callee && runners.has(callee) && first !== undefined) {
          if (shellRunners.has(callee)) for (const tool of shellPrograms(first)) found.push({ tool, at: at(node) });
          else found.push({ tool: basename(first), at: at(node) });
          // sh -c 'script': the script's programs run on the host too.
          const args = node.arguments[1];
          if (['sh', 'bash'].includes(basename(first)) && args && ts.isArrayLiteralExpression(args)) {
            const words = args.elements.map(stringOf);
            const c = words.indexOf('-c');
            const script = c >= 0 ? words[c + 1] : undefined;
            if (script !== undefined) for (const tool of shellPrograms(script)) found.push({ tool, at: at(node) });
          }
        }
      }
      const text = stringOf(node);
      const hook = text === undefined ? null : HOOK.exec(text);
      if (hook) {
        const programs = shellPrograms(hook[1]);
        for (const tool of MMDEBSTRAP_HOOK_VERBS.has(programs[0]) ? programs.slice(1) : programs) found.push({ tool, at: at(node) });
      }
      if (ts.isPropertyAssignment(node) && ts.isIdentifier(node.name) && node.name.text === 'executablePath') {
        for (const s of stringsIn(node.initializer)) if (s.startsWith('/')) found.push({ tool: basename(s), at: at(node) });
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return found;
}

/** The project's host-side TypeScript, by path relative to the repository. */
function projectSources(): Map<string, string> {
  const files = new Map<string, string>();
  for (const dir of SCANNED) {
    for (const name of readdirSync(join(REPO, dir), { recursive: true, encoding: 'utf8' })) {
      const file = join(REPO, dir, name);
      if (!name.endsWith('.ts') || name.endsWith('.d.ts') || file === THIS_FILE || /(^|\/)(node_modules|dist)\//.test(name)) continue;
      files.set(relative(REPO, file), readFileSync(file, 'utf8'));
    }
  }
  return files;
}

function unlisted(invocations: Invocation[], tools: object): string[] {
  return invocations.filter((i) => !Object.hasOwn(tools, i.tool)).map((i) => `${i.tool} (${i.at})`);
}

// ---- tests --------------------------------------------------------------------------------------------

describe('the static scan', () => {
  const scan = (text: string) => invokedTools(new Map([['x.ts', text]])).map((i) => i.tool);

  it('finds programs passed to node:child_process, directly, promisified or through a wrapper', () => {
    const text = `
      import { spawn, execFile, spawnSync } from 'node:child_process';
      const execFileAsync = promisify(execFile);
      function run(cmd: string, args: string[]) { return spawn(cmd, args); }
      const first = async (cmd: string) => (await execFileAsync(cmd, ['--version'])).stdout;
      run('mke2fs', ['-t', 'ext4']);
      first('gcc');
      spawnSync('dpkg', ['--version']);
      /re/.exec('not a program');
    `;
    expect(scan(text)).toEqual(['mke2fs', 'gcc', 'dpkg']);
  });

  it('follows a runner imported from another file by name', () => {
    const files = new Map([
      ['runner.ts', `export function spawnHostTool(tool: HostTool, args: string[]) { return spawn(tool, args, { detached: true }); }
                     export async function runHostTool(tool: HostTool, args: string[]) { return spawnHostTool(tool, args); }`],
      ['user.ts', `await runHostTool('make', ['-C', src]); await spawnHostTool('arch-test', ['i386']);`],
    ]);
    expect(invokedTools(files).map((i) => `${i.tool} ${i.at}`)).toEqual(['make user.ts:1', 'arch-test user.ts:1']);
  });

  it('reads the programs of sh -c scripts and mmdebstrap hooks, not what runs inside a chroot', () => {
    const text = `
      spawn('sh', ['-c', 'sleep 100 & echo $!; wait']);
      const hooks = [
        '--setup-hook=mkdir -p "$A" "$1/x" && cp -a "$A/." "$1/x/"',
        \`--customize-hook=chroot "$1" sh -c 'cd /tmp && apt-get download -q \${seabios}' && mv "$1"/tmp/*.deb "$W/"\`,
        '--customize-hook=sync-out /var/cache/apt/archives ./cache',
      ];
    `;
    expect(scan(text)).toEqual(['sh', 'sleep', 'mkdir', 'cp', 'chroot', 'mv']);
  });

  it("finds the browser playwright launches through a constant", () => {
    const text = `const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium'; launch(profile, { executablePath: CHROMIUM });`;
    expect(scan(text)).toEqual(['chromium']);
  });

  it('splits shell command lines at operators, keeping quoted words whole', () => {
    expect(shellPrograms(`LC_ALL=C find "$1" -name '*.deb' -exec cp {} + | sort; test -d x || rmdir 'a b' 2>&1 && echo ok >&2`)).toEqual(['find', 'sort', 'rmdir']);
  });
});

describe('HOST_TOOLS', () => {
  const invocations = invokedTools(projectSources());

  it('names every program the builder and the tests run', () => {
    expect(invocations.length).toBeGreaterThan(10);
    expect(unlisted(invocations, HOST_TOOLS)).toEqual([]);
  });

  it('would fail without a tool the twin runs through mmdebstrap or the builder runs itself', () => {
    for (const tool of ['mke2fs', 'mkdir', 'tar', 'chromium', 'arch-test'] as const) {
      const { [tool]: _dropped, ...fewer } = HOST_TOOLS;
      expect(unlisted(invocations, fewer).some((u) => u.startsWith(`${tool} (`)), tool).toBe(true);
    }
  });

  it('is what scripts/host-packages.sh installs', async () => {
    expect(await hostPackagesScriptList()).toEqual(hostPackages());
    for (const entry of [...Object.values(HOST_TOOLS), ...Object.values(HOST_FILES)]) expect(hostPackages()).toContain(entry.package);
  });

  it("names, in the README's install line, every package a minimal Debian lacks", () => {
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
    const start = readme.indexOf('## Two commands');
    const section = readme.slice(start, readme.indexOf('\n## ', start + 1)).replace(/```[\s\S]*?```/g, '');
    const named = new Set(section.match(/`[^`]+`/g)?.flatMap((s) => s.slice(1, -1).split(/\s+/)) ?? []);
    const needed = [...Object.values(HOST_TOOLS), ...Object.values(HOST_FILES)].filter((e) => !('base' in e)).map((e) => e.package);
    expect(needed.filter((p) => !named.has(p))).toEqual([]);
  });
});
