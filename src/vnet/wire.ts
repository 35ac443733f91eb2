// vnet@1 messages. Protomux destroys the whole connection when a message fails to decode, so the
// channel carries raw bytes and this module parses them: a malformed message is dropped and
// counted, and the connection (with every other network on it) carries on.
//   JOIN  0x01 u32 index, membership (utf8)   "frames of network `index` from me are of this network"
//   LEAVE 0x02 u32 index                     "I no longer carry that network"
//   FRAME 0x03 u32 index, Ethernet frame
import { isFrame } from './frame.ts'

export const JOIN = 1
export const LEAVE = 2
export const FRAME = 3

export type VnetMessage =
  | { type: typeof JOIN; index: number; membership: string }
  | { type: typeof LEAVE; index: number }
  | { type: typeof FRAME; index: number; frame: Buffer }

export function encodeJoin(index: number, membership: string): Buffer {
  const m = Buffer.from(membership, 'utf8')
  const out = Buffer.allocUnsafe(5 + m.length)
  out[0] = JOIN
  out.writeUInt32BE(index, 1)
  m.copy(out, 5)
  return out
}

export function encodeLeave(index: number): Buffer {
  const out = Buffer.allocUnsafe(5)
  out[0] = LEAVE
  out.writeUInt32BE(index, 1)
  return out
}

export function encodeFrame(index: number, frame: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + frame.length)
  out[0] = FRAME
  out.writeUInt32BE(index, 1)
  out.set(frame, 5)
  return out
}

/** The message, or null when it is malformed (unknown type, short, a frame that is not Ethernet). */
export function decode(buf: Buffer): VnetMessage | null {
  if (!Buffer.isBuffer(buf) || buf.length < 5) return null
  const index = buf.readUInt32BE(1)
  switch (buf[0]) {
    case JOIN:
      return buf.length > 5 && buf.length <= 5 + 2048
        ? { type: JOIN, index, membership: buf.subarray(5).toString('utf8') }
        : null
    case LEAVE:
      return buf.length === 5 ? { type: LEAVE, index } : null
    case FRAME: {
      const frame = buf.subarray(5)
      return isFrame(frame) ? { type: FRAME, index, frame } : null
    }
    default:
      return null
  }
}
