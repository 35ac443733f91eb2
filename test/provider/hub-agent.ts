// A real Hub and a real ProviderAgent (test driver) on a loopback testnet, with the provider `prov`'s
// machine `pm1` paired and the buyer `alice` credited: the set-up the reconciliation and guest-exit
// tests share. The hub can be closed and started again on the same key and data; more provider nodes
// (pm2, …) can join (the stray-copy tests need two).
import { once } from 'node:events'
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
import type { PmRow } from '../../src/market/types.ts'
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
  /** One more provider node of `prov`, paired as pm2, pm3, … */
  addNode(): Promise<ProviderNode>
  /** Drops a node's connection (default: the first); resolves when it has said hello again. */
  reconnect(agent?: ProviderAgent): Promise<void>
  /** What the hub logged (its market's problems among them). */
  logs: string[]
  /** Resolves with the first line the hub logs, or has logged, that matches. */
  untilLog(re: RegExp): Promise<string>
  close(): Promise<void>
}

export interface ProviderNode {
  hv: Hypervisor
  agent: ProviderAgent
  pm: PmRow
}

export async function startHubAgent(prefix: string, agentOpts: Partial<ProviderOptions> = {}): Promise<HubAgent> {
  const testnet = await createTestnet(3)
  const dir = await mkdtemp(join(tmpdir(), prefix))
  const hubKeys = DHT.keyPair()
  const startHub = async (): Promise<Hub> => {
    const dht = testnet.createNode()
    const h = new Hub({ dir: join(dir, 'hub'), dht, keyPair: hubKeys, scryptN: TEST_SCRYPT_N, log })
    await h.start()
    w.hubSockets = []
    for (const server of dht.listening) server.on('connection', (s: NoiseSocket) => w.hubSockets.push(s))
    return h
  }
  const logs: string[] = []
  const waiters: Array<{ re: RegExp; resolve: (line: string) => void }> = []
  function log(line: string) {
    logs.push(line)
    for (const x of [...waiters]) {
      if (!x.re.test(line)) continue
      waiters.splice(waiters.indexOf(x), 1)
      x.resolve(line)
    }
  }
  const nodes: ProviderNode[] = []
  const node = async (hv: Hypervisor): Promise<{ agent: ProviderAgent; pairingCode: string }> => {
    const pairingCode = newPairingCode()
    const agent = new ProviderAgent({
      dht: testnet.createNode(),
      keyPair: DHT.keyPair(),
      marketKey: hubKeys.publicKey,
      hv,
      pairingCode,
      retryMs: 50,
      maxRetryMs: 200,
      ...agentOpts,
    })
    agent.start()
    await agent.connected
    return { agent, pairingCode }
  }
  const pair = (pairingCode: string) =>
    w.hub.market.pmAdd(
      { username: 'prov', type: 'provider' },
      { pairing: pairingCode, name: `pm${nodes.length + 1}`, ...SHEET },
    )
  const w = { hubSockets: [], logs } as unknown as HubAgent
  w.hub = await startHub()
  w.hv = await Hypervisor.open({ driver: 'test', dir: join(dir, 'machines') })
  const first = await node(w.hv)
  w.agent = first.agent
  const m = w.hub.market
  await m.signup({ username: 'prov', type: 'provider', email: 'p@example.org', password: 'correct horse' })
  await m.signup({ username: 'alice', type: 'buyer', email: 'a@example.org', password: 'correct horse' })
  await m.credit('alice', 100_000_000)
  nodes.push({ hv: w.hv, agent: w.agent, pm: await pair(first.pairingCode) })
  w.restartHub = async () => (w.hub = await startHub())
  w.addNode = async () => {
    const hv = await Hypervisor.open({ driver: 'test', dir: join(dir, `machines${nodes.length + 1}`) })
    const { agent, pairingCode } = await node(hv)
    const added = { hv, agent, pm: await pair(pairingCode) }
    nodes.push(added)
    return added
  }
  w.reconnect = async (agent = w.agent) => {
    const back = once(agent, 'hello')
    for (const s of w.hubSockets) if (s.remotePublicKey.toString('hex') === agent.nodeKey) s.destroy()
    await back
  }
  w.untilLog = (re) =>
    new Promise((resolve) => {
      const had = logs.find((l) => re.test(l))
      if (had) resolve(had)
      else waiters.push({ re, resolve })
    })
  w.close = async () => {
    for (const n of nodes) await n.agent.close()
    await w.hub.close().catch(() => {})
    for (const n of nodes) await n.hv.close()
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
