// The switch alone, with in-memory sinks: isolation between networks, learning, split horizon,
// DHCP answers, forged and malformed frames counted, and a flooding port that cannot starve another.
import { describe, expect, it } from 'vitest'
import { Switch, type PortSink } from '../../src/vnet/switch.ts'
import { dhcpReply, SWITCH_MAC } from '../../src/vnet/dhcp.ts'
import { ETH_HEADER, StreamDecoder, encodeStream, dstMac, macBytes, srcMac } from '../../src/vnet/frame.ts'
import { checksum } from '../../src/vnet/dhcp.ts'
import { dhcpRequestFrame } from './dhcp-frames.ts'

/** A sink that records frames; `slow` accepts one frame per `drain()`. */
function sink(slow = false): PortSink & { frames: Buffer[]; drain(): void } {
  let waiter: (() => void) | null = null
  return {
    frames: [],
    write(f) {
      this.frames.push(f)
      return !slow
    },
    onDrain(cb) {
      waiter = cb
    },
    drain() {
      const w = waiter
      waiter = null
      w?.()
    },
  }
}

function frame(dst: string, src: string, payload = 'x', type = 0x0800): Buffer {
  const f = Buffer.alloc(ETH_HEADER + 46)
  macBytes(dst).copy(f, 0)
  macBytes(src).copy(f, 6)
  f.writeUInt16BE(type, 12)
  f.write(payload, ETH_HEADER)
  return f
}

const A = '02:00:00:00:00:0a'
const B = '02:00:00:00:00:0b'
const C = '02:00:00:00:00:0c'
const R = '02:00:00:00:00:0d' // a guest on another provider
const BCAST = 'ff:ff:ff:ff:ff:ff'
const lease = (address: string) => ({ address, prefix: 24 })

function lan() {
  const sw = new Switch({ queueFrames: 8 })
  const s = { a: sink(), b: sink(), c: sink(), p: sink(), q: sink() }
  sw.addPort({ id: 'a', net: 'n1', kind: 'guest', mac: A, sink: s.a })
  sw.addPort({ id: 'b', net: 'n1', kind: 'guest', mac: B, sink: s.b })
  sw.addPort({ id: 'c', net: 'n2', kind: 'guest', mac: C, sink: s.c })
  sw.addPort({ id: 'p', net: 'n1', kind: 'peer', sink: s.p })
  sw.addPort({ id: 'q', net: 'n1', kind: 'peer', sink: s.q })
  return { sw, s }
}

describe('switch', () => {
  it('floods a broadcast to its own network only, and unicasts to a known MAC', () => {
    const { sw, s } = lan()
    sw.input('a', frame(BCAST, A))
    expect([s.b.frames.length, s.p.frames.length, s.q.frames.length, s.c.frames.length]).toEqual([1, 1, 1, 0])
    sw.input('a', frame(B, A, 'to-b'))
    expect(
      s.b.frames
        .at(-1)!
        .subarray(ETH_HEADER, ETH_HEADER + 4)
        .toString(),
    ).toBe('to-b')
    expect(s.p.frames.length).toBe(1)
    expect(s.c.frames.length).toBe(0)
  })

  it('learns a remote MAC from a peer and never sends a peer frame on to another peer', () => {
    const { sw, s } = lan()
    sw.input('p', frame(BCAST, R))
    expect([s.a.frames.length, s.b.frames.length, s.q.frames.length]).toEqual([1, 1, 0])
    sw.input('a', frame(R, A))
    expect([s.p.frames.length, s.q.frames.length]).toEqual([1, 0])
    // An unknown destination from a peer goes to local guests only.
    sw.input('p', frame('02:00:00:00:00:99', R))
    expect(s.q.frames.length).toBe(0)
  })

  it('drops and counts frames from a forged MAC, and malformed frames', () => {
    const { sw, s } = lan()
    sw.input('a', frame(B, C))
    sw.input('p', frame(B, A)) // a peer claiming a local guest's MAC
    sw.input('p', frame(B, '03:00:00:00:00:01')) // a group address as source
    sw.input('a', Buffer.alloc(5))
    sw.input('a', Buffer.alloc(4000))
    expect(s.b.frames.length).toBe(0)
    expect(sw.stats('a')).toMatchObject({ spoofed: 1, malformed: 2 })
    expect(sw.stats('p')).toMatchObject({ spoofed: 2 })
  })

  it('a flooding guest fills its own queue; another guest still gets its turn', () => {
    const sw = new Switch({ queueFrames: 8 })
    const slow = sink(true)
    sw.addPort({ id: 'victim', net: 'n', kind: 'guest', mac: C, sink: slow })
    sw.addPort({ id: 'flood', net: 'n', kind: 'guest', mac: A, sink: sink() })
    sw.addPort({ id: 'quiet', net: 'n', kind: 'guest', mac: B, sink: sink() })
    for (let i = 0; i < 1000; i++) sw.input('flood', frame(C, A, 'f'))
    for (let i = 0; i < 5; i++) sw.input('quiet', frame(C, B, 'q'))
    for (let i = 0; i < 40; i++) slow.drain()
    const quiet = slow.frames.filter((f) => srcMac(f) === B).length
    expect(quiet).toBe(5)
    expect(sw.stats('flood')!.queueDrops).toBeGreaterThan(900)
    expect(sw.stats('quiet')!.queueDrops).toBe(0)
  })

  it('announces a guest that joins (gratuitous ARP) to its network, peers included', () => {
    const { sw, s } = lan()
    sw.addPort({ id: 'm', net: 'n1', kind: 'guest', mac: R, lease: lease('10.42.0.9'), sink: sink() })
    for (const x of [s.a, s.b, s.p, s.q]) expect(srcMac(x.frames.at(-1)!)).toBe(R)
    expect(s.c.frames.length).toBe(0)
  })

  it("answers a guest's DHCP with the market's lease and switches it no further", () => {
    const sw = new Switch()
    const a = sink()
    const p = sink()
    sw.addPort({ id: 'a', net: 'n', kind: 'guest', mac: A, lease: lease('10.42.0.7'), sink: a })
    sw.addPort({ id: 'p', net: 'n', kind: 'peer', sink: p })
    const before = p.frames.length
    for (const type of [1, 3]) sw.input('a', dhcpRequestFrame(A, type))
    expect(p.frames.length).toBe(before)
    expect(a.frames.length).toBe(2)
    const ack = a.frames[1]
    expect(dstMac(ack)).toBe(A)
    expect(srcMac(ack)).toBe(SWITCH_MAC)
    const bootp = ETH_HEADER + 28
    expect([...ack.subarray(bootp + 16, bootp + 20)]).toEqual([10, 42, 0, 7])
    expect(checksum(ack.subarray(ETH_HEADER, ETH_HEADER + 20))).toBe(0)
    expect(ack.readUInt32BE(bootp + 4)).toBe(0x1234abcd)
    expect(dhcpReply(frame(BCAST, A), A, lease('10.42.0.7'))).toBeNull()
  })
})

describe('stream framing', () => {
  it('cuts frames at any chunk boundary and refuses an out-of-step length', () => {
    const got: string[] = []
    const d = new StreamDecoder((f) => got.push(f.toString()))
    const bytes = Buffer.concat([encodeStream(Buffer.from('one')), encodeStream(Buffer.from('second'))])
    for (const b of bytes) expect(d.push(Buffer.from([b]))).toBe(true)
    expect(got).toEqual(['one', 'second'])
    const bad = Buffer.alloc(4)
    bad.writeUInt32BE(1 << 20)
    expect(new StreamDecoder(() => {}).push(bad)).toBe(false)
  })
})
