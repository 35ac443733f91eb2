// console@1 on the wire: one protomux channel with two message types. Control messages are small
// JSON objects (attach with a ticket, resize, detach; attached, closed, error); terminal bytes go
// as raw buffers in their own message type, so keystrokes and screen output never pay for JSON.
//
//   viewer → provider   ctl {t:'attach', ticket, cols, rows, mode?}   then data (keystrokes),
//                       ctl {t:'resize', cols, rows}, ctl {t:'detach'}
//   provider → viewer   ctl {t:'attached', vmId, cols, rows}   then data (screen repaint, live output),
//                       ctl {t:'closed', code, message} or ctl {t:'error', code, message}, then close
// `mode` picks what the data carries (the same ticket grants each; src/console/display.ts):
//   'serial' (default)  the serial console, as above
//   'vnc'               RFB both ways, relayed to QEMU's VNC server (one viewer; a new one takes over)
//   'shot'              the provider sends one PNG of the screen, then closed {code: SCREEN_SHOT_DONE}
//   'frames'            the provider sends a frame (src/console/frame.ts) of the screen a few times a second
//   'auth'              only checks `password` (as 'vnc' does), then closed {code: SCREEN_AUTH_OK}
// 'vnc' and 'auth' carry the machine's console password in `password` (inside the Noise channel); the
// provider checks it against the scrypt hash it keeps before any RFB byte moves (service.ts).
import type Protomux from 'protomux'
import type { Channel, Message } from 'protomux'
import { PROTOCOLS } from '../net/protocols.ts'
import { nodeError } from '../net/errors.ts'
import { bounded, byteSize, TooLarge } from '../net/wire.ts'

/** No control message needs more; bounds what a peer can make us parse. */
export const MAX_CTL_BYTES = 16 * 1024
/** Terminal bytes, RFB and PNG pieces are far smaller; the largest data message is a frame of the
 *  largest view (1000 × 1000 cells = 1000 × 2000 pixels: 6 MB of RGB). Checked before decoding. */
export const MAX_DATA_BYTES = 8 * 1024 * 1024

export type ScreenMode = 'serial' | 'vnc' | 'shot' | 'frames' | 'auth'
export const SCREEN_MODES: readonly ScreenMode[] = ['serial', 'vnc', 'shot', 'frames', 'auth']
export const SHOT_DONE = 'SCREEN_SHOT_DONE'
export const AUTH_OK = 'SCREEN_AUTH_OK'

export type ConsoleCtl =
  | { t: 'attach'; ticket: string; cols?: number; rows?: number; mode?: ScreenMode; password?: string }
  | { t: 'resize'; cols: number; rows: number }
  | { t: 'detach' }
  | { t: 'attached'; vmId: string; cols: number; rows: number }
  | { t: 'closed'; code: string; message: string }
  | { t: 'error'; code: string; message: string }

export interface ConsoleWire {
  readonly channel: Channel
  readonly opened: Promise<void>
  sendCtl(m: ConsoleCtl): void
  /** False when the connection's send buffer is full: send no more until `drain`. */
  sendData(b: Buffer | string): boolean
  close(): void
  readonly closed: boolean
}

export function openConsoleChannel(
  mux: Protomux,
  on: {
    ctl: (m: ConsoleCtl) => void
    data: (b: Buffer) => void
    close: () => void
    /** The peer sent a message over its limit (NODE_FRAME_TOO_LARGE, never decoded). */
    tooLarge: (err: Error) => void
    /** The send buffer emptied after a send returned false. */
    drain?: () => void
  },
): ConsoleWire {
  let markOpen!: () => void
  let markFailed!: (e: unknown) => void
  const opened = new Promise<void>((resolve, reject) => {
    markOpen = resolve
    markFailed = reject
  })
  opened.catch(() => {})
  let closed = false
  const channel = mux.createChannel({
    protocol: PROTOCOLS.console,
    onopen: () => markOpen(),
    ondrain: () => on.drain?.(),
    onclose: () => {
      closed = true
      markFailed(nodeError.closed(`opening ${PROTOCOLS.console}`))
      on.close()
    },
  })
  if (!channel) throw nodeError.config(`channel ${PROTOCOLS.console} is already open on this connection`)
  const ctl: Message<string | TooLarge> = channel.addMessage({
    encoding: bounded<string>(MAX_CTL_BYTES, 'string'),
    onmessage: (s) => {
      if (s instanceof TooLarge) return on.tooLarge(nodeError.tooLarge(s.size, MAX_CTL_BYTES))
      let m: unknown
      try {
        m = JSON.parse(s)
      } catch {
        return
      }
      if (m && typeof m === 'object' && typeof (m as { t?: unknown }).t === 'string') on.ctl(m as ConsoleCtl)
    },
  })
  const data: Message<Buffer | TooLarge> = channel.addMessage({
    encoding: bounded<Buffer>(MAX_DATA_BYTES, 'buffer'),
    onmessage: (b) => {
      if (b instanceof TooLarge) on.tooLarge(nodeError.tooLarge(b.size, MAX_DATA_BYTES))
      else if (b.length) on.data(b)
    },
  })
  channel.open()
  return {
    channel,
    opened,
    get closed() {
      return closed
    },
    // Both directions: what this side would send over the limit is refused here, never sent.
    sendCtl: (m) => {
      const text = JSON.stringify(m)
      if (byteSize(text) > MAX_CTL_BYTES) throw nodeError.tooLarge(byteSize(text), MAX_CTL_BYTES)
      if (!closed) ctl.send(text)
    },
    sendData: (b) => {
      const buf = typeof b === 'string' ? Buffer.from(b) : b
      if (buf.length > MAX_DATA_BYTES) throw nodeError.tooLarge(buf.length, MAX_DATA_BYTES)
      return closed ? false : data.send(buf) !== false
    },
    close: () => {
      if (!closed) channel.close()
    },
  }
}

export function validSize(cols: unknown, rows: unknown): { cols: number; rows: number } | null {
  if (typeof cols !== 'number' || typeof rows !== 'number' || !Number.isInteger(cols) || !Number.isInteger(rows))
    return null
  if (cols < 1 || rows < 1 || cols > 1000 || rows > 1000) return null
  return { cols, rows }
}
