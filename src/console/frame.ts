// A machine's screen as a small picture for a terminal: QEMU's PPM screendump, scaled down by box
// averaging to the viewer's size (cells × 2 pixel rows, drawn with half blocks). Sent as
//   u16 width, u16 height (big-endian), then width × height × 3 bytes of RGB.
// A frame of 80×48 is 11.5 KB, where the PPM it comes from is 864 KB.
import { ConsoleError, CONSOLE_SCREEN } from './errors.ts'

export interface Frame {
  width: number
  height: number
  /** RGB, row by row. */
  rgb: Buffer
}

/** Parse a binary PPM (P6, maxval 255), as QEMU's screendump writes it. */
export function parsePpm(buf: Buffer): Frame {
  // Header: "P6", width, height, maxval, separated by whitespace, then one whitespace byte.
  const fields: string[] = []
  let pos = 0
  const space = (i: number): boolean => i < buf.length && /\s/.test(String.fromCharCode(buf[i]))
  while (fields.length < 4 && pos < Math.min(buf.length, 64)) {
    while (space(pos)) pos++
    const start = pos
    while (pos < buf.length && !space(pos)) pos++
    fields.push(buf.toString('latin1', start, pos))
  }
  const [magic, w, h, max] = fields
  const width = Number(w)
  const height = Number(h)
  if (magic !== 'P6' || max !== '255' || !(width > 0) || !(height > 0))
    throw new ConsoleError(CONSOLE_SCREEN, 'the screen dump is not a P6 PPM image')
  const rgb = buf.subarray(pos + 1, pos + 1 + width * height * 3)
  if (rgb.length !== width * height * 3) throw new ConsoleError(CONSOLE_SCREEN, 'the screen dump is truncated')
  return { width, height, rgb }
}

/** Scale `f` to at most `width` × `height` (never up), each target pixel the mean of its source box. */
export function scaleFrame(f: Frame, width: number, height: number): Frame {
  const w = Math.max(1, Math.min(width, f.width))
  const h = Math.max(1, Math.min(height, f.height))
  const out = Buffer.alloc(w * h * 3)
  for (let y = 0; y < h; y++) {
    const y0 = Math.floor((y * f.height) / h)
    const y1 = Math.max(y0 + 1, Math.floor(((y + 1) * f.height) / h))
    for (let x = 0; x < w; x++) {
      const x0 = Math.floor((x * f.width) / w)
      const x1 = Math.max(x0 + 1, Math.floor(((x + 1) * f.width) / w))
      let r = 0
      let g = 0
      let b = 0
      for (let sy = y0; sy < y1; sy++) {
        for (let sx = x0, i = (sy * f.width + x0) * 3; sx < x1; sx++, i += 3) {
          r += f.rgb[i]
          g += f.rgb[i + 1]
          b += f.rgb[i + 2]
        }
      }
      const n = (y1 - y0) * (x1 - x0)
      const o = (y * w + x) * 3
      out[o] = Math.round(r / n)
      out[o + 1] = Math.round(g / n)
      out[o + 2] = Math.round(b / n)
    }
  }
  return { width: w, height: h, rgb: out }
}

export function encodeFrame(f: Frame): Buffer {
  const head = Buffer.alloc(4)
  head.writeUInt16BE(f.width, 0)
  head.writeUInt16BE(f.height, 2)
  return Buffer.concat([head, f.rgb])
}

export function decodeFrame(b: Buffer): Frame | null {
  if (b.length < 4) return null
  const width = b.readUInt16BE(0)
  const height = b.readUInt16BE(2)
  const rgb = b.subarray(4)
  return rgb.length === width * height * 3 && width > 0 && height > 0 ? { width, height, rgb } : null
}
