// `virtuoso demo` (= `npm start`): a whole market on 127.0.0.1 — a DHT bootstrap, a hub and three
// providers with different prices, as real child processes running real QEMU guests — seeded with
// accounts and machines in several states, then the dashboard logged in as the buyer.
// It runs the project's set-up step first (scripts/setup.sh); when QEMU is missing and cannot be
// installed (no root, no sudo), it runs on the in-memory hypervisor and says so. A second run reuses
// the data (unless `fresh`). `stop` works at any moment: once seeded it suspends the running guests
// through the market (so nothing is lost and the tables stay true), then ends every process it started.
import { LineReader } from '../lines.ts'
import { execa } from 'execa'
import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { packageRoot } from '../root.ts'
import { MarketClient } from '../client/market-client.ts'
import { parseBootstrap } from '../net/dht.ts'
import { callAdmin } from '../hub/admin-socket.ts'
import { DemoProcesses } from './demo-processes.ts'
import { providerNodeArgs } from './child.ts'
import { bootDebian, type DebianSeed } from './demo-debian.ts'
import { defaultDemoDir } from './data-dir.ts'
import { MIN_SCRYPT_N } from '../scrypt.ts'
import { CliError, CLI_CONFIG, CLI_STOPPED } from './errors.ts'

const ROOT = packageRoot()

export const DEMO_BUYER = { user: 'demo', password: 'demo-password', type: 'buyer' as const }
export const DEMO_PROVIDERS = [
  { user: 'acme', name: 'acme-1', speedPrice: '0.000002', memoryPrice: '0.000002', storagePrice: '0.20' },
  { user: 'budget', name: 'budget-1', speedPrice: '0.000001', memoryPrice: '0.000001', storagePrice: '0.05' },
  { user: 'premium', name: 'premium-1', speedPrice: '0.000004', memoryPrice: '0.000003', storagePrice: '0.50' },
]
const PROVIDER_PASSWORD = 'provider-password'
// The demo's market is a throwaway on loopback with passwords printed on screen: its nodes hash at
// the lowest cost, so starting it does not wait on 2^17 scrypts (a real node keeps the default).
const DEMO_COST = ['--scrypt-cost', String(MIN_SCRYPT_N)]

export interface DemoOptions {
  dir?: string
  fresh?: boolean
  /** auto (the default): QEMU when the set-up step finds or installs it, else the in-memory driver. */
  hv?: 'auto' | 'qemu' | 'test'
  log?: (line: string) => void
}

export interface Demo {
  market: string
  bootstrap: string
  dir: string
  hv: 'qemu' | 'test'
  /** Why the demo does not run what was asked (no QEMU): shown in the dashboard header. */
  notice: string | null
  buyer: MarketClient
  providerNames: string[]
}

/** scripts/setup.sh's answer: 0 ready, 2 packages missing and not installable here (see its header). */
export async function runSetup(log: (line: string) => void): Promise<{ qemu: boolean }> {
  const p = execa('bash', [join(ROOT, 'scripts/setup.sh')], { reject: false, stdout: 'ignore', stderr: 'pipe' })
  let last = ''
  p.stderr?.setEncoding('utf8')
  const lines = new LineReader((l) => {
    if (l.trim()) log((last = l))
  })
  p.stderr?.on('data', (chunk: string) => lines.push(chunk))
  const r = await p
  if (lines.rest.trim()) log((last = lines.rest))
  if (r.exitCode === 0) return { qemu: true }
  if (r.exitCode === 2) return { qemu: false }
  throw new CliError(CLI_CONFIG, last.replace(/^setup: /, '') || 'scripts/setup.sh failed')
}

export class DemoRun {
  readonly dir: string
  readonly procs = new DemoProcesses()
  #opts: DemoOptions
  #log: (line: string) => void
  #t0 = Date.now()
  #buyer: MarketClient | null = null
  #stopping: Promise<void> | null = null
  #background: Promise<void> | null = null

  constructor(opts: DemoOptions = {}) {
    this.#opts = opts
    this.dir = resolve(opts.dir ?? defaultDemoDir())
    const log = opts.log ?? ((l: string) => process.stderr.write(l + '\n'))
    this.#log = (l) => log(`[${((Date.now() - this.#t0) / 1000).toFixed(1)}s] ${l}`)
  }

  get stopping(): boolean {
    return this.#stopping !== null
  }

  async start(): Promise<Demo> {
    const log = this.#log
    const dir = this.dir
    const asked = this.#opts.hv ?? 'auto'
    let hv: 'qemu' | 'test' = asked === 'test' ? 'test' : 'qemu'
    let notice: string | null = null
    if (asked !== 'test') {
      log('set-up: system packages, native modules, guest image')
      const { qemu } = await runSetup(log)
      if (!qemu) {
        if (asked === 'qemu')
          throw new CliError(CLI_CONFIG, 'QEMU is not installed (--hv qemu): run the apt-get line above as root')
        hv = 'test'
        notice = 'in-memory machines: no QEMU'
        log('QEMU is missing and this user cannot install it: the demo runs on the in-memory hypervisor')
      }
    }
    const seededFile = join(dir, 'seeded.json')
    const seeded = existsSync(seededFile) ? await readDemoInfo(dir).catch(() => null) : null
    if (this.#opts.fresh || (seeded && (seeded.hv ?? 'qemu') !== hv)) {
      if (!this.#opts.fresh) log(`the demo data in ${dir} was made with --hv ${seeded?.hv ?? 'qemu'}: starting over`)
      await rm(dir, { recursive: true, force: true })
    }
    await mkdir(dir, { recursive: true })
    const stopIfAsked = () => {
      if (this.#stopping) throw new CliError(CLI_STOPPED, 'the demo was stopped while starting')
    }
    stopIfAsked()
    log('starting the DHT bootstrap on 127.0.0.1')
    const dht = this.procs.spawn(['dht', '--port', '0'], join(dir, 'dht.log'))
    const [, bootstrap] = await dht.waitFor(/listening on (\S+)/)
    stopIfAsked()
    log('starting the hub')
    const hub = this.procs.spawn(
      ['node', '--hub', '--data', join(dir, 'hub'), '--bootstrap', bootstrap, '--price-interval', '5000', ...DEMO_COST],
      join(dir, 'hub.log'),
    )
    const [, market] = await hub.waitFor(/market key: ([0-9a-f]{64})/)
    stopIfAsked()
    log(`starting providers ${DEMO_PROVIDERS.map((p) => p.name).join(', ')} (hypervisor: ${hv})`)
    const providers = DEMO_PROVIDERS.map((p) => {
      const data = join(dir, p.name)
      this.procs.provider(data)
      const args = providerNodeArgs({ data, market, bootstrap, hv, extra: DEMO_COST })
      return this.procs.spawn(args, join(dir, `${p.name}.log`))
    })
    const pairings = await Promise.all(providers.map(async (c) => (await c.waitFor(/pairing code: (\S+)/))[1]))
    stopIfAsked()
    const connect = (token = '') =>
      MarketClient.connect({ marketKey: Buffer.from(market, 'hex'), bootstrap: parseBootstrap(bootstrap), token })
    if (!seeded || this.#opts.fresh || (seeded.hv ?? 'qemu') !== hv) {
      const debian = await seed({ connect, pairings, hubDir: join(dir, 'hub', 'hub'), log, hv, stopIfAsked })
      await writeFile(seededFile, JSON.stringify({ market, hv, at: new Date().toISOString() }) + '\n')
      // The debian-12 machine is published, delivered and booted while the dashboard is already up:
      // the Machines view shows its delivery, then its boot (a minute or two under TCG).
      this.#background = bootDebian(connect, debian, DEMO_BUYER, log, () => this.stopping)
    }
    stopIfAsked()
    log('logging in as the buyer "demo"')
    const anon = await connect()
    const login = await anon.call('login', { username: DEMO_BUYER.user, password: DEMO_BUYER.password })
    await anon.close()
    this.#buyer = await connect(login.token)
    stopIfAsked()
    log('ready')
    return {
      market,
      bootstrap,
      dir,
      hv,
      notice,
      buyer: this.#buyer,
      providerNames: DEMO_PROVIDERS.map((p) => p.user),
    }
  }

  /** Ends the demo from any point of its start-up or after; safe to call more than once. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop()
    return this.#stopping
  }

  async #stop(): Promise<void> {
    const buyer = this.#buyer
    if (buyer) {
      this.#log('suspending the running machines through the market')
      try {
        const { vms } = await buyer.call('machines')
        await Promise.all(
          vms
            .filter((v: { state: string }) => v.state === 'started')
            .map((v: { id: string }) => buyer.call('suspend', { vmId: v.id }, { timeoutMs: 60_000 }).catch(() => {})),
        )
      } catch {
        /* the hub may already be gone: the guests are ended below */
      }
      await buyer.close().catch(() => {})
    }
    this.#log('stopping the providers, the hub and the DHT bootstrap')
    await this.procs.stop()
    await this.#background // it fails fast once the hub is gone, and says so
    // Stopped while seeding: a half-seeded market would refuse the next seeding (the users exist).
    // The logs stay: an error names them.
    if (!existsSync(join(this.dir, 'seeded.json')))
      for (const name of await readdir(this.dir).catch(() => [] as string[]))
        if (!name.endsWith('.log')) await rm(join(this.dir, name), { recursive: true, force: true })
  }
}

/** A node prints its pairing code before its hello reaches the hub; until then the code is unknown there. */
async function untilPaired<T>(fn: () => Promise<T>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    try {
      return await fn()
    } catch (err) {
      if ((err as { code?: string }).code !== 'MARKET_PAIRING_INVALID' || Date.now() > end) throw err
      await new Promise((r) => setTimeout(r, 300))
    }
  }
}

async function seed(o: {
  connect: (token?: string) => Promise<MarketClient>
  pairings: string[]
  hubDir: string
  log: (l: string) => void
  hv: 'qemu' | 'test'
  stopIfAsked: () => void
}): Promise<DebianSeed> {
  o.log('seeding: the buyer "demo" with credit, the providers acme, budget, premium and their machines')
  const anon = await o.connect()
  const login = async (user: string, password: string) =>
    (await anon.call('login', { username: user, password })).token as string
  await anon.call('signup', {
    username: DEMO_BUYER.user,
    type: 'buyer',
    email: 'demo@example.org',
    password: DEMO_BUYER.password,
  })
  await callAdmin(o.hubDir, 'credit', { username: DEMO_BUYER.user, amount: '1000' })
  const pmIds: string[] = []
  for (const [i, p] of DEMO_PROVIDERS.entries()) {
    await anon.call('signup', {
      username: p.user,
      type: 'provider',
      email: `${p.user}@example.org`,
      password: PROVIDER_PASSWORD,
    })
    const prov = await o.connect(await login(p.user, PROVIDER_PASSWORD))
    const pm = await untilPaired(() =>
      prov.call('pm.add', {
        pairing: o.pairings[i],
        name: p.name,
        speedUnit: 100,
        speedPrice: p.speedPrice,
        memoryUnit: 64,
        memoryPrice: p.memoryPrice,
        runningPeriod: 60,
        storageUnit: 1024,
        storagePrice: p.storagePrice,
        storagePeriodDays: '1',
      }),
    )
    pmIds.push(pm.id)
    await prov.close()
  }
  const buyer = await o.connect(await login(DEMO_BUYER.user, DEMO_BUYER.password))
  if (o.hv === 'qemu') o.log('booting three guests under QEMU/TCG (web, batch, archive): ~5 s each')
  const make = async (name: string, config: string, pm: string | null) => {
    o.stopIfAsked()
    const vm = await buyer.call('register', { config, name })
    if (pm) await buyer.call('store', { vmId: vm.id, pmId: pm }, { timeoutMs: 120_000 })
    return vm.id as string
  }
  // Registered one by one (ids in a stable order), booted side by side.
  const web = await make('web', 'linux-small', pmIds[0])
  const batch = await make('batch', 'linux-small', pmIds[2])
  const archive = await make('archive', 'linux-small', pmIds[2])
  const act = (verb: string, vmId: string) => buyer.call(verb, { vmId }, { timeoutMs: 120_000 })
  await Promise.all([
    act('start', web),
    act('start', batch).then(() => act('suspend', batch)),
    act('start', archive).then(() => act('stop', archive)),
  ])
  await make('spare', 'small', pmIds[1])
  await make('planned', 'linux-medium', null)
  await buyer.close()
  await anon.close()
  o.log(
    'seeded: buyer "demo" (password demo-password) with machines started, suspended, stopped, stored and ' +
      'registered; providers acme, budget, premium (password provider-password)',
  )
  return { hubDir: o.hubDir, pmId: pmIds[1] }
}

export async function readDemoInfo(dir: string): Promise<{ market: string; hv?: 'qemu' | 'test'; at: string }> {
  return JSON.parse(await readFile(join(dir, 'seeded.json'), 'utf8'))
}
