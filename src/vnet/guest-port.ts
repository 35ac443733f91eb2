// One guest's network card on the switch: a client of the unix socket QEMU listens on (-netdev
// stream), reconnected while the guest runs (QEMU takes a new client after one leaves; an agent
// restart therefore keeps the guest on its network).
import { connect, type Socket } from 'node:net'
import { encodeStream, StreamDecoder } from './frame.ts'
import type { Switch, PortSpec } from './switch.ts'

export const RECONNECT_MS = 200

export class GuestPort {
  private socket: Socket | null = null
  private closed = false
  private timer: NodeJS.Timeout | null = null
  private drainWaiters: Array<() => void> = []
  /** Resolves at the first connection to QEMU (tests wait on it). */
  readonly connected: Promise<void>
  private onConnected!: () => void

  constructor(
    private sw: Switch,
    private spec: Omit<PortSpec, 'sink' | 'kind'>,
    private path: string,
  ) {
    this.connected = new Promise((r) => (this.onConnected = r))
    this.dial()
  }

  private dial(): void {
    if (this.closed) return
    const sock = connect(this.path)
    this.socket = sock
    const decoder = new StreamDecoder((frame) => this.sw.input(this.spec.id, frame))
    sock.on('connect', () => {
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
    sock.on('error', () => {})
    sock.on('close', () => {
      if (this.socket !== sock) return
      this.socket = null
      this.drained()
      this.sw.removePort(this.spec.id)
      if (!this.closed) this.timer = setTimeout(() => this.dial(), RECONNECT_MS)
    })
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
