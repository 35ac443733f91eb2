// The world the authorization suite attacks: a real Hub and two real provider agents (test driver)
// on a loopback testnet, two buyers and two providers, each with their own rows, and one market@1
// client per role. Everything a tenant owns is recorded so a case can pick "someone else's" id.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import createTestnet from 'hyperdht/testnet.js'
import DHT from 'hyperdht'
import { Hub } from '../../src/hub/hub.ts'
import { ProviderAgent } from '../../src/provider/agent.ts'
import { Hypervisor } from '../../src/hv/hypervisor.ts'
import { MarketClient } from '../../src/client/market-client.ts'
import { newPairingCode } from '../../src/market/pairing.ts'
import { SHEET } from '../market/helpers.ts'
import { TEST_SCRYPT_N } from '../scrypt-cost.ts'

export const ROLES = ['anonymous', 'buyer', 'other buyer', 'provider', 'other provider'] as const
export type Role = (typeof ROLES)[number]

/** What one tenant owns; ids are what the others must never act on or read. */
export interface Tenant {
  role: Role
  username: string
  type: 'buyer' | 'provider'
  email: string
  token: string
  vms: string[]
  nets: string[]
  pms: string[]
}

export interface AuthzWorld {
  hub: Hub
  tenants: Record<Exclude<Role, 'anonymous'>, Tenant>
  clients: Record<Role, MarketClient>
  /** Opens another client (the account-switch checks). */
  client(token: string): Promise<MarketClient>
  close(): Promise<void>
}

export async function authzWorld(): Promise<AuthzWorld> {
  const testnet = await createTestnet(3)
  const dir = await mkdtemp(join(tmpdir(), 'virtuoso-authz-'))
  const hubKeys = DHT.keyPair()
  const hub = new Hub({ dir: join(dir, 'hub'), dht: testnet.createNode(), keyPair: hubKeys, scryptN: TEST_SCRYPT_N })
  await hub.start()
  const closers: Array<() => Promise<unknown>> = []
  const m = hub.market
  const mk = async (role: Exclude<Role, 'anonymous'>, username: string, type: 'buyer' | 'provider') => {
    const email = `${username}@secret-${username}.example`
    await m.signup({ username, type, email, password: 'correct horse battery' })
    const { token } = await m.login({ username, password: 'correct horse battery' })
    return { role, username, type, email, token, vms: [], nets: [], pms: [] } as Tenant
  }
  const tenants = {
    buyer: await mk('buyer', 'alice', 'buyer'),
    'other buyer': await mk('other buyer', 'bob', 'buyer'),
    provider: await mk('provider', 'prova', 'provider'),
    'other provider': await mk('other provider', 'provb', 'provider'),
  }
  for (const p of [tenants.provider, tenants['other provider']]) {
    const hv = await Hypervisor.open({ driver: 'test', dir: join(dir, p.username) })
    const pairingCode = newPairingCode()
    const agent = new ProviderAgent({
      dht: testnet.createNode(),
      keyPair: DHT.keyPair(),
      marketKey: hubKeys.publicKey,
      hv,
      pairingCode,
    })
    agent.start()
    await agent.connected
    closers.push(
      () => agent.close(),
      () => hv.close(),
    )
    const pm = await m.pmAdd(p, { pairing: pairingCode, name: `pm-of-${p.username}`, ...SHEET })
    p.pms.push(pm.id)
  }
  // Each buyer: a network, a machine stored and started on "their" provider, one only registered.
  for (const [b, pm, bid] of [
    [tenants.buyer, tenants.provider.pms[0], 777_000],
    [tenants['other buyer'], tenants['other provider'].pms[0], 888_000],
  ] as const) {
    await m.credit(b.username, 100_000_000)
    const net = await m.netCreate(b, { name: `net-of-${b.username}` })
    b.nets.push(net.name)
    const vm = await m.register(b, { config: 'small', net: net.name, bidStorage: bid + 1, bidRunning: bid + 2 })
    await m.store(b, vm.id, pm)
    await m.start(b, vm.id)
    const second = await m.register(b, { config: 'small', name: `draft-of-${b.username}` })
    b.vms.push(vm.id, second.id)
  }
  const client = (token: string) =>
    MarketClient.connect({
      marketKey: hubKeys.publicKey,
      bootstrap: testnet.bootstrap,
      dht: testnet.createNode(),
      token,
    })
  const clients = {} as Record<Role, MarketClient>
  for (const role of ROLES) clients[role] = await client(role === 'anonymous' ? '' : tenants[role].token)
  return {
    hub,
    tenants,
    clients,
    client,
    async close() {
      for (const c of Object.values(clients)) await c.close().catch(() => {})
      for (const c of closers) await c().catch(() => {})
      await hub.close().catch(() => {})
      await testnet.destroy()
      await rm(dir, { recursive: true, force: true })
    },
  }
}
