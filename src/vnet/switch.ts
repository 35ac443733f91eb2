// The provider's learning switch: one table per buyer network, so a frame never leaves its network.
// Ports are the local guests (QEMU stream sockets, src/vnet/guest-port.ts) and the other providers
// of the same network (vnet@1, src/vnet/peers.ts). Rules, each counted where it drops:
// - a guest may only send from its own MAC (the market's); anything else is `spoofed`;
// - a peer may not claim the MAC of a guest that runs here;
// - DHCP from a guest is answered here with the market's assignment and goes no further;
// - frames from a peer are never sent on to another peer (every provider of a network talks to every
//   other: a full mesh needs no spanning tree, only this split horizon);
// - each output port keeps one bounded queue per input port and serves them in turn, so a guest
//   that floods fills its own queue and drops its own frames (`queueDrops`), not the others'.
import { EventEmitter } from 'node:events'
import { dhcpReply, dhcpRequest, type Lease } from './dhcp.ts'
import { ETH_HEADER, ETHERTYPE_ARP, dstMac, isFrame, isGroup, macBytes, srcMac } from './frame.ts'
import { ipToInt } from './ipv4.ts'

/** Frames one output port holds per input port before it drops that input's new frames. */
export const QUEUE_FRAMES = 256

export interface PortSink {
  /** Writes one frame; false asks the switch to wait for `drain`. */
  write(frame: Buffer): boolean
  onDrain(cb: () => void): void
}

export interface PortSpec {
  id: string
  net: string
  kind: 'guest' | 'peer'
  /** A guest's market-issued MAC and its DHCP lease. */
  mac?: string
  lease?: Lease
  sink: PortSink
}

export interface PortStats {
  rxFrames: number
  rxBytes: number
  txFrames: number
  txBytes: number
  /** Frames from a MAC the port may not use. */
  spoofed: number
  /** Frames too short or too long to be Ethernet. */
  malformed: number
  /** Frames this port sent that an output queue had no room for. */
  queueDrops: number
}

interface Port extends PortSpec {
  stats: PortStats
  /** Per input port id: frames waiting to go out of this port. */
  queues: Map<string, Buffer[]>
  turn: string[]
  blocked: boolean
}

const zero = (): PortStats => ({
  rxFrames: 0,
  rxBytes: 0,
  txFrames: 0,
  txBytes: 0,
  spoofed: 0,
  malformed: 0,
  queueDrops: 0,
})

export class Switch extends EventEmitter {
  private ports = new Map<string, Port>()
  /** Per network: MAC -> port id (guests statically, peers' MACs learned). */
  private tables = new Map<string, Map<string, string>>()
  /** Every local guest's MAC, whatever its network: peers may not claim them. */
  private local = new Map<string, string>()

  constructor(private opts: { queueFrames?: number } = {}) {
    super()
  }

  addPort(spec: PortSpec): void {
    if (this.ports.has(spec.id)) this.removePort(spec.id)
    const port: Port = { ...spec, stats: zero(), queues: new Map(), turn: [], blocked: false }
    this.ports.set(spec.id, port)
    this.emit('port', spec.id)
    if (!this.tables.has(spec.net)) this.tables.set(spec.net, new Map())
    if (spec.kind === 'guest' && spec.mac) {
      this.tables.get(spec.net)!.set(spec.mac, spec.id)
      this.local.set(spec.mac, spec.id)
      // Tell every port of the network where this MAC is now (after a migration the peers still
      // point at the old provider): a gratuitous ARP from the guest's MAC, as QEMU announces itself.
      if (spec.lease) this.forward(port, announce(spec.mac, spec.lease.address), true)
    } else if (spec.kind === 'peer') {
      // A provider that joins late learns at once where this network's local guests are.
      for (const p of this.ports.values())
        if (p.kind === 'guest' && p.net === spec.net && p.mac && p.lease)
          this.enqueue(port, p.id, announce(p.mac, p.lease.address))
    }
  }

  removePort(id: string): void {
    const port = this.ports.get(id)
    if (!port) return
    this.ports.delete(id)
    const table = this.tables.get(port.net)!
    for (const [mac, pid] of table) if (pid === id) table.delete(mac)
    if (port.mac && this.local.get(port.mac) === id) this.local.delete(port.mac)
    if (![...this.ports.values()].some((p) => p.net === port.net)) this.tables.delete(port.net)
  }

  has(id: string): boolean {
    return this.ports.has(id)
  }

  /** Networks with at least one local guest. */
  networks(): string[] {
    const out = new Set<string>()
    for (const p of this.ports.values()) if (p.kind === 'guest') out.add(p.net)
    return [...out]
  }

  stats(id: string): PortStats | null {
    const p = this.ports.get(id)
    return p ? { ...p.stats } : null
  }

  /** A frame arriving on port `id`. */
  input(id: string, frame: Buffer): void {
    const port = this.ports.get(id)
    if (!port) return
    if (!isFrame(frame)) {
      port.stats.malformed++
      return
    }
    port.stats.rxFrames++
    port.stats.rxBytes += frame.length
    const src = srcMac(frame)
    if (port.kind === 'guest' ? src !== port.mac : this.local.has(src) || isGroup(frame.subarray(6))) {
      port.stats.spoofed++
      return
    }
    if (port.kind === 'guest' && port.lease && dhcpRequest(frame)) {
      const reply = dhcpReply(frame, src, port.lease)
      if (reply) this.enqueue(port, 'switch', reply)
      return
    }
    if (port.kind === 'peer') this.tables.get(port.net)!.set(src, port.id)
    this.forward(port, frame, false)
  }

  private forward(from: Port, frame: Buffer, announceOnly: boolean): void {
    const table = this.tables.get(from.net)
    if (!table) return
    const toPeers = from.kind === 'guest'
    if (!announceOnly && !isGroup(frame)) {
      const to = table.get(dstMac(frame))
      const port = to !== undefined ? this.ports.get(to) : undefined
      if (port) {
        if (port !== from && (toPeers || port.kind === 'guest')) this.enqueue(port, from.id, frame)
        return
      }
    }
    for (const p of this.ports.values()) {
      if (p === from || p.net !== from.net) continue
      if (p.kind === 'peer' && !toPeers) continue
      this.enqueue(p, from.id, frame)
    }
  }

  private enqueue(to: Port, fromId: string, frame: Buffer): void {
    let q = to.queues.get(fromId)
    if (!q) {
      q = []
      to.queues.set(fromId, q)
    }
    if (q.length >= (this.opts.queueFrames ?? QUEUE_FRAMES)) {
      const from = this.ports.get(fromId)
      if (from) from.stats.queueDrops++
      return
    }
    if (q.length === 0) to.turn.push(fromId)
    q.push(frame)
    this.pump(to)
  }

  /** Sends from the queues of `port` in turn, one frame per input, until the sink pushes back. */
  private pump(port: Port): void {
    while (!port.blocked && port.turn.length > 0) {
      const fromId = port.turn.shift()!
      const q = port.queues.get(fromId)!
      const frame = q.shift()!
      if (q.length > 0) port.turn.push(fromId)
      else port.queues.delete(fromId)
      port.stats.txFrames++
      port.stats.txBytes += frame.length
      if (!port.sink.write(frame)) {
        port.blocked = true
        port.sink.onDrain(() => {
          port.blocked = false
          if (this.ports.get(port.id) === port) this.pump(port)
        })
      }
    }
  }
}

/** A gratuitous ARP reply, broadcast, from `mac` for `address`. */
export function announce(mac: string, address: string): Buffer {
  const f = Buffer.alloc(ETH_HEADER + 28)
  f.fill(0xff, 0, 6)
  macBytes(mac).copy(f, 6)
  f.writeUInt16BE(ETHERTYPE_ARP, 12)
  const a = ETH_HEADER
  f.writeUInt16BE(1, a) // Ethernet
  f.writeUInt16BE(0x0800, a + 2)
  f[a + 4] = 6
  f[a + 5] = 4
  f.writeUInt16BE(2, a + 6) // reply
  macBytes(mac).copy(f, a + 8)
  f.writeUInt32BE(ipToInt(address), a + 14)
  f.fill(0xff, a + 18, a + 24)
  f.writeUInt32BE(ipToInt(address), a + 24)
  return f
}
