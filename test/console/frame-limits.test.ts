// console@1 checks every message's size from its length prefix before decoding, both ways (issue 11,
// item 5): an oversized control message or data from a viewer is refused in words (NODE_FRAME_TOO_LARGE)
// and the guest, its screen and the next viewer are untouched; an oversized message from a provider
// ends the viewer's session with the same code; and neither side sends one.
import { afterAll, beforeAll, expect, it } from 'vitest'
import createTestnet from 'hyperdht/testnet.js'
import DHT from 'hyperdht'
import Protomux from 'protomux'
import { ConsoleScreens } from '../../src/console/screens.ts'
import { ConsoleServer } from '../../src/console/server.ts'
import { ConsoleSession } from '../../src/console/client.ts'
import { signTicket } from '../../src/console/ticket.ts'
import { MAX_CTL_BYTES, MAX_DATA_BYTES, openConsoleChannel, type ConsoleWire } from '../../src/console/wire.ts'
import { testHv, waitFor } from './helpers.ts'

let testnet: Awaited<ReturnType<typeof createTestnet>>
let env: Awaited<ReturnType<typeof testHv>>
let screens: ConsoleScreens
let server: ConsoleServer
let viewerDht: DHT
const hub = DHT.keyPair()
const provider = DHT.keyPair()

beforeAll(async () => {
  testnet = await createTestnet(3)
  env = await testHv(['vm1'])
  await env.hv.start('vm1')
  screens = new ConsoleScreens(env.hv)
  server = new ConsoleServer({ dht: testnet.createNode(), keyPair: provider, hubKey: hub.publicKey, screens })
  await server.start()
  viewerDht = testnet.createNode()
})
afterAll(async () => {
  await server.close()
  screens.close()
  await env.cleanup()
  await testnet.destroy()
})

const ticketFor = (nodeKey: Buffer) =>
  signTicket(hub.secretKey, {
    vmId: 'vm1',
    nodeKey: nodeKey.toString('hex'),
    pmId: null,
    user: 'alice',
    clientKey: viewerDht.defaultKeyPair.publicKey.toString('hex'),
  }).ticket
const dial = (nodeKey = provider.publicKey) =>
  ConsoleSession.dial({ dht: viewerDht, nodeKey, ticket: ticketFor(nodeKey), cols: 80, rows: 24 })
/** The session's console@1 messages as protomux holds them: sending through them skips wire.ts's check. */
const raw = (s: ConsoleSession) => (s as unknown as { wire: ConsoleWire }).wire.channel.messages

async function echoes(s: ConsoleSession, word: string): Promise<void> {
  let out = ''
  s.on('data', (b: Buffer) => (out += b.toString()))
  s.write(`echo ${word}\r`)
  await waitFor(() => out.includes(`${word}\r\n/ # `), 5000, `the echo of ${word}`)
}

it('an oversized control message from a viewer is refused in words; the guest and the next viewer are fine', async () => {
  const s = await dial()
  raw(s)[0].send('x'.repeat(MAX_CTL_BYTES + 1))
  expect(await s.done).toMatchObject({ code: 'NODE_FRAME_TOO_LARGE' })
  const next = await dial()
  await echoes(next, 'after-oversized-ctl')
  await next.detach()
})

it('oversized data from a viewer is refused in words; the guest and the next viewer are fine', async () => {
  const s = await dial()
  raw(s)[1].send(Buffer.alloc(MAX_DATA_BYTES + 1, 0x61))
  expect(await s.done).toMatchObject({ code: 'NODE_FRAME_TOO_LARGE' })
  const next = await dial()
  await echoes(next, 'after-oversized-data')
  await next.detach()
})

it('neither side sends an oversized message: the sender refuses it', async () => {
  const s = await dial()
  const wire = (s as unknown as { wire: ConsoleWire }).wire
  expect(() => wire.sendData(Buffer.alloc(MAX_DATA_BYTES + 1))).toThrow(
    expect.objectContaining({ code: 'NODE_FRAME_TOO_LARGE' }),
  )
  expect(() => wire.sendCtl({ t: 'error', code: 'X', message: 'y'.repeat(MAX_CTL_BYTES) })).toThrow(
    expect.objectContaining({ code: 'NODE_FRAME_TOO_LARGE' }),
  )
  await echoes(s, 'still-attached') // nothing was sent: the session goes on
  await s.detach()
})

it("a provider's oversized message ends the viewer's session with NODE_FRAME_TOO_LARGE", async () => {
  const liar = DHT.keyPair()
  const node = testnet.createNode()
  const srv = node.createServer((socket) => {
    socket.on('error', () => {})
    const wire: ConsoleWire = openConsoleChannel(Protomux.from(socket), {
      ctl: (m) => {
        if (m.t !== 'attach') return
        wire.sendCtl({ t: 'attached', vmId: 'vm1', cols: 80, rows: 24 })
        wire.channel.messages[1].send(Buffer.alloc(MAX_DATA_BYTES + 1))
      },
      data: () => {},
      close: () => {},
      tooLarge: () => {},
    })
  })
  await srv.listen(liar)
  try {
    const s = await dial(liar.publicKey)
    const end = await s.done
    expect(end.code).toBe('NODE_FRAME_TOO_LARGE')
    expect(end.message).toMatch(/the provider sent/)
  } finally {
    await srv.close()
  }
})
