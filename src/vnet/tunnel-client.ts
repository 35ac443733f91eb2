// The buyer's side of tunnel@1: one connection to the provider the hub named, from the same key the
// ticket was issued to, carrying any number of streams to the machine's ports (`virtuoso pipe`
// opens one on stdin/stdout, `virtuoso forward` one per local TCP connection).
import type DHT from 'hyperdht'
import type { KeyPair, NoiseSocket } from 'hyperdht'
import type { Readable, Writable } from 'node:stream'
import { VirtuosoError } from '../errors.ts'
import { VNET_TUNNEL_CLOSED } from './errors.ts'
import { dial } from '../net/dial.ts'
import { nodeError } from '../net/errors.ts'
import { PROTOCOLS } from '../net/protocols.ts'
import { TunnelStream, type StreamEnd } from './tunnel-stream.ts'
import { AUTH, AUTHED, CLOSE, OPEN, OPENED, PROTOCOL, decode, encode, encodeU, json } from './tunnel-wire.ts'
import { messageEncoding, type Outgoing } from './tunnel-wire.ts'

export const DEFAULT_TUNNEL_TIMEOUT_MS = 15_000

export interface TunnelTicket {
  ticket: string
  nodeKey: string
}

const failure = (end: Record<string, unknown> | null, fallback: string) =>
  new VirtuosoError(
    typeof end?.code === 'string' ? end.code : VNET_TUNNEL_CLOSED,
    typeof end?.message === 'string' ? end.message : fallback,
  )

export class TunnelClient {
  private streams = new Map<number, TunnelStream>()
  /** Streams asked for and not yet answered: made the moment OPENED arrives (DATA may follow in the same batch). */
  private pending = new Map<number, { ok: () => void; fail: (e: Error) => void }>()
  private next = 1
  private closedWith: Error | null = null

  private constructor(
    private socket: NoiseSocket,
    private send: (m: Outgoing) => boolean,
  ) {}

  /** Dials the provider and shows the ticket; resolves once the provider accepted it. */
  static async connect(opts: {
    dht: DHT
    ticket: TunnelTicket
    keyPair?: KeyPair
    timeoutMs?: number
  }): Promise<TunnelClient> {
    let client: TunnelClient | null = null
    let authed!: () => void
    let refused!: (e: Error) => void
    const accepted = new Promise<void>((res, rej) => ((authed = res), (refused = rej)))
    accepted.catch(() => {})
    const nodeKey = Buffer.from(opts.ticket.nodeKey, 'hex')
    const { socket } = await dial(
      opts.dht,
      nodeKey,
      {
        keyPair: opts.keyPair,
        deadlineMs: opts.timeoutMs ?? DEFAULT_TUNNEL_TIMEOUT_MS,
        what: `provider ${opts.ticket.nodeKey.slice(0, 8)}…`,
      },
      (mux, sock) => {
        let markOpen!: () => void
        const opened = new Promise<void>((r) => (markOpen = r))
        const channel = mux.createChannel({
          protocol: PROTOCOL,
          onopen: () => markOpen(),
          onclose: () => client?.gone(nodeError.closed('the tunnel')),
          ondrain: () => client?.drained(),
        })
        if (!channel) throw nodeError.config(`channel ${PROTOCOL} is already open on this connection`)
        const message = channel.addMessage({
          encoding: messageEncoding,
          onmessage: (b: Outgoing) => {
            const m = decode(b)
            if (!m) return
            if (m.stream === 0 && m.type === AUTHED) authed()
            else if (m.stream === 0 && m.type === CLOSE) {
              const err = failure(json(m.payload), 'the provider closed the tunnel')
              refused(err)
              client?.gone(err)
            } else client?.onMessage(m.type, m.stream, m.payload)
          },
        })
        client = new TunnelClient(sock, (b) => message.send(b))
        channel.open()
        // The provider opens console@1 on every connection and hangs up one on which it does not
        // open: accept it and say nothing on it (as migration's peer dial does).
        mux.pair({ protocol: PROTOCOLS.console }, () => mux.createChannel({ protocol: PROTOCOLS.console })?.open())
        return { opened, value: null }
      },
    )
    socket.once('close', () => {
      const err = nodeError.closed('the tunnel')
      refused(err)
      client?.gone(err)
    })
    client!.send(encode(AUTH, 0, Buffer.from(opts.ticket.ticket, 'utf8')))
    try {
      await accepted
    } catch (err) {
      socket.destroy()
      throw err
    }
    return client!
  }

  /** Opens a stream to `port` of the machine (0: the provider's SSH console) and carries it until
   *  both sides end; resolves with how it ended once it is open. */
  async open(port: number, input: Readable, output: Writable): Promise<{ done: Promise<StreamEnd | null> }> {
    if (this.closedWith) throw this.closedWith
    const id = this.next++
    input.pause()
    let s!: TunnelStream
    await new Promise<void>((resolve, fail) => {
      const ok = () => {
        s = new TunnelStream(id, input, output, this.send, (x) => this.streams.delete(x.id))
        this.streams.set(id, s)
        resolve()
      }
      this.pending.set(id, { ok, fail })
      this.send(encodeU(OPEN, id, port, 2))
    })
    input.resume()
    return { done: s.done }
  }

  /** The connection is gone: open() would fail (forward makes a new tunnel). */
  get closed(): boolean {
    return this.closedWith !== null
  }

  async close(): Promise<void> {
    for (const s of [...this.streams.values()]) s.cut(null)
    await new Promise<void>((resolve) => {
      if (this.socket.destroyed) return resolve()
      this.socket.once('close', () => resolve())
      this.socket.end()
      setTimeout(() => {
        this.socket.destroy()
        resolve()
      }, 1000).unref()
    })
  }

  private onMessage(type: number, stream: number, payload: Buffer): void {
    const p = this.pending.get(stream)
    if (p && (type === OPENED || type === CLOSE)) {
      this.pending.delete(stream)
      if (type === OPENED) p.ok()
      else p.fail(failure(json(payload), `the provider closed stream ${stream}`))
      return
    }
    this.streams.get(stream)?.onMessage(type, payload)
  }

  private drained(): void {
    for (const s of this.streams.values()) s.drain()
  }

  private gone(err: Error): void {
    if (this.closedWith) return
    this.closedWith = err
    for (const p of this.pending.values()) p.fail(err)
    this.pending.clear()
    for (const s of [...this.streams.values()])
      s.cut({ code: (err as VirtuosoError).code ?? VNET_TUNNEL_CLOSED, message: err.message })
  }
}
