// The public hypervisor layer (abstract-level style): validates ids and configurations, enforces the
// machine state machine (report §6.2.3), keeps local state in LevelDB (report §6.2.2) and bumps
// versions (register, stop and suspend add one), then calls a driver. Verbs a driver's manifest lacks
// throw HV_NOT_SUPPORTED. Operations on one machine run one at a time.
import { EventEmitter } from 'node:events'
import { join, resolve } from 'node:path'
import { mkdir } from 'node:fs/promises'
import type { Duplex } from 'node:stream'
import type { GuestSetup, HostInfo, HvDriver, HvManifest, HvState, HvVm, VmConfig } from './types.ts'
import { StateStore, type AnyLevel, type VmRecord } from './store.ts'
import { badInput, badState, closed, exists, noSpace, notFound, notSupported } from './errors.ts'
import { checkGuest, checkVersion, checkVmConfig, checkVmId } from './validate.ts'
import { makeDriver, type DriverChoice } from './drivers.ts'
import { copyConfig, newRecord, view } from './record.ts'
import { SerialQueue } from './serial.ts'

export { ID_PATTERN, MIN_MEMORY_MB, MAX_MEMORY_MB, OS_PATTERN, checkVmConfig, checkVmId } from './validate.ts'

export type { Accel } from './drivers.ts'

export interface HypervisorOptions extends DriverChoice {
  /** Machine directory: each machine gets `<dir>/<id>/`. */
  dir: string
  /** Local state: a sublevel (or database) of the caller's, or a path; default `<dir>/.hv-state`. */
  db?: string | AnyLevel
  /** How long a stop waits for the guest's ACPI power-down before forcing QEMU to quit. */
  stopTimeoutMs?: number
}

export const DEFAULT_STOP_TIMEOUT_MS = 20_000

const FROM = {
  register: ['created'],
  start: ['registered', 'stopped'],
  stop: ['running'],
  suspend: ['running'],
  resume: ['suspended'],
  delete: ['created', 'registered', 'stopped', 'suspended'],
  console: ['running'],
  screenshot: ['running'],
  vnc: ['running'],
  guestPort: ['running'],
} as const satisfies Record<string, readonly HvState[]>

export class Hypervisor extends EventEmitter {
  readonly dir: string
  readonly driver: HvDriver
  readonly stopTimeoutMs: number
  #store: StateStore
  #vms = new Map<string, VmRecord>()
  #queue = new SerialQueue()
  #closed = false
  /** Guests that stopped by themselves since open (id -> version after), including those found at
   *  open: whoever reports them (the provider agent) may start listening for 'exit' late. */
  readonly exits = new Map<string, number>()
  #beforeRemove: Array<(id: string) => Promise<void>> = []

  private constructor(driver: HvDriver, dir: string, store: StateStore, stopTimeoutMs: number) {
    super()
    this.driver = driver
    this.dir = dir
    this.#store = store
    this.stopTimeoutMs = stopTimeoutMs
  }

  static async open(opts: HypervisorOptions): Promise<Hypervisor> {
    if (!opts || typeof opts.dir !== 'string' || opts.dir === '')
      throw badInput('machine directory', 'none was given', 'pass { dir } to Hypervisor.open')
    const dir = resolve(opts.dir)
    await mkdir(dir, { recursive: true })
    const driver = await makeDriver(opts)
    // A driver's warnings (a machine running without its speed limit, …) become 'warning' events.
    let hv: Hypervisor | null = null
    await driver.open({ dir, warn: (w) => hv?.emit('warning', w) })
    let store: StateStore
    try {
      store = await StateStore.open(opts.db ?? join(dir, '.hv-state'))
    } catch (err) {
      await driver.close()
      throw err
    }
    hv = new Hypervisor(driver, dir, store, opts.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS)
    await hv.#load()
    return hv
  }

  get manifest(): HvManifest {
    return this.driver.manifest
  }

  async info(): Promise<HostInfo> {
    this.#check('info')
    return this.driver.info()
  }

  async list(): Promise<HvVm[]> {
    this.#open()
    return [...this.#vms.values()].sort((a, b) => a.id.localeCompare(b.id)).map(view)
  }

  async get(id: string): Promise<HvVm> {
    this.#open()
    checkVmId(id)
    return view(this.#rec(id))
  }

  /** Ask the driver what the machine is doing now and fix the stored state if it drifted. */
  async refresh(id: string): Promise<HvVm> {
    this.#open()
    checkVmId(id)
    return this.#serial(id, async () => view(await this.#reconcile(this.#rec(id))))
  }

  /** `blank`: an empty disk even for an OS, for a caller that writes a catalog image onto it. */
  async create(id: string, config: VmConfig, opts: { version?: number; blank?: boolean } = {}): Promise<HvVm> {
    this.#check('create')
    checkVmId(id)
    checkVmConfig(config)
    const version = checkVersion(opts.version ?? 0)
    return this.#serial(id, async () => {
      if (this.#vms.has(id)) throw exists(id)
      if (this.manifest.info) {
        const { storage } = await this.driver.info()
        if (storage < config.hd) throw noSpace(id, config.hd, storage, this.dirOf(id))
      }
      const cfg = copyConfig(config)
      await this.driver.create(id, cfg, { blank: opts.blank })
      return view(await this.#save(newRecord(id, cfg, version, null, 'created')))
    })
  }

  /** Attach (a path) or detach (null) install media; it takes effect at the machine's next boot. */
  async setMedia(id: string, path: string | null): Promise<HvVm> {
    this.#open()
    checkVmId(id)
    if (path !== null && (typeof path !== 'string' || !path.startsWith('/')))
      throw badInput('media', `${JSON.stringify(path)} is not an absolute path`, 'give the ISO file of this node')
    return this.#serial(id, async () => {
      const rec = this.#rec(id)
      const config = { ...rec.config }
      if (path) config.media = path
      else delete config.media
      return view(await this.#save({ ...rec, config }))
    })
  }

  async register(id: string): Promise<HvVm> {
    return this.#verb(id, 'register', async (rec) => {
      await this.driver.register(id, rec.config)
      return { state: 'registered', version: rec.version + 1 }
    })
  }

  async start(id: string): Promise<HvVm> {
    return this.#verb(id, 'start', async (rec) => {
      await this.driver.start(id, rec.config)
      return { state: 'running' }
    })
  }

  async stop(id: string): Promise<HvVm> {
    return this.#verb(id, 'stop', async () => {
      await this.driver.stop(id, { timeoutMs: this.stopTimeoutMs })
      return { state: 'stopped', bump: true }
    })
  }

  async suspend(id: string): Promise<HvVm> {
    return this.#verb(id, 'suspend', async () => {
      await this.driver.suspend(id)
      return { state: 'suspended', bump: true }
    })
  }

  async resume(id: string): Promise<HvVm> {
    return this.#verb(id, 'resume', async (rec) => {
      await this.driver.resume(id, rec.config)
      return { state: 'running' }
    })
  }

  /** Run `fn` before a machine's directory is removed (vmmp cancels its background manifest there). */
  beforeRemove(fn: (id: string) => Promise<void>): void {
    this.#beforeRemove.push(fn)
  }

  async delete(id: string): Promise<void> {
    await this.#verb(id, 'delete', async () => {
      for (const fn of this.#beforeRemove) await fn(id)
      await this.driver.delete(id)
      await this.#store.del(id)
      this.#vms.delete(id)
      this.emit('delete', id)
      return null
    })
  }

  /** The guest's serial console (read = output, write = keystrokes). Only while running. */
  async console(id: string): Promise<Duplex> {
    let stream: Duplex | null = null
    await this.#verb(id, 'console', async () => {
      stream = await this.driver.console(id)
      return null
    })
    return stream as unknown as Duplex
  }

  /** The unix socket of a running machine's network card (see HvDriver.nicSocket). */
  async nicSocket(id: string): Promise<string> {
    this.#open()
    checkVmId(id)
    const rec = this.#rec(id)
    if (!rec.config.nic) throw notSupported(this.manifest.name, 'a network card on a machine made without one')
    if (!this.driver.nicSocket) throw notSupported(this.manifest.name, 'nicSocket')
    return this.driver.nicSocket(id)
  }

  /** A provider-loopback port that reaches TCP `port` of a running machine (`virtuoso pipe`). */
  async guestPort(id: string, port: number): Promise<number> {
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw badInput('guest port', String(port), 'give a TCP port from 1 to 65535')
    const open = this.driver.guestPort?.bind(this.driver)
    if (!open) throw notSupported(this.manifest.name, 'guestPort')
    let host = 0
    await this.#verb(id, 'guestPort', async () => {
      host = await open(id, port)
      return null
    })
    return host
  }

  /** What the guest learns at its next boot: hostname, the buyer's SSH keys, root's password hash. */
  async setGuest(id: string, guest: GuestSetup): Promise<void> {
    this.#open()
    checkVmId(id)
    checkGuest(guest)
    const set = this.driver.setGuest?.bind(this.driver)
    if (!set) throw notSupported(this.manifest.name, 'setGuest')
    await this.#serial(id, async () => {
      this.#rec(id)
      await set(id, {
        hostname: guest.hostname,
        sshKeys: [...guest.sshKeys],
        passwordHash: guest.passwordHash ?? null,
        hostKey: guest.hostKey ?? null,
      })
    })
  }

  /** Write the machine's screen to `file` (PNG, or PPM). Only while running. */
  async screenshot(id: string, file: string, format: 'png' | 'ppm' = 'png'): Promise<void> {
    const shot = this.driver.screenshot?.bind(this.driver)
    if (!shot) throw notSupported(this.manifest.name, 'screenshot')
    await this.#verb(id, 'screenshot', async () => {
      await shot(id, resolve(file), format)
      return null
    })
  }

  /** A stream to the machine's VNC server (RFB). Only while running; a new one replaces the old. */
  async vnc(id: string): Promise<Duplex> {
    const open = this.driver.vnc?.bind(this.driver)
    if (!open) throw notSupported(this.manifest.name, 'vnc')
    let stream: Duplex | null = null
    await this.#verb(id, 'vnc', async () => {
      stream = await open(id)
      return null
    })
    return stream as unknown as Duplex
  }

  /** Files of the machine, relative to `dirOf(id)`: disk descriptor, extents, saved state if suspended. */
  async files(id: string): Promise<string[]> {
    this.#open()
    checkVmId(id)
    this.#rec(id)
    return this.driver.files(id)
  }

  dirOf(id: string): string {
    checkVmId(id)
    return join(this.dir, id)
  }

  /**
   * Adopt a machine whose files already sit in `dirOf(id)` (the destination side of a migration).
   * It comes in 'suspended' when a saved state came with it, else 'stopped', with the given version.
   */
  async importVm(
    id: string,
    config: VmConfig,
    opts: { version: number; origin?: string | null; suspended?: boolean },
  ): Promise<HvVm> {
    this.#open()
    checkVmId(id)
    checkVmConfig(config)
    const version = checkVersion(opts?.version)
    const origin = opts.origin ?? null
    if (origin !== null && (typeof origin !== 'string' || origin.length === 0 || origin.length > 256)) {
      throw badInput(
        'origin',
        'it must be a node key (hex) or null',
        'pass the key of the provider the machine came from',
      )
    }
    if (!this.driver.import) throw notSupported(this.manifest.name, 'import')
    const importFn = this.driver.import.bind(this.driver)
    return this.#serial(id, async () => {
      if (this.#vms.has(id)) throw exists(id)
      const cfg = copyConfig(config)
      const state = await importFn(id, cfg, { suspended: opts.suspended })
      return view(await this.#save(newRecord(id, cfg, version, origin, state)))
    })
  }

  /** Forget our handles; machines keep running in their VMM (an agent restart finds them again). */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#queue.drain()
    await this.driver.close()
    await this.#store.close()
  }

  async #load(): Promise<void> {
    for (const rec of await this.#store.all()) this.#vms.set(rec.id, rec)
    if (!this.manifest.status) return
    await Promise.all([...this.#vms.values()].map((rec) => this.#reconcile(rec)))
  }

  /**
   * What the VMM says wins over what we stored: a live process is 'running' (paused counts: a suspend
   * that died halfway can be retried or stopped); a machine we thought running but whose VMM is gone
   * was powered off from inside, which changes the disk like a stop, so the version goes up by one.
   */
  async #reconcile(rec: VmRecord): Promise<VmRecord> {
    if (!this.manifest.status) return rec
    const power = await this.driver.status(rec.id)
    if (power !== 'off' && rec.state !== 'running') return this.#save({ ...rec, state: 'running' })
    if (power === 'off' && rec.state === 'running') {
      const saved = await this.#save({ ...rec, state: 'stopped', version: rec.version + 1 })
      // Nobody asked for this stop: the provider agent reports it to the hub (versions stay in sync).
      this.exits.set(saved.id, saved.version)
      this.emit('exit', { id: saved.id, version: saved.version })
      return saved
    }
    return rec
  }

  async #verb(
    id: string,
    verb: keyof typeof FROM,
    fn: (rec: VmRecord) => Promise<{ state: HvState; version?: number; bump?: boolean } | null>,
  ): Promise<HvVm> {
    this.#check(verb)
    checkVmId(id)
    return this.#serial(id, async () => {
      let rec = this.#rec(id)
      if (verb !== 'delete' || rec.state === 'running') rec = await this.#reconcile(rec)
      const allowed = FROM[verb] as readonly HvState[]
      if (!allowed.includes(rec.state)) throw badState(id, verb, rec.state, allowed)
      const next = await fn(rec)
      if (!next) return view(rec)
      const version = next.version ?? (next.bump ? rec.version + 1 : rec.version)
      return view(await this.#save({ ...rec, state: next.state, version }))
    })
  }

  async #save(rec: VmRecord): Promise<VmRecord> {
    const saved = { ...rec, updatedAt: Date.now() }
    await this.#store.put(saved)
    this.#vms.set(saved.id, saved)
    this.emit('change', view(saved))
    return saved
  }

  #serial<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return this.#queue.run(id, () => {
      this.#open()
      return fn()
    })
  }

  #rec(id: string): VmRecord {
    const rec = this.#vms.get(id)
    if (!rec) throw notFound(id)
    return rec
  }

  #open(): void {
    if (this.#closed) throw closed()
  }

  #check(verb: keyof HvManifest | 'console' | 'screenshot' | 'vnc' | 'guestPort'): void {
    this.#open()
    if (verb === 'screenshot' || verb === 'vnc' || verb === 'guestPort') return
    if (verb !== 'name' && this.manifest[verb] !== true) throw notSupported(this.manifest.name, verb)
  }
}
