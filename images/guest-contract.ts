// What an appliance's /init (images/init.ts) and the machine that runs it (worker/) agree on: where the
// host's files are mounted and the kernel command-line word that configures the network card. Pure, so
// the builder, the worker and the page import the same values.

/** Where /init mounts the host share (the twin's fstab too). */
export const SHARE_MOUNT = '/mnt/host';
/** v86's virtio-9p mount tag (v86 lib/9p.js `configspace_tagname`). */
export const SHARE_TAG = 'host9p';
/** 9p mount options: virtio transport, the Linux dialect, 128 KiB messages (v86 follows the client's msize). */
export const SHARE_MOUNT_OPTIONS = 'trans=virtio,version=9p2000.L,msize=131072';

/** Kernel command-line word for eth0: `whittle.ip=<addr>/<prefix>[,<gateway>]` or `whittle.ip=dhcp`; absent, eth0 stays down. */
export const IP_FLAG = 'whittle.ip';
