// The QEMU command line of a machine, in one place so the benchmark's "bare" run and the driver agree.
// Files are relative to the machine directory (QEMU starts with it as cwd), but the unix sockets QEMU
// listens on are absolute paths under the short socket directory: with -daemonize QEMU moves to / at the
// end of its start-up, and its stream netdev binds from a thread that can run after that (a relative
// net.sock then lands in /, where no switch looks: measured, 11 of 20 starts of a bare QEMU). QEMU also
// unlinks its sockets at exit by the path it bound, so a relative one would be looked for in / again.

export const QMP_SOCK = 'qmp.sock'
export const SERIAL_SOCK = 'serial.sock'
export const SERIAL_LOG = 'serial.log'
export const NBD_SOCK = 'nbd.sock'
export const QEMU_PID = 'qemu.pid'
export const NBD_PID = 'nbd.pid'
export const SAVED_STATE = 'state.sav'
export const VM_FILE = 'vm.json'
export const NIC_SOCK = 'net.sock'
export const VNC_SOCK = 'vnc.sock'
export const SEED_ISO = 'seed.iso'

export interface QemuArgsInput {
  id: string
  /** Absolute machine directory; named in the pid file argument so a live process can be told apart. */
  dir: string
  /** The directory as a short path (unix sockets are limited to ~107 bytes); qemu-nbd wants it absolute. */
  sockDir: string
  memory: number
  accel: 'kvm' | 'tcg'
  /** Attach `seed.iso` (the first-boot NoCloud seed) as a second, read-only virtio disk. */
  seed: boolean
  /** Install media: an ISO attached as a CD-ROM, booted first (the installer) while attached. */
  media?: string | null
  /** Absolute path of a saved state to load (resume): QEMU starts paused (-S) and waits for `cont`. */
  incoming?: string | null
  /** The market-issued MAC of the machine's network card; null = no card. */
  mac?: string | null
  /** What the guest's uplink card may reach: 'none' (default) only forwarded ports, 'nat' also out. */
  outbound?: GuestOutbound
}

export type GuestOutbound = 'none' | 'nat'
export const GUEST_OUTBOUND: readonly GuestOutbound[] = ['none', 'nat']

/** QEMU opts values double their commas. */
function opt(s: string): string {
  return s.replace(/,/g, ',,')
}

/** A socket QEMU listens on, as an option value: its absolute path in the socket directory. */
function sockOpt(sockDir: string, name: string): string {
  return opt(`${sockDir}/${name}`)
}

export function qemuArgs(a: QemuArgsInput): string[] {
  const sock = (name: string) => sockOpt(a.sockDir, name)
  const args = [
    '-name',
    `virtuoso-${a.id}`,
    '-daemonize',
    '-pidfile',
    `${a.dir}/${QEMU_PID}`,
    '-nodefaults',
    // Every machine has a screen: a standard VGA card, shown to nobody on the host, served by
    // QEMU's VNC server on a unix socket that the provider carries to the buyer (src/console/vnc*).
    '-display',
    'none',
    '-vga',
    'std',
    '-vnc',
    `unix:${sock(VNC_SOCK)}`,
    '-machine',
    `pc,accel=${a.accel}`,
    '-m',
    String(a.memory),
    '-smp',
    '1',
    '-qmp',
    `unix:${sock(QMP_SOCK)},server=on,wait=off`,
    '-chardev',
    `socket,id=ser0,path=${sock(SERIAL_SOCK)},server=on,wait=off,logfile=${SERIAL_LOG},logappend=on`,
    '-serial',
    'chardev:ser0',
    // The VMDK is served by qemu-nbd: QEMU refuses to save the state of a VM with a vmdk node
    // ("does not support live migration"), and suspend is a migration to a file.
    '-drive',
    'if=virtio,format=raw,cache=writeback,file.driver=nbd,file.server.type=unix,' +
      `file.server.path=${sock(NBD_SOCK)}`,
  ]
  args.push(...nicArgs(a.mac ?? null, a.outbound ?? 'none', a.sockDir))
  // The firmware boots the disk: the OS (bootloader and kernel) lives in the machine's image.
  if (a.seed) args.push('-drive', `if=virtio,format=raw,readonly=on,file=${SEED_ISO}`)
  if (a.media) {
    args.push('-drive', `if=ide,index=2,media=cdrom,readonly=on,format=raw,file=${opt(a.media)}`)
    args.push('-boot', 'order=dc') // the installer first; after `media detach` the disk it installed to
  }
  if (a.incoming) args.push('-S', '-incoming', `exec:cat ${shq(a.incoming)}`)
  return args
}

/**
 * The network card: virtio-net whose frames QEMU carries on a unix socket it listens on (`-netdev
 * stream`, QEMU >= 7.2), one 4-byte big-endian length before each frame. QEMU is the server so a
 * guest keeps its card across agent restarts (it takes the next connection; measured here) and
 * starts without waiting for the switch. The saved state of a suspended machine includes the card,
 * so a machine keeps the same card (or none) for its whole life.
 */
export function nicArgs(mac: string | null, outbound: GuestOutbound, sockDir: string): string[] {
  if (!mac) return []
  return [
    '-netdev',
    `stream,id=net0,server=on,addr.type=unix,addr.path=${sockOpt(sockDir, NIC_SOCK)}`,
    '-device',
    `virtio-net-pci,netdev=net0,mac=${mac}`,
    // The uplink (second card, the guest's eth1): QEMU's user-mode network. It is how the provider
    // reaches a guest port for `virtuoso pipe/ssh/forward` (QMP hostfwd_add on a provider-loopback
    // port, src/hv/qemu/hostfwd.ts) without root, TAP or a TCP stack in the agent. restrict=on keeps
    // the guest from reaching the host or beyond (forwarded ports still work); the provider's
    // --guest-outbound nat lifts it. Its state is not part of a saved machine, so the setting may
    // differ after a resume or a migration; its MAC is derived from the market's so it never changes.
    '-netdev',
    `user,id=${UPLINK_NETDEV},restrict=${outbound === 'nat' ? 'off' : 'on'}`,
    '-device',
    `virtio-net-pci,netdev=${UPLINK_NETDEV},mac=${uplinkMac(mac)}`,
  ]
}

export const UPLINK_NETDEV = 'uplink'

/** QEMU's own prefix (52:54:00) and the market MAC's last three octets. */
export function uplinkMac(mac: string): string {
  return `52:54:00:${mac.split(':').slice(3).join(':')}`
}

export function nbdArgs(dir: string, sockDir: string, descriptor: string): string[] {
  return [
    '--fork',
    '--persistent',
    `--pid-file=${dir}/${NBD_PID}`,
    `--socket=${sockDir}/${NBD_SOCK}`,
    '--format=vmdk',
    '--cache=writeback',
    '--aio=threads',
    descriptor,
  ]
}

function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`
}
