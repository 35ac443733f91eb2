// The hub's migration agent over a real Market, served on a loopback testnet, with one destination
// node that answers QUERY with the given method, and alice's machine stored on the origin pm `a`
// ready to migrate to pm `b` (the destination's): the set-up of the agent's SCP and error tests.
import createTestnet from 'hyperdht/testnet.js'
import DHT from 'hyperdht'
import Protomux from 'protomux'
import { MigrationAgent, type AgentOptions } from '../../src/vmmp/agent.ts'
import { VmmpChannel } from '../../src/vmmp/channel.ts'
import { hashPairingCode } from '../../src/market/pairing.ts'
import type { Identity } from '../../src/market/types.ts'
import { addPm, INFO, SHEET, user, type World } from '../market/helpers.ts'

/** The agent's log: its lines, and `seen`, which settles at the first line that contains `text`. */
export function logUntil(text: string): { lines: string[]; log: (line: string) => void; seen: Promise<void> } {
  const lines: string[] = []
  let settle!: () => void
  const seen = new Promise<void>((r) => (settle = r))
  const log = (line: string) => {
    lines.push(line)
    if (line.includes(text)) settle()
  }
  return { lines, log, seen }
}

export interface AgentRig {
  agent: MigrationAgent
  buyer: Identity
  vmId: string
  /** The destination's provider machine. */
  to: string
  close(): Promise<void>
}

export async function agentRig(
  testnet: Awaited<ReturnType<typeof createTestnet>>,
  w: World,
  opts: Partial<AgentOptions> & { method: 'RSYNC' | 'SCP'; originInfo?: object },
): Promise<AgentRig> {
  const { method, originInfo, ...agentOpts } = opts
  const agent = new MigrationAgent({ market: w.market, gateway: w.gateway, hubKey: 'hub', ...agentOpts })
  w.market.migrator = agent
  const hubKeys = DHT.keyPair()
  const server = testnet.createNode().createServer((socket) => {
    socket.on('error', () => {})
    agent.attach(socket.remotePublicKey.toString('hex'), Protomux.from(socket))
  })
  await server.listen(hubKeys)
  const destKeys = DHT.keyPair()
  const socket = testnet.createNode().connect(hubKeys.publicKey, { keyPair: destKeys })
  socket.on('error', () => {})
  const dest: VmmpChannel = new VmmpChannel(Protomux.from(socket), {
    onMessage: (m) => {
      if (m.type === 'QUERY') dest.send({ type: 'RESULTS', id: m.id, methods: [method] })
    },
  })
  await dest.opened
  const close = async () => {
    agent.close()
    socket.destroy()
    await server.close()
  }
  try {
    const prov = await user(w.market, 'prov', 'provider')
    const buyer = await user(w.market, 'alice', 'buyer')
    const a = await addPm(w.market, prov, originInfo ? { info: originInfo } : {})
    const destKey = destKeys.publicKey.toString('hex')
    await w.market.nodeHello(destKey, { info: INFO, pairingCodeHash: hashPairingCode('DEST-CODE') })
    const b = await w.market.pmAdd(prov, { pairing: 'DEST-CODE', name: 'b', ...SHEET })
    await w.market.credit('alice', 100_000_000)
    const vm = await w.market.register(buyer, { config: 'small' })
    await w.market.store(buyer, vm.id, a.id)
    return { agent, buyer, vmId: vm.id, to: b.id, close }
  } catch (err) {
    await close()
    throw err
  }
}
