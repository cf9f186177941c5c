// The known guest messages table: what each firmware/kernel line is reported as, and the memory an initrd needs.

import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { GuestMessages, initrdUnpackedEstimate, repeatedCrash, suggestedMemoryMB } from './guest-messages.ts';

const MiB = 1 << 20;

function messages(ctx: GuestMessages['ctx'] = { memoryMB: 128 }): GuestMessages {
  const g = new GuestMessages();
  g.ctx = ctx;
  return g;
}

describe('GuestMessages', () => {
  it('offers twice the memory when the OOM killer ends a program and the machine runs on', () => {
    const g = messages({ memoryMB: 32 });
    const m = g.line('[   41.2] Out of memory: Killed process 93 (redis-server) total-vm:52000kB, anon-rss:21000kB');
    expect(m).toMatchObject({ code: 'guest-out-of-memory', kind: 'out-of-memory', memoryMB: 64 });
    expect(m?.message).toBe('The guest ran out of memory: its kernel killed redis-server.');
    expect(m?.hint).toBe('32 MiB is too little for what it was doing: boot it with 64 MiB.');
    const top = messages({ memoryMB: 2048 }).line('Out of memory: Killed process 7 (big)');
    expect(top?.memoryMB).toBeUndefined();
  });

  it("reports an appliance service that failed before its port listened, once, and not the wait's notice", () => {
    const g = messages();
    expect(g.line('whittle: still waiting for port 6379 to listen (30 s so far)')).toBeUndefined();
    const m = g.line('whittle: redis-server exited with status 1 before port 6379 listened; the console starts without it');
    expect(m).toMatchObject({ code: 'guest-service-failed', kind: 'service-exited' });
    expect(m?.message).toBe("The appliance's service redis-server exited with status 1 before it listened on port 6379; the console started without it.");
    expect(m?.hint).toMatch(/Reset/);
    expect(g.line('whittle: redis-server exited with status 1 before port 6379 listened; the console starts without it')).toBeUndefined();
  });

  const SEABIOS = [
    'SeaBIOS (version 1.16.2-debian-1.16.2-1)',
    'Booting from Hard Disk...',
    'Boot failed: could not read the boot disk',
    '',
    'Booting from DVD/CD...',
    'Boot failed: Could not read from CDROM (code 0003)',
    'No bootable device.  Retrying in 60 seconds.',
  ];

  it('reads a SeaBIOS failure off the VGA text screen once, for the device the image boots from', () => {
    const cd = messages({ memoryMB: 256, bootDevice: 'cdrom' });
    const found = cd.screen(SEABIOS);
    expect(found.map((m) => m.kind)).toEqual(['cdrom-read-failed']);
    expect(found[0].code).toBe('guest-boot-failed');
    expect(found[0].message).toContain('Could not read from CDROM (code 0003)');
    expect(found[0].hint).toMatch(/cut off/);
    // The same screen polled again: nothing new; a new boot sees it again.
    expect(cd.screen(SEABIOS)).toEqual([]);
    cd.clear();
    expect(cd.screen(SEABIOS)).toHaveLength(1);

    expect(messages({ memoryMB: 256, bootDevice: 'disk' }).screen(SEABIOS).map((m) => m.kind)).toEqual(['disk-read-failed']);
    // The other devices' failures on the way are not the image's: here the floppy could not be read.
    const none = messages({ memoryMB: 256, bootDevice: 'disk' }).screen(['Booting from Hard Disk...', 'Booting from Floppy...', 'Boot failed: could not read the boot disk', 'No bootable device.']);
    expect(none.map((m) => m.kind)).toEqual(['no-bootable-device']);
    expect(none[0].hint).toMatch(/BIOS \(legacy\) boot/);
  });

  it('says what memory an initrd panic needs, from the initrd size', () => {
    const g = messages({ memoryMB: 128, initrdBytes: 29 * MiB, initrdUnpackedBytes: 90 * MiB });
    g.line('[    2.100000] Initramfs unpacking failed: write error');
    const m = g.line('[    3.000000] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000009');
    expect(m?.kind).toBe('init-died');
    expect(m?.message).toMatch(/unpacking the initrd failed \(write error\)/);
    expect(m?.memoryMB).toBe(suggestedMemoryMB(29 * MiB, 90 * MiB));
    expect(m?.memoryMB).toBeGreaterThan(128);
    expect(m?.hint).toContain(`boot it with ${m?.memoryMB} MiB`);
  });

  it('does not suggest memory when there is enough, and never says "reset" (Reset is off once it failed)', () => {
    const g = messages({ memoryMB: 1024, initrdBytes: 2 * MiB, initrdUnpackedBytes: 2 * MiB });
    const m = g.line('Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100');
    expect(m?.memoryMB).toBeUndefined();
    expect(m?.hint).toMatch(/Boot again/);
    expect(m?.hint).not.toMatch(/reset/i);
  });

  it('keeps the cause line of any other panic, and names a missing root', () => {
    expect(messages().line('[ 1.0] Kernel panic - not syncing: Fatal exception in interrupt')?.message).toBe('The guest kernel panicked: Fatal exception in interrupt.');
    const root = messages().line('Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)');
    expect(root?.kind).toBe('no-root');
    expect(root?.hint).toMatch(/initrd|root=/);
  });

  it('ignores ordinary lines', () => {
    const g = messages();
    for (const l of ['Linux version 6.1.0', 'Run /init as init process', 'panic=1 console=ttyS0', 'shell:~# ']) expect(g.line(l)).toBeUndefined();
  });
});

describe('initrdUnpackedEstimate', () => {
  it('reads gzip ISIZE, takes a cpio as it is, and guesses 4x for the rest', () => {
    const raw = Buffer.alloc(3 * MiB, 7);
    const gz = gzipSync(raw);
    expect(initrdUnpackedEstimate(gz.subarray(0, 16), gz.subarray(-4), gz.length)).toBe(3 * MiB);
    const cpio = Buffer.from('070701' + '0'.repeat(100));
    expect(initrdUnpackedEstimate(cpio.subarray(0, 16), cpio.subarray(-4), 5 * MiB)).toBe(5 * MiB);
    const xz = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0, 0, 0]);
    expect(initrdUnpackedEstimate(xz, xz.subarray(-4), 10 * MiB)).toBe(40 * MiB);
  });

  it('reads a zstd frame content size', () => {
    // Magic, FHD = 0x80 (FCS 4 bytes, not single segment), window descriptor, then 4-byte size.
    const head = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x80, 0x58, 0x00, 0x00, 0x40, 0x01]);
    expect(initrdUnpackedEstimate(head, head.subarray(-4), 1000)).toBe(0x01400000);
  });

  it('suggests memory in 64 MiB steps, at least 128 MiB', () => {
    expect(suggestedMemoryMB(2 * MiB, 2 * MiB)).toBe(128);
    expect(suggestedMemoryMB(29 * MiB, 90 * MiB)).toBe(192);
    expect(suggestedMemoryMB(29 * MiB, 29 * MiB * 4)).toBe(256);
  });
});

describe('repeatedCrash', () => {
  it('says the emulator cannot run the image and where to read more', () => {
    const r = repeatedCrash('rescue', 'unreachable');
    expect(r.message).toMatch(/cannot run this image/);
    expect(r.hint).toMatch(/https:\/\/github\.com\/copy\/v86/);
    expect(r.hint).not.toMatch(/restart/i);
  });
});

describe('GuestMessages: out of memory while unpacking', () => {
  it('suggests memory for a panic after the initrd filled memory', () => {
    const g = messages({ memoryMB: 128, initrdBytes: 200_000, initrdUnpackedBytes: 122 * MiB });
    g.line('[    1.2] Out of memory and no killable processes...');
    const m = g.line('[    1.3] Kernel panic - not syncing: System is deadlocked on memory');
    expect(m?.message).toBe('The guest ran out of memory, then its kernel stopped ("System is deadlocked on memory").');
    expect(m?.memoryMB).toBe(192);
  });
});
