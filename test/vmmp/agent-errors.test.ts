// The hub's migration agent runs each migration in the background (issue 11, item 15): a step that
// throws there, even the revert itself (here: the hub's disk fails), is logged and never becomes an
// unhandled rejection that could end the hub. Real market, real vmmp@1 over a loopback testnet.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import createTestnet from 'hyperdht/testnet.js'
import DHT from 'hyperdht'
import Protomux from 'protomux'
import { MigrationAgent } from '../../src/vmmp/agent.ts'
import { VmmpChannel } from '../../src/vmmp/channel.ts'
import { hashPairingCode } from '../../src/market/pairing.ts'
import { addPm, INFO, SHEET, user, world, type World } from '../market/helpers.ts'

let testnet: Awaited<ReturnType<typeof createTestnet>>
let w: World
const unhandled: unknown[] = []
const onUnhandled = (err: unknown) => unhandled.push(err)

beforeEach(async () => {
  testnet = await createTestnet(3)
  w = await world()
  process.on('unhandledRejection', onUnhandled)
})
afterEach(async () => {
  process.off('unhandledRejection', onUnhandled)
  await w.close()
  await testnet.destroy()
})

describe('migration agent', () => {
  it('logs a revert that throws instead of leaving an unhandled rejection', async () => {
    const lines: string[] = []
    let settled!: () => void
    const logged = new Promise<void>((r) => (settled = r))
    const log = (l: string) => {
      lines.push(l)
      if (l.includes('stays open')) settled()
    }
    const agent = new MigrationAgent({ market: w.market, gateway: w.gateway, hubKey: 'hub', log })
    w.market.migrator = agent
    const hubKeys = DHT.keyPair()
    const server = testnet.createNode().createServer((socket) => {
      socket.on('error', () => {})
      agent.attach(socket.remotePublicKey.toString('hex'), Protomux.from(socket))
    })
    await server.listen(hubKeys)
    // The destination: a node key bound to a pm, answering QUERY with RSYNC.
    const destKeys = DHT.keyPair()
    const socket = testnet.createNode().connect(hubKeys.publicKey, { keyPair: destKeys })
    socket.on('error', () => {})
    const dest: VmmpChannel = new VmmpChannel(Protomux.from(socket), {
      onMessage: (m) => {
        if (m.type === 'QUERY') dest.send({ type: 'RESULTS', id: m.id, methods: ['RSYNC'] })
      },
    })
    await dest.opened
    const prov = await user(w.market, 'prov', 'provider')
    const buyer = await user(w.market, 'alice', 'buyer')
    const a = await addPm(w.market, prov)
    const destKey = destKeys.publicKey.toString('hex')
    await w.market.nodeHello(destKey, { info: INFO, pairingCodeHash: hashPairingCode('DEST-CODE') })
    const b = await w.market.pmAdd(prov, { pairing: 'DEST-CODE', name: 'b', ...SHEET })
    await w.market.credit('alice', 100_000_000)
    const vm = await w.market.register(buyer, { config: 'small' })
    await w.market.store(buyer, vm.id, a.id)
    // The origin refuses to prepare; by then the hub's disk has failed, so the revert throws too.
    let release!: () => void
    w.gateway.gate = new Promise<void>((r) => (release = r))
    w.gateway.failNext.add('migration.prepare-origin')
    const row = await w.market.migrate(buyer, { vmId: vm.id, to: b.id })
    expect(row.phase).toBe('preparing')
    w.diskFault = new Error('EIO: the disk failed')
    release()
    w.gateway.gate = null
    await logged
    expect(lines.find((l) => l.includes('stays open'))).toMatch(/disk|storage/i)
    expect(unhandled).toEqual([])
    agent.close()
    socket.destroy()
    await server.close()
  })
})
