// The QEMU driver. Each machine is a directory: disk.vmdk + extents (served by qemu-nbd), qmp.sock,
// serial.sock (+ serial.log), qemu.pid, nbd.pid, vm.json and, while suspended, state.sav. QEMU and
// qemu-nbd daemonize into sessions of their own, so an agent killed with -9 leaves guests running and a
// restarted agent finds them again by pid file and socket.
import type { Duplex } from 'node:stream'
import { join, resolve } from 'node:path'
import { packageRoot } from '../../root.ts'
import { rm } from 'node:fs/promises'
import type { DriverContext, GuestSetup, HostInfo, HvDriver, HvManifest, HvWarning, VmConfig } from '../types.ts'
import { descriptorName, freeBytes, REMOVE_MACHINE_DIR } from '../disk.ts'
import { DEFAULT_IMAGE_DIR, imageFile } from '../image.ts'
import { defaultGuest, readGuest, writeGuest, writeSeed } from './seed.ts'
import { HvError, HV_BAD_STATE, HV_NOT_FOUND } from '../errors.ts'
import { Monitor } from './monitor.ts'
import { alive, readPid, terminate } from './proc.ts'
import { shortDir } from './short-dir.ts'
import { chooseAccel, type AccelChoice, type AccelMode } from './accel.ts'
import { cgroupLimiter, detectCpuLimiter, noCpuLimiter, type CpuLimiter } from './cgroup.ts'
import { cpuInfo, memoryMb, type CpuInfo } from './host.ts'
import { exists, which, writeVmRecord } from './files.ts'
import { makeMachineDir, machineFiles, importMachineDir } from './machine-dir.ts'
import { powerOff, runState, saveState } from './power.ts'
import { GuestSockets } from './guest-sockets.ts'
import { bootMachine } from './boot.ts'
import { NBD_PID, NBD_SOCK, QEMU_PID, QMP_SOCK, SAVED_STATE, SERIAL_SOCK, NIC_SOCK, VNC_SOCK } from './args.ts'
import type { GuestOutbound } from './args.ts'
import { HostForwards } from './hostfwd.ts'

export const QEMU_MANIFEST: HvManifest = Object.freeze({
  name: 'qemu',
  create: true,
  register: true,
  start: true,
  stop: true,
  suspend: true,
  resume: true,
  delete: true,
  status: true,
  console: true,
  info: true,
})

export const DEFAULT_GUEST_DIR = join(packageRoot(), 'fixtures/guest/build') + '/'
export const READY_MARKER = 'VIRTUOSO-GUEST-READY'

export interface QemuDriverOptions {
  accel?: AccelMode
  /** qemu-system-x86_64 binary (name in PATH or a path). */
  qemu?: string
  qemuNbd?: string
  /** Where vmlinuz and initrd.img of the busybox guest are (only the KVM probe boots them). */
  guestDir?: string
  /** Where `<os>.img` files are (fixtures/images/build); ignored when `image` is given. */
  imageDir?: string
  /** The image file of an OS (the market's catalog passes its cached, verified copy). */
  image?: (os: string) => Promise<string>
  /** xorriso binary, which makes the first-boot seed. */
  xorriso?: string
  /** Free bytes of the machine directory, instead of statfs (tests inject a full disk). */
  freeBytes?: (dir: string) => Promise<number> | number
  /** Longest wait for saving or loading a machine state. */
  stateTimeoutMs?: number
  /** Enforce speed shares with cgroup v2 when the host allows it (default true). */
  cpuLimit?: boolean
  /** The cgroup v2 directory to limit machines under, instead of the one found from /proc/self. */
  cgroupBase?: string
  /** What guests' uplink cards may reach (the provider's --guest-outbound); default 'none'. */
  outbound?: GuestOutbound
}

export class QemuDriver implements HvDriver {
  readonly manifest = QEMU_MANIFEST
  #o: Required<Pick<QemuDriverOptions, 'accel' | 'qemu' | 'qemuNbd' | 'guestDir' | 'stateTimeoutMs'>> &
    QemuDriverOptions
  #dir = ''
  #consoles = new GuestSockets('console')
  #vncs = new GuestSockets('screen')
  #accel: AccelChoice | null = null
  #cpu: CpuInfo | null = null
  #limiter: CpuLimiter | null = null
  #warn: (w: HvWarning) => void = () => {}
  /** Running machines whose speed limit could not be applied, and why (shown in info()'s notes). */
  #unlimited = new Map<string, string>()
  #forwards = new HostForwards()

  constructor(opts: QemuDriverOptions = {}) {
    this.#o = {
      accel: 'auto',
      qemu: 'qemu-system-x86_64',
      qemuNbd: 'qemu-nbd',
      guestDir: DEFAULT_GUEST_DIR,
      stateTimeoutMs: 120_000,
      ...opts,
    }
  }

  async open(ctx: DriverContext): Promise<void> {
    this.#dir = ctx.dir
    this.#warn = ctx.warn ?? (() => {})
    this.#o.qemu = await which(this.#o.qemu)
    this.#o.qemuNbd = await which(this.#o.qemuNbd)
    this.#cpu = await cpuInfo()
    this.#limiter =
      this.#o.cpuLimit === false
        ? noCpuLimiter('speed is not enforced: disabled by configuration')
        : this.#o.cgroupBase
          ? cgroupLimiter(this.#o.cgroupBase)
          : await detectCpuLimiter()
  }

  async close(): Promise<void> {
    this.#consoles.close()
    this.#vncs.close()
  }

  async info(): Promise<HostInfo> {
    const accel = await this.#accelChoice()
    const cpu = this.#cpu ?? (await cpuInfo())
    return {
      processor: cpu.processor,
      cpus: cpu.cpus,
      bogomips: cpu.bogomips,
      memory: memoryMb(),
      storage: Math.floor((await this.#free(this.#dir)) / 1048576),
      hv: `qemu (${this.#o.qemu})`,
      accel: accel.accel,
      cpuLimit: this.#limiter?.kind ?? 'none',
      notes: [
        accel.note,
        this.#limiter?.note ?? 'speed is not enforced',
        ...[...this.#unlimited].map(([id, why]) => `speed is not enforced for machine ${id}: ${why}`),
      ],
    }
  }

  async create(id: string, config: VmConfig, opts: { blank?: boolean } = {}): Promise<void> {
    // A missing image fails before anything is made. A blank machine (os null), or one whose disk
    // the caller fills (a catalog image), gets a blank disk.
    const image = config.os === null || opts.blank ? null : await this.#image(config.os)
    const dir = this.#vmDir(id)
    await makeMachineDir({ id, dir, config, image, freeBytes: await this.#free(this.#dir), root: this.#dir })
  }

  async setGuest(id: string, guest: GuestSetup): Promise<void> {
    await this.#need(id)
    await writeGuest(this.#vmDir(id), guest)
  }

  async screenshot(id: string, file: string, format: 'png' | 'ppm' = 'png'): Promise<void> {
    if (!(await this.#running(id)))
      throw new HvError(HV_BAD_STATE, `Cannot take a screenshot of machine '${id}': it is not running; start it first.`)
    const mon = await this.#monitor(id)
    try {
      await mon.screendump(file, format)
    } finally {
      mon.close()
    }
  }

  async vnc(id: string): Promise<Duplex> {
    if (!(await this.#running(id)))
      throw new HvError(HV_BAD_STATE, `Cannot open the screen of machine '${id}': it is not running; start it first.`)
    return this.#vncs.attach(id, join(await shortDir(this.#vmDir(id)), VNC_SOCK))
  }

  async register(id: string, config: VmConfig): Promise<void> {
    await this.#need(id)
    await writeVmRecord(this.#vmDir(id), id, config)
  }

  async start(id: string, config: VmConfig): Promise<void> {
    await this.#need(id)
    if (await this.#running(id))
      throw new HvError(HV_BAD_STATE, `Cannot start machine '${id}': its QEMU is already running; stop it first.`)
    await rm(join(this.#vmDir(id), SAVED_STATE), { force: true })
    await this.#boot(id, config, null)
  }

  async stop(id: string, opts: { timeoutMs: number }): Promise<void> {
    this.#dropConsole(id)
    await powerOff(this.#vmDir(id), () => this.#monitor(id), opts.timeoutMs)
    await this.#cleanup(id)
  }

  async suspend(id: string): Promise<void> {
    if (!(await this.#running(id)))
      throw new HvError(HV_BAD_STATE, `Cannot suspend machine '${id}': its QEMU is not running; start it first.`)
    this.#dropConsole(id)
    await saveState(this.#vmDir(id), () => this.#monitor(id), this.#o.stateTimeoutMs)
    await this.#cleanup(id)
  }

  async resume(id: string, config: VmConfig): Promise<void> {
    const dir = this.#vmDir(id)
    const saved = join(dir, SAVED_STATE)
    if (!(await exists(saved)))
      throw new HvError(
        HV_BAD_STATE,
        `Cannot resume machine '${id}': ${saved} is missing; start the machine instead (its disk is intact).`,
      )
    if (await this.#running(id))
      throw new HvError(HV_BAD_STATE, `Cannot resume machine '${id}': its QEMU is already running.`)
    await this.#boot(id, config, saved)
    await rm(saved, { force: true })
  }

  async delete(id: string): Promise<void> {
    const dir = this.#vmDir(id)
    this.#dropConsole(id)
    await terminate(await readPid(join(dir, QEMU_PID)), dir, 2000)
    await this.#cleanup(id)
    await rm(dir, REMOVE_MACHINE_DIR)
  }

  async status(id: string): Promise<'running' | 'paused' | 'off'> {
    return runState(this.#vmDir(id), () => this.#monitor(id, 3000))
  }

  async nicSocket(id: string): Promise<string> {
    return join(await shortDir(this.#vmDir(id)), NIC_SOCK)
  }

  async guestPort(id: string, port: number): Promise<number> {
    return this.#forwards.port(id, this.#vmDir(id), port, () => this.#monitor(id))
  }

  async console(id: string): Promise<Duplex> {
    if (!(await this.#running(id)))
      throw new HvError(
        HV_BAD_STATE,
        `Cannot open the console of machine '${id}': its QEMU is not running; start it first.`,
      )
    return this.#consoles.attach(id, join(await shortDir(this.#vmDir(id)), SERIAL_SOCK))
  }

  async files(id: string): Promise<string[]> {
    return machineFiles(this.#vmDir(id), id)
  }

  async import(id: string, config: VmConfig): Promise<'stopped' | 'suspended'> {
    return importMachineDir(this.#vmDir(id), id, config)
  }

  /** Host-side view for tests and the benchmark: pids of the machine's processes. */
  async pids(id: string): Promise<{ qemu: number | null; nbd: number | null }> {
    const dir = this.#vmDir(id)
    return { qemu: await readPid(join(dir, QEMU_PID)), nbd: await readPid(join(dir, NBD_PID)) }
  }

  async #boot(id: string, config: VmConfig, incoming: string | null): Promise<void> {
    const dir = this.#vmDir(id)
    // The seed is made again at every boot and resume (a saved state expects the same drives).
    const seed = config.os !== null
    if (seed) await writeSeed(dir, id, (await readGuest(dir)) ?? defaultGuest(id), this.#o.xorriso)
    await bootMachine({
      id,
      dir,
      sockDir: await shortDir(dir),
      config,
      incoming,
      seed,
      accel: (await this.#accelChoice()).accel,
      outbound: this.#o.outbound ?? 'none',
      bins: { qemu: this.#o.qemu, qemuNbd: this.#o.qemuNbd },
      stateTimeoutMs: this.#o.stateTimeoutMs,
      limiter: this.#limiter,
      perCpu: this.#cpu?.perCpu,
      unlimited: (why) => {
        this.#unlimited.set(id, why)
        this.#warn({
          type: 'vm.speed-unlimited',
          vmId: id,
          message: `machine ${id} runs without its speed limit: ${why}`,
        })
      },
      monitor: () => this.#monitor(id),
      cleanup: () => this.#cleanup(id),
    })
  }

  async #cleanup(id: string): Promise<void> {
    this.#unlimited.delete(id)
    const dir = this.#vmDir(id)
    await terminate(await readPid(join(dir, NBD_PID)), dir, 10_000)
    await this.#limiter?.remove(id)
    for (const f of [QMP_SOCK, SERIAL_SOCK, VNC_SOCK, NIC_SOCK, NBD_SOCK, QEMU_PID, NBD_PID])
      await rm(join(dir, f), { force: true })
  }

  async #monitor(id: string, timeoutMs = 10_000): Promise<Monitor> {
    return Monitor.connect(join(await shortDir(this.#vmDir(id)), QMP_SOCK), { connectTimeoutMs: timeoutMs })
  }

  async #running(id: string): Promise<boolean> {
    const dir = this.#vmDir(id)
    return alive(await readPid(join(dir, QEMU_PID)), dir)
  }

  #dropConsole(id: string): void {
    this.#consoles.drop(id)
    this.#vncs.drop(id)
  }

  async #image(os: string): Promise<string> {
    return this.#o.image ? this.#o.image(os) : imageFile(this.#o.imageDir ?? DEFAULT_IMAGE_DIR, os)
  }

  async #accelChoice(): Promise<AccelChoice> {
    if (this.#accel) return this.#accel
    const g = resolve(this.#o.guestDir)
    const have = (await exists(join(g, 'vmlinuz'))) && (await exists(join(g, 'initrd.img')))
    this.#accel = await chooseAccel(this.#o.accel, {
      qemu: this.#o.qemu,
      kernel: have ? join(g, 'vmlinuz') : null,
      initrd: have ? join(g, 'initrd.img') : null,
      marker: READY_MARKER,
    })
    return this.#accel
  }

  async #free(dir: string): Promise<number> {
    return this.#o.freeBytes ? this.#o.freeBytes(dir) : freeBytes(dir)
  }

  async #need(id: string): Promise<void> {
    if (!(await exists(join(this.#vmDir(id), descriptorName()))))
      throw new HvError(HV_NOT_FOUND, `Machine '${id}' has no disk in ${this.#vmDir(id)}; create it again.`)
  }

  #vmDir(id: string): string {
    return join(this.#dir, id)
  }
}
