// The provider's side of tunnel@1 (src/vnet/tunnel-wire.ts): every connection to the provider's key
// may open the channel; it must first show a ticket the hub signed for a running machine here,
// issued to the very key the connection comes from (so a ticket read off the wire is useless to
// anyone else). Then each OPEN reaches the guest's TCP port through QEMU's uplink forward on this
// machine's loopback (hv.guestPort), or port 0: the provider's SSH console, so a console works with
// no reachable provider address.
import { connect, type Socket } from 'node:net'
import type Protomux from 'protomux'
import type { NoiseSocket } from 'hyperdht'
import { errorInfo } from '../errors.ts'
import {
  VnetError,
  VNET_TUNNEL_BAD_INPUT,
  VNET_TUNNEL_BUSY,
  VNET_TUNNEL_NO_CONSOLE,
  VNET_TUNNEL_UNAUTHORIZED,
  VNET_TUNNEL_UNREACHABLE,
} from './errors.ts'
import type { Hypervisor } from '../hv/hypervisor.ts'
import { TicketVerifier } from '../console/ticket.ts'
import { TunnelStream } from './tunnel-stream.ts'
import {
  AUTH,
  AUTHED,
  CLOSE,
  CONSOLE_PORT,
  OPEN,
  OPENED,
  PROTOCOL,
  decode,
  encode,
  encodeJson,
  messageEncoding,
  type Outgoing,
  type TunnelMessage,
} from './tunnel-wire.ts'

/** Streams one connection may hold at once. */
export const MAX_STREAMS = 64

export interface TunnelServerOptions {
  hv: Hypervisor
  hubKey: Buffer
  /** This provider node's key (hex): tickets name it. */
  nodeKey: string
  /** The SSH console's loopback port, when it runs. */
  consolePort: () => number | null
  /**
   * The node's one ticket verifier, shared with console@1 so a ticket opens one session of either
   * kind; its used nonces are on disk (`DATA/console/used-tickets`) and survive a restart.
   * Without one, the server keeps its own, on `nonceFile` when given (tests).
   */
  tickets?: TicketVerifier
  nonceFile?: string
  clock?: () => number
  log?: (line: string) => void
}

export interface TunnelCounters {
  malformed: number
  refused: number
  streams: number
}

export const tunnelError = {
  notAuthed: () => new VnetError(VNET_TUNNEL_UNAUTHORIZED, 'show a ticket before opening a stream'),
  noConsole: () => new VnetError(VNET_TUNNEL_NO_CONSOLE, 'this provider runs no SSH console'),
  tooMany: () => new VnetError(VNET_TUNNEL_BUSY, `at most ${MAX_STREAMS} streams per tunnel`),
  unreachable: (port: number, why: string) =>
    new VnetError(VNET_TUNNEL_UNREACHABLE, `cannot reach port ${port} of the machine: ${why}`),
}

export class TunnelServer {
  readonly counters: TunnelCounters = { malformed: 0, refused: 0, streams: 0 }
  private verifier: TicketVerifier

  constructor(private opts: TunnelServerOptions) {
    this.verifier =
      opts.tickets ??
      new TicketVerifier({ hubKey: opts.hubKey, nodeKey: opts.nodeKey, clock: opts.clock, nonceFile: opts.nonceFile })
  }

  /** Reads the nonces a previous run spent, when the verifier is this server's own (a shared one is
   *  loaded by its owner, the console server). */
  async start(): Promise<void> {
    if (!this.opts.tickets) await this.verifier.load()
  }

  /** Called for every connection to the provider's key; busy while an authorized tunnel is open. */
  onPeer(mux: Protomux, socket: NoiseSocket): { busy(): boolean } {
    const clientKey = socket.remotePublicKey.toString('hex')
    let vmId: string | null = null
    const streams = new Map<number, TunnelStream>()
    // Guest port -> provider-loopback port, asked of the hypervisor once per tunnel (a QMP round trip).
    const targets = new Map<number, number>()
    let open = false
    const channel = mux.createChannel({
      protocol: PROTOCOL,
      onopen: () => void (open = true),
      onclose: () => {
        open = false
        for (const s of [...streams.values()]) s.cut(null)
      },
      ondrain: () => {
        for (const s of streams.values()) s.drain()
      },
    })
    if (!channel) return { busy: () => false }
    const message = channel.addMessage({ encoding: messageEncoding, onmessage: (b: Outgoing) => onMessage(b) })
    const send = (m: Outgoing) => message.send(m)
    const refuse = (err: unknown) => {
      this.counters.refused++
      send(encodeJson(CLOSE, 0, errorInfo(err)))
      channel.close()
    }
    let authing = false
    const auth = async (payload: Buffer) => {
      try {
        if (vmId || authing) throw new VnetError(VNET_TUNNEL_BAD_INPUT, 'this tunnel already showed a ticket')
        authing = true
        const claims = this.verifier.accept(payload.toString('utf8'), undefined, { clientKey })
        await this.verifier.flushed() // spent on disk before anything opens: a restart can't revive it
        vmId = claims.vmId
        this.opts.log?.(`tunnel: ${claims.user} (${clientKey.slice(0, 8)}) into ${claims.vmId}`)
        send(encodeJson(AUTHED, 0, { vmId }))
      } catch (err) {
        refuse(err)
      }
    }
    const onMessage = (b: unknown) => {
      const m = decode(b)
      if (!m) return void this.counters.malformed++
      if (m.type === AUTH) void auth(m.payload)
      else if (m.type === OPEN) void this.openStream(m, vmId, streams, targets, send)
      else streams.get(m.stream)?.onMessage(m.type, m.payload)
    }
    channel.open()
    return { busy: () => open && vmId !== null }
  }

  private async openStream(
    m: TunnelMessage,
    vmId: string | null,
    streams: Map<number, TunnelStream>,
    targets: Map<number, number>,
    send: (m: Outgoing) => boolean,
  ): Promise<void> {
    const port = m.payload.readUInt16BE(0)
    const fail = (err: unknown) => send(encodeJson(CLOSE, m.stream, errorInfo(err)))
    if (!vmId) return void fail(tunnelError.notAuthed())
    if (streams.has(m.stream)) return void this.counters.malformed++
    if (streams.size >= MAX_STREAMS) return void fail(tunnelError.tooMany())
    let target: number
    try {
      if (port === CONSOLE_PORT) {
        const p = this.opts.consolePort()
        if (!p) throw tunnelError.noConsole()
        target = p
      } else target = targets.get(port) ?? (await this.opts.hv.guestPort(vmId, port))
    } catch (err) {
      return void fail(err)
    }
    if (port !== CONSOLE_PORT) targets.set(port, target)
    const sock: Socket = connect({ host: '127.0.0.1', port: target, allowHalfOpen: true })
    sock.pause()
    sock.once('error', (err) => {
      // A stale port (the machine restarted under the same tunnel): ask the hypervisor next time.
      targets.delete(port)
      if (!streams.has(m.stream)) fail(tunnelError.unreachable(port, err.message))
    })
    sock.once('connect', () => {
      const s = new TunnelStream(m.stream, sock, sock, send, (x) => streams.delete(x.id))
      streams.set(m.stream, s)
      this.counters.streams++
      send(encode(OPENED, m.stream))
      sock.resume()
    })
  }
}
