// Test helper: read a PNG the way a viewer must: signature, every chunk's CRC, IHDR, and the pixel
// data inflated to exactly height × (1 + width × bytes per pixel) bytes.
import { inflateSync } from 'node:zlib'

// zlib.crc32 is Node >= 20.15 only; CI may run an older 20.x.
const TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})
function crc32(b: Buffer): number {
  let c = 0xffffffff
  for (const x of b) c = TABLE[(c ^ x) & 0xff] ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

export interface PngInfo {
  width: number
  height: number
  colorType: number
  bitDepth: number
  /** Filtered scanlines, inflated. */
  raw: Buffer
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 4: 2, 6: 4 }

export function readPng(buf: Buffer): PngInfo {
  if (!buf.subarray(0, 8).equals(SIGNATURE)) throw new Error('not a PNG: bad signature')
  let pos = 8
  let ihdr: Buffer | null = null
  const idat: Buffer[] = []
  let ended = false
  while (pos < buf.length) {
    const len = buf.readUInt32BE(pos)
    const type = buf.toString('latin1', pos + 4, pos + 8)
    const data = buf.subarray(pos + 8, pos + 8 + len)
    const crc = buf.readUInt32BE(pos + 8 + len)
    if (crc32(buf.subarray(pos + 4, pos + 8 + len)) >>> 0 !== crc) throw new Error(`PNG chunk ${type}: bad CRC`)
    if (type === 'IHDR') ihdr = Buffer.from(data)
    if (type === 'IDAT') idat.push(data)
    pos += 12 + len
    if (type === 'IEND') {
      ended = true
      break
    }
  }
  if (!ihdr || !ended) throw new Error('PNG without IHDR or IEND')
  const info = {
    width: ihdr.readUInt32BE(0),
    height: ihdr.readUInt32BE(4),
    bitDepth: ihdr[8],
    colorType: ihdr[9],
    raw: inflateSync(Buffer.concat(idat)),
  }
  const bpp = (CHANNELS[info.colorType] ?? 1) * (info.bitDepth / 8)
  if (info.raw.length !== info.height * (1 + info.width * bpp)) throw new Error('PNG pixel data has the wrong size')
  return info
}

/** The pixels as RGB rows (8-bit RGB or RGBA PNGs, as QEMU writes them): every scanline unfiltered. */
export function pngRgb(p: PngInfo): Buffer {
  const channels = CHANNELS[p.colorType]
  if (p.bitDepth !== 8 || (channels !== 3 && channels !== 4)) throw new Error('only 8-bit RGB(A) PNGs are read')
  const stride = p.width * channels
  const out = Buffer.alloc(p.width * p.height * 3)
  let prev = Buffer.alloc(stride)
  for (let y = 0; y < p.height; y++) {
    const filter = p.raw[y * (stride + 1)]
    const line = Buffer.from(p.raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)))
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? line[i - channels] : 0
      const b = prev[i]
      const c = i >= channels ? prev[i - channels] : 0
      line[i] = (line[i] + predict(filter, a, b, c)) & 255
    }
    for (let x = 0; x < p.width; x++) line.copy(out, (y * p.width + x) * 3, x * channels, x * channels + 3)
    prev = line
  }
  return out
}

function predict(filter: number, a: number, b: number, c: number): number {
  if (filter === 0) return 0
  if (filter === 1) return a
  if (filter === 2) return b
  if (filter === 3) return (a + b) >> 1
  if (filter === 4) {
    const p = a + b - c
    const pa = Math.abs(p - a)
    const pb = Math.abs(p - b)
    const pc = Math.abs(p - c)
    return pa <= pb && pa <= pc ? a : pb <= pc ? b : c
  }
  throw new Error(`PNG filter ${filter} does not exist`)
}
