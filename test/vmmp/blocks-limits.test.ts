// blocks@1 checks sizes before decoding, both ways (issue 11, item 5): an origin answers a request frame
// longer than any request can be with NODE_FRAME_TOO_LARGE for that request and goes on serving; a
// destination refuses a response whose data is over the limit (never decoded) for that request only,
// and its next request on the same channel is answered.
import { afterAll, beforeAll, expect, it } from 'vitest'
import createTestnet from 'hyperdht/testnet.js'
import DHT from 'hyperdht'
import Protomux from 'protomux'
import c from 'compact-encoding'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BlocksClient, serveBlocks, OP_OPEN } from '../../src/vmmp/blocks.ts'
import { MAX_REQUEST_BYTES, MAX_RESPONSE_DATA, responseEncoding } from '../../src/vmmp/blocks-wire.ts'
import { PROTOCOLS } from '../../src/net/protocols.ts'

let testnet: Awaited<ReturnType<typeof createTestnet>>
let dir: string
const origin = DHT.keyPair()
const liar = DHT.keyPair()

const uints = (...xs: number[]) => Buffer.concat(xs.map((x) => c.encode(c.uint, x)))
const response = (id: number, data: Buffer) =>
  Buffer.concat([c.encode(c.uint, id), c.encode(c.string, ''), c.encode(c.buffer, data)])

beforeAll(async () => {
  testnet = await createTestnet(3)
  dir = await mkdtemp(join(tmpdir(), 'vmmp-limits-'))
  await writeFile(join(dir, 'disk.raw'), Buffer.alloc(64 * 1024, 1))
  const real = testnet.createNode().createServer((socket) => {
    socket.on('error', () => {})
    serveBlocks(Protomux.from(socket), { authorize: () => ({ vmId: 'vm-1', dir, files: ['disk.raw'], version: 1 }) })
  })
  await real.listen(origin)
  // An origin that answers OPEN properly, BLOCKS of block 0 with more data than any answer may carry,
  // and any other BLOCKS with one honest block.
  const lying = testnet.createNode().createServer((socket) => {
    socket.on('error', () => {})
    const mux = Protomux.from(socket)
    mux.pair({ protocol: PROTOCOLS.blocks }, (id) => {
      const ch = mux.createChannel({ protocol: PROTOCOLS.blocks, id: id! })!
      const req = ch.addMessage<Buffer>({ encoding: c.raw })
      const res = ch.addMessage<Buffer>({ encoding: c.raw })
      req.onmessage = (b: Buffer) => {
        const s = { start: 0, end: b.length, buffer: b }
        const [rid, op, , start] = [0, 1, 2, 3].map(() => c.uint.decode(s))
        const files = [{ name: 'disk.raw', size: 2 * 65536, root: '0'.repeat(64) }]
        if (op === OP_OPEN) res.send(response(rid, Buffer.from(JSON.stringify({ vmId: 'vm-1', version: 1, files }))))
        else if (start === 0) res.send(response(rid, Buffer.alloc(MAX_RESPONSE_DATA + 1)))
        else res.send(response(rid, Buffer.alloc(65536, 2)))
      }
      ch.addMessage({ encoding: c.raw })
      ch.open()
    })
  })
  await lying.listen(liar)
})
afterAll(async () => {
  await testnet.destroy()
  await rm(dir, { recursive: true, force: true })
})

const dial = (key: Buffer) => {
  const socket = testnet.createNode().connect(key)
  socket.on('error', () => {})
  return Protomux.from(socket)
}

it('the origin answers an oversized request frame with NODE_FRAME_TOO_LARGE and goes on serving', async () => {
  const mux = dial(origin.publicKey)
  const ch = mux.createChannel({ protocol: PROTOCOLS.blocks, id: Buffer.from('mig-1') })!
  const req = ch.addMessage({ encoding: c.raw })
  const answers: Array<{ id: number; error: string; data: Buffer }> = []
  let arrived: () => void = () => {}
  ch.addMessage({
    encoding: responseEncoding,
    onmessage: (r) => {
      answers.push(r)
      arrived()
    },
  })
  ch.addMessage({ encoding: c.raw })
  ch.open()
  let next = new Promise<void>((r) => (arrived = r))
  req.send(Buffer.concat([uints(7, OP_OPEN, 0, 0, 0), Buffer.alloc(1 << 20)]))
  await next
  expect(answers[0].id).toBe(7)
  expect(answers[0].error).toMatch(
    new RegExp(`^NODE_FRAME_TOO_LARGE .*exceeds the limit of ${MAX_REQUEST_BYTES} bytes`),
  )
  next = new Promise<void>((r) => (arrived = r))
  req.send(uints(8, OP_OPEN, 0, 0, 0))
  await next
  expect(answers[1]).toMatchObject({ id: 8, error: '' })
  expect(JSON.parse(answers[1].data.toString()).files[0].name).toBe('disk.raw')
  ch.close()
})

it('the destination refuses an oversized response for that request only; the next one is answered', async () => {
  const client = await BlocksClient.open(dial(liar.publicKey), 'mig-2')
  const err = await client.blocks(0, 0, 1).catch((e) => e)
  expect(err.code).toBe('NODE_FRAME_TOO_LARGE')
  expect((await client.blocks(0, 1, 1)).equals(Buffer.alloc(65536, 2))).toBe(true)
  client.close()
})
