// The viewer side of a machine's screen over console@1: one screenshot (PNG bytes), or a VNC port on
// 127.0.0.1 that any VNC viewer can use. Every viewer connection gets a ticket of its own from the
// hub (tickets open one session each) and shows the machine's console password, which the provider
// checks; it lets one viewer at a time look: a second one takes over, the first is hung up.
import { createServer, type Server, type Socket } from 'node:net'
import type DHT from 'hyperdht'
import { VirtuosoError } from '../errors.ts'
import { ConsoleSession, type ConsoleEnd } from './client.ts'
import { AUTH_OK, SHOT_DONE } from './wire.ts'

export interface ScreenTicket {
  ticket: string
  nodeKey: string
}

/** The screen of the machine the ticket names, as PNG bytes. */
export async function screenshot(dht: DHT, t: ScreenTicket, timeoutMs?: number): Promise<Buffer> {
  const s = await ConsoleSession.dial({
    dht,
    nodeKey: Buffer.from(t.nodeKey, 'hex'),
    ticket: t.ticket,
    timeoutMs,
    mode: 'shot',
  })
  const parts: Buffer[] = []
  s.on('data', (b: Buffer) => parts.push(b))
  const end = await s.done
  if (end.code !== SHOT_DONE) throw new VirtuosoError(end.code, end.message)
  return Buffer.concat(parts)
}

/** Ask the provider whether `password` is the machine's console password (throws when it is not). */
export async function checkScreenPassword(dht: DHT, t: ScreenTicket, password: string): Promise<void> {
  const s = await ConsoleSession.dial({
    dht,
    nodeKey: Buffer.from(t.nodeKey, 'hex'),
    ticket: t.ticket,
    mode: 'auth',
    password,
  })
  const end = await s.done
  if (end.code !== AUTH_OK) throw new VirtuosoError(end.code, end.message)
}

export interface VncPortOptions {
  dht: DHT
  /** The machine's console password, shown to the provider for each viewer. */
  password: string
  /** A fresh ticket for each viewer that connects. */
  ticket: () => Promise<ScreenTicket>
  /** 0 (default) picks a free port. */
  port?: number
  /** Told when a viewer's session ends (taken over, the machine stopped, …). */
  onEnd?: (end: ConsoleEnd) => void
  onError?: (err: unknown) => void
}

/** Listen on 127.0.0.1 and carry each VNC viewer to the machine's screen. */
export class VncPort {
  private server: Server
  private sockets = new Set<Socket>()
  port = 0

  constructor(private opts: VncPortOptions) {
    this.server = createServer((sock) => void this.onViewer(sock))
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(this.opts.port ?? 0, '127.0.0.1', () => resolve())
    })
    this.port = (this.server.address() as { port: number }).port
    return this.port
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private async onViewer(sock: Socket): Promise<void> {
    this.sockets.add(sock)
    sock.on('error', () => {})
    sock.once('close', () => this.sockets.delete(sock))
    sock.pause()
    let session: ConsoleSession
    try {
      const t = await this.opts.ticket()
      session = await ConsoleSession.dial({
        dht: this.opts.dht,
        nodeKey: Buffer.from(t.nodeKey, 'hex'),
        ticket: t.ticket,
        mode: 'vnc',
        password: this.opts.password,
      })
    } catch (err) {
      this.opts.onError?.(err)
      sock.destroy()
      return
    }
    if (sock.destroyed) return void session.detach()
    session.on('data', (b: Buffer) => sock.write(b))
    void session.done.then((end) => {
      this.opts.onEnd?.(end)
      sock.end()
      setTimeout(() => sock.destroy(), 500).unref()
    })
    sock.on('data', (b: Buffer) => session.write(b))
    sock.once('close', () => void session.detach())
    sock.resume()
  }
}
