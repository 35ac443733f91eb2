// The hypervisor contract (report §7.1.1: independent of any one VMM). The provider agent talks only
// to `Hypervisor` (src/hv/hypervisor.ts), which validates input, enforces the state machine, keeps the
// local state (report §6.2.2: vm list, origin, version) and bumps versions, then calls a driver.
// Drivers implement `HvDriver` and declare what they support in their manifest; anything missing
// throws HV_NOT_SUPPORTED from the public layer.
import type { Duplex } from 'node:stream'

/** What a buyer paid for: sizes in MB, speed in bogomips, os 'linux' boots the guest image, null a blank disk. */
export interface VmConfig {
  memory: number
  hd: number
  speed: number
  os: string | null
  /** The machine's network card (report §6.2.3); absent on machines made before networks existed. */
  nic?: NicConfig | null
  /** Install media (an ISO on this node, absolute path) attached as a CD-ROM from the next boot. */
  media?: string | null
}

/**
 * A virtio-net card with the market's MAC, attached to the provider's switch (src/vnet) over a unix
 * socket. `net`, `address` and `prefix` are the market's assignment: the hypervisor only keeps them
 * with the machine (they travel with it on migration); the switch answers DHCP with them.
 */
export interface NicConfig {
  mac: string
  net: string
  address: string
  prefix: number
}

/**
 * What a machine learns at boot from the market (a NoCloud seed, src/hv/qemu/seed.ts): its name, the
 * buyer's SSH public keys, and root's password as a crypt(3) hash (the console password).
 */
export interface GuestSetup {
  hostname: string
  sshKeys: string[]
  passwordHash?: string | null
  /** The machine's SSH host key (OpenSSH ed25519), which the market knows, so buyers' ssh needs no TOFU. */
  hostKey?: HostKey | null
}

export interface HostKey {
  /** 'ssh-ed25519 AAAA…' */
  public: string
  /** '-----BEGIN OPENSSH PRIVATE KEY-----…' */
  private: string
}

/** Provider-side states (report §6.2.3). `created` = files made, not yet registered with the VMM. */
export type HvState = 'created' | 'registered' | 'running' | 'stopped' | 'suspended'

export interface HvVm {
  id: string
  state: HvState
  version: number
  config: VmConfig
  /** Node key (hex) of the provider this machine last migrated from; null if it was made here. */
  origin: string | null
}

/** What the host offers; the market locks speed, memory and storage when a machine is added. */
export interface HostInfo {
  processor: string
  cpus: number
  bogomips: number
  /** MB of memory the host has. */
  memory: number
  /** MB free in the machine directory. */
  storage: number
  hv: string
  accel: 'kvm' | 'tcg' | 'none'
  /** How speed shares are enforced: 'cgroup' (cpu.max) or 'none' (then `notes` says why). */
  cpuLimit: 'cgroup' | 'none'
  notes: string[]
}

export interface HvManifest {
  name: string
  create: boolean
  register: boolean
  start: boolean
  stop: boolean
  suspend: boolean
  resume: boolean
  delete: boolean
  status: boolean
  console: boolean
  info: boolean
}

/** Options every driver gets. */
export interface DriverContext {
  /** Directory under which each machine gets a folder of its own (the report's machine dir). */
  dir: string
  /** Something the provider must hear about that did not fail the operation (e.g. the speed limit of
   *  a started machine could not be applied). The Hypervisor emits it as 'warning'. */
  warn?(w: HvWarning): void
}

export interface HvWarning {
  type: string
  message: string
  vmId?: string
}

/** A driver: the few verbs a VMM must offer. Validation and state live above it, in Hypervisor. */
export interface HvDriver {
  readonly manifest: HvManifest
  open(ctx: DriverContext): Promise<void>
  close(): Promise<void>
  info(): Promise<HostInfo>
  /** `blank`: leave the disk empty even for an OS (the caller writes a catalog image onto it). */
  create(id: string, config: VmConfig, opts?: { blank?: boolean }): Promise<void>
  register(id: string, config: VmConfig): Promise<void>
  start(id: string, config: VmConfig): Promise<void>
  /** Clean power-down, forced after `timeoutMs`. */
  stop(id: string, opts: { timeoutMs: number }): Promise<void>
  /** Pause and save the whole machine state to its directory, then end the VMM process. */
  suspend(id: string): Promise<void>
  resume(id: string, config: VmConfig): Promise<void>
  delete(id: string): Promise<void>
  /** What the VMM says now; used to re-find machines after an agent restart. */
  status(id: string): Promise<'running' | 'paused' | 'off'>
  /** The guest's serial console as a byte stream (read = guest output, write = keystrokes). */
  console(id: string): Promise<Duplex>
  /** Optional: the unix socket on which the running machine's NIC carries Ethernet frames (QEMU stream). */
  nicSocket?(id: string): Promise<string>
  /** Optional: a port on the provider's 127.0.0.1 that reaches TCP `port` of the running guest. */
  guestPort?(id: string, port: number): Promise<number>
  /** Optional: what the guest learns at its next boot (first-boot seed). */
  setGuest?(id: string, guest: GuestSetup): Promise<void>
  /** Optional: write the current screen to `file` as PNG (or PPM, which is quicker to read back). */
  screenshot?(id: string, file: string, format?: 'png' | 'ppm'): Promise<void>
  /** Optional: a stream to the machine's VNC server (RFB); one at a time, a new one replaces the old. */
  vnc?(id: string): Promise<Duplex>
  /** Files that make up the machine (disk descriptor, extents, saved state), relative to its directory. */
  files(id: string): Promise<string[]>
  /**
   * Optional: adopt a machine whose files already sit in its directory (migration). Returns whether
   * a saved machine state came with it ('suspended') or only the disk ('stopped').
   */
  import?(id: string, config: VmConfig, hint?: { suspended?: boolean }): Promise<'stopped' | 'suspended'>
}
