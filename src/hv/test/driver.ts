// The in-memory `test` driver (like libvirt's test:///default): every verb in its manifest, machines
// kept in a Map, a fake terminal as console. Upper layers (provider agent, market, TUI) test against it
// in milliseconds. With `writeFiles` it also writes the real disk descriptor and sparse extents, for
// code that copies machine files around.
import type { Duplex } from 'node:stream'
import { join } from 'node:path'
import { rm, mkdir, writeFile } from 'node:fs/promises'
import type { DriverContext, GuestSetup, HostInfo, HvDriver, HvManifest, VmConfig } from '../types.ts'
import { createDisk, diskGeometry, descriptorName, REMOVE_MACHINE_DIR } from '../disk.ts'
import { checkImportedDisk } from '../imported.ts'
import { HvError, HV_NOT_FOUND, HV_BAD_STATE, HV_NO_SPACE } from '../errors.ts'
import { FakeTerminal } from './terminal.ts'

export const TEST_MANIFEST: HvManifest = Object.freeze({
  name: 'test',
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

export const SAVED_STATE_FILE = 'state.sav'

export interface TestDriverOptions {
  /** MB the fake host reports free (default: a terabyte). */
  storage?: number
  memory?: number
  bogomips?: number
  /** Also write the disk descriptor, sparse extents and a small saved-state file into the machine dir. */
  writeFiles?: boolean
  /** Manifest overrides, to test what the public layer does when a driver lacks a verb. */
  manifest?: Partial<HvManifest>
}

interface FakeVm {
  config: VmConfig
  power: 'running' | 'paused' | 'off'
  saved: boolean
  files: Map<string, string>
  term: FakeTerminal | null
  guest?: GuestSetup
}

export class TestDriver implements HvDriver {
  readonly manifest: HvManifest
  #dir = ''
  #vms = new Map<string, FakeVm>()
  #opts: TestDriverOptions

  constructor(opts: TestDriverOptions = {}) {
    this.#opts = opts
    this.manifest = Object.freeze({ ...TEST_MANIFEST, ...opts.manifest })
  }

  async open(ctx: DriverContext): Promise<void> {
    this.#dir = ctx.dir
  }

  async close(): Promise<void> {
    // A fake VMM "keeps running" only as long as this object lives; like a host reboot, close stops all.
    for (const vm of this.#vms.values()) vm.term?.destroy()
  }

  async info(): Promise<HostInfo> {
    return {
      processor: 'Virtuoso test CPU',
      cpus: 4,
      bogomips: this.#opts.bogomips ?? 4000,
      memory: this.#opts.memory ?? 16384,
      storage: this.#opts.storage ?? 1024 * 1024,
      hv: 'test',
      accel: 'none',
      cpuLimit: 'none',
      notes: ['test driver: machines are simulated in memory; no CPU share is enforced'],
    }
  }

  async create(id: string, config: VmConfig): Promise<void> {
    const g = diskGeometry(config.hd)
    const free = this.#opts.storage ?? 1024 * 1024
    if (g.bytes > free * 1048576) {
      throw new HvError(
        HV_NO_SPACE,
        `Cannot create the disk of machine '${id}': it needs ${Math.ceil(g.bytes / 1048576)} MB but the test ` +
          `host has ${free} MB free; ask for a smaller disk.`,
      )
    }
    if (this.#opts.writeFiles) await createDisk(join(this.#dir, id), config.hd, { freeBytes: free * 1048576 })
    this.#vms.set(id, { config, power: 'off', saved: false, files: new Map(), term: null })
  }

  async register(id: string, config: VmConfig): Promise<void> {
    this.#vm(id).config = config
  }

  async start(id: string, config: VmConfig): Promise<void> {
    const vm = this.#vm(id)
    if (vm.power !== 'off')
      throw new HvError(HV_BAD_STATE, `Cannot start machine '${id}': its fake VMM is already running; stop it first.`)
    vm.config = config
    vm.power = 'running'
    vm.saved = false
    vm.term = null
  }

  async stop(id: string): Promise<void> {
    const vm = this.#vm(id)
    vm.power = 'off'
    vm.term?.end()
    vm.term = null
  }

  async suspend(id: string): Promise<void> {
    const vm = this.#vm(id)
    if (vm.power === 'off')
      throw new HvError(HV_BAD_STATE, `Cannot suspend machine '${id}': its fake VMM is not running; start it first.`)
    vm.power = 'off'
    vm.saved = true
    vm.term?.end()
    vm.term = null
    if (this.#opts.writeFiles) await writeFile(join(this.#dir, id, SAVED_STATE_FILE), JSON.stringify([...vm.files]))
  }

  async resume(id: string, config: VmConfig): Promise<void> {
    const vm = this.#vm(id)
    if (!vm.saved)
      throw new HvError(HV_BAD_STATE, `Cannot resume machine '${id}': it has no saved state; start it instead.`)
    vm.config = config
    vm.power = 'running'
    vm.saved = false
  }

  async delete(id: string): Promise<void> {
    this.#vms.get(id)?.term?.destroy()
    this.#vms.delete(id)
    if (this.#opts.writeFiles) await rm(join(this.#dir, id), REMOVE_MACHINE_DIR)
  }

  async status(id: string): Promise<'running' | 'paused' | 'off'> {
    return this.#vms.get(id)?.power ?? 'off'
  }

  async console(id: string): Promise<Duplex> {
    const vm = this.#vm(id)
    if (vm.power !== 'running')
      throw new HvError(HV_BAD_STATE, `Cannot open the console of machine '${id}': it is not running; start it first.`)
    vm.term?.end()
    const term = new FakeTerminal(
      {
        files: vm.files,
        poweroff: () => {
          vm.power = 'off'
          term.end()
        },
      },
      { banner: true },
    )
    vm.term = term
    return term
  }

  /** What the guest learns at its next boot: kept on the fake machine (guest.json with writeFiles). */
  async setGuest(id: string, guest: GuestSetup): Promise<void> {
    const vm = this.#vm(id)
    vm.guest = guest
    if (this.#opts.writeFiles)
      await writeFile(join(this.#dir, id, 'guest.json'), JSON.stringify(guest) + '\n', { mode: 0o600 })
  }

  /** The guest set-up the market last gave (tests look at what a boot would apply). */
  guest(id: string): GuestSetup | null {
    return this.#vms.get(id)?.guest ?? null
  }

  async files(id: string): Promise<string[]> {
    const vm = this.#vm(id)
    const g = diskGeometry(vm.config.hd)
    const out = [descriptorName(), ...g.extents.map((e) => e.file)]
    if (vm.saved) out.push(SAVED_STATE_FILE)
    return out
  }

  /** Adopt a machine whose files were put in place by someone else (migration). */
  async import(id: string, config: VmConfig, hint: { suspended?: boolean } = {}): Promise<'stopped' | 'suspended'> {
    if (this.#opts.writeFiles) {
      await mkdir(join(this.#dir, id), { recursive: true })
      await checkImportedDisk(id, join(this.#dir, id), config.hd)
    }
    const saved = hint.suspended === true
    this.#vms.set(id, { config, power: 'off', saved, files: new Map(), term: null })
    return saved ? 'suspended' : 'stopped'
  }

  #vm(id: string): FakeVm {
    const vm = this.#vms.get(id)
    if (!vm) throw new HvError(HV_NOT_FOUND, `The test driver has no machine '${id}'; create it first.`)
    return vm
  }
}
