// vnet@1 between two providers on a loopback HyperDHT testnet, with in-memory guests: frames of a
// network cross only between members the hub signed for; malformed messages, forged memberships
// and frames of a network never joined are dropped and counted, and the connection carries on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import createTestnet from 'hyperdht/testnet.js'
import { once } from 'node:events'
import DHT from 'hyperdht'
import Protomux from 'protomux'
import c from 'compact-encoding'
import { ETH_HEADER, macBytes, srcMac } from '../../src/vnet/frame.ts'
import { PROTOCOL } from '../../src/vnet/peers.ts'
import { encodeFrame, encodeJoin } from '../../src/vnet/wire.ts'
import { signMembership } from '../../src/vnet/membership.ts'
import { member, portUp, testProvider, type TestProvider } from './provider-net.ts'
import type { Switch } from '../../src/vnet/switch.ts'

let testnet: Awaited<ReturnType<typeof createTestnet>>
const hub = DHT.keyPair()
let p1: TestProvider
let p2: TestProvider
let p2Ahead = 0 // how far p2's clock runs ahead of the wall clock
const A = '02:00:00:00:00:0a'
const B = '02:00:00:00:00:0b'

function frame(dst: string, src: string, tag: string): Buffer {
  const f = Buffer.alloc(ETH_HEADER + 46)
  macBytes(dst).copy(f, 0)
  macBytes(src).copy(f, 6)
  f.writeUInt16BE(0x0800, 12)
  f.write(tag, ETH_HEADER)
  return f
}

/** A guest port whose received frames can be awaited. */
function guest(sw: Switch, id: string, net: string, mac: string) {
  const got: Buffer[] = []
  const waiters: Array<() => void> = []
  sw.addPort({
    id,
    net,
    kind: 'guest',
    mac,
    sink: {
      write(f) {
        got.push(f)
        for (const w of waiters.splice(0)) w()
        return true
      },
      onDrain() {},
    },
  })
  return {
    got,
    async receive(tag: string) {
      const has = () => got.some((f) => f.subarray(ETH_HEADER, ETH_HEADER + tag.length).toString() === tag)
      while (!has()) await new Promise<void>((r) => waiters.push(r))
    },
  }
}

beforeAll(async () => {
  testnet = await createTestnet(3)
  p1 = await testProvider(testnet.createNode(), hub.publicKey)
  p2 = await testProvider(testnet.createNode(), hub.publicKey, () => Date.now() + p2Ahead)
})

afterAll(async () => {
  await p1?.close()
  await p2?.close()
  await testnet?.destroy()
})

describe('vnet@1', () => {
  it('carries a network between its two providers; each learns where the other guest is', async () => {
    const a = guest(p1.sw, 'a', 'n1', A)
    const b = guest(p2.sw, 'b', 'n1', B)
    p1.peers.join('n1', member(hub, 'n1', p1), [p2.key])
    p2.peers.join('n1', member(hub, 'n1', p2), [p1.key])
    await portUp(p1.sw, `peer:${p2.key}:n1`)
    await portUp(p2.sw, `peer:${p1.key}:n1`)
    p1.sw.input('a', frame(B, A, 'hello-b'))
    await b.receive('hello-b')
    p2.sw.input('b', frame(A, B, 'hello-a'))
    await a.receive('hello-a')
    expect(a.got.every((f) => srcMac(f) === B)).toBe(true)
  })

  it('drops and counts malformed messages, forged memberships and unjoined frames; the rest flows', async () => {
    const b = guest(p2.sw, 'b2', 'n1', '02:00:00:00:00:bb')
    const mallory = DHT.keyPair()
    const node = testnet.createNode()
    const socket = node.connect(p2.keys.publicKey, { keyPair: mallory })
    socket.on('error', () => {})
    const mux = Protomux.from(socket)
    let opened!: () => void
    const open = new Promise<void>((r) => (opened = r))
    const ch = mux.createChannel({ protocol: PROTOCOL, onopen: () => opened() })!
    const msg = ch.addMessage({ encoding: c.raw })
    ch.open()
    await open
    const before = { ...p2.peers.counters }
    msg.send(Buffer.from([0xff, 0, 0, 0, 1, 2]))
    msg.send(Buffer.from([3]))
    msg.send(encodeFrame(1, Buffer.alloc(5)))
    // Signed by the hub but for another provider's key; and one signed by a stranger.
    msg.send(encodeJoin(1, signMembership(hub.secretKey, { net: 'n1', nodeKey: p1.key })))
    msg.send(
      encodeJoin(2, signMembership(DHT.keyPair().secretKey, { net: 'n1', nodeKey: mallory.publicKey.toString('hex') })),
    )
    msg.send(encodeFrame(1, frame('ff:ff:ff:ff:ff:ff', '02:00:00:00:00:66', 'evil')))
    // The legitimate provider's frames still arrive, after all of Mallory's.
    p1.sw.input('a', frame('02:00:00:00:00:bb', A, 'still-here'))
    await b.receive('still-here')
    await new Promise<void>((resolve) => {
      const check = () => (p2.peers.counters.unjoined > before.unjoined ? resolve() : setTimeout(check, 20))
      check()
    })
    expect(p2.peers.counters.malformed - before.malformed).toBe(3)
    expect(p2.peers.counters.refused - before.refused).toBe(2)
    expect(p2.peers.counters.unjoined - before.unjoined).toBe(1)
    expect(b.got.some((f) => f.includes(Buffer.from('evil')))).toBe(false)
    socket.destroy()
    await node.destroy()
  })

  it('a provider that leaves a network gets none of its frames any more', async () => {
    p1.peers.leave('n1')
    await new Promise<void>((resolve) => {
      const check = () => (!p2.sw.has(`peer:${p1.key}:n1`) ? resolve() : setTimeout(check, 20))
      check()
    })
    expect(p1.sw.has(`peer:${p2.key}:n1`)).toBe(false)
  })

  it('a membership that expires on an open connection stops its frames; a renewed one resumes them', async () => {
    const a = guest(p1.sw, 'a3', 'n3', '02:00:00:00:00:3a')
    const b = guest(p2.sw, 'b3', 'n3', '02:00:00:00:00:3b')
    p1.peers.join('n3', member(hub, 'n3', p1), [p2.key])
    p2.peers.join('n3', member(hub, 'n3', p2), [p1.key])
    await portUp(p1.sw, `peer:${p2.key}:n3`)
    await portUp(p2.sw, `peer:${p1.key}:n3`)
    p1.sw.input('a3', frame('02:00:00:00:00:3b', '02:00:00:00:00:3a', 'before'))
    await b.receive('before')
    // A membership that runs out in a minute, then p2's clock a minute ahead: the next frame finds it
    // expired (no test waits for the wall clock).
    const renewed = new Promise<void>((resolve) => {
      const on = (net: string, key: string) => {
        if (net !== 'n3' || key !== p1.key) return
        p2.peers.off('joined', on)
        resolve()
      }
      p2.peers.on('joined', on)
    })
    p1.peers.renew('n3', signMembership(hub.secretKey, { net: 'n3', nodeKey: p1.key, expires: Date.now() + 60_000 }))
    await renewed
    const expired = once(p2.peers, 'expired')
    p2Ahead = 61_000
    const dropped = p2.peers.counters.unjoined
    p1.sw.input('a3', frame('02:00:00:00:00:3b', '02:00:00:00:00:3a', 'during'))
    expect(await expired).toEqual(['n3', p1.key])
    expect(p2.sw.has(`peer:${p1.key}:n3`)).toBe(false)
    // p1 still sends (its view of p2 is valid): p2 drops and counts each frame.
    await new Promise<void>((resolve) => {
      const check = () => (p2.peers.counters.unjoined > dropped ? resolve() : setTimeout(check, 20))
      check()
    })
    p2.sw.input('b3', frame('02:00:00:00:00:3a', '02:00:00:00:00:3b', 'back-during'))
    const joined = once(p2.peers, 'joined')
    p1.peers.renew('n3', member(hub, 'n3', p1))
    await joined
    await portUp(p2.sw, `peer:${p1.key}:n3`)
    p1.sw.input('a3', frame('02:00:00:00:00:3b', '02:00:00:00:00:3a', 'after'))
    await b.receive('after')
    p2.sw.input('b3', frame('02:00:00:00:00:3a', '02:00:00:00:00:3b', 'back-after'))
    await a.receive('back-after')
    const tags = (fs: Buffer[]) =>
      fs.map((f) =>
        f
          .subarray(ETH_HEADER, ETH_HEADER + 11)
          .toString()
          .replace(/\0+$/, ''),
      )
    expect(tags(b.got)).not.toContain('during')
    expect(tags(a.got)).not.toContain('back-during')
    expect(p2.peers.counters.expired).toBeGreaterThanOrEqual(1)
  })
})
