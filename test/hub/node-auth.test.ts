// The hub takes node reports only from paired keys (issue 11, item 4): any key may say one hello
// (its pairing window), but node.event and node.vm.exited from a key no provider added are refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import createTestnet from 'hyperdht/testnet.js'
import DHT from 'hyperdht'
import Protomux from 'protomux'
import { Hub } from '../../src/hub/hub.ts'
import { RpcChannel } from '../../src/net/rpc.ts'
import { PROTOCOLS } from '../../src/net/protocols.ts'
import { hashPairingCode } from '../../src/market/pairing.ts'
import { INFO, SHEET } from '../market/helpers.ts'
import { TEST_SCRYPT_N } from '../scrypt-cost.ts'

let testnet: Awaited<ReturnType<typeof createTestnet>>
let dir: string
let hub: Hub
const hubKeys = DHT.keyPair()

beforeAll(async () => {
  testnet = await createTestnet(3)
  dir = await mkdtemp(join(tmpdir(), 'virtuoso-node-auth-'))
  hub = new Hub({ dir: join(dir, 'hub'), dht: testnet.createNode(), keyPair: hubKeys, scryptN: TEST_SCRYPT_N })
  await hub.start()
})
afterAll(async () => {
  await hub.close()
  await testnet.destroy()
  await rm(dir, { recursive: true, force: true })
})

async function asNode(code: string): Promise<{ rpc: RpcChannel; close(): void }> {
  const socket = testnet.createNode().connect(hubKeys.publicKey, { keyPair: DHT.keyPair() })
  socket.on('error', () => {})
  const rpc = new RpcChannel(Protomux.from(socket), { protocol: PROTOCOLS.control, handler: async () => ({}) })
  await rpc.opened
  await rpc.request('node.hello', { info: INFO, pairingCodeHash: hashPairingCode(code) })
  return { rpc, close: () => socket.destroy() }
}

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'NO_ERROR',
    (e) => e.code,
  )

describe('node reports', () => {
  it('are refused from a key no provider added, and taken once it is', async () => {
    const n = await asNode('KKKKK-KKKKK')
    const event = { type: 'disk.full', message: 'made up' }
    expect(await codeOf(n.rpc.request('node.event', event))).toBe('NODE_FORBIDDEN')
    expect(await codeOf(n.rpc.request('node.vm.exited', { vmId: 'x', version: 1 }))).toBe('NODE_FORBIDDEN')
    expect((await hub.market.logAll()).some((e) => e.type === 'node.disk.full')).toBe(false)
    const m = hub.market
    await m.signup({ username: 'prov', type: 'provider', email: 'p@example.org', password: 'correct horse' })
    await m.pmAdd({ username: 'prov', type: 'provider' }, { pairing: 'KKKKK-KKKKK', ...SHEET })
    expect(await n.rpc.request('node.event', event)).toEqual({ ok: true })
    expect((await hub.market.logAll()).some((e) => e.type === 'node.disk.full')).toBe(true)
    n.close()
  })
})
