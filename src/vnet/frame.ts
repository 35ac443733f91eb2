// Ethernet frames as the switch sees them: addresses, the type, and the length-prefixed stream QEMU's
// `-netdev stream` speaks (a 4-byte big-endian length before each frame).
export const ETH_HEADER = 14
/** The largest frame a guest sends with a 1500-byte MTU, plus a VLAN tag; longer ones are malformed. */
export const MAX_FRAME = 1522
export const ETHERTYPE_IPV4 = 0x0800
export const ETHERTYPE_ARP = 0x0806

/** A MAC as a lowercase 'aa:bb:cc:dd:ee:ff' string (map keys). */
export function macAt(frame: Uint8Array, offset: number): string {
  let s = ''
  for (let i = 0; i < 6; i++) s += (i ? ':' : '') + frame[offset + i].toString(16).padStart(2, '0')
  return s
}

export const dstMac = (f: Uint8Array): string => macAt(f, 0)
export const srcMac = (f: Uint8Array): string => macAt(f, 6)
/** Broadcast and multicast share the low bit of the first octet: they go to every port of the network. */
export const isGroup = (f: Uint8Array): boolean => (f[0] & 1) === 1
export const etherType = (f: Uint8Array): number => (f[12] << 8) | f[13]

export function macBytes(mac: string): Buffer {
  return Buffer.from(mac.split(':').map((x) => parseInt(x, 16)))
}

export function isFrame(f: Uint8Array): boolean {
  return f.length >= ETH_HEADER && f.length <= MAX_FRAME
}

/** One frame with its length prefix, as written to QEMU's socket. */
export function encodeStream(frame: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(4 + frame.length)
  out.writeUInt32BE(frame.length, 0)
  out.set(frame, 4)
  return out
}

/**
 * Cuts QEMU's byte stream into frames. A length beyond MAX_FRAME means the stream is out of step
 * (QEMU never sends one): `push` then returns false and the caller drops the connection.
 */
export class StreamDecoder {
  private buf: Buffer = Buffer.alloc(0)

  constructor(private onFrame: (frame: Buffer) => void) {}

  push(chunk: Buffer): boolean {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk
    let off = 0
    while (this.buf.length - off >= 4) {
      const len = this.buf.readUInt32BE(off)
      if (len > MAX_FRAME + 4096) return false
      if (this.buf.length - off - 4 < len) break
      this.onFrame(this.buf.subarray(off + 4, off + 4 + len))
      off += 4 + len
    }
    this.buf = off === this.buf.length ? Buffer.alloc(0) : Buffer.from(this.buf.subarray(off))
    return true
  }
}
