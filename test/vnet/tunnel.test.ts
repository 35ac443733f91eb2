// tunnel@1 between two DHT nodes on a loopback testnet, in one process: a ticket the hub signed for
// one key opens streams from that key only; bytes arrive intact both ways with a window much smaller
// than what is sent (flow control), half-closes pass; another key, a replay, an OPEN before the
// ticket and malformed messages are refused or counted without harming the tunnel. The provider's
// SSH console port is a TCP echo server here; guest ports (QEMU) are in test/e2e/tunnel.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import createTestnet from 'hyperdht/testnet.js'
import DHT from 'hyperdht'
import Protomux from 'protomux'
import { createServer, type Server } from 'node:net'
import { PassThrough } from 'node:stream'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Hypervisor } from '../../src/hv/hypervisor.ts'
import { signTicket } from '../../src/console/ticket.ts'
import { TunnelServer } from '../../src/vnet/tunnel-server.ts'
import { TunnelClient } from '../../src/vnet/tunnel-client.ts'
import { WINDOW } from '../../src/vnet/tunnel-stream.ts'
import { CONSOLE_PORT } from '../../src/vnet/tunnel-wire.ts'

let testnet: Awaited<ReturnType<typeof createTestnet>>
let echo: Server
let hv: Hypervisor
let dir = ''
let server: TunnelServer
const hub = DHT.keyPair()
const provider = DHT.keyPair()
const owner = DHT.keyPair()
const stranger = DHT.keyPair()
let ownerNode: DHT
let strangerNode: DHT

const ticketFor = (key: Buffer, vmId = 'vm1') =>
  signTicket(hub.secretKey, {
    vmId,
    nodeKey: provider.publicKey.toString('hex'),
    pmId: 'pm1',
    user: 'alice',
    clientKey: key.toString('hex'),
  }).ticket

/** A provider's tunnel server; a second one on the same nonce file is that provider after a restart. */
const tunnelServer = () =>
  new TunnelServer({
    hv,
    hubKey: hub.publicKey,
    nodeKey: provider.publicKey.toString('hex'),
    consolePort: () => (echo.address() as { port: number }).port,
    nonceFile: join(dir, 'console', 'used-tickets'),
  })

beforeAll(async () => {
  testnet = await createTestnet(3)
  dir = await mkdtemp(join(tmpdir(), 'virtuoso-tunnel-'))
  hv = await Hypervisor.open({ driver: 'test', dir })
  echo = createServer({ allowHalfOpen: true }, (s) => s.pipe(s))
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()))
  server = tunnelServer()
  await server.start()
  const node = testnet.createNode()
  const dhtServer = node.createServer({ firewall: () => false }, (socket) => {
    socket.on('error', () => {})
    server.onPeer(Protomux.from(socket), socket)
  })
  await dhtServer.listen(provider)
  ownerNode = testnet.createNode({ keyPair: owner } as never)
  strangerNode = testnet.createNode({ keyPair: stranger } as never)
})

afterAll(async () => {
  echo?.close()
  await hv?.close()
  await testnet?.destroy()
  await rm(dir, { recursive: true, force: true })
})

const connect = (node: DHT, ticket: string, keyPair?: ReturnType<typeof DHT.keyPair>) =>
  TunnelClient.connect({ dht: node, keyPair, ticket: { ticket, nodeKey: provider.publicKey.toString('hex') } })

describe('tunnel@1', () => {
  it('carries a stream both ways, intact, with flow control and a half-close', async () => {
    const t = await connect(ownerNode, ticketFor(owner.publicKey), owner)
    const input = new PassThrough()
    const output = new PassThrough()
    const got = createHash('sha256')
    let n = 0
    output.on('data', (b: Buffer) => {
      got.update(b)
      n += b.length
    })
    const ended = new Promise((r) => output.once('end', r))
    const { done } = await t.open(CONSOLE_PORT, input, output)
    const data = randomBytes(WINDOW * 6 + 12345)
    input.end(data)
    await ended
    expect(n).toBe(data.length)
    expect(got.digest('hex')).toBe(createHash('sha256').update(data).digest('hex'))
    expect(await done).toBeNull()
    await t.close()
  })

  it('several streams on one tunnel', async () => {
    const t = await connect(ownerNode, ticketFor(owner.publicKey), owner)
    const runs = [1, 2, 3].map(async (i) => {
      const input = new PassThrough()
      const output = new PassThrough()
      const parts: Buffer[] = []
      output.on('data', (b: Buffer) => parts.push(b))
      const ended = new Promise((r) => output.once('end', r))
      await t.open(CONSOLE_PORT, input, output)
      input.end(Buffer.from(`stream ${i}`))
      await ended
      return Buffer.concat(parts).toString()
    })
    expect(await Promise.all(runs)).toEqual(['stream 1', 'stream 2', 'stream 3'])
    await t.close()
  })

  it('refuses a ticket shown from another key than the one it was issued to', async () => {
    const stolen = ticketFor(owner.publicKey)
    const err = await connect(strangerNode, stolen, stranger).catch((e) => e)
    expect(err.code).toBe('NODE_TICKET_INVALID')
    expect(err.message).toMatch(/another key/)
    // The owner can still use it: the refusal did not spend it.
    const t = await connect(ownerNode, stolen, owner)
    await t.close()
    expect(server.counters.refused).toBeGreaterThanOrEqual(1)
  })

  it('refuses a replayed ticket and a ticket not bound to a key', async () => {
    const once = ticketFor(owner.publicKey)
    await (await connect(ownerNode, once, owner)).close()
    expect((await connect(ownerNode, once, owner).catch((e) => e)).code).toBe('NODE_TICKET_REPLAYED')
    const unbound = signTicket(hub.secretKey, {
      vmId: 'vm1',
      nodeKey: provider.publicKey.toString('hex'),
      pmId: 'pm1',
      user: 'alice',
    }).ticket
    expect((await connect(ownerNode, unbound, owner).catch((e) => e)).message).toMatch(/not bound to a key/)
  })

  it('refuses a ticket used before the provider restarted (issue 11: nonces on disk)', async () => {
    const once = ticketFor(owner.publicKey)
    await (await connect(ownerNode, once, owner)).close()
    const before = server
    server = tunnelServer() // the restarted node: same data directory, nothing in memory
    try {
      await server.start()
      const err = await connect(ownerNode, once, owner).catch((e) => e)
      expect(err.code).toBe('NODE_TICKET_REPLAYED')
      await (await connect(ownerNode, ticketFor(owner.publicKey), owner)).close() // a new ticket works
    } finally {
      server = before
    }
  })

  it('a guest port on a hypervisor without forwards is refused with its reason, the tunnel lives on', async () => {
    const t = await connect(ownerNode, ticketFor(owner.publicKey), owner)
    const err = await t.open(80, new PassThrough(), new PassThrough()).catch((e) => e)
    expect(err.code).toBe('HV_NOT_SUPPORTED')
    const output = new PassThrough()
    const input = new PassThrough()
    const ended = new Promise((r) => output.once('end', r))
    const parts: Buffer[] = []
    output.on('data', (b: Buffer) => parts.push(b))
    await t.open(CONSOLE_PORT, input, output)
    input.end('still here')
    await ended
    expect(Buffer.concat(parts).toString()).toBe('still here')
    await t.close()
  })
})
