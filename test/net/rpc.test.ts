// RpcChannel over a real HyperDHT testnet on loopback: calls, errors, timeouts, malformed frames.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import createTestnet from 'hyperdht/testnet.js'
import DHT, { type NoiseSocket } from 'hyperdht'
import Protomux from 'protomux'
import c from 'compact-encoding'
import { RpcChannel, MAX_BODY_BYTES } from '../../src/net/rpc.ts'
import { VirtuosoError } from '../../src/errors.ts'

const PROTOCOL = 'virtuoso/test@1'
let testnet: Awaited<ReturnType<typeof createTestnet>>
let serverKeys: ReturnType<typeof DHT.keyPair>
const serverSockets: NoiseSocket[] = []

beforeAll(async () => {
  testnet = await createTestnet(3)
  const node = testnet.createNode()
  serverKeys = DHT.keyPair()
  const server = node.createServer((socket) => {
    serverSockets.push(socket)
    socket.on('error', () => {})
    const mux = Protomux.from(socket)
    new RpcChannel(mux, {
      protocol: PROTOCOL,
      handler: async (method, params: any, token) => {
        if (method === 'echo') return { params, token }
        if (method === 'fail') throw new VirtuosoError('TEST_FAILED', 'as asked')
        if (method === 'slow') return new Promise((r) => setTimeout(() => r('late'), 2000))
        throw new VirtuosoError('NODE_UNKNOWN_METHOD', method)
      },
    })
  })
  await server.listen(serverKeys)
})

afterAll(async () => {
  await testnet.destroy()
})

async function dial(): Promise<{ socket: NoiseSocket; mux: Protomux }> {
  const node = testnet.createNode()
  const socket = node.connect(serverKeys.publicKey)
  socket.on('error', () => {})
  return { socket, mux: Protomux.from(socket) }
}

describe('RpcChannel', () => {
  it('answers a call with its result and passes the token', async () => {
    const { mux, socket } = await dial()
    const rpc = new RpcChannel(mux, { protocol: PROTOCOL })
    expect(await rpc.request('echo', { a: 1 }, { token: 't0k' })).toEqual({ params: { a: 1 }, token: 't0k' })
    socket.destroy()
  })

  it('carries error codes across, and unknown methods fail cleanly', async () => {
    const { mux, socket } = await dial()
    const rpc = new RpcChannel(mux, { protocol: PROTOCOL })
    await expect(rpc.request('fail')).rejects.toMatchObject({ code: 'TEST_FAILED' })
    await expect(rpc.request('nope')).rejects.toMatchObject({ code: 'NODE_UNKNOWN_METHOD' })
    socket.destroy()
  })

  it('times out a call nobody answers in time', async () => {
    const { mux, socket } = await dial()
    const rpc = new RpcChannel(mux, { protocol: PROTOCOL })
    await expect(rpc.request('slow', {}, { timeoutMs: 200 })).rejects.toMatchObject({ code: 'NODE_TIMEOUT' })
    socket.destroy()
  })

  it('refuses an oversized body before sending it', async () => {
    const { mux, socket } = await dial()
    const rpc = new RpcChannel(mux, { protocol: PROTOCOL })
    await expect(rpc.request('echo', { x: 'y'.repeat(MAX_BODY_BYTES) })).rejects.toMatchObject({
      code: 'NODE_FRAME_TOO_LARGE',
    })
    socket.destroy()
  })

  it('answers a non-JSON body with NODE_BAD_FRAME and keeps serving', async () => {
    const { mux, socket } = await dial()
    const raw = mux.createChannel({ protocol: PROTOCOL })!
    const answers: any[] = []
    const req = raw.addMessage({
      encoding: {
        preencode: (s: any, m: any) => {
          c.uint.preencode(s, 1)
          c.string.preencode(s, 'echo')
          c.string.preencode(s, '')
          c.string.preencode(s, m)
        },
        encode: (s: any, m: any) => {
          c.uint.encode(s, 1)
          c.string.encode(s, 'echo')
          c.string.encode(s, '')
          c.string.encode(s, m)
        },
        decode: () => null,
      },
    })
    raw.addMessage({
      encoding: {
        preencode() {},
        encode() {},
        decode: (s: any) => ({ id: c.uint.decode(s), ok: c.bool.decode(s), body: c.string.decode(s) }),
      },
      onmessage: (m: any) => {
        answers.push(m)
        answered()
      },
    })
    let answered!: () => void
    const answer = new Promise<void>((r) => (answered = r))
    raw.open()
    req.send('{not json')
    await answer
    expect(answers[0]?.ok).toBe(false)
    expect(JSON.parse(answers[0].body).code).toBe('NODE_BAD_FRAME')
    socket.destroy()
    // another client is still served
    const other = await dial()
    const rpc = new RpcChannel(other.mux, { protocol: PROTOCOL })
    expect(await rpc.request('echo', { ok: true })).toMatchObject({ params: { ok: true } })
    other.socket.destroy()
  })

  it('a garbage frame closes only that connection', async () => {
    const { mux, socket } = await dial()
    const raw = mux.createChannel({ protocol: PROTOCOL })!
    const junk = raw.addMessage({ encoding: c.raw })
    raw.open()
    const closed = new Promise((r) => socket.once('close', r))
    junk.send(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]))
    await closed // the server drops the connection that sent it (the test times out otherwise)
    expect(socket.destroyed).toBe(true)
    const other = await dial()
    const rpc = new RpcChannel(other.mux, { protocol: PROTOCOL })
    expect(await rpc.request('echo', {})).toMatchObject({ params: {} })
    other.socket.destroy()
  })
})
