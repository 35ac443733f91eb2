// vmmp@1 checks each frame's size from its length prefix before decoding (issue 11, item 5): a frame
// over MAX_FRAME_CHARS is refused (NODE_FRAME_TOO_LARGE to onReject, never turned into a string) and
// the channel goes on; the encoder never makes one, so neither side sends one.
import { afterAll, beforeAll, expect, it } from 'vitest'
import createTestnet from 'hyperdht/testnet.js'
import DHT from 'hyperdht'
import Protomux from 'protomux'
import { VmmpChannel } from '../../src/vmmp/channel.ts'
import { encode, MAX_FRAME_CHARS, type VmmpMessage } from '../../src/vmmp/codec.ts'

let testnet: Awaited<ReturnType<typeof createTestnet>>
let sender: VmmpChannel
const got: VmmpMessage[] = []
const rejected: Array<{ code?: string; message: string }> = []
let waiting: (() => void) | null = null

beforeAll(async () => {
  testnet = await createTestnet(3)
  const keys = DHT.keyPair()
  const node = testnet.createNode()
  const server = node.createServer((socket) => {
    socket.on('error', () => {})
    new VmmpChannel(Protomux.from(socket), {
      onMessage: (m) => {
        got.push(m)
        waiting?.()
      },
      onReject: (err) => {
        rejected.push(err as Error & { code?: string })
        waiting?.()
      },
    })
  })
  await server.listen(keys)
  const socket = testnet.createNode().connect(keys.publicKey)
  socket.on('error', () => {})
  sender = new VmmpChannel(Protomux.from(socket), { onMessage: () => {} })
  await sender.opened
})
afterAll(async () => {
  await testnet.destroy()
})

const next = () => new Promise<void>((resolve) => (waiting = resolve))

it('refuses an oversized frame before decoding it, and takes the next frame', async () => {
  let arrived = next()
  sender.sendRaw(`<VMMP 1.0 QUERY 1 ${'M'.repeat(1 << 20)}>`)
  await arrived
  expect(rejected).toHaveLength(1)
  expect(rejected[0].code).toBe('NODE_FRAME_TOO_LARGE')
  expect(rejected[0].message).toMatch(/1048595 bytes exceeds the limit of 2048/)
  arrived = next()
  sender.send({ type: 'QUERY', id: 'q2' })
  await arrived
  expect(got).toMatchObject([{ type: 'QUERY', id: 'q2' }])
})

it('a frame at the limit is decoded (and refused by the grammar, not by size); the encoder never exceeds it', async () => {
  const arrived = next()
  sender.sendRaw(`<${'A'.repeat(MAX_FRAME_CHARS - 2)}>`)
  await arrived
  expect(rejected.at(-1)?.code).toBe('VMMP_BAD_MESSAGE')
  expect(() => encode({ type: 'RESP', id: 3, status: 'FAIL', reason: 'x'.repeat(MAX_FRAME_CHARS) } as never)).toThrow(
    expect.objectContaining({ code: 'VMMP_BAD_MESSAGE' }),
  )
})
