// RpcChannel limits (issue 11, item 5), over a real HyperDHT testnet on loopback: sizes are checked
// from the length prefix before a string is decoded, in both directions; a connection has a cap on
// requests in flight; each refusal is a clear code, and the connection keeps serving.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import createTestnet from 'hyperdht/testnet.js'
import DHT, { type NoiseSocket } from 'hyperdht'
import Protomux from 'protomux'
import c from 'compact-encoding'
import { RpcChannel, MAX_BODY_BYTES } from '../../src/net/rpc.ts'

const PROTOCOL = 'virtuoso/limits-test@1'
let testnet: Awaited<ReturnType<typeof createTestnet>>
let serverKeys: ReturnType<typeof DHT.keyPair>
let server: RpcChannel | null = null
const calls: string[] = []
let release: () => void = () => {}
let held = new Promise<void>((r) => (release = r))

beforeAll(async () => {
  testnet = await createTestnet(3)
  serverKeys = DHT.keyPair()
  const dht = testnet.createNode()
  const s = dht.createServer((socket) => {
    socket.on('error', () => {})
    server = new RpcChannel(Protomux.from(socket), {
      protocol: PROTOCOL,
      maxInFlight: 4,
      handler: async (method) => {
        calls.push(method)
        if (method === 'big') return 'x'.repeat(MAX_BODY_BYTES + 10)
        if (method === 'hold') await held
        return 'ok'
      },
    })
  })
  await s.listen(serverKeys)
})
afterAll(async () => {
  await testnet.destroy()
})

async function dial(): Promise<{ socket: NoiseSocket; mux: Protomux }> {
  const socket = testnet.createNode().connect(serverKeys.publicKey)
  socket.on('error', () => {})
  return { socket, mux: Protomux.from(socket) }
}

/** A raw market-style channel: requests written byte by byte, answers read as they come. */
function rawChannel(mux: Protomux) {
  const ch = mux.createChannel({ protocol: PROTOCOL })!
  const answers: Array<{ id: number; ok: boolean; body: string }> = []
  let wake: () => void = () => {}
  const req = ch.addMessage({ encoding: c.raw })
  ch.addMessage({
    encoding: c.raw,
    onmessage: (b: Buffer) => {
      const s = { start: 0, end: b.length, buffer: b }
      answers.push({ id: c.uint.decode(s), ok: c.bool.decode(s), body: c.string.decode(s) })
      wake()
    },
  })
  ch.open()
  return {
    send: (b: Buffer) => req.send(b),
    answer: async (n: number) => {
      while (answers.length < n) await new Promise<void>((r) => (wake = r))
      return answers[n - 1]
    },
  }
}

function frame(id: number, method: string, body: Buffer | string, lengthClaim?: number): Buffer {
  const head = Buffer.concat([c.encode(c.uint, id), c.encode(c.string, method), c.encode(c.string, '')])
  const b = typeof body === 'string' ? Buffer.from(body) : body
  return Buffer.concat([head, c.encode(c.uint, lengthClaim ?? b.length), b])
}

describe('RpcChannel limits', () => {
  it('answers an oversized request NODE_FRAME_TOO_LARGE without running it, and keeps serving', async () => {
    const { mux, socket } = await dial()
    const raw = rawChannel(mux)
    const before = calls.length
    raw.send(frame(7, 'echo', Buffer.alloc(MAX_BODY_BYTES + 1, 0x41)))
    const a = await raw.answer(1)
    expect(a.id).toBe(7)
    expect(a.ok).toBe(false)
    expect(JSON.parse(a.body).code).toBe('NODE_FRAME_TOO_LARGE')
    // A length prefix that claims a terabyte is refused from the prefix alone (decoding it would throw
    // and drop the connection).
    raw.send(frame(8, 'echo', 'short', 2 ** 40))
    expect(JSON.parse((await raw.answer(2)).body).code).toBe('NODE_FRAME_TOO_LARGE')
    raw.send(frame(9, 'echo', '{}'))
    expect(await raw.answer(3)).toMatchObject({ id: 9, ok: true })
    expect(calls.slice(before)).toEqual(['echo'])
    expect(server!.refused.tooLarge).toBeGreaterThanOrEqual(2)
    socket.destroy()
  })

  it('replaces an oversized answer by NODE_FRAME_TOO_LARGE, and drops an oversized event', async () => {
    const { mux, socket } = await dial()
    const rpc = new RpcChannel(mux, { protocol: PROTOCOL })
    await expect(rpc.request('big')).rejects.toMatchObject({ code: 'NODE_FRAME_TOO_LARGE' })
    expect(server!.event('huge', 'y'.repeat(MAX_BODY_BYTES + 1))).toBe(false)
    expect(server!.event('small', 'y')).toBe(true)
    socket.destroy()
  })

  it('answers NODE_BUSY past the in-flight cap and serves again once requests finish', async () => {
    const { mux, socket } = await dial()
    const rpc = new RpcChannel(mux, { protocol: PROTOCOL })
    const holding = Array.from({ length: 4 }, () => rpc.request('hold'))
    await expect(rpc.request('echo')).rejects.toMatchObject({ code: 'NODE_BUSY' })
    release()
    expect(await Promise.all(holding)).toEqual(['ok', 'ok', 'ok', 'ok'])
    expect(await rpc.request('echo')).toBe('ok')
    held = new Promise<void>((r) => (release = r))
    socket.destroy()
  })
})
