// `virtuoso demo` (= `npm start`): a whole market on 127.0.0.1 — a DHT bootstrap, a hub and three
// providers with different prices, as real child processes running real QEMU guests — seeded with
// accounts and machines in several states, then the dashboard logged in as the buyer.
// A second run reuses the data (unless `fresh`); quitting suspends the running guests through the
// market (so nothing is lost and the tables stay true) and stops every process it started.
import { execa, type ResultPromise } from 'execa'
import { existsSync } from 'node:fs'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { packageRoot } from '../root.ts'
import { MarketClient } from './client.ts'
import { parseBootstrap } from './dht.ts'
import { callAdmin } from './admin-socket.ts'

const ROOT = packageRoot()
const BIN = join(ROOT, 'bin/virtuoso.js')

export const DEMO_BUYER = { user: 'demo', password: 'demo-password', type: 'buyer' as const }
export const DEMO_PROVIDERS = [
  { user: 'acme', name: 'acme-1', speedPrice: '0.000002', memoryPrice: '0.000002', storagePrice: '0.20' },
  { user: 'budget', name: 'budget-1', speedPrice: '0.000001', memoryPrice: '0.000001', storagePrice: '0.05' },
  { user: 'premium', name: 'premium-1', speedPrice: '0.000004', memoryPrice: '0.000003', storagePrice: '0.50' },
]
const PROVIDER_PASSWORD = 'provider-password'

export interface DemoOptions { dir?: string; fresh?: boolean; hv?: 'qemu' | 'test'; log?: (line: string) => void }

export interface Demo {
  market: string
  bootstrap: string
  dir: string
  buyer: MarketClient
  providerNames: string[]
  stop(): Promise<void>
}

interface Child { name: string; proc: ResultPromise; lines: string[]; waitFor(re: RegExp, ms?: number): Promise<RegExpMatchArray> }

function spawnChild(name: string, args: string[], logFile: string): Child {
  const proc = execa('node', [BIN, ...args], { reject: false, buffer: false, stderr: { file: logFile }, cleanup: true })
  const lines: string[] = []
  const waiters: Array<[RegExp, (m: RegExpMatchArray) => void]> = []
  let buf = ''
  proc.stdout?.setEncoding('utf8')
  proc.stdout?.on('data', (chunk: string) => {
    buf += chunk
    let nl: number
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl)
      buf = buf.slice(nl + 1)
      lines.push(line)
      for (const w of [...waiters]) {
        const m = line.match(w[0])
        if (m) { waiters.splice(waiters.indexOf(w), 1); w[1](m) }
      }
    }
  })
  return {
    name, proc, lines,
    waitFor(re, ms = 30_000) {
      for (const l of lines) { const m = l.match(re); if (m) return Promise.resolve(m) }
      return new Promise((res, rej) => {
        const t = setTimeout(() => rej(new Error(`${name} did not start within ${ms / 1000} s; see ${logFile}`)), ms)
        waiters.push([re, (m) => { clearTimeout(t); res(m) }])
        proc.then(() => { clearTimeout(t); rej(new Error(`${name} exited; see ${logFile}`)) }, () => {})
      })
    },
  }
}

export async function ensureGuestImage(log: (line: string) => void): Promise<void> {
  if (existsSync(join(ROOT, 'fixtures/guest/build/vmlinuz')) && existsSync(join(ROOT, 'fixtures/guest/build/initrd.img'))) return
  log('building the guest image (first run only)…')
  const r = await execa('bash', [join(ROOT, 'fixtures/guest/build.sh')], { reject: false, all: true })
  if (r.exitCode !== 0) throw Object.assign(new Error(String(r.all).trim().split('\n').pop() ?? 'the guest image build failed'), { code: 'NODE_CONFIG' })
}

export async function startDemo(opts: DemoOptions = {}): Promise<Demo> {
  const log = opts.log ?? ((l: string) => process.stderr.write(l + '\n'))
  const dir = resolve(opts.dir ?? '.virtuoso-demo')
  if (opts.fresh) await rm(dir, { recursive: true, force: true })
  await mkdir(dir, { recursive: true })
  const hv = opts.hv ?? 'qemu'
  if (hv === 'qemu') await ensureGuestImage(log)
  const children: Child[] = []
  const stopChildren = async () => {
    for (const c of children.reverse()) { c.proc.kill('SIGTERM'); await c.proc }
  }
  try {
    log('starting the DHT bootstrap, the hub and three providers on 127.0.0.1…')
    const dht = spawnChild('dht', ['dht', '--port', '0'], join(dir, 'dht.log'))
    children.push(dht)
    const [, bootstrap] = await dht.waitFor(/listening on (\S+)/)
    const hub = spawnChild('hub', ['node', '--hub', '--data', join(dir, 'hub'), '--bootstrap', bootstrap, '--price-interval', '5000'], join(dir, 'hub.log'))
    children.push(hub)
    const [, market] = await hub.waitFor(/market key: ([0-9a-f]{64})/)
    const pairings: string[] = []
    for (const p of DEMO_PROVIDERS) {
      const c = spawnChild(p.name, ['node', '--data', join(dir, p.name), '--market', market, '--bootstrap', bootstrap, '--hv', hv, '--accel', 'tcg'], join(dir, `${p.name}.log`))
      children.push(c)
      pairings.push((await c.waitFor(/pairing code: (\S+)/))[1])
    }
    const connect = (token = '') => MarketClient.connect({ marketKey: Buffer.from(market, 'hex'), bootstrap: parseBootstrap(bootstrap), token })
    const seededFile = join(dir, 'seeded.json')
    if (!existsSync(seededFile)) {
      try {
        await seed({ connect, pairings, hubDir: join(dir, 'hub', 'hub'), log })
      } catch (err) {
        // A half-seeded market would refuse the next seeding (users exist): start clean next time.
        await stopChildren()
        children.length = 0
        await rm(dir, { recursive: true, force: true })
        throw err
      }
      await writeFile(seededFile, JSON.stringify({ market, at: new Date().toISOString() }) + '\n')
    }
    const anon = await connect()
    const login = await anon.call('login', { username: DEMO_BUYER.user, password: DEMO_BUYER.password })
    await anon.close()
    const buyer = await connect(login.token)
    return {
      market, bootstrap, dir, buyer, providerNames: DEMO_PROVIDERS.map((p) => p.user),
      async stop() {
        log('suspending running machines and stopping the demo…')
        try {
          const { vms } = await buyer.call('machines')
          for (const v of vms) if (v.state === 'started') await buyer.call('suspend', { vmId: v.id }, { timeoutMs: 120_000 }).catch(() => {})
        } catch { /* the hub may already be gone */ }
        await buyer.close().catch(() => {})
        await stopChildren()
      },
    }
  } catch (err) {
    await stopChildren()
    throw err
  }
}

async function seed(o: { connect: (token?: string) => Promise<MarketClient>; pairings: string[]; hubDir: string; log: (l: string) => void }): Promise<void> {
  o.log('seeding accounts, provider machines and machines (booting real guests under TCG takes a little while)…')
  const anon = await o.connect()
  const login = async (user: string, password: string) => (await anon.call('login', { username: user, password })).token as string
  await anon.call('signup', { username: DEMO_BUYER.user, type: 'buyer', email: 'demo@example.org', password: DEMO_BUYER.password })
  await callAdmin(o.hubDir, 'credit', { username: DEMO_BUYER.user, amount: '1000' })
  const pmIds: string[] = []
  for (const [i, p] of DEMO_PROVIDERS.entries()) {
    await anon.call('signup', { username: p.user, type: 'provider', email: `${p.user}@example.org`, password: PROVIDER_PASSWORD })
    const prov = await o.connect(await login(p.user, PROVIDER_PASSWORD))
    const pm = await prov.call('pm.add', {
      pairing: o.pairings[i], name: p.name, speedUnit: 100, speedPrice: p.speedPrice, memoryUnit: 64, memoryPrice: p.memoryPrice,
      runningPeriod: 60, storageUnit: 1024, storagePrice: p.storagePrice, storagePeriodDays: '1',
    })
    pmIds.push(pm.id)
    await prov.close()
  }
  const buyer = await o.connect(await login(DEMO_BUYER.user, DEMO_BUYER.password))
  const make = async (name: string, config: string, pm: string | null) => {
    const vm = await buyer.call('register', { config, name })
    if (pm) await buyer.call('store', { vmId: vm.id, pmId: pm }, { timeoutMs: 120_000 })
    return vm.id as string
  }
  const web = await make('web', 'linux-small', pmIds[0])
  await buyer.call('start', { vmId: web }, { timeoutMs: 120_000 })
  const batch = await make('batch', 'linux-small', pmIds[2])
  await buyer.call('start', { vmId: batch }, { timeoutMs: 120_000 })
  await buyer.call('suspend', { vmId: batch }, { timeoutMs: 120_000 })
  const archive = await make('archive', 'linux-small', pmIds[2])
  await buyer.call('start', { vmId: archive }, { timeoutMs: 120_000 })
  await buyer.call('stop', { vmId: archive }, { timeoutMs: 120_000 })
  await make('spare', 'small', pmIds[1])
  await make('planned', 'linux-medium', null)
  await buyer.close()
  await anon.close()
  o.log('seeded: buyer "demo" (password demo-password) with machines started, suspended, stopped, stored and registered; providers acme, budget, premium (password provider-password)')
}

export async function readDemoInfo(dir: string): Promise<unknown> {
  return JSON.parse(await readFile(join(dir, 'seeded.json'), 'utf8'))
}
