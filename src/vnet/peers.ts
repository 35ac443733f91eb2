// vnet@1: the frames of a buyer's network between the providers that host its machines, one protomux
// channel on a HyperDHT/Noise connection between two provider keys. Each side shows, per network, a
// membership the hub signed for its key (JOIN); a side that shows none gets no frame of that
// network and its frames are dropped. Of two providers, the one with the lower key dials (one
// connection per pair); both learn of each other from the hub. A membership expires (the hub signs
// it for an hour): at that moment the peer's port goes and its frames are dropped, until it shows a
// renewed one (its provider asks the hub again before then, src/vnet/service.ts).
import { EventEmitter } from 'node:events'
import type DHT from 'hyperdht'
import type { KeyPair, NoiseSocket } from 'hyperdht'
import type Protomux from 'protomux'
import c from 'compact-encoding'
import { dial } from '../net/dial.ts'
import { PROTOCOLS } from '../net/protocols.ts'
import { verifyMembership } from './membership.ts'
import type { Switch } from './switch.ts'
import { decode, encodeFrame, encodeJoin, encodeLeave, FRAME, JOIN, LEAVE } from './wire.ts'

export const PROTOCOL = 'virtuoso/vnet@1'
export const DIAL_DEADLINE_MS = 15_000
const REDIAL_MS = 1000

export interface VnetPeersOptions {
  dht: DHT
  keyPair: KeyPair
  /** The market key: memberships must be signed with it. */
  hubKey: Buffer
  sw: Switch
  log?: (line: string) => void
  /** Milliseconds since the epoch, for memberships' expiry (tests move it instead of waiting). */
  clock?: () => number
}

export interface PeerCounters {
  /** Messages that did not parse, or frames that are not Ethernet. */
  malformed: number
  /** JOINs with a membership that failed the check. */
  refused: number
  /** Frames of a network the sender had not (validly) joined. */
  unjoined: number
  /** Peers' memberships that ran out on an open connection. */
  expired: number
}

interface Conn {
  key: string
  socket: NoiseSocket
  send: (buf: Buffer) => boolean
  drainWaiters: Array<() => void>
  /** Our index per network we joined on this connection, and the peer's index -> network. */
  out: Map<string, number>
  in: Map<number, string>
  /** When the peer's membership of each network runs out (ms since the epoch), and its timer. */
  expires: Map<string, { at: number; timer: NodeJS.Timeout }>
  open: boolean
}

const portId = (key: string, net: string) => `peer:${key}:${net}`

/** Events: 'expired' (net, peerKey) when a peer's membership ran out; 'joined' (net, peerKey). */
export class VnetPeers extends EventEmitter {
  readonly counters: PeerCounters = { malformed: 0, refused: 0, unjoined: 0, expired: 0 }
  private nets = new Map<string, { membership: string; peers: Set<string> }>()
  private conns = new Map<string, Conn>()
  private dialing = new Set<string>()
  private nextIndex = 1
  private closed = false
  private me: string

  private now: () => number

  constructor(private opts: VnetPeersOptions) {
    super()
    this.now = opts.clock ?? Date.now
    this.me = opts.keyPair.publicKey.toString('hex')
  }

  /** We host a machine of `net`: carry it with `peers` (node keys), showing `membership`. */
  join(net: string, membership: string, peers: string[]): void {
    this.nets.set(net, { membership, peers: new Set(peers.filter((p) => p !== this.me)) })
    for (const conn of this.conns.values()) if (conn.open) this.sendJoin(conn, net)
    this.connectAll(net)
  }

  /** A fresh membership of `net` from the hub: shown again on every connection (same index). */
  renew(net: string, membership: string): void {
    const n = this.nets.get(net)
    if (!n) return
    n.membership = membership
    for (const conn of this.conns.values()) {
      const idx = conn.out.get(net)
      if (idx !== undefined) conn.send(encodeJoin(idx, membership))
    }
  }

  /** The hub says who else hosts `net` now. */
  setPeers(net: string, peers: string[]): void {
    const n = this.nets.get(net)
    if (!n) return
    n.peers = new Set(peers.filter((p) => p !== this.me))
    this.connectAll(net)
  }

  /** No machine of `net` runs here any more. */
  leave(net: string): void {
    if (!this.nets.delete(net)) return
    for (const conn of this.conns.values()) {
      const idx = conn.out.get(net)
      if (idx === undefined) continue
      conn.out.delete(net)
      conn.send(encodeLeave(idx))
      this.opts.sw.removePort(portId(conn.key, net))
    }
  }

  networks(): string[] {
    return [...this.nets.keys()]
  }

  /** An incoming connection (the provider's DHT server hands every one here). */
  onPeer(mux: Protomux, socket: NoiseSocket): { busy(): boolean } {
    const conn = this.attach(mux, socket)
    // Only a peer that showed a valid membership keeps the connection; opening vnet@1 is not enough.
    return { busy: () => conn.open && conn.in.size > 0 }
  }

  close(): void {
    this.closed = true
    for (const conn of this.conns.values()) conn.socket.destroy()
  }

  private connectAll(net: string): void {
    for (const peer of this.nets.get(net)?.peers ?? []) {
      if (this.conns.has(peer) || this.dialing.has(peer) || !(this.me < peer)) continue
      void this.dialPeer(peer)
    }
  }

  private wanted(peer: string): boolean {
    for (const n of this.nets.values()) if (n.peers.has(peer)) return true
    return false
  }

  private async dialPeer(peer: string): Promise<void> {
    this.dialing.add(peer)
    try {
      while (!this.closed && this.wanted(peer) && !this.conns.has(peer)) {
        try {
          await dial(
            this.opts.dht,
            Buffer.from(peer, 'hex'),
            { keyPair: this.opts.keyPair, deadlineMs: DIAL_DEADLINE_MS, what: `provider ${peer.slice(0, 8)}` },
            (mux, socket) => {
              // The peer's console server hangs up a connection on which console@1 never opens.
              mux.pair({ protocol: PROTOCOLS.console }, () =>
                mux.createChannel({ protocol: PROTOCOLS.console })?.open(),
              )
              const conn = this.attach(mux, socket)
              return { opened: this.whenOpen(conn), value: conn }
            },
          )
          return
        } catch (err) {
          this.opts.log?.(`vnet: cannot reach provider ${peer.slice(0, 8)}: ${(err as Error).message}`)
          await new Promise((r) => setTimeout(r, REDIAL_MS))
        }
      }
    } finally {
      this.dialing.delete(peer)
    }
  }

  private openWaiters = new Map<Conn, () => void>()
  private whenOpen(conn: Conn): Promise<void> {
    return conn.open ? Promise.resolve() : new Promise((r) => this.openWaiters.set(conn, r))
  }

  private attach(mux: Protomux, socket: NoiseSocket): Conn {
    const key = socket.remotePublicKey.toString('hex')
    const conn: Conn = {
      key,
      socket,
      send: () => false,
      drainWaiters: [],
      out: new Map(),
      in: new Map(),
      expires: new Map(),
      open: false,
    }
    const channel = mux.createChannel({
      protocol: PROTOCOL,
      onopen: () => {
        conn.open = true
        const old = this.conns.get(key)
        if (old && old !== conn) old.socket.destroy()
        this.conns.set(key, conn)
        this.openWaiters.get(conn)?.()
        this.openWaiters.delete(conn)
        for (const net of this.nets.keys()) this.sendJoin(conn, net)
      },
      onclose: () => this.detach(conn),
      ondrain: () => {
        for (const w of conn.drainWaiters.splice(0)) w()
      },
    })
    if (!channel) return conn
    const message = channel.addMessage({ encoding: c.raw, onmessage: (buf: Buffer) => this.onMessage(conn, buf) })
    conn.send = (buf) => message.send(buf)
    socket.once('close', () => this.detach(conn))
    channel.open()
    return conn
  }

  private detach(conn: Conn): void {
    if (!conn.open && this.conns.get(conn.key) !== conn) return
    conn.open = false
    for (const w of conn.drainWaiters.splice(0)) w()
    for (const net of conn.in.values()) this.opts.sw.removePort(portId(conn.key, net))
    for (const net of conn.out.keys()) this.opts.sw.removePort(portId(conn.key, net))
    for (const e of conn.expires.values()) clearTimeout(e.timer)
    conn.expires.clear()
    conn.in.clear()
    conn.out.clear()
    if (this.conns.get(conn.key) !== conn) return
    this.conns.delete(conn.key)
    // The lower key keeps the pair connected while both still carry a network.
    if (!this.closed && this.wanted(conn.key) && this.me < conn.key)
      setTimeout(() => void this.dialPeer(conn.key), REDIAL_MS).unref()
  }

  private sendJoin(conn: Conn, net: string): void {
    if (conn.out.has(net)) return
    const n = this.nets.get(net)
    if (!n) return
    const idx = this.nextIndex++
    conn.out.set(net, idx)
    conn.send(encodeJoin(idx, n.membership))
    this.maybePort(conn, net)
  }

  /** A peer port exists once both sides joined the network on this connection. */
  private maybePort(conn: Conn, net: string): void {
    if (!conn.out.has(net) || ![...conn.in.values()].includes(net)) return
    const id = portId(conn.key, net)
    if (this.opts.sw.has(id)) return
    const idx = conn.out.get(net)!
    this.opts.sw.addPort({
      id,
      net,
      kind: 'peer',
      sink: {
        write: (frame) => conn.send(encodeFrame(idx, frame)),
        onDrain: (cb) => void conn.drainWaiters.push(cb),
      },
    })
  }

  private onMessage(conn: Conn, buf: Buffer): void {
    const m = decode(buf)
    if (!m) {
      this.counters.malformed++
      return
    }
    if (m.type === FRAME) {
      const net = conn.in.get(m.index)
      if (net === undefined || !conn.out.has(net)) {
        this.counters.unjoined++
        return
      }
      // Checked per frame too: a timer may fire late, a frame after the expiry is never carried.
      if ((conn.expires.get(net)?.at ?? 0) <= this.now()) {
        this.expire(conn, net)
        this.counters.unjoined++
        return
      }
      this.opts.sw.input(portId(conn.key, net), m.frame)
    } else if (m.type === JOIN) {
      let net: string
      let expires: number
      try {
        ;({ net, expires } = verifyMembership(m.membership, { hubKey: this.opts.hubKey, nodeKey: conn.key }))
      } catch (err) {
        this.counters.refused++
        this.opts.log?.(`vnet: provider ${conn.key.slice(0, 8)}: ${(err as Error).message}`)
        return
      }
      for (const [i, n] of conn.in) if (n === net) conn.in.delete(i)
      conn.in.set(m.index, net)
      clearTimeout(conn.expires.get(net)?.timer)
      const timer = setTimeout(() => this.expire(conn, net), Math.max(0, expires - this.now()))
      timer.unref()
      conn.expires.set(net, { at: expires, timer })
      this.maybePort(conn, net)
      this.emit('joined', net, conn.key)
    } else if (m.type === LEAVE) {
      const net = conn.in.get(m.index)
      if (net === undefined) return
      conn.in.delete(m.index)
      clearTimeout(conn.expires.get(net)?.timer)
      conn.expires.delete(net)
      this.opts.sw.removePort(portId(conn.key, net))
    }
  }

  /** The peer's membership of `net` ran out: no frames either way until it shows a new one. */
  private expire(conn: Conn, net: string): void {
    const e = conn.expires.get(net)
    if (!e || e.at > this.now()) return
    conn.expires.delete(net)
    for (const [i, n] of conn.in) if (n === net) conn.in.delete(i)
    this.opts.sw.removePort(portId(conn.key, net))
    this.counters.expired++
    this.opts.log?.(`vnet: provider ${conn.key.slice(0, 8)}: its membership of ${net.slice(0, 8)} expired`)
    this.emit('expired', net, conn.key)
  }
}
