// A real Hub and a real ProviderAgent (test driver) on a loopback testnet, with the provider `prov`'s
// machine `pm1` paired and the buyer `alice` credited: the set-up the reconciliation and guest-exit
// tests share. The hub can be closed and started again on the same key and data.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import createTestnet from 'hyperdht/testnet.js'
import DHT from 'hyperdht'
import type { NoiseSocket } from 'hyperdht'
import { Hub } from '../../src/hub/hub.ts'
import { ProviderAgent, type ProviderOptions } from '../../src/provider/agent.ts'
import { Hypervisor } from '../../src/hv/hypervisor.ts'
import { newPairingCode } from '../../src/market/pairing.ts'
import { SHEET } from '../market/helpers.ts'
import { TEST_SCRYPT_N } from '../scrypt-cost.ts'

export const alice = { username: 'alice', type: 'buyer' as const }

export interface HubAgent {
  hub: Hub
  hv: Hypervisor
  agent: ProviderAgent
  /** The connections the current hub accepted (a test drops the node's to make it say hello again). */
  hubSockets: NoiseSocket[]
  /** Starts the hub again on the same key and data directory (after `hub.close()`); sets `hub`. */
  restartHub(): Promise<Hub>
  close(): Promise<void>
}

export async function startHubAgent(prefix: string, agentOpts: Partial<ProviderOptions> = {}): Promise<HubAgent> {
  const testnet = await createTestnet(3)
  const dir = await mkdtemp(join(tmpdir(), prefix))
  const hubKeys = DHT.keyPair()
  const startHub = async (): Promise<Hub> => {
    const dht = testnet.createNode()
    const h = new Hub({ dir: join(dir, 'hub'), dht, keyPair: hubKeys, scryptN: TEST_SCRYPT_N })
    await h.start()
    w.hubSockets = []
    for (const server of dht.listening) server.on('connection', (s: NoiseSocket) => w.hubSockets.push(s))
    return h
  }
  const w = { hubSockets: [] } as unknown as HubAgent
  w.hub = await startHub()
  w.hv = await Hypervisor.open({ driver: 'test', dir: join(dir, 'machines') })
  const pairingCode = newPairingCode()
  w.agent = new ProviderAgent({
    dht: testnet.createNode(),
    keyPair: DHT.keyPair(),
    marketKey: hubKeys.publicKey,
    hv: w.hv,
    pairingCode,
    retryMs: 50,
    maxRetryMs: 200,
    ...agentOpts,
  })
  w.agent.start()
  await w.agent.connected
  const m = w.hub.market
  await m.signup({ username: 'prov', type: 'provider', email: 'p@example.org', password: 'correct horse' })
  await m.signup({ username: 'alice', type: 'buyer', email: 'a@example.org', password: 'correct horse' })
  await m.credit('alice', 100_000_000)
  await m.pmAdd({ username: 'prov', type: 'provider' }, { pairing: pairingCode, name: 'pm1', ...SHEET })
  w.restartHub = async () => (w.hub = await startHub())
  w.close = async () => {
    await w.agent.close()
    await w.hub.close().catch(() => {})
    await w.hv.close()
    await testnet.destroy()
    await rm(dir, { recursive: true, force: true })
  }
  return w
}

/** A machine of alice's stored on pm1; started when `start`. */
export async function aliceVm(w: HubAgent, opts: { start?: boolean } = {}): Promise<string> {
  const m = w.hub.market
  const vm = await m.register(alice, { config: 'small' })
  const pm = [...m.ctx.store.values('pm')][0]
  await m.store(alice, vm.id, pm.id)
  if (opts.start) await m.start(alice, vm.id)
  return vm.id
}
