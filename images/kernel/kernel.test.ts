// Unit tests for the kernel stage's pure parts: fragment parsing, the "didn't stick" check, merging,
// cache keys. The real build runs in the builder's slow tests.
import { readdir } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { FragmentSyntaxError, mergeConfig, parseConfig, parseFragment, symbolsIn, unmetOptions, describeUnmet } from './kconfig.ts';
import { inputDifferences, kernelCacheKey, type KernelInputs } from './cache.ts';
import { buildTimestamp, FRAGMENTS_DIR, readFragment, upstreamVersion } from './kernel.ts';

describe('parseFragment', () => {
  it('reads options, "is not set" lines and =n, skipping comments and blank lines', () => {
    const text = ['# a comment', '', 'CONFIG_TTY=y', '# CONFIG_VT is not set', 'CONFIG_NR=4', 'CONFIG_CMDLINE="a b"', 'CONFIG_HEX=0x1000', 'CONFIG_OFF=n'].join('\n');
    expect(parseFragment(text, 'f.config')).toEqual([
      { name: 'CONFIG_TTY', value: 'y', origin: 'f.config:3' },
      { name: 'CONFIG_VT', value: null, origin: 'f.config:4' },
      { name: 'CONFIG_NR', value: '4', origin: 'f.config:5' },
      { name: 'CONFIG_CMDLINE', value: '"a b"', origin: 'f.config:6' },
      { name: 'CONFIG_HEX', value: '0x1000', origin: 'f.config:7' },
      { name: 'CONFIG_OFF', value: null, origin: 'f.config:8' },
    ]);
  });

  it.each([
    ['CONFIG_TTY y', /not a Kconfig line/],
    ['SERIAL_8250=y', /not a Kconfig line/],
    ['CONFIG_CMDLINE=a b', /malformed value/],
    ['CONFIG_CMDLINE="unterminated', /malformed value/],
    ['#CONFIG_VT is not set', /exactly/],
    ['# CONFIG_VT is  not set', /exactly/],
  ])('rejects %j', (line, message) => {
    expect(() => parseFragment(`CONFIG_OK=y\n${line}\n`, 'x.config')).toThrow(FragmentSyntaxError);
    expect(() => parseFragment(`CONFIG_OK=y\n${line}\n`, 'x.config')).toThrow(message);
    expect(() => parseFragment(`CONFIG_OK=y\n${line}\n`, 'x.config')).toThrow(/x\.config:2/);
  });
});

describe('unmetOptions', () => {
  const final = ['CONFIG_TTY=y', '# CONFIG_VT is not set', 'CONFIG_NR_UARTS=4', 'CONFIG_NET=y', 'CONFIG_CMDLINE="quiet"', ''].join('\n');

  it('accepts a config that holds every option', () => {
    const wanted = parseFragment('CONFIG_TTY=y\n# CONFIG_VT is not set\nCONFIG_NR_UARTS=4\nCONFIG_CMDLINE="quiet"\n', 'f');
    expect(unmetOptions(wanted, final)).toEqual([]);
  });

  it('counts an option that is absent from .config as "not set"', () => {
    expect(unmetOptions(parseFragment('# CONFIG_ATA is not set\nCONFIG_BLOCK=n\n', 'f'), final)).toEqual([]);
  });

  it('names options that did not stick: misspelled, overridden, wrong value, m without modules', () => {
    const wanted = parseFragment('CONFIG_TTYY=y\n# CONFIG_NET is not set\nCONFIG_NR_UARTS=8\nCONFIG_TTY=m\n', 'net.config');
    const unmet = unmetOptions(wanted, final);
    expect(unmet.map((u) => [u.wanted.name, u.actual])).toEqual([
      ['CONFIG_TTYY', undefined],
      ['CONFIG_NET', 'y'],
      ['CONFIG_NR_UARTS', '4'],
      ['CONFIG_TTY', 'y'],
    ]);
    expect(describeUnmet(unmet[0])).toBe('CONFIG_TTYY=y (net.config:1) is not in the final .config (misspelled, or its dependencies are off)');
    expect(describeUnmet(unmet[1])).toBe('# CONFIG_NET is not set (net.config:2) ended up y');
  });

  it('checks only the last assignment of an option (later fragments win)', () => {
    const wanted = [...parseFragment('# CONFIG_NET is not set\n', 'base.config'), ...parseFragment('CONFIG_NET=y\n', 'net.config')];
    expect(unmetOptions(wanted, final)).toEqual([]);
    const reversed = [...parseFragment('CONFIG_NET=y\n', 'net.config'), ...parseFragment('# CONFIG_NET is not set\n', 'extra')];
    expect(unmetOptions(reversed, final).map((u) => u.wanted.origin)).toEqual(['extra:1']);
  });

  it('reads "is not set" in .config as not set, and =n the same', () => {
    expect(parseConfig('# CONFIG_A is not set\nCONFIG_B=n\nCONFIG_C=y\n')).toEqual(
      new Map([
        ['CONFIG_A', null],
        ['CONFIG_B', null],
        ['CONFIG_C', 'y'],
      ]),
    );
  });
});

describe('mergeConfig', () => {
  it('replaces the base lines of the options it sets and appends the new values', () => {
    const base = '# comment\nCONFIG_KERNEL_XZ=y\n# CONFIG_PRINTK is not set\nCONFIG_HZ=250\n';
    const merged = mergeConfig(base, parseFragment('CONFIG_PRINTK=y\n# CONFIG_KERNEL_XZ is not set\nCONFIG_KERNEL_LZ4=y\nCONFIG_PRINTK=y\n', 'f'));
    expect(merged).toBe('# comment\nCONFIG_HZ=250\n# CONFIG_KERNEL_XZ is not set\nCONFIG_KERNEL_LZ4=y\nCONFIG_PRINTK=y\n');
    expect(unmetOptions(parseFragment('CONFIG_PRINTK=y\nCONFIG_KERNEL_LZ4=y\n', 'f'), merged)).toEqual([]);
  });
});

describe('kernelCacheKey', () => {
  const inputs: KernelInputs = {
    recipe: 1,
    arch: 'i386',
    base: 'tinyconfig',
    sourceVersion: '6.1.192-2',
    fragments: ['CONFIG_TTY=y\n', 'CONFIG_NET=y\n'],
    extraConfig: [],
    buildEpoch: 1686355200,
    toolchain: ['gcc 12', 'ld 2.40'],
  };

  it('is a sha256 that depends only on the values, not on key order', () => {
    const key = kernelCacheKey(inputs);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    const reordered = Object.fromEntries(Object.entries(inputs).reverse()) as unknown as KernelInputs;
    expect(kernelCacheKey(reordered)).toBe(key);
  });

  it.each<[string, Partial<KernelInputs>]>([
    ['source version', { sourceVersion: '6.1.176-1' }],
    ['fragment text', { fragments: ['CONFIG_TTY=y\n', 'CONFIG_NET=n\n'] }],
    ['fragment order', { fragments: ['CONFIG_NET=y\n', 'CONFIG_TTY=y\n'] }],
    ['extra lines', { extraConfig: ['CONFIG_X=y'] }],
    ['build date', { buildEpoch: 0 }],
    ['compiler', { toolchain: ['gcc 13', 'ld 2.40'] }],
  ])('changes with the %s, and says so', (_what, change) => {
    const changed = { ...inputs, ...change };
    expect(kernelCacheKey(changed)).not.toBe(kernelCacheKey(inputs));
    expect(inputDifferences(inputs, changed).length).toBeGreaterThan(0);
  });

  it('reports no differences for equal inputs', () => {
    expect(inputDifferences(inputs, { ...inputs })).toEqual([]);
  });
});

describe('helpers', () => {
  it('formats the build date like date -u', () => {
    expect(buildTimestamp(1686355200)).toBe('Sat Jun 10 00:00:00 UTC 2023');
    expect(buildTimestamp(0)).toBe('Thu Jan 01 00:00:00 UTC 1970');
  });

  it('takes the upstream part of a Debian version', () => {
    expect(upstreamVersion('6.1.192-2')).toBe('6.1.192');
    expect(upstreamVersion('1:6.1.176-1~deb12u1')).toBe('6.1.176');
  });

  it('lists the symbols of a dependency expression', () => {
    expect(symbolsIn('PCI && (X86_32 || 64BIT) && !COMPILE_TEST && FOO="y"')).toEqual(['PCI', 'X86_32', '64BIT', 'COMPILE_TEST', 'FOO']);
  });
});

describe('shipped fragments', () => {
  it('resolve by name with or without .config, and an unknown name lists the known ones', async () => {
    expect((await readFragment('base')).name).toBe('base.config');
    expect((await readFragment('base.config')).text).toBe((await readFragment('base')).text);
    await expect(readFragment('no-such-fragment')).rejects.toThrow(/not found/);
    await expect(readFragment('no-such-fragment')).rejects.toMatchObject({ hint: expect.stringContaining('base') });
  });

  it('all parse, and base keeps the choices boot time depends on', async () => {
    const files = (await readdir(FRAGMENTS_DIR)).filter((f) => f.endsWith('.config'));
    expect(files).toContain('base.config');
    for (const f of files) parseFragment((await readFragment(f)).text, f);
    const base = new Map(parseFragment((await readFragment('base')).text, 'base').map((a) => [a.name, a.value]));
    expect(base.get('CONFIG_KERNEL_LZ4')).toBe('y');
    expect(base.get('CONFIG_LEGACY_PTYS')).toBeNull();
    expect(base.get('CONFIG_SERIAL_8250_CONSOLE')).toBe('y');
    expect(base.get('CONFIG_RD_GZIP')).toBeNull();
  });
});
