// The provider side of console@1: a HyperDHT server on the provider node's own key pair. A viewer
// dials that key, opens console@1 and shows a ticket the hub signed; the provider checks it against
// the market key it pins (no accounts here: the hub decided who may look) and attaches the viewer to
// the machine's screen. One session per connection; a viewer that says nothing is dropped.
import type DHT from 'hyperdht'
import type { KeyPair, NoiseSocket, Server } from 'hyperdht'
import Protomux from 'protomux'
import { errorInfo } from '../errors.ts'
import type { Attachment, ConsoleScreens } from './screens.ts'
import { TicketVerifier } from './ticket.ts'
import {
  openConsoleChannel,
  validSize,
  AUTH_OK,
  SCREEN_MODES,
  SHOT_DONE,
  type ConsoleCtl,
  type ScreenMode,
} from './wire.ts'
import type { Displays } from './display.ts'
import type { ConsoleViewer } from './screens.ts'
import { ConsoleError, CONSOLE_BAD_REQUEST } from './errors.ts'

/** A PNG goes out in pieces of this size (protomux frames stay small). */
const SHOT_CHUNK = 64 * 1024

/** How long a viewer has to present its ticket after connecting. */
export const DEFAULT_ATTACH_TIMEOUT_MS = 10_000

export interface ConsoleServerOptions {
  dht: DHT
  /** The provider node's key pair: viewers dial its public key (the hub tells them which). */
  keyPair: KeyPair
  /** The market key this provider pins: only tickets it signed are accepted. */
  hubKey: Buffer
  screens: ConsoleScreens
  /** The machines' displays (VNC, screenshots, frames); without it only the serial console is served. */
  displays?: Displays
  /** Checks a machine's console password for its VNC screen (throws a ConsoleError when wrong); without
   *  it no VNC screen is served. `viewer` is the viewer's public key (failures are counted per key). */
  checkPassword?: (vmId: string, password: unknown, viewer: string) => Promise<void>
  attachTimeoutMs?: number
  /** Where used ticket nonces are kept across restarts (none: in memory only). */
  nonceFile?: string
  /** A verifier shared with the node's tunnels (then nonceFile is its business); start() loads it. */
  tickets?: TicketVerifier
  clock?: () => number
  log?: (line: string) => void
  /** Other protocols on this key (migration's blocks@1): called per connection; a busy peer is not hung up. */
  onPeer?: (mux: Protomux, socket: NoiseSocket) => { busy(): boolean } | void
}

export class ConsoleServer {
  private server: Server | null = null
  private sockets = new Set<NoiseSocket>()
  private verifier: TicketVerifier

  constructor(private opts: ConsoleServerOptions) {
    this.verifier =
      opts.tickets ??
      new TicketVerifier({
        hubKey: opts.hubKey,
        nodeKey: opts.keyPair.publicKey.toString('hex'),
        clock: opts.clock,
        nonceFile: opts.nonceFile,
      })
  }

  get publicKey(): Buffer {
    return this.opts.keyPair.publicKey
  }

  async start(): Promise<void> {
    await this.verifier.load()
    this.server = this.opts.dht.createServer((socket) => this.onConnection(socket))
    await this.server.listen(this.opts.keyPair)
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy()
    await this.server?.close()
    this.server = null
  }

  private onConnection(socket: NoiseSocket): void {
    this.sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => {
      this.sockets.delete(socket)
      clearInterval(timer)
    })
    socket.setKeepAlive(5000)
    let attachment: Attachment | null = null
    let attaching = false
    const peer = this.opts.onPeer?.(Protomux.from(socket), socket)
    // Checked again and again, not once: a peer busy at the first check (moving blocks) is hung up
    // when it stops being busy, unless a viewer attached with a ticket by then.
    const timer = setInterval(() => {
      if (!attachment && !peer?.busy()) hangUp()
    }, this.opts.attachTimeoutMs ?? DEFAULT_ATTACH_TIMEOUT_MS)
    timer.unref()
    const hangUp = () => {
      clearInterval(timer)
      wire.close()
      // Let the last control message leave before the socket goes.
      setTimeout(() => socket.end(), 50).unref()
      setTimeout(() => socket.destroy(), 2000).unref()
    }
    const refuse = (err: unknown) => {
      const { code, message } = errorInfo(err)
      wire.sendCtl({ t: 'error', code, message })
      hangUp()
    }
    const onCtl = async (m: ConsoleCtl) => {
      if (m.t === 'attach') {
        if (attachment || attaching)
          return refuse(new ConsoleError(CONSOLE_BAD_REQUEST, 'this connection already has a console session'))
        attaching = true
        try {
          const mode: ScreenMode = m.mode ?? 'serial'
          const guarded = mode === 'vnc' || mode === 'auth'
          if (
            !SCREEN_MODES.includes(mode) ||
            (mode !== 'serial' && !this.opts.displays) ||
            (guarded && !this.opts.checkPassword)
          )
            throw new ConsoleError(CONSOLE_BAD_REQUEST, `this provider serves no '${String(mode)}' screen`)
          const viewerKey = socket.remotePublicKey.toString('hex')
          const claims = this.verifier.accept(m.ticket, undefined, { clientKey: viewerKey })
          await this.verifier.flushed() // spent on disk before it opens anything
          // The screen takes keys and pointer too: the owner's ticket and the machine's console password.
          if (guarded) await this.opts.checkPassword!(claims.vmId, m.password, viewerKey)
          const viewer: ConsoleViewer = {
            write: (b) => wire.sendData(b),
            close: (reason) => {
              wire.sendCtl({ t: 'closed', code: reason.code, message: reason.message })
              hangUp()
            },
          }
          const size = validSize(m.cols, m.rows)
          if (mode !== 'serial') {
            this.opts.log?.(`console: ${claims.user} opened the ${mode} screen of ${claims.vmId}`)
            const d = this.opts.displays!
            if (mode === 'auth') {
              wire.sendCtl({ t: 'attached', vmId: claims.vmId, cols: 0, rows: 0 })
              viewer.close({ code: AUTH_OK, message: `the console password of ${claims.vmId} is right` })
              return
            }
            if (mode === 'shot') {
              const png = await d.shot(claims.vmId)
              wire.sendCtl({ t: 'attached', vmId: claims.vmId, cols: 0, rows: 0 })
              for (let i = 0; i < png.length; i += SHOT_CHUNK) wire.sendData(png.subarray(i, i + SHOT_CHUNK))
              viewer.close({ code: SHOT_DONE, message: `screenshot of ${claims.vmId}: ${png.length} bytes` })
              return
            }
            attachment =
              mode === 'vnc'
                ? await d.vnc(claims.vmId, viewer)
                : d.frames(claims.vmId, size ?? { cols: 80, rows: 24 }, viewer)
            if (wire.closed) return attachment.detach()
            wire.sendCtl({ t: 'attached', vmId: claims.vmId, cols: size?.cols ?? 0, rows: size?.rows ?? 0 })
            clearInterval(timer)
            return
          }
          const screen = await this.opts.screens.get(claims.vmId)
          if (wire.closed) return
          this.opts.log?.(`console: ${claims.user} attached to ${claims.vmId}`)
          attachment = screen.attach(viewer, size ?? undefined)
          // Sent now, so it arrives before the screen repaint that attach() sends once rendered.
          wire.sendCtl({ t: 'attached', vmId: claims.vmId, cols: screen.cols, rows: screen.rows })
          clearInterval(timer)
        } catch (err) {
          refuse(err)
        } finally {
          attaching = false
        }
        return
      }
      if (m.t === 'resize') {
        const size = validSize(m.cols, m.rows)
        if (size) attachment?.resize(size.cols, size.rows)
        return
      }
      if (m.t === 'detach') {
        attachment?.detach()
        hangUp()
      }
    }
    const wire = openConsoleChannel(Protomux.from(socket), {
      ctl: (m) => void onCtl(m),
      data: (b) => attachment?.input(b),
      // Said in words, then the session ends: the guest and its screen are untouched.
      tooLarge: (err) => refuse(err),
      // Backpressure: the attachment was told its viewer is full (a write returned false).
      drain: () => attachment?.drained?.(),
      close: () => {
        clearInterval(timer)
        attachment?.detach()
        socket.end()
      },
    })
  }
}
