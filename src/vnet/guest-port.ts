// One guest's network card on the switch: a client of the unix socket QEMU listens on (-netdev
// stream), reconnected while the guest runs (QEMU takes a new client after one leaves; an agent
// restart therefore keeps the guest on its network). A socket that does not answer is dialed again
// for as long as the port lives, and said once in the log: a guest whose card never connects gets no
// DHCP answer, while its console works, so without that line nothing tells why it has no address.
import { connect, type Socket } from 'node:net'
import { encodeStream, StreamDecoder } from './frame.ts'
import type { Switch, PortSpec } from './switch.ts'

export const RECONNECT_MS = 200
/** How long the card's socket may fail to answer before the log says so. */
export const UNREACHABLE_WARN_MS = 10_000

export interface GuestPortOptions {
  log?: (line: string) => void
  warnAfterMs?: number
}

export class GuestPort {
  private socket: Socket | null = null
  private closed = false
  private timer: NodeJS.Timeout | null = null
  private drainWaiters: Array<() => void> = []
  /** Since when dials fail (null while connected), and whether the log was told. */
  private failingSince: number | null = null
  private warned = false
  /** Resolves at the first connection to QEMU (tests wait on it). */
  readonly connected: Promise<void>
  private onConnected!: () => void

  constructor(
    private sw: Switch,
    private spec: Omit<PortSpec, 'sink' | 'kind'>,
    private path: string,
    private opts: GuestPortOptions = {},
  ) {
    this.connected = new Promise((r) => (this.onConnected = r))
    this.dial()
  }

  private dial(): void {
    if (this.closed) return
    const sock = connect(this.path)
    this.socket = sock
    const decoder = new StreamDecoder((frame) => this.sw.input(this.spec.id, frame))
    let opened = false
    sock.on('connect', () => {
      opened = true
      if (this.warned) this.opts.log?.(`machine ${this.spec.id}: network card connected at ${this.path}`)
      this.failingSince = null
      this.warned = false
      this.sw.addPort({
        ...this.spec,
        kind: 'guest',
        sink: {
          write: (frame) => sock.write(encodeStream(frame)),
          onDrain: (cb) => {
            this.drainWaiters.push(cb)
            if (this.drainWaiters.length === 1) sock.once('drain', () => this.drained())
          },
        },
      })
      this.onConnected()
    })
    sock.on('data', (chunk: Buffer) => {
      if (!decoder.push(chunk)) sock.destroy()
    })
    sock.on('error', (err: NodeJS.ErrnoException) => {
      if (!opened) this.dialFailed(err)
    })
    sock.on('close', () => {
      if (this.socket !== sock) return
      this.socket = null
      this.drained()
      this.sw.removePort(this.spec.id)
      if (!this.closed) this.timer = setTimeout(() => this.dial(), RECONNECT_MS)
    })
  }

  private dialFailed(err: NodeJS.ErrnoException): void {
    const now = Date.now()
    this.failingSince ??= now
    if (this.warned || now - this.failingSince < (this.opts.warnAfterMs ?? UNREACHABLE_WARN_MS)) return
    this.warned = true
    this.opts.log?.(
      `machine ${this.spec.id}: its network card's socket ${this.path} does not answer (${err.code ?? err.message}) ` +
        `after ${Math.round((now - this.failingSince) / 1000)} s; still trying`,
    )
  }

  private drained(): void {
    const ws = this.drainWaiters.splice(0)
    for (const w of ws) w()
  }

  close(): void {
    this.closed = true
    if (this.timer) clearTimeout(this.timer)
    this.socket?.destroy()
    this.sw.removePort(this.spec.id)
  }
}
