// `virtuoso demo` (= `npm start`): a whole market on 127.0.0.1 — a DHT bootstrap, a hub and three
// providers with different prices, as real child processes running real QEMU guests — seeded with
// accounts and machines in several states, then the dashboard logged in as the buyer.
// A second run reuses the data (unless `fresh`); quitting suspends the running guests through the
// market (so nothing is lost and the tables stay true) and stops every process it started.
import { execa } from 'execa'
import { spawnVirtuoso, type Child } from './child.ts'
import { existsSync } from 'node:fs'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { packageRoot } from '../root.ts'
import { MarketClient } from '../client/market-client.ts'
import { parseBootstrap } from '../net/dht.ts'
import { callAdmin } from '../hub/admin-socket.ts'

const ROOT = packageRoot()

export const DEMO_BUYER = { user: 'demo', password: 'demo-password', type: 'buyer' as const }
export const DEMO_PROVIDERS = [
  { user: 'acme', name: 'acme-1', speedPrice: '0.000002', memoryPrice: '0.000002', storagePrice: '0.20' },
  { user: 'budget', name: 'budget-1', speedPrice: '0.000001', memoryPrice: '0.000001', storagePrice: '0.05' },
  { user: 'premium', name: 'premium-1', speedPrice: '0.000004', memoryPrice: '0.000003', storagePrice: '0.50' },
]
const PROVIDER_PASSWORD = 'provider-password'

export interface DemoOptions {
  dir?: string
  fresh?: boolean
  hv?: 'qemu' | 'test'
  log?: (line: string) => void
}

export interface Demo {
  market: string
  bootstrap: string
  dir: string
  buyer: MarketClient
  providerNames: string[]
  stop(): Promise<void>
}

export async function ensureGuestImage(log: (line: string) => void): Promise<void> {
  if (
    existsSync(join(ROOT, 'fixtures/guest/build/vmlinuz')) &&
    existsSync(join(ROOT, 'fixtures/guest/build/initrd.img'))
  )
    return
  log('building the guest image (first run only)…')
  const r = await execa('bash', [join(ROOT, 'fixtures/guest/build.sh')], { reject: false, all: true })
  if (r.exitCode !== 0)
    throw Object.assign(new Error(String(r.all).trim().split('\n').pop() ?? 'the guest image build failed'), {
      code: 'NODE_CONFIG',
    })
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
    for (const c of children.reverse()) await c.stop('SIGTERM')
  }
  try {
    log('starting the DHT bootstrap, the hub and three providers on 127.0.0.1…')
    const dht = spawnVirtuoso(['dht', '--port', '0'], { stderrFile: join(dir, 'dht.log') })
    children.push(dht)
    const [, bootstrap] = await dht.waitFor(/listening on (\S+)/)
    const hub = spawnVirtuoso(
      ['node', '--hub', '--data', join(dir, 'hub'), '--bootstrap', bootstrap, '--price-interval', '5000'],
      { stderrFile: join(dir, 'hub.log') },
    )
    children.push(hub)
    const [, market] = await hub.waitFor(/market key: ([0-9a-f]{64})/)
    const pairings: string[] = []
    for (const p of DEMO_PROVIDERS) {
      const c = spawnVirtuoso(
        [
          'node',
          '--data',
          join(dir, p.name),
          '--market',
          market,
          '--bootstrap',
          bootstrap,
          '--hv',
          hv,
          '--accel',
          'tcg',
        ],
        { stderrFile: join(dir, `${p.name}.log`) },
      )
      children.push(c)
      pairings.push((await c.waitFor(/pairing code: (\S+)/))[1])
    }
    const connect = (token = '') =>
      MarketClient.connect({ marketKey: Buffer.from(market, 'hex'), bootstrap: parseBootstrap(bootstrap), token })
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
      market,
      bootstrap,
      dir,
      buyer,
      providerNames: DEMO_PROVIDERS.map((p) => p.user),
      async stop() {
        log('suspending running machines and stopping the demo…')
        try {
          const { vms } = await buyer.call('machines')
          for (const v of vms)
            if (v.state === 'started')
              await buyer.call('suspend', { vmId: v.id }, { timeoutMs: 120_000 }).catch(() => {})
        } catch {
          /* the hub may already be gone */
        }
        await buyer.close().catch(() => {})
        await stopChildren()
      },
    }
  } catch (err) {
    await stopChildren()
    throw err
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
}): Promise<void> {
  o.log('seeding accounts, provider machines and machines (booting real guests under TCG takes a little while)…')
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
  o.log(
    'seeded: buyer "demo" (password demo-password) with machines started, suspended, stopped, stored and registered; providers acme, budget, premium (password provider-password)',
  )
}

export async function readDemoInfo(dir: string): Promise<unknown> {
  return JSON.parse(await readFile(join(dir, 'seeded.json'), 'utf8'))
}
