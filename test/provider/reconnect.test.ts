// The provider agent's hub connection under faults, in one process on a loopback testnet: the
// hub's end of the connection killed, the hub restarted on the same data, the provider restarted
// with the same identity. Each time the agent says hello again by itself, the hub drives it
// again, and nobody pairs anything twice. (How long it takes: `npm run bench -- transport`.)
import { afterAll, beforeAll, expect, it } from 'vitest'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import createTestnet from 'hyperdht/testnet.js'
import type DHT from 'hyperdht'
import type { NoiseSocket } from 'hyperdht'
import { startNode, type RunningNode } from '../../src/cli/node.ts'
import { MarketClient } from '../../src/client/market-client.ts'
import { SHEET } from '../market/helpers.ts'
import { TEST_SCRYPT_N } from '../scrypt-cost.ts'

let testnet: Awaited<ReturnType<typeof createTestnet>>
let dir: string
let hub: RunningNode
let prov: RunningNode
let pmId: string
/** The hub's ends of its connections, as its DHT server accepts them. */
let hubSockets: NoiseSocket[] = []

async function startHub(): Promise<RunningNode> {
  const dht: DHT = testnet.createNode()
  const node = await startNode({
    scryptN: TEST_SCRYPT_N,
    data: join(dir, 'hub'),
    bootstrap: testnet.bootstrap,
    hub: true,
    hv: 'test',
    dht,
  })
  hubSockets = []
  for (const server of dht.listening) server.on('connection', (s: NoiseSocket) => hubSockets.push(s))
  return node
}

const startProvider = () =>
  startNode({
    scryptN: TEST_SCRYPT_N,
    data: join(dir, 'prov'),
    bootstrap: testnet.bootstrap,
    market: Buffer.from(hub.key, 'hex'),
    hv: 'test',
    dht: testnet.createNode(),
  })

/** What the hub's provider machine answers through the hub (a command the hub sends the node). */
const listThroughHub = () => hub.hub!.command(prov.provider!.nodeKey, 'vm.list', {})

beforeAll(async () => {
  testnet = await createTestnet(3)
  dir = await mkdtemp(join(tmpdir(), 'virtuoso-reconnect-'))
  hub = await startHub()
  prov = await startProvider()
  await prov.provider!.connected
  await hub.hub!.market.signup({ username: 'prov', type: 'provider', email: 'p@example.org', password: 'pw-123456' })
  const pm = await hub.hub!.market.pmAdd(
    { username: 'prov', type: 'provider' },
    { pairing: prov.pairingCode!, name: 'pm1', ...SHEET },
  )
  pmId = pm.id
})

afterAll(async () => {
  await prov?.close()
  await hub?.close()
  await testnet?.destroy()
  await rm(dir, { recursive: true, force: true })
})

it('a killed hub connection: the agent says hello again and the hub drives it', async () => {
  await expect(listThroughHub()).resolves.toEqual([])
  const mine = hubSockets.filter((s) => s.remotePublicKey.toString('hex') === prov.provider!.nodeKey)
  expect(mine.length).toBeGreaterThan(0)
  const back = once(prov.provider!, 'hello')
  for (const s of mine) s.destroy()
  const [hello] = await back
  expect(hello.pmId).toBe(pmId)
  expect(hello.offlineMs).toBeGreaterThanOrEqual(0)
  await expect(listThroughHub()).resolves.toEqual([])
})

it('a restarted hub: the agent is back unpaired by nobody, and a client call made meanwhile succeeds', async () => {
  const back = once(prov.provider!, 'hello')
  await hub.close()
  // A one-shot client started while there is no hub: it waits for the hub rather than failing.
  const call = MarketClient.connect({
    marketKey: Buffer.from(hub.key, 'hex'),
    bootstrap: testnet.bootstrap,
    dht: testnet.createNode(),
  }).then(async (c) => {
    try {
      return await c.call('configs')
    } finally {
      await c.close()
    }
  })
  hub = await startHub()
  const [hello] = await back
  expect(hello.pmId).toBe(pmId)
  expect((await call).configs.length).toBeGreaterThan(0)
  await expect(listThroughHub()).resolves.toEqual([])
})

it('a provider restarted with the same identity is reached again without pairing', async () => {
  const key = prov.provider!.nodeKey
  await prov.close()
  prov = await startProvider()
  expect(prov.provider!.nodeKey).toBe(key)
  const [hello] = await once(prov.provider!, 'hello')
  expect(hello.pmId).toBe(pmId)
  await expect(listThroughHub()).resolves.toEqual([])
})
