// tunnel@1: a buyer's TCP streams into a guest (or the provider's SSH console), one protomux channel
// on a HyperDHT/Noise connection from the buyer's key to the provider's. Raw messages, parsed here,
// so a malformed one is dropped instead of tearing the connection down (protomux would).
//   byte 0 type, u32 stream id, then the payload:
//   AUTH   1  stream 0  a hub-signed ticket (utf8), bound to the key this connection comes from
//   AUTHED 2  stream 0  JSON {vmId}
//   OPEN   3  stream n  u16 guest port; 0 = the provider's SSH console
//   OPENED 4  stream n
//   DATA   5  stream n  bytes
//   ACK    6  stream n  u32 bytes the receiver has written out (the sender's window opens by that much)
//   END    7  stream n  the sender sends no more (TCP half-close)
//   CLOSE  8  stream n  JSON {code, message} or empty: the stream is gone (stream 0: the whole tunnel)
import c from 'compact-encoding'

export const PROTOCOL = 'virtuoso/tunnel@1'

export const AUTH = 1
export const AUTHED = 2
export const OPEN = 3
export const OPENED = 4
export const DATA = 5
export const ACK = 6
export const END = 7
export const CLOSE = 8

/** Port number that names the provider's SSH console instead of a guest port. */
export const CONSOLE_PORT = 0
/** Largest DATA payload; bigger reads are cut (protomux frames stay small). */
export const MAX_DATA = 64 * 1024
const MAX_CTL = 8 * 1024

export interface TunnelMessage {
  type: number
  stream: number
  payload: Buffer
}

export function encode(type: number, stream: number, payload?: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + (payload?.length ?? 0))
  out[0] = type
  out.writeUInt32BE(stream, 1)
  if (payload) out.set(payload, 5)
  return out
}

export const encodeJson = (type: number, stream: number, v: unknown) =>
  encode(type, stream, Buffer.from(JSON.stringify(v)))

export function encodeU(type: number, stream: number, n: number, bytes: 2 | 4): Buffer {
  const b = Buffer.allocUnsafe(bytes)
  if (bytes === 2) b.writeUInt16BE(n, 0)
  else b.writeUInt32BE(n, 0)
  return encode(type, stream, b)
}

/** A DATA message not yet encoded: its payload goes straight into protomux's frame (one copy, not two). */
export interface DataMessage {
  stream: number
  payload: Uint8Array
}

export const data = (stream: number, payload: Uint8Array): DataMessage => ({ stream, payload })

/** What a channel sends: an encoded message or DATA to encode in place. */
export type Outgoing = Buffer | DataMessage

/**
 * The channel's message encoding: an encoded message (Buffer) as it is, or a DataMessage written in
 * place, the same bytes either way; what arrives is the raw bytes, parsed by decode() below. Writing
 * DATA in place saves an allocation and a copy of every payload on the sending side, where the
 * tunnel's CPU time per MiB decides its throughput on a machine short of cores (npm run bench forward).
 */
export const messageEncoding = {
  preencode(state: { end: number }, m: Outgoing): void {
    state.end += Buffer.isBuffer(m) ? m.length : 5 + m.payload.length
  },
  encode(state: { start: number; buffer: Uint8Array }, m: Outgoing): void {
    const b = state.buffer
    if (Buffer.isBuffer(m)) {
      b.set(m, state.start)
      state.start += m.length
      return
    }
    const at = state.start
    b[at] = DATA
    b[at + 1] = m.stream >>> 24
    b[at + 2] = (m.stream >>> 16) & 255
    b[at + 3] = (m.stream >>> 8) & 255
    b[at + 4] = m.stream & 255
    b.set(m.payload, at + 5)
    state.start = at + 5 + m.payload.length
  },
  decode: c.raw.decode,
}

/** The message, or null when it is malformed. */
export function decode(buf: unknown): TunnelMessage | null {
  if (!Buffer.isBuffer(buf) || buf.length < 5) return null
  const type = buf[0]
  const stream = buf.readUInt32BE(1)
  const payload = buf.subarray(5)
  const ok = (() => {
    switch (type) {
      case AUTH:
      case AUTHED:
        return stream === 0 && payload.length > 0 && payload.length <= MAX_CTL
      case OPEN:
        return stream > 0 && payload.length === 2
      case OPENED:
      case END:
        return stream > 0 && payload.length === 0
      case DATA:
        return stream > 0 && payload.length > 0 && payload.length <= MAX_DATA
      case ACK:
        return stream > 0 && payload.length === 4
      case CLOSE:
        return payload.length <= MAX_CTL
      default:
        return false
    }
  })()
  return ok ? { type, stream, payload } : null
}

/** A JSON payload, or null. */
export function json(payload: Buffer): Record<string, unknown> | null {
  try {
    const v = JSON.parse(payload.toString('utf8'))
    return v && typeof v === 'object' ? v : null
  } catch {
    return null
  }
}
