// Reconciliation after a lost answer (issue 11; found by the simulation), with a real Hub and a real
// ProviderAgent on a loopback testnet: the node carries out an action whose answer never reaches the
// hub (done here on the node's Hypervisor directly, as the node does when it acts), the connection
// drops, and at the next hello the hub finds the difference and the market follows the node.
import { afterEach, beforeEach, expect, it } from 'vitest'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import createTestnet from 'hyperdht/testnet.js'
import DHT from 'hyperdht'
import type { NoiseSocket } from 'hyperdht'
import { Hub } from '../../src/hub/hub.ts'
import { ProviderAgent } from '../../src/provider/agent.ts'
import { Hypervisor } from '../../src/hv/hypervisor.ts'
import { newPairingCode } from '../../src/market/pairing.ts'
import { SHEET, untilChange } from '../market/helpers.ts'
import { TEST_SCRYPT_N } from '../scrypt-cost.ts'

let testnet: Awaited<ReturnType<typeof createTestnet>>
let dir: string
let hub: Hub
let hv: Hypervisor
let agent: ProviderAgent
let hubSockets: NoiseSocket[] = []
const alice = { username: 'alice', type: 'buyer' as const }

beforeEach(async () => {
  testnet = await createTestnet(3)
  dir = await mkdtemp(join(tmpdir(), 'virtuoso-reconcile-'))
  const dht = testnet.createNode()
  const hubKeys = DHT.keyPair()
  hub = new Hub({ dir: join(dir, 'hub'), dht, keyPair: hubKeys, scryptN: TEST_SCRYPT_N })
  await hub.start()
  for (const server of dht.listening) server.on('connection', (s: NoiseSocket) => hubSockets.push(s))
  hv = await Hypervisor.open({ driver: 'test', dir: join(dir, 'machines') })
  const pairingCode = newPairingCode()
  agent = new ProviderAgent({
    dht: testnet.createNode(),
    keyPair: DHT.keyPair(),
    marketKey: hubKeys.publicKey,
    hv,
    pairingCode,
    retryMs: 50,
    maxRetryMs: 200,
  })
  agent.start()
  await agent.connected
  const m = hub.market
  await m.signup({ username: 'prov', type: 'provider', email: 'p@example.org', password: 'correct horse' })
  await m.signup({ username: 'alice', type: 'buyer', email: 'a@example.org', password: 'correct horse' })
  await m.credit('alice', 100_000_000)
  await m.pmAdd({ username: 'prov', type: 'provider' }, { pairing: pairingCode, name: 'pm1', ...SHEET })
})
afterEach(async () => {
  await agent.close()
  await hub.close().catch(() => {})
  await hv.close()
  await testnet.destroy()
  await rm(dir, { recursive: true, force: true })
  hubSockets = []
})

/** Drops the node's connection; the agent says hello again by itself. */
async function reconnect(): Promise<void> {
  const back = once(agent, 'hello')
  for (const s of hubSockets) if (s.remotePublicKey.toString('hex') === agent.nodeKey) s.destroy()
  await back
}

it('a stop whose answer was lost: the market follows the node and stops charging for running', async () => {
  const m = hub.market
  const vm = await m.register(alice, { config: 'small' })
  const pm = [...m.ctx.store.values('pm')][0]
  await m.store(alice, vm.id, pm.id)
  await m.start(alice, vm.id)
  const v = m.ctx.store.get('vm', vm.id)!.version
  await hv.stop(vm.id) // what the node does for 'vm.stop'; its answer never reaches the hub
  expect(m.ctx.store.get('vm', vm.id)!.state).toBe('started')
  await reconnect()
  await untilChange(m, () => m.ctx.store.get('vm', vm.id)!.state === 'stopped')
  expect(m.ctx.store.get('vm', vm.id)!).toMatchObject({ version: v + 1, runningPaidUntil: null })
  const e = (await m.log(alice)).filter((x) => x.vmId === vm.id).at(-1)!
  expect(e.type).toBe('vm.reconciled')
})

it('a delete whose answer was lost: the machine leaves the market and its room is freed', async () => {
  const m = hub.market
  const vm = await m.register(alice, { config: 'small' })
  const pm = [...m.ctx.store.values('pm')][0]
  await m.store(alice, vm.id, pm.id)
  expect(m.ctx.store.get('pm', pm.id)!.usedStorage).toBeGreaterThan(0)
  await hv.delete(vm.id)
  await reconnect()
  await untilChange(m, () => !m.ctx.store.get('vm', vm.id))
  expect(m.ctx.store.get('pm', pm.id)!.usedStorage).toBe(0)
  const audit = await m.audit()
  expect(audit.balances).toBe(audit.deposits)
})
