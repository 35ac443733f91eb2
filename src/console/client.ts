// The viewer side of console@1: dial the provider node the hub named, show the ticket, then relay
// bytes both ways. Used by `virtuoso console` and the TUI; it knows nothing about terminals itself.
import { EventEmitter } from 'node:events'
import type DHT from 'hyperdht'
import type { NoiseSocket } from 'hyperdht'
import Protomux from 'protomux'
import { errorInfo, VirtuosoError } from '../errors.ts'
import { nodeError, NET_UNREACHABLE } from '../net/errors.ts'
import { RETRY_MS } from '../net/dial.ts'
import { openConsoleChannel, type ConsoleWire, type ScreenMode } from './wire.ts'
import { CONSOLE_CONNECTION_CLOSED, CONSOLE_DETACHED } from './errors.ts'

export const DEFAULT_CONSOLE_CONNECT_TIMEOUT_MS = 15_000

export interface ConsoleDialOptions {
  dht: DHT
  /** The provider node's public key, as the hub's ticket answer gives it. */
  nodeKey: Buffer
  ticket: string
  cols?: number
  rows?: number
  timeoutMs?: number
  /** What to open: the serial console (default), the VNC screen, one screenshot, or frames. */
  mode?: ScreenMode
  /** The machine's console password: the VNC screen ('vnc', 'auth') asks for it. */
  password?: string
}

export interface ConsoleEnd {
  code: string
  message: string
}

/**
 * Events: 'data' (Buffer: screen repaint first, then live output), 'end' (ConsoleEnd: why the
 * session ended; emitted once, also when the connection just drops).
 */
export class ConsoleSession extends EventEmitter {
  vmId = ''
  private ended = false
  private markDone!: (end: ConsoleEnd) => void
  /** Why the session ended, also for a caller that starts listening after it did. */
  readonly done = new Promise<ConsoleEnd>((resolve) => (this.markDone = resolve))

  // The repaint can arrive in the same packet as 'attached', before the caller had a chance to
  // listen: keep output until the first 'data' listener, then hand it over in order.
  private backlog: Buffer[] | null = []

  private constructor(
    private socket: NoiseSocket,
    private wire: ConsoleWire,
  ) {
    super()
    this.on('newListener', (event) => {
      if (event !== 'data' || !this.backlog) return
      queueMicrotask(() => {
        const b = this.backlog
        if (!b) return
        while (b.length) this.emit('data', b.shift())
        this.backlog = null
      })
    })
  }

  private deliver(b: Buffer): void {
    if (this.backlog) this.backlog.push(b)
    else this.emit('data', b)
  }

  /** Dials until the deadline: a connection that fails outright (the provider not yet announced) is
   *  dialed again; a live one is never dropped for being slow (the half-open dials that once needed
   *  that had their cause in the serving nodes' NAT setting, see net/dht.ts). The ticket is only
   *  spent when the provider receives it, so retrying with it is safe. */
  static async dial(opts: ConsoleDialOptions): Promise<ConsoleSession> {
    const deadline = Date.now() + (opts.timeoutMs ?? DEFAULT_CONSOLE_CONNECT_TIMEOUT_MS)
    for (;;) {
      const left = deadline - Date.now()
      try {
        return await ConsoleSession.dialOnce({ ...opts, timeoutMs: Math.max(1, left) })
      } catch (err) {
        if ((err as { code?: string }).code !== NET_UNREACHABLE || deadline - Date.now() < 200) throw err
        await new Promise((r) => setTimeout(r, RETRY_MS))
      }
    }
  }

  private static dialOnce(opts: ConsoleDialOptions): Promise<ConsoleSession> {
    const socket = opts.dht.connect(opts.nodeKey)
    socket.on('error', () => {})
    let session: ConsoleSession | null = null
    return new Promise<ConsoleSession>((resolve, reject) => {
      const timeoutMs = opts.timeoutMs ?? DEFAULT_CONSOLE_CONNECT_TIMEOUT_MS
      const timer = setTimeout(
        () =>
          fail(
            nodeError.unreachable(
              `the provider node ${opts.nodeKey.toString('hex').slice(0, 8)}… within ${timeoutMs / 1000} s`,
            ),
          ),
        timeoutMs,
      )
      let settled = false
      const fail = (err: unknown) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        socket.destroy()
        reject(err)
      }
      socket.once('error', (err) =>
        fail(nodeError.unreachable(`the provider node ${opts.nodeKey.toString('hex').slice(0, 8)}…`, err)),
      )
      const wire = openConsoleChannel(Protomux.from(socket), {
        ctl: (m) => {
          if (m.t === 'attached' && !settled) {
            settled = true
            clearTimeout(timer)
            session!.vmId = m.vmId
            resolve(session!)
          } else if (m.t === 'error' || m.t === 'closed') {
            if (!settled) fail(new VirtuosoError(m.code, m.message))
            else session!.finish({ code: m.code, message: m.message })
          }
        },
        data: (b) => session?.deliver(b),
        tooLarge: (err) => {
          const { code, message } = errorInfo(err)
          if (!settled) fail(err)
          else session!.finish({ code, message: `the provider sent ${message}` })
          wire.close()
        },
        close: () => {
          if (!settled) fail(nodeError.closed('the console attach'))
          else session!.finish({ code: CONSOLE_CONNECTION_CLOSED, message: 'the connection to the provider closed' })
        },
      })
      session = new ConsoleSession(socket, wire)
      socket.once('close', () => wire.close())
      wire.opened.then(
        () =>
          wire.sendCtl({
            t: 'attach',
            ticket: opts.ticket,
            cols: opts.cols,
            rows: opts.rows,
            mode: opts.mode,
            password: opts.password,
          }),
        () => {},
      )
    })
  }

  get closed(): boolean {
    return this.ended
  }

  /** Keystrokes for the guest. */
  write(data: Buffer | string): void {
    this.wire.sendData(data)
  }

  resize(cols: number, rows: number): void {
    this.wire.sendCtl({ t: 'resize', cols, rows })
  }

  /** Leave the console (the machine keeps running); resolves when the connection is gone. */
  async detach(): Promise<void> {
    if (!this.ended) this.wire.sendCtl({ t: 'detach' })
    this.finish({ code: CONSOLE_DETACHED, message: 'detached from the console' })
    await new Promise<void>((resolve) => {
      if (this.socket.destroyed) return resolve()
      this.socket.once('close', () => resolve())
      setTimeout(() => {
        this.socket.destroy()
        resolve()
      }, 1000).unref()
      this.socket.end()
    })
  }

  private finish(end: ConsoleEnd): void {
    if (this.ended) return
    this.ended = true
    this.markDone(end)
    this.emit('end', end)
    this.socket.end()
    setTimeout(() => this.socket.destroy(), 1000).unref()
  }
}
