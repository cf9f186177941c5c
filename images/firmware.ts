// Firmware every image boots with: SeaBIOS and its VGA BIOS, taken from Debian's locked `seabios` .deb
// (the appliances and the twin boot the very same bytes).

import { readDebMember } from './archive/index.ts';

export interface Firmware {
  bios: Uint8Array;
  vgabios: Uint8Array;
}

/** bios.bin and vgabios-stdvga.bin (v86 emulates a Bochs/stdvga card) from a verified seabios .deb. */
export async function seabiosFirmware(debPath: string): Promise<Firmware> {
  return {
    bios: await readDebMember(debPath, 'usr/share/seabios/bios.bin'),
    vgabios: await readDebMember(debPath, 'usr/share/seabios/vgabios-stdvga.bin'),
  };
}
