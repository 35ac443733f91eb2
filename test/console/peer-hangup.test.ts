// A key that dials a provider and opens only migration's vmmp@1 "peer" channel gets no more than a
// viewer without a ticket (issue 11, item 6): it is hung up. The destination a migration names keeps
// its connection while its authorized blocks@1 channel is open. Real console@1 server, migration
// origin and block protocol on a loopback testnet; waits for events (hang-up, the server's checks).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import createTestnet from 'hyperdht/testnet.js'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import DHT from 'hyperdht'
import type { NoiseSocket } from 'hyperdht'
import { ConsoleServer } from '../../src/console/server.ts'
import { ConsoleScreens } from '../../src/console/screens.ts'
import { MigrationOrigin } from '../../src/vmmp/origin.ts'
import { BlocksClient } from '../../src/vmmp/blocks.ts'
import { dialPeer } from '../../src/vmmp/peer-dial.ts'
import { testHv } from './helpers.ts'

let testnet: Awaited<ReturnType<typeof createTestnet>>
let env: Awaited<ReturnType<typeof testHv>>
let screens: ConsoleScreens
let server: ConsoleServer
let origin: MigrationOrigin
const providerKeys = DHT.keyPair()
let checks = 0
let onCheck: () => void = () => {}

beforeAll(async () => {
  testnet = await createTestnet(3)
  env = await testHv(['vm1'])
  screens = new ConsoleScreens(env.hv)
  origin = new MigrationOrigin({ hv: env.hv })
  server = new ConsoleServer({
    dht: testnet.createNode(),
    keyPair: providerKeys,
    hubKey: DHT.keyPair().publicKey,
    screens,
    attachTimeoutMs: 100,
    onPeer: (mux) => {
      const p = origin.onPeer(mux)
      return {
        busy: () => {
          checks++
          onCheck()
          return p.busy()
        },
      }
    },
  })
  await server.start()
})
afterAll(async () => {
  await server.close()
  screens.close()
  await env.cleanup()
  await testnet.destroy()
})

const closed = (s: NoiseSocket) =>
  new Promise<void>((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve())))
const moreChecks = (n: number) =>
  new Promise<void>((resolve) => {
    const until = checks + n
    onCheck = () => {
      if (checks >= until) resolve()
    }
  })

describe('the migration peer channel on the console server', () => {
  it('hangs up a key that opens only the peer channel', async () => {
    const { socket } = await dialPeer(testnet.createNode(), providerKeys.publicKey, { keyPair: DHT.keyPair() })
    socket.on('error', () => {})
    await closed(socket)
  })

  it('keeps the named destination while its authorized blocks channel is open', async () => {
    const destKeys = DHT.keyPair()
    const vm = await env.hv.get('vm1')
    // The test driver keeps no disk: give the machine the files it lists, so the origin can hash them.
    await mkdir(env.hv.dirOf('vm1'), { recursive: true })
    for (const f of await env.hv.files('vm1')) await writeFile(join(env.hv.dirOf('vm1'), f), `contents of ${f}\n`)
    await origin.prepare({
      migrationId: 'mig-1',
      vmId: 'vm1',
      version: vm.version,
      destKey: destKeys.publicKey.toString('hex'),
      secret: 'a-secret-of-enough-length',
    })
    const { socket, mux } = await dialPeer(testnet.createNode(), providerKeys.publicKey, { keyPair: destKeys })
    socket.on('error', () => {})
    const blocks = await BlocksClient.open(mux, 'mig-1')
    expect(blocks.vmId).toBe('vm1')
    await moreChecks(3)
    expect(socket.destroyed).toBe(false)
    blocks.close()
    await closed(socket)
    await origin.release({ migrationId: 'mig-1', vmId: 'vm1', committed: false })
  })
})
